"""Plain text and CSV."""

from __future__ import annotations

import csv
import io

from youworker.services.documents.filetypes import (
    DocumentRejected,
    extension_of,
)
from youworker.services.documents.parsing.model import (
    ParsedDocument,
    ParsedPage,
    Section,
    clean_text,
    decode,
    one_line,
)


def parse_text(data: bytes, filename: str = "") -> ParsedDocument:
    """The whole file as one section (indentation kept)."""
    text = clean_text(decode(data, "text"), collapse_spaces=False)
    return ParsedDocument("text", [ParsedPage(1, [Section(None, text)])])


def parse_csv(data: bytes, filename: str = "") -> ParsedDocument:
    """One line per row as "column: value" pairs, so each row reads on its own in a chunk."""
    text = decode(data, "CSV")
    delimiter = "\t" if extension_of(filename) == ".tsv" else _sniff_delimiter(text[:32_768])
    # The default field limit (128 KiB) stays: a single larger field is not a table we index.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines: list[str] = []
    header: list[str] = []
    try:
        for row in reader:
            cells = [one_line(cell) for cell in row]
            if not any(cells):
                continue
            if not header:
                header = [cell or f"column {i + 1}" for i, cell in enumerate(cells)]
                continue
            pairs = [
                f"{header[i] if i < len(header) else f'column {i + 1}'}: {cell}"
                for i, cell in enumerate(cells)
                if cell
            ]
            lines.append(" | ".join(pairs))
    except csv.Error as exc:
        raise DocumentRejected(
            f"This file could not be read as CSV (line {reader.line_num:,}: {exc})."
        ) from exc
    body = "\n".join(lines) if lines else " | ".join(header)
    return ParsedDocument("csv", [ParsedPage(1, [Section(None, body)])])


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","
