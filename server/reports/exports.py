"""Exports as files, streamed: rows are produced one case at a time and written out in chunks, so
the memory an export needs does not grow with the number of cases (bench/exports.py measures it).

What goes in a row: the case reference, type and state, dates, the involved agencies' names, and
each clock's due date and status: no person's name, no form content, so nothing in the file is
personal data. Cells that a
spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return first) are
neutralised with a leading apostrophe (OWASP "CSV injection"); in XLSX such a text is also stored
as text, never as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_CHUNK_ROWS = 500
FILE_CHUNK = 64 * 1024


def neutralise(value: Any) -> Any:
    """A text a spreadsheet would take for a formula gets a leading apostrophe; numbers, dates and
    empty values pass as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def case_columns(clock_names: Sequence[str]) -> list[str]:
    cols = ["reference", "case_id", "case_type", "state", "partnership", "opened_on", "state_entered_on",
            "overdue", "due_soon", "involved_agencies"]
    for name in clock_names:
        cols += [f"{name}_due", f"{name}_status", f"{name}_working_days_left"]
    return cols


def case_record(row: dict[str, Any], clock_names: Sequence[str], agency_names: dict[str, str]) -> list[Any]:
    agencies = "; ".join(agency_names.get(a, a) for a in row["involved_agencies"])
    out = [row["reference"], row["case_id"], row["case_type"], row["state"], row["partnership"], row["opened_on"],
           row["state_entered_on"], row["overdue"], row["due_soon"], agencies]
    clocks = {c["name"]: c for c in row["clocks"]}
    for name in clock_names:
        c = clocks.get(name)
        out += [c["due"], c["status"], c["working_days_left"]] if c else [None, None, None]
    return out


DEADLINE_COLUMNS = ["reference", "case_id", "case_type", "state", "clock", "title", "starts", "due", "status",
                    "working_days_left", "stopped_on"]


def deadline_records(row: dict[str, Any], start: dt.date, end: dt.date) -> Iterator[list[Any]]:
    for c in row["clocks"]:
        if start.isoformat() <= c["due"] <= end.isoformat():
            yield [row["reference"], row["case_id"], row["case_type"], row["state"], c["name"], c["title"],
                   c["starts"], c["due"], c["status"], c["working_days_left"], c["stopped_on"]]


def csv_chunks(header: Sequence[str], records: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text in chunks of a few hundred rows (UTF-8 with a BOM, so spreadsheets read it right)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(header)
    for n, record in enumerate(records, 1):
        writer.writerow(["" if v is None else neutralise(v) for v in record])
        if n % CSV_CHUNK_ROWS == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def xlsx_file(sheet: str, header: Sequence[str], records: Iterable[Sequence[Any]]) -> Any:
    """An XLSX written in openpyxl's write-only mode (rows go to disk as they come) into a temporary
    file, rewound; the caller streams it and closes it."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(list(header))
    for record in records:
        cells = []
        for value in record:
            cell = WriteOnlyCell(ws, value=neutralise(value))
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text: openpyxl would store "=..." as a formula
            cells.append(cell)
        ws.append(cells)
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by file_chunks once streamed
    wb.save(out)
    out.seek(0)
    return out


def file_chunks(fh: Any) -> Iterator[bytes]:
    try:
        while chunk := fh.read(FILE_CHUNK):
            yield chunk
    finally:
        fh.close()
