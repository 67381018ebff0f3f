"""Issue 16: the fast paths of the sample reader give exactly what the cell-by-cell code gave.

``read_samples`` reads a column of plain numbers in one pass, every other column once per
distinct cell, works out the reported precision (``half_last_digit``) only where two
columns of one quantity are compared, reads a CSV without quoted cells in one pass and
keeps text columns as they are.  Each test here compares one of these with a reference:
the per-cell code as it was before (copied below, the independent source), on
hypothesis-generated columns (numbers, decimal commas, thousands separators, ``<0.05``,
``n.d.``, ``7.4 mg/L``, full-width digits, sentinels, empty cells...): identical values
(NaN and the sign of zero included), statuses and text.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import tempfile
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from karstsink.exceptions import DataQualityWarning
from karstsink.io import _sample_checks, _sample_table, cells, text
from karstsink.io._sample_units import _accept_cells_with_unit, _convert
from karstsink.io.samples import read_samples, standardize

# ---------------------------------------------------------------------------
# the references: the per-cell code as it was before the fast paths
# ---------------------------------------------------------------------------


def ref_decimal_comma(column: list[str], default: bool = False) -> bool:
    if not any(("," in c or "\uff0c" in c) for c in column):
        return default
    comma, dot = cells.decimal_mark_examples(column)
    if not comma and not dot:
        return default
    return len(comma) > 0 and len(comma) >= len(dot)


def ref_parse_column(column: list[str], decimal_comma: bool | None = None):
    if decimal_comma is None:
        decimal_comma = ref_decimal_comma(column)
    values = np.full(len(column), np.nan)
    status = np.zeros(len(column), dtype=np.int8)
    for i, cell in enumerate(column):
        hit = None
        if "_" not in cell:
            try:
                number = float(cell)
            except ValueError:
                pass
            else:
                if np.isfinite(number):
                    hit = (number, cells.OK)
        if hit is None:
            hit = cells.parse_cell(cell, decimal_comma)
        values[i], status[i] = hit
    return values, status


_REF_DIGITS = re.compile(r"^(?:nd|bdl|lod|dl)?[<>≤≥=]*[+-]?(?P<int>[\d.,']*?)"
                         r"(?:(?P<mark>[.,])(?P<dec>\d+))?(?:e(?P<exp>[+-]?\d+))?l?$")


def ref_half_last_digit(column: list[str], decimal_comma: bool) -> np.ndarray:
    out = np.zeros(len(column))
    mark = "," if decimal_comma else "."
    for i, cell in enumerate(column):
        m = _REF_DIGITS.match(cells.clean_cell(cell))
        if not m or not (m["int"] or m["dec"]):
            continue
        decimals = len(m["dec"] or "")
        if m["dec"] and m["mark"] != mark and len(m["dec"]) == 3 and not decimal_comma:
            decimals = 0
        try:
            out[i] = 0.5 * 10.0 ** (int(m["exp"] or 0) - decimals)
        except OverflowError:  # the one change: '1e999' (no number) raised before, now 0
            pass
    return out


def ref_text_cells(values) -> list[str]:
    out = []
    for v in (values.tolist() if hasattr(values, "tolist") else list(values)):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            out.append("")
        elif isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
            out.append(repr(v))
        else:
            out.append(str(v))
    return out


def ref_csv_records(data: str, delim: str) -> tuple[list[list[str]], list[int]]:
    rows, lines, start = [], [], 1
    reader = csv.reader(io.StringIO(data, newline=""), delimiter=delim)
    for row in reader:
        if row:
            rows.append(row)
            lines.append(start)
        start = reader.line_num + 1
    return rows, lines


def ref_sniff(data: str) -> str:
    lines = [ln for ln in data.splitlines()[:40] if ln.strip()]
    best, best_score = ",", (-1, -1)
    for rank, delim in enumerate(("\t", ";", ",", "|")):
        counts = [len(r) for r in csv.reader(lines, delimiter=delim)]
        multi = [c for c in counts if c > 1]
        if not multi:
            continue
        freq = max(multi.count(c) for c in multi)
        score = (freq, -rank)
        if score > best_score:
            best, best_score = delim, score
    return best


def same_floats(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal arrays, NaN where NaN and the sign of zero alike."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return (a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
            and np.array_equal(np.signbit(a), np.signbit(b)))


# ---------------------------------------------------------------------------
# cells as researchers write them
# ---------------------------------------------------------------------------

_FIXED = ["", " ", "n.d.", "ND", "NA", "-", "—", "nan", "NaN", "inf", "-inf", "1e999",
          "<0.05", "< 0,05", "ND<0.05", "<DL", "0.05L", "≤0.1", ">10", "> 1,5", "bdl",
          "7.4 mg/L", "16.5 °C", "80mg/L", "７．４", "１２", "７,４", "-999", "-9999.0",
          "-99", "-99999", "1,234", "1,234.5", "1.234,5", "1.234.567", "1'234", "0,051",
          "7,4", "1_000", "1__0", "_1", "+.5", "5.", "1E-3", "1e5", "0x10", "abc",
          "7.4\u00a0", "\u20037.4", "٣٫٥", "−0.5", "-0.0", "0.0", "000", "2.00", "1.5e-3",
          "12,5e-2", "nd", "n/a", "未检出", "#N/A"]

plain_number = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.3f}"),
    st.integers(-10**6, 10**6).map(str),
    st.decimals(-1000, 1000, places=4, allow_nan=False, allow_infinity=False).map(str),
)
comma_number = st.floats(0, 1e5, allow_nan=False).map(lambda v: f"{v:.2f}".replace(".", ","))
thousands = st.integers(1000, 10**9).map(lambda v: f"{v:,}")
noisy = st.text(alphabet="0123456789.,<>-+ eEl'_ndNDaA/", max_size=8)
any_cell = st.one_of(plain_number, comma_number, thousands, st.sampled_from(_FIXED), noisy,
                     plain_number.map(lambda s: f" {s} "),
                     plain_number.map(lambda s: f"<{s}"))
columns = st.one_of(
    st.lists(plain_number, max_size=40),  # the common case: the one-pass path
    st.lists(any_cell, max_size=40),
    # repeated cells, so that the once-per-distinct-cell path is used
    st.lists(st.sampled_from([*_FIXED, "7.4", "7,4", "1,234"]), max_size=40),
)


@settings(max_examples=400, deadline=None)
@given(columns, st.sampled_from([None, False, True]))
def test_parse_column_equals_the_per_cell_reference(column, decimal_comma):
    values, status = cells.parse_column(column, decimal_comma)
    ref_values, ref_status = ref_parse_column(column, decimal_comma)
    assert same_floats(values, ref_values)
    assert status.dtype == np.int8 and values.dtype == np.float64
    assert status.tolist() == ref_status.tolist()
    # a tuple and an ndarray of text are sequences of cells too
    values_t, status_t = cells.parse_column(tuple(column), decimal_comma)
    assert same_floats(values_t, ref_values) and status_t.tolist() == ref_status.tolist()


@settings(max_examples=300, deadline=None)
@given(columns, st.booleans())
def test_decimal_comma_and_plain_numbers_equal_the_reference(column, default):
    assert cells.column_uses_decimal_comma(column, default) == ref_decimal_comma(column, default)
    plain = cells.plain_numbers(column)
    assert (plain is not None) == all(map(_is_plain, column))
    if plain is not None:
        ref_values, ref_status = ref_parse_column(column)
        assert (ref_status == cells.OK).all() and same_floats(plain, ref_values)
        assert not any("," in c or "\uff0c" in c for c in column)  # so no decimal comma


@settings(max_examples=300, deadline=None)
@given(columns, st.booleans())
def test_half_last_digit_equals_the_per_cell_reference(column, decimal_comma):
    got = _sample_checks.half_last_digit(column, decimal_comma)
    assert same_floats(got, ref_half_last_digit(column, decimal_comma))


@settings(max_examples=200, deadline=None)
@given(columns, st.sampled_from([("ca", "mg/L"), ("hco3", "mg/L"), ("temp", "°F"),
                                 ("ph", None), ("ec", "mS/cm"), ("alk", "mg/L as CaCO3")]),
       st.booleans())
def test_tolerance_worked_out_on_demand_equals_the_eager_one(column, key_unit, file_dc):
    """The reported precision [canonical unit], computed as before: |f(x + half) - f(x)|."""
    key, unit = key_unit
    with np.errstate(over="ignore", invalid="ignore"):  # 1e307 °F overflows, as before
        _tolerance_check(column, key, unit, file_dc)


def _tolerance_check(column, key, unit, file_dc):
    reading = _sample_checks.read_value_column("c", column, key, unit, file_dc)
    dc = ref_decimal_comma(column, default=file_dc)
    raw, status = ref_parse_column(column, dc)
    if unit is not None:  # '7.4 mg/L' in a mg/L column
        _accept_cells_with_unit(column, raw, status, key, unit, dc)
    raw[cells.sentinel_mask(raw, status)] = np.nan
    # a column writing both marks: '1.051' / '0,000' (about 1 or 1000) is not read at all
    comma, dot = cells.decimal_mark_examples(column)
    if comma and dot:
        dependent = re.compile(r"^[+-]?\d{1,3}(?:[.,]\d{3})+$")
        for i, c in enumerate(column):
            if dependent.match(cells.clean_cell(c).lstrip("<>≤≥=")):
                raw[i] = np.nan
    half = ref_half_last_digit(column, dc)
    if unit is None:
        expected = half
    else:
        expected = np.abs(_convert(raw + half, key, unit) - _convert(raw, key, unit))
    assert same_floats(reading.tolerance, expected)


def _texts():
    floats = st.lists(st.one_of(st.floats(width=64), st.just(1e15), st.just(-0.0),
                                st.just(1e16), st.just(float("nan"))), max_size=30)
    mixed = st.lists(st.one_of(st.none(), st.floats(), st.integers(), st.text(max_size=5),
                               st.booleans()), max_size=30)
    return st.one_of(
        floats.map(lambda v: np.array(v, dtype=float)),
        floats.map(lambda v: pd.Series(v, dtype=float)),
        st.lists(st.floats(width=32), max_size=30).map(lambda v: np.array(v, np.float32)),
        floats.map(lambda v: pd.Series(v, dtype="Float64")),  # pd.NA for missing
        st.lists(st.text(max_size=6), max_size=30).map(lambda v: pd.Series(v, dtype="str")),
        st.lists(st.one_of(st.text(max_size=6), st.none()), max_size=30).map(
            lambda v: pd.Series(v, dtype="str")),
        st.lists(st.text(max_size=6), max_size=30),
        mixed, mixed.map(lambda v: pd.Series(v, dtype=object)),
        st.lists(st.integers(-10**6, 10**6), max_size=30).map(np.array),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts())
def test_text_cells_equals_the_reference(values):
    assert cells.text_cells(values) == ref_text_cells(values)


def test_single_spaced_splits_where_str_split_does():
    """``\\s`` of a str pattern is the whitespace of str.split() (checked for every code point)."""
    every = "".join(map(chr, range(sys.maxunicode + 1))).replace("\x00", "")
    assert set(re.findall(r"\s", every)) == {c for c in every if c.isspace()}
    texts = ["S1", " S 2 ", "a\u3000b", "x\u00a0\u00a0y", "", "\t", "p\u2028q"]
    assert _sample_table._single_spaced(texts) == [" ".join(t.split()) for t in texts]
    assert _sample_table._single_spaced(["S1", "S2"]) == ["S1", "S2"]


_csv_cell = st.text(alphabet="ab1.,;|\t -<7°中", max_size=5)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_csv_cell, max_size=5), max_size=30),
       st.sampled_from([",", ";", "\t", "|"]), st.sampled_from(["\n", "\r\n", "\r"]),
       st.booleans())
def test_csv_rows_read_in_one_pass_equal_the_line_by_line_reader(rows, delim, newline, quote):
    data = newline.join(delim.join(row) for row in rows)  # [] is a blank line
    if quote:  # a quoted cell over two lines: read line by line
        data = f'"x{newline}y"{delim}1{newline}' + data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_bytes(data.encode("utf-8"))
        rows_read, info = text.read_csv_rows(path, "utf-8")
    assert (rows_read, info["lines"]) == ref_csv_records(data, info["delimiter"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ab1,;|\t\r\n\x0b\x1c\u2028 ", max_size=60), min_size=1,
                max_size=8), st.integers(0, 70000))
def test_sniff_delimiter_reads_the_first_40_lines_as_before(parts, pad):
    data = "\n".join(parts) + "\n" * (pad % 50) + "x" * pad + "\r\n".join(parts)
    assert text.sniff_delimiter(data) == ref_sniff(data)


# ---------------------------------------------------------------------------
# whole tables: the fast paths against the per-distinct-cell path
# ---------------------------------------------------------------------------

_HEADERS = ["Sample ID", "Site", "T (°C)", "pH", "Ca (mg/L)", "Mg (mmol/L)", "HCO3 (mg/L)",
            "Ca (mmol/L)", "Cl (mg/L)", "SO4 (mg/L)"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 25).flatmap(lambda n: st.fixed_dictionaries(
    {h: st.lists(any_cell if h not in ("Sample ID", "Site") else st.text(max_size=6),
                 min_size=n, max_size=n) for h in _HEADERS})),
    st.booleans())
def test_standardize_equals_the_per_cell_path(data, plain_only):
    if plain_only:  # numbers only, as most files hold them
        data = {h: [c if h in ("Sample ID", "Site") else (c if _is_plain(c) else "1.5")
                    for c in col] for h, col in data.items()}
    df = pd.DataFrame(data, dtype="str")
    fast = _standardized(df)
    with mock.patch.object(cells, "plain_numbers", lambda column: None):
        slow = _standardized(df)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert fast.attrs == slow.attrs


def _is_plain(cell: str) -> bool:
    """float() reads the cell to a finite number and it has no '_'."""
    try:
        return "_" not in cell and bool(np.isfinite(float(cell)))
    except ValueError:
        return False


def _standardized(df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return standardize(df, units={"so4": "mg/L"})


def test_read_samples_of_a_generated_file_equals_the_per_cell_path(tmp_path):
    """A file like the issue-16 benchmark's (full-precision floats), Ca given twice."""
    rng = np.random.default_rng(16)
    n = 500
    frame = pd.DataFrame({
        "sample_id": [f"S{i:05d}" for i in range(n)],
        "site": rng.choice(["Chenqi", "Banzhai", "普定", " Houzhai  x"], n),
        "temp_c": rng.uniform(8, 25, n), "ph": rng.uniform(6.8, 8.3, n),
        "Ca (mmol/L)": rng.uniform(0.5, 3, n), "hco3_mmol_l": rng.uniform(1, 6, n),
        "qa_flags": "",
    })
    # the same calcium in mg/L (40.078 g/mol), to 2 decimals; every 7th row disagrees
    frame["Ca (mg/L)"] = np.round(frame["Ca (mmol/L)"] * 40.078 * np.where(
        np.arange(n) % 7 == 0, 1.1, 1.0), 2)
    frame.loc[3, "ph"] = np.nan
    frame.loc[5, "Ca (mmol/L)"] = -999.0
    path = tmp_path / "s.csv"
    frame.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        fast = read_samples(path)
        with mock.patch.object(cells, "plain_numbers", lambda column: None):
            slow = read_samples(path)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert fast.attrs == slow.attrs
    # the values are the file's numbers exactly: float(repr(x)) == x
    assert same_floats(fast["ph"].to_numpy()[:3], frame["ph"].to_numpy()[:3])
    # row 5: the -999 of Ca (mmol/L) is no value, so Ca (mg/L) fills it: mg/L / 40.078 g/mol
    # (IUPAC 2021 atomic weight of Ca); rows 0, 7, 14...: 10 % apart, a conflict
    assert abs(fast.loc[5, "ca_mmol_l"] - frame.loc[5, "Ca (mg/L)"] / 40.078) < 1e-12
    conflict = fast["qa_flags"].str.contains("conflicting_values:ca").to_numpy()
    assert conflict.tolist() == (np.arange(n) % 7 == 0).tolist()


def test_csv_error_names_the_same_line_in_one_pass(tmp_path):
    """A csv.Error (a NUL byte, Python < 3.13) names the line the line-by-line reader named."""
    data = "a,b\n1,2\n3,\x004\n5,6\n"
    reader = csv.reader(io.StringIO(data, newline=""))
    try:
        list(reader)
    except csv.Error:
        expected = f"near line {reader.line_num} "
    else:
        return  # this Python reads NUL bytes
    path = tmp_path / "nul.csv"
    path.write_bytes(data.encode())
    try:
        text.read_csv_rows(path, "utf-8")
    except Exception as err:  # DataError
        assert expected in str(err) and "line 3" in expected
    else:
        raise AssertionError("no error for a NUL byte")


def test_a_cell_beyond_the_float_range_is_not_numeric(tmp_path):
    """'1e999' is no finite number: flagged not_numeric, value NaN (it raised OverflowError
    in the reported-precision step before, even for a column compared with no other)."""
    path = tmp_path / "big.csv"
    path.write_text("Sample ID,T (°C),pH,HCO3 (mg/L),HCO3 (mmol/L)\n"
                    "S1,16,7.4,1e999,\nS2,16,7.4,305.085,5.0\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        table = read_samples(path)
    assert np.isnan(table.loc[0, "hco3_mmol_l"])
    assert "not_numeric:hco3" in table.loc[0, "qa_flags"]
    # 305.085 mg/L / 61.017 g/mol (HCO3-: 1.008 + 12.011 + 3 x 15.999) = 5.0 mmol/L, agreeing
    assert abs(table.loc[1, "hco3_mmol_l"] - 5.0) < 1e-9
    assert "conflicting" not in table.loc[1, "qa_flags"]
