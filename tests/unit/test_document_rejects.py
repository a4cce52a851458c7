"""Every bad upload gets one clear DocumentRejected message, never a stack trace."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from tests.files import make_docx, make_pdf
from youworker.services.documents.filetypes import (
    DocumentRejected,
    check_size,
    detect_kind,
    safe_display_name,
)
from youworker.services.documents.parsing import docx as docx_parsing
from youworker.services.documents.parsing import parse_document, parse_file
from youworker.services.errors import ValidationFailed


def png_bytes() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def rejected(data: bytes, filename: str, **kwargs: int) -> str:
    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, filename, **kwargs)
    return caught.value.message


def test_rejection_is_a_validation_error_on_the_file_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_document(b"", "empty.txt")
    assert caught.value.fields == {"file": "This file is empty."}
    assert str(caught.value) == "This file is empty."


def test_unsupported_type() -> None:
    assert rejected(png_bytes(), "photo.png") == (
        "Files of type .png are not supported. "
        "Supported types: PDF, Word (.docx), Markdown, plain text, HTML and CSV."
    )
    message = rejected(png_bytes(), "photo")
    assert message.startswith("This file is not a supported document type")
    assert "PNG image data" in message


def test_pdf_name_with_png_content() -> None:
    assert rejected(png_bytes(), "report.pdf") == (
        "This file is not a PDF: its content looks like PNG image data."
    )


def test_pdf_name_with_docx_content() -> None:
    message = rejected(make_docx(), "report.pdf")
    assert message.startswith("This file is named .pdf but its content is a Word document")


def test_docx_name_with_plain_text() -> None:
    assert rejected(b"just some notes", "notes.docx") == (
        "This file is not a Word document (.docx): its content is plain text."
    )


def test_docx_name_with_other_office_zip() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert rejected(buffer.getvalue(), "sheet.docx") == (
        "This file is not a Word document (.docx): its content looks like "
        "an Excel spreadsheet (.xlsx)."
    )


def test_text_name_with_binary_content() -> None:
    message = rejected(b"\x00\x01\x02binary" * 100, "notes.md")
    assert message == "This file is not a Markdown file: its content looks like binary data."


def test_empty_and_whitespace_only() -> None:
    assert rejected(b"", "empty.pdf") == "This file is empty."
    assert rejected(b"  \n\t\n", "blank.txt") == "This file contains no text."


def test_over_the_size_limit() -> None:
    assert rejected(b"x" * 2048, "big.txt", max_bytes=1024) == (
        "This file is 2 KB; the limit is 1 KB."
    )
    with pytest.raises(DocumentRejected, match="the limit is 50 MB"):
        check_size(50 * 1024 * 1024 + 1)
    check_size(50 * 1024 * 1024)


def test_size_is_checked_before_reading_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    path.write_bytes(b"a" * 100)
    with pytest.raises(DocumentRejected, match="the limit is 10 bytes"):
        parse_file(path, "a.txt", max_bytes=10)


def test_corrupt_pdf() -> None:
    data = make_pdf(["Some text that will be cut off."] * 3)
    expected = "This file could not be read as a PDF (it may be damaged or incomplete)."
    assert rejected(data[: len(data) // 2], "cut.pdf") == expected
    assert rejected(b"%PDF-1.7\n" + b"garbage " * 100, "junk.pdf") == expected


@pytest.mark.parametrize("method", ["RC4", "AES_128", "AES_256"])
def test_password_protected_pdf(method: str) -> None:
    from fpdf.enums import EncryptionMethod

    data = make_pdf(
        ["Secret page."],
        owner_password="owner",
        user_password="secret",
        encryption_method=EncryptionMethod[method],
    )
    assert rejected(data, "secret.pdf") == (
        "This PDF is password-protected. Remove the password and upload it again."
    )


def test_pdf_without_any_text() -> None:
    message = rejected(make_pdf(["", ""]), "scan.pdf")
    assert message.startswith("This PDF contains no extractable text")


def _docx_with_extra_entry(name: str, size: int) -> bytes:
    """A real DOCX plus one entry of `size` zero bytes, streamed so memory stays small."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(make_docx())) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        block = bytes(1024 * 1024)
        with target.open(name, "w", force_zip64=size > 2**31) as entry:
            for _ in range(size // len(block)):
                entry.write(block)
    return buffer.getvalue()


def test_docx_zip_bomb_is_refused_before_python_docx_opens_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = _docx_with_extra_entry("word/media/zeros.bin", 200 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024  # 200 MB of zeros deflates to a few hundred KB

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("python-docx must not open a zip bomb")

    monkeypatch.setattr("docx.Document", never)
    message = rejected(bomb, "bomb.docx")
    assert re.fullmatch(
        r"This Word document would unpack to 200(\.\d)? MB; the limit is 100 MB "
        r"\(it may be a zip bomb\)\.",
        message,
    )


def test_docx_with_an_extremely_compressed_part() -> None:
    bomb = _docx_with_extra_entry("word/media/zeros.bin", 20 * 1024 * 1024)
    message = rejected(bomb, "bomb.docx")
    assert message == (
        "This Word document contains a part compressed more than 100:1 (it may be a zip bomb)."
    )


def test_docx_with_too_many_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docx_parsing, "DOCX_MAX_ENTRIES", 5)
    assert "at most 5 are accepted" in rejected(make_docx(), "many.docx")


def test_damaged_docx() -> None:
    data = make_docx()
    message = rejected(data[: len(data) - 200], "cut.docx")
    # The central directory is gone: it no longer even looks like a Word document.
    assert message == "This file is not a Word document (.docx): its content looks like " + (
        "a damaged ZIP archive."
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "not xml at all")
        archive.writestr("word/document.xml", "<broken")
    assert rejected(buffer.getvalue(), "broken.docx") == (
        "This file could not be read as a Word document (it may be damaged)."
    )


def test_html_with_scripts_keeps_text_only() -> None:
    data = b"<html><body><script>alert(1)</script><p>Safe <img src=x onerror=alert(2)>text</p>"
    text = parse_document(data, "page.html").pages[0].text
    assert text == "Safe text"


def test_html_that_is_only_scripts_has_no_text() -> None:
    data = b"<html><body><script>alert(1)</script><style>p{}</style></body></html>"
    assert rejected(data, "page.html") == "This file contains no text."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("..", "untitled"),
        ("", "untitled"),
        (None, "untitled"),
        ("./", "untitled"),
        ("dir/..", "untitled"),
        ("  .hidden.md  ", "hidden.md"),
        ("bad\x00name\x1b[31m.txt", "badname[31m.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ('what?: "yes" <ok>|*.md', "what yes ok.md"),
        ("line\nbreak.txt", "linebreak.txt"),
    ],
)
def test_safe_display_name(raw: str | None, expected: str) -> None:
    assert safe_display_name(raw) == expected


def test_safe_display_name_trims_long_names_and_keeps_the_extension() -> None:
    name = safe_display_name("a" * 500 + ".pdf")
    assert len(name) == 200
    assert name.endswith("aaa.pdf")
    assert len(safe_display_name("b" * 500)) == 200


def test_traversal_names_do_not_change_the_detected_type() -> None:
    assert detect_kind(make_pdf(["x"]), "../../secret/report.pdf") == "pdf"
