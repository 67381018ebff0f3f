"""``read_discharge(sheet=...)``: the worksheet of an XLSX discharge record.

The sheet is chosen as everywhere (``karstsink.io.text.read_xlsx_rows``): the sheet of
exactly that name first, else a 0-based worksheet number, so a sheet named ``"2022"`` wins
over sheet number 2022 and ``"1"`` is the second sheet when no sheet has that name.
"""

from __future__ import annotations

import pytest

from karstsink.exceptions import DataError
from karstsink.io.discharge import read_discharge

openpyxl = pytest.importorskip("openpyxl")


@pytest.fixture
def book(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "notes"
    wb.active.append(["daily means, gauge 17"])
    for title, value in (("2022", 3.0), ("1", 5.0)):  # names that look like numbers
        ws = wb.create_sheet(title)
        ws.append(["date", "Q (L/s)"])
        for day in ("2022-01-01", "2022-01-02", "2022-01-03"):
            ws.append([day, value])
    path = tmp_path / "q.xlsx"
    wb.save(path)
    return path


@pytest.mark.parametrize(("sheet", "m3s"), [
    ("2022", 0.003),  # by name: 3 L/s = 0.003 m3/s (not sheet number 2022, which is none)
    ("1", 0.005),     # a sheet named '1' wins over worksheet number 1 ('2022'): 5 L/s
    (1, 0.003),       # the number 1 (an int) is the second worksheet, '2022': 3 L/s
    (2, 0.005),       # worksheet number 2 is the sheet named '1': 5 L/s
])
def test_the_sheet_is_chosen_by_name_then_number(book, sheet, m3s):
    q = read_discharge(book, sheet=sheet)
    assert q["discharge_m3s"].tolist() == pytest.approx([m3s] * 3, rel=1e-12)
    assert len(q) == 3


def test_the_first_sheet_by_default_names_the_sheet_and_the_option(book):
    with pytest.raises(DataError, match=r"q\.xlsx: needs a date column and a discharge "
                                        r"column; found \['daily means, gauge 17'\] in sheet "
                                        r"'notes' \(the first; choose the sheet with "
                                        r"--discharge-sheet\)\.$"):
        read_discharge(book)


def test_a_sheet_that_is_not_there_lists_the_sheets(book):
    with pytest.raises(DataError, match=r"no sheet named 'flow'; sheets are "
                                        r"\['notes', '2022', '1'\]"):
        read_discharge(book, sheet="flow")
