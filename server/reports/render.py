"""Write a :class:`server.reports.documents.Document` as DOCX (python-docx) or PDF (fpdf2), the
protective marking in every page's header and footer.

The PDF uses DejaVu Sans when the machine has it (Debian's fonts-dejavu-core; ``CASEFLOW_PDF_FONT``
names another TTF), so any text prints; without it, the PDF core font Helvetica, which holds only
Latin-1, so other characters print as '?'.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from server.reports.documents import MARKING, Document

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def docx_bytes(doc: Document) -> bytes:
    from docx import Document as Docx
    from docx.shared import Pt

    out = Docx()
    section = out.sections[0]
    for part in (section.header, section.footer):
        marking = part.paragraphs[0]
        marking.text = MARKING
        marking.runs[0].bold = True
    out.core_properties.title = doc.title
    out.core_properties.subject = MARKING
    out.add_heading(doc.title, level=0)
    out.add_paragraph(doc.subtitle)
    for kind, body in doc.blocks:
        if kind == "heading":
            out.add_heading(body, level=1)
        elif kind == "para":
            out.add_paragraph(body)
        elif kind == "facts":
            for label, value in body:
                p = out.add_paragraph()
                p.add_run(f"{label}: ").bold = True
                p.add_run(value)
        elif kind == "bullets":
            for item in body:
                out.add_paragraph(item, style="List Bullet")
        else:
            header, rows = body
            table = out.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, header, strict=True):
                cell.text = text
                cell.paragraphs[0].runs[0].bold = True
            for row in rows:
                for cell, text in zip(table.add_row().cells, row, strict=True):
                    cell.text = text
                    cell.paragraphs[0].runs[0].font.size = Pt(9)
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def _font() -> Path | None:
    named = os.environ.get("CASEFLOW_PDF_FONT")
    for path in ([Path(named)] if named else []) + [DEJAVU]:
        if path.is_file():
            return path
    return None


def pdf_bytes(doc: Document) -> bytes:
    from fpdf import FPDF

    font = _font()

    class Marked(FPDF):
        def header(self) -> None:
            self.set_font(family, "B", 9)
            self.cell(0, 6, MARKING, align="C", new_x="LMARGIN", new_y="NEXT")
            self.ln(2)

        def footer(self) -> None:
            self.set_y(-14)
            self.set_font(family, "B", 9)
            self.cell(0, 6, f"{MARKING} - page {self.page_no()}", align="C")

    pdf = Marked(format="A4")
    if font is not None:
        family = "body"
        pdf.add_font(family, "", str(font))
        bold = font.with_name(font.stem + "-Bold.ttf")
        pdf.add_font(family, "B", str(bold if bold.is_file() else font))
    else:
        family = "helvetica"
    pdf.set_title(doc.title)
    pdf.set_subject(MARKING)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()

    def text(value: str) -> str:
        return value if font is not None else value.encode("latin-1", "replace").decode("latin-1")

    width = pdf.epw
    pdf.set_font(family, "B", 16)
    pdf.multi_cell(width, 8, text(doc.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    pdf.multi_cell(width, 6, text(doc.subtitle), new_x="LMARGIN", new_y="NEXT")
    for kind, body in doc.blocks:
        if kind == "heading":
            pdf.ln(3)
            pdf.set_font(family, "B", 12)
            pdf.multi_cell(width, 7, text(body), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, "", 10)
        elif kind == "para":
            pdf.multi_cell(width, 5, text(body), new_x="LMARGIN", new_y="NEXT")
        elif kind == "facts":
            for label, value in body:
                pdf.multi_cell(width, 5, text(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
        elif kind == "bullets":
            for item in body:
                pdf.multi_cell(width, 5, text(f"- {item}"), new_x="LMARGIN", new_y="NEXT")
        else:
            header, rows = body
            pdf.set_font(family, "", 8)
            with pdf.table(text_align="LEFT") as table:
                for row in [header, *rows]:
                    cells = table.row()
                    for value in row:
                        cells.cell(text(value))
            pdf.set_font(family, "", 10)
    return bytes(pdf.output())
