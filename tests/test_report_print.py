"""The demo report printed to PDF in headless Chromium keeps every table column (issue 17).

The demo run (about 40 s) is printed with Chromium's own print-to-PDF, the text of the
PDF is extracted with poppler's ``pdftotext -raw`` (content-stream order, so a header
cell that wraps over two lines stays together), and every column header of every
table of the report, both its human label with unit and its CSV column name, must be
in it. Before the print style sheet the balance table lost every column after
``karst_share_pct`` and this test failed on ``biological_sink_t_co2_yr``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from karstsink.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOTEXT = shutil.which("pdftotext")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="needs a headless Chromium (apt-get install "
                                                "chromium; .ci/run installs it)"),
    pytest.mark.skipif(PDFTOTEXT is None, reason="needs pdftotext (apt-get install "
                                                 "poppler-utils)"),
]


class _Headers(HTMLParser):
    """Column headers (``<th scope="col">``): the label text and the ``code.col`` name."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.headers: list[tuple[str, str]] = []
        self._in_th = self._in_code = False
        self._label: list[str] = []
        self._code: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "th" and a.get("scope") == "col":
            self._in_th, self._label, self._code = True, [], []
        elif tag == "code" and self._in_th:
            self._in_code = True

    def handle_endtag(self, tag):
        if tag == "code":
            self._in_code = False
        elif tag == "th" and self._in_th:
            self._in_th = False
            self.headers.append(("".join(self._label), "".join(self._code)))

    def handle_data(self, data):
        if self._in_th:
            (self._code if self._in_code else self._label).append(data)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    base = tmp_path_factory.mktemp("print")
    out = base / "demo"
    result = CliRunner().invoke(main, ["demo", "-o", str(out), "--jobs", "2", "-q"])
    assert result.exit_code == 0, result.output
    pdf = base / "report.pdf"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={base / 'profile'}", "--no-pdf-header-footer",
         f"--print-to-pdf={pdf}", (out / "report.html").resolve().as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0 and pdf.is_file(), proc.stderr[-2000:]
    text = subprocess.run([PDFTOTEXT, "-raw", "-enc", "UTF-8", str(pdf), "-"],
                          capture_output=True, text=True, timeout=60, check=True).stdout
    return (out / "report.html").read_text(encoding="utf-8"), text


def test_every_table_column_survives_printing(printed):
    html, text = printed
    parser = _Headers()
    parser.feed(html)
    headers = sorted(set(parser.headers))
    names = {code for _, code in headers}
    # the wide tables of the demo are all there: balance, zones, comparison, per-year sinks
    for must in ("karst_share_pct", "biological_sink_t_co2_yr", "residual_t_co2_yr",
                 "total_sink_t_c_yr", "ratio_observed_to_map", "note", "sink_hi95_t_c_km2_yr"):
        assert must in names
    flat = _squash(text)
    missing = [code for _, code in headers if _squash(code) not in flat]
    assert missing == [], f"column names cut off in print: {missing}"
    missing = [label for label, _ in headers if _squash(label) not in flat]
    assert missing == [], f"column labels cut off in print: {missing}"


def test_printed_report_explains_its_numbers(printed):
    _, text = printed
    flat = " ".join(text.split())
    # headers are words with units, not only snake_case
    assert "Karst share (%)" in flat and "Residual (t CO2 yr⁻¹)" in flat
    # LOADEST's model per catchment: model number, R2 and the C-Q exponent
    assert flat.count("LOADEST (Runkel, Crawford & Cohn 2004") == 3
    assert "R² =" in flat and "C-Q exponent b = a1 - 1 =" in flat
    # the narrow intervals and the raster-total/zone-sum difference are explained
    assert flat.count("Why the 95 % interval is narrow") == 3
    assert "Raster total against the sum over zones" in flat
