"""Real document files generated for tests (PDF with fpdf2, DOCX with python-docx)."""

from __future__ import annotations

import io

import docx
from fpdf import FPDF


def make_pdf(pages: list[str], bookmarks: bool = False, **encryption: object) -> bytes:
    """A real text PDF with one page per string (fpdf2)."""
    pdf = FPDF()
    if encryption:
        pdf.set_encryption(**encryption)  # type: ignore[arg-type]
    pdf.set_font("Helvetica", size=11)
    for number, text in enumerate(pages, start=1):
        pdf.add_page()
        if bookmarks:
            pdf.start_section(f"Chapter {number}")
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def make_docx(page_break: bool = False) -> bytes:
    """A Word document with a title, headings, a table and (optionally) a page break."""
    document = docx.Document()
    document.core_properties.title = "Quarterly report"
    document.add_heading("Introduction", level=1)
    document.add_paragraph("This report covers the first quarter.")
    document.add_heading("Revenue by region", level=2)
    table = document.add_table(rows=3, cols=2)
    for row, (region, revenue) in enumerate(
        [("Region", "Revenue"), ("North", "42"), ("South", "7")]
    ):
        table.cell(row, 0).text = region
        table.cell(row, 1).text = revenue
    document.add_paragraph("Figures are in millions.")
    if page_break:
        document.add_page_break()
        document.add_paragraph("Still about revenue, on the next page.")
    document.add_heading("Outlook", level=1)
    document.add_paragraph("Growth is expected next quarter.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# A two-page handbook whose answer ("42 euros") is on page 2 only.
PAGE_ONE = (
    "Welcome to the Northwind employee handbook. This chapter covers office hours, "
    "holidays and how to book a meeting room."
)
PAGE_TWO = (
    "The daily meal allowance for business trips is 42 euros. "
    "Keep every receipt and submit the claim within thirty days."
)
