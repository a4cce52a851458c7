"""Parsers on real files generated here: pages, headings and text come out right."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from tests.files import make_docx, make_pdf
from youworker.services.documents.filetypes import detect_kind
from youworker.services.documents.parsing import (
    ParsedDocument,
    clean_text,
    parse_document,
    parse_file,
)


def sections(document: ParsedDocument) -> list[tuple[int, str | None, str]]:
    return [
        (page.number, section.heading, section.text)
        for page in document.pages
        for section in page.sections
    ]


def test_pdf_keeps_page_numbers() -> None:
    data = make_pdf(["The first page talks about apples.", "The answer on page two is 42."])
    document = parse_document(data, "report.pdf")
    assert document.kind == "pdf"
    assert document.page_count == 2
    assert [page.number for page in document.pages] == [1, 2]
    assert "apples" in document.pages[0].text
    assert "42" not in document.pages[0].text
    assert "The answer on page two is 42." in document.pages[1].text
    assert all(heading is None for _, heading, _ in sections(document))
    assert document.warnings == []


def test_pdf_bookmarks_become_headings() -> None:
    data = make_pdf(["Alpha text.", "Beta text.", "Gamma text."], bookmarks=True)
    document = parse_document(data, "book.pdf")
    assert [(n, h) for n, h, _ in sections(document)] == [
        (1, "Chapter 1"),
        (2, "Chapter 2"),
        (3, "Chapter 3"),
    ]


def test_pdf_bookmark_in_mid_page_splits_the_page() -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "Opening words before any chapter.", new_x="LMARGIN", new_y="NEXT")
    pdf.start_section("Results and Findings")
    pdf.multi_cell(0, 6, "Results and Findings", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, "The measured value was 7.", new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.multi_cell(0, 6, "More findings on the next page.", new_x="LMARGIN", new_y="NEXT")
    document = parse_document(bytes(pdf.output()), "paper.pdf")
    assert sections(document) == [
        (1, None, "Opening words before any chapter."),
        (1, "Results and Findings", "The measured value was 7."),
        (2, "Results and Findings", "More findings on the next page."),
    ]
    assert document.pages[1].sections[0].starts_here is False
    assert document.pages[0].text == (
        "Opening words before any chapter.\n\nResults and Findings\n\nThe measured value was 7."
    )


def test_pdf_with_only_an_owner_password_is_read() -> None:
    # Permission-only encryption opens with the empty user password; nothing to ask the user.
    data = make_pdf(["Readable despite encryption."], owner_password="owner")
    document = parse_document(data, "locked.pdf")
    assert "Readable despite encryption." in document.pages[0].text


def test_pdf_page_without_text_is_kept_with_a_warning() -> None:
    data = make_pdf(["Some text.", ""])
    document = parse_document(data, "mixed.pdf")
    assert document.page_count == 2
    assert document.pages[1].text == ""
    assert document.warnings and "2" in document.warnings[0]


def test_docx_headings_tables_and_title() -> None:
    document = parse_document(make_docx(), "report.docx")
    assert document.kind == "docx"
    assert document.title == "Quarterly report"
    assert document.page_count == 1
    found = sections(document)
    assert [heading for _, heading, _ in found] == ["Introduction", "Revenue by region", "Outlook"]
    revenue = found[1][2]
    assert "Region | Revenue\nNorth | 42\nSouth | 7" in revenue
    # Paragraph order is kept: the table comes before the note that follows it.
    assert revenue.index("South | 7") < revenue.index("Figures are in millions.")
    revenue_section = document.pages[0].sections[1]
    assert revenue_section.level == 2
    assert revenue_section.path == ("Introduction", "Revenue by region")


def test_docx_page_breaks_number_pages() -> None:
    document = parse_document(make_docx(page_break=True), "report.docx")
    assert document.page_count == 2
    second = document.pages[1].sections
    # The section in force continues on page 2: its heading is context, not text on that page.
    assert second[0].heading == "Revenue by region"
    assert second[0].starts_here is False
    assert document.pages[1].text.startswith("Still about revenue")
    assert second[1].heading == "Outlook"


def test_docx_prefers_the_page_breaks_word_rendered() -> None:
    from docx.oxml import OxmlElement

    document = docx.Document()
    for n in range(1, 6):
        document.add_paragraph(f"Paragraph {n}.")
    document.add_page_break()  # ignored: Word's rendered breaks below are the real layout
    document.add_paragraph("Paragraph 6.")
    for index in (2, 4):  # Word broke pages before paragraphs 3 and 5
        run = document.paragraphs[index].runs[0]._r
        run.insert(0, OxmlElement("w:lastRenderedPageBreak"))
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse_document(buffer.getvalue(), "laid-out.docx")
    assert [page.text for page in parsed.pages] == [
        "Paragraph 1.\n\nParagraph 2.",
        "Paragraph 3.\n\nParagraph 4.",
        "Paragraph 5.\n\nParagraph 6.",
    ]


def test_docx_consecutive_page_breaks_keep_numbering() -> None:
    document = docx.Document()
    document.add_paragraph("First.")
    document.add_page_break()
    document.add_page_break()
    document.add_paragraph("Third.")
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse_document(buffer.getvalue(), "gaps.docx")
    assert [(page.number, page.text) for page in parsed.pages] == [
        (1, "First."),
        (2, ""),
        (3, "Third."),
    ]


def test_markdown_headings_and_code_fences() -> None:
    text = (
        "---\ntitle: Handbook\n---\n"
        "Preamble line.\n\n"
        "# Setup\n\nInstall it.\n\n"
        "```bash\n# this is a shell comment, not a heading\necho hi\n```\n\n"
        "Usage\n-----\n\nRun `tool --help`.\n\n"
        "## Details *here*\n\nMore text.\n"
    )
    document = parse_document(text.encode(), "guide.md")
    assert document.kind == "markdown"
    assert document.title == "Handbook"
    found = sections(document)
    assert [heading for _, heading, _ in found] == [None, "Setup", "Usage", "Details here"]
    setup = found[1][2]
    assert "# this is a shell comment, not a heading" in setup
    assert "```bash" in setup
    assert document.pages[0].sections[3].path == ("Setup", "Details here")
    assert "title: Handbook" not in document.pages[0].text


def test_markdown_raw_html_blocks_keep_text_only() -> None:
    text = "# Notes\n\n<div>\n<script>alert(1)</script>\nVisible <b>words</b>\n</div>\n\nEnd.\n"
    page_text = parse_document(text.encode(), "notes.md").pages[0].text
    assert "alert" not in page_text
    assert "<" not in page_text
    assert "Visible words" in page_text


def test_html_text_only_with_headings() -> None:
    html = """<!DOCTYPE html>
<html><head><title>Team wiki</title><style>body { color: red }</style>
<script>var secret = 1;</script></head>
<body>
  <h1>Welcome <small>home</small></h1>
  <p>Hello <b>world</b>,
     this   is   the wiki.</p>
  <script>alert(1)</script>
  <noscript>Enable JavaScript</noscript>
  <template><p>template text</p></template>
  <h2>Lists</h2>
  <ul><li>one</li><li>two</li></ul>
  <table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>
  <p onclick="steal()">Click<br>here</p>
  <p hidden>hidden text</p>
</body></html>"""
    document = parse_document(html.encode(), "wiki.html")
    assert document.kind == "html"
    assert document.title == "Team wiki"
    found = sections(document)
    assert [heading for _, heading, _ in found] == ["Welcome home", "Lists"]
    assert found[0][2] == "Hello world, this is the wiki."
    assert found[1][2] == "one\ntwo\n\na | b\n1 | 2\n\nClick\nhere"
    page_text = document.pages[0].text
    for removed in ("alert", "secret", "color", "Enable JavaScript", "template", "hidden", "<"):
        assert removed not in page_text


def test_html_navigation_chrome_is_not_text() -> None:
    # A DocBook manual page (PostgreSQL's) and a site with <nav> and a Sphinx sidebar.
    html = """<html><head><title>9.27. Admin Functions</title></head><body>
<div class="navheader"><table><tr><th>9.27. Admin Functions</th></tr>
<tr><td><a href="a.html">Prev</a></td><td>Up</td><td>Home</td><td>Next</td></tr></table></div>
<nav><a href="/">Home</a> <a href="/docs">Docs</a></nav>
<div role="navigation">Jump to section</div>
<div class="sphinxsidebar">Quick search</div>
<div class="sect1"><h2>9.27. Admin Functions</h2><p>Cancel a query with a signal.</p></div>
<div class="navfooter">Prev Up Next</div>
</body></html>"""
    document = parse_document(html.encode(), "functions-admin.html")
    assert document.pages[0].text == "9.27. Admin Functions\n\nCancel a query with a signal."


def test_web_page_saved_as_txt_is_read_as_html() -> None:
    data = b"<!doctype html><html><body><h1>Saved</h1><script>x()</script>page</body></html>"
    assert detect_kind(data, "saved.txt") == "html"
    assert parse_document(data, "saved.txt").pages[0].text == "Saved\n\npage"


def test_csv_rows_read_as_column_value_pairs() -> None:
    data = b'name,age,city\nAnn,31,Oslo\nBob,,"Rome, Italy"\n\n'
    document = parse_document(data, "people.csv")
    assert document.kind == "csv"
    assert (
        document.pages[0].text == "name: Ann | age: 31 | city: Oslo\nname: Bob | city: Rome, Italy"
    )


def test_csv_semicolons_and_tsv() -> None:
    semicolons = parse_document(b"a;b\n1;2\n3;4\n", "data.csv")
    assert semicolons.pages[0].text == "a: 1 | b: 2\na: 3 | b: 4"
    tabs = parse_document(b"a\tb\n1\t2\n", "data.tsv")
    assert tabs.pages[0].text == "a: 1 | b: 2"


def test_plain_text_encodings() -> None:
    utf8 = parse_document("Caf\u00e9 \u2014 na\u00efve\r\nline two\n".encode(), "notes.txt")
    assert utf8.pages[0].text == "Caf\u00e9 \u2014 na\u00efve\nline two"
    bom = parse_document(b"\xef\xbb\xbfwith bom", "bom.txt")
    assert bom.pages[0].text == "with bom"
    utf16 = parse_document("utf-16 \u00e9t\u00e9".encode("utf-16"), "wide.txt")
    assert utf16.pages[0].text == "utf-16 \u00e9t\u00e9"
    cp1252 = parse_document("na\u00efve \u20ac5".encode("cp1252"), "legacy.txt")
    assert cp1252.pages[0].text == "na\u00efve \u20ac5"
    assert parse_document(b"  indented\n    code\n", "x.txt").pages[0].text == "indented\n    code"


def test_text_that_starts_like_a_binary_signature_is_text() -> None:
    assert parse_document(b"BMW service notes", "cars.txt").pages[0].text == "BMW service notes"
    assert parse_document(b"MZ-80 manual", "retro").kind == "text"


def test_content_decides_when_there_is_no_extension() -> None:
    assert parse_document(make_pdf(["No extension."]), "scan").kind == "pdf"
    assert parse_document(make_docx(), "README").kind == "docx"
    assert parse_document(b"just words", "README").kind == "text"


def test_parse_file_reads_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "0d9f3c"  # stored by id; the original name is metadata
    path.write_bytes(make_pdf(["On disk."]))
    assert parse_file(path, "Original Name.pdf").pages[0].text == "On disk."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\u00adb\u200bc\x00d", "abcd"),
        ("  many    spaces \t here  \n\n\n\nnext", "many spaces here\n\nnext"),
        ("\ufb01ne", "\ufb01ne"),  # ligatures are NFKC-folded by the PDF parser only
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected
