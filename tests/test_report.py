"""The HTML report: self-contained (embedded PNGs, no external URLs, no script), well-formed."""

from __future__ import annotations

import base64
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karstsink.exceptions import DataError, DataQualityWarning
from karstsink.report import Figure, Section, Table, format_value, markdown_lite, write_report

CHROMIUM = Path("/usr/bin/chromium")


class _Collector(HTMLParser):
    VOID = frozenset(
        {"meta", "img", "br", "hr", "input", "link", "col", "area", "base", "wbr", "source"}
    )

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _png(tmp_path: Path, name="fig.png") -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(2, 1.5))
    FigureCanvasAgg(fig)
    fig.subplots().plot([0, 1], [1, 0])
    path = tmp_path / name
    fig.savefig(path, format="png", dpi=50)
    return path


def _report(tmp_path, **kwargs):
    png = _png(tmp_path)
    table = pd.DataFrame({
        "name": ["County 01", "县 02"],
        "karst_sink_t_c_yr": [12345.678, np.nan],
        "karst_area_km2": [812.5, 0.0004],
        "flagged": [True, False],
    })
    sections = [
        Section("Zone totals", "Sinks per county, **t C** per year.\n\n- one\n- two",
                tables=[Table(table, caption="Per-county totals")],
                figures=[Figure(png, caption="Karst sink [t C km⁻² yr⁻¹]")]),
        Section("Notes <script>alert(1)</script>", "Plain `code` and *italic*."),
    ]
    out = tmp_path / "report.html"
    args = dict(title="Guizhou demo", sections=sections,
                assumptions={"carbonic-acid fraction": 0.5, "karst definition": "61.9 %"},
                provenance={"database": "phreeqc.dat", "sha256": "ab" * 32},
                summary={"karst sink [t CO2/yr]": 3.7e6})
    args.update(kwargs)
    write_report(out, **args)
    return out, png


def test_report_is_self_contained_and_well_formed(tmp_path):
    out, png = _report(tmp_path, synthetic=True, generated="2026-01-01 00:00 UTC")
    html = out.read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(html)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []  # every element closed
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    # every image embedded as a PNG data URI, byte-identical to the file
    imgs = [a for t, a in parser.tags if t == "img"]
    assert len(imgs) == 1
    prefix = "data:image/png;base64,"
    assert imgs[0]["src"].startswith(prefix)
    assert base64.b64decode(imgs[0]["src"][len(prefix):]) == png.read_bytes()
    assert imgs[0]["alt"]
    # no attribute points anywhere outside the file
    for _, attrs in parser.tags:
        for key, value in attrs.items():
            if key in {"src", "href", "action", "data", "poster", "srcset"} and value:
                assert value.startswith(("data:", "#")), (key, value)
    assert "http://" not in html and "https://" not in html and "url(" not in html
    text = "".join(parser.text)
    assert "SYNTHETIC demo data" in text
    assert "Guizhou demo (SYNTHETIC demo data)" in text  # <title>
    assert "karst_sink_t_c_yr" in text  # units in the headers
    assert "12,346" in text and "4.000e-04" in text and "县 02" in text
    assert "ab" * 32 in text  # database checksum shown
    assert "<script>alert(1)</script>" not in html  # escaped, not injected
    assert "Generated 2026-01-01 00:00 UTC" in text
    # no leftovers from the atomic write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png", "report.html"]


def test_no_banner_unless_synthetic(tmp_path):
    out, _ = _report(tmp_path)
    assert "SYNTHETIC" not in out.read_text(encoding="utf-8")


def test_markdown_lite():
    html = markdown_lite(
        "### Head\n\nA **b** *i* `x*y*`\nsecond line\n\n- a\n- b\n\n1. one\n2. two"
    )
    assert "<h4>Head</h4>" in html
    assert "<p>A <strong>b</strong> <em>i</em> <code>x*y*</code> second line</p>" in html
    assert "<ul><li>a</li><li>b</li></ul>" in html
    assert "<ol><li>one</li><li>two</li></ol>" in html
    assert "&lt;b&gt;" in markdown_lite("<b>")
    assert "href" not in markdown_lite("[site](https://example.org)")


def test_format_value():
    assert format_value(float("nan")).endswith("–</span>")
    assert format_value(None).endswith("–</span>")
    assert format_value(1234567.8) == "1,234,568"
    assert format_value(12.3456) == "12.35"
    assert format_value(0.00012) == "1.200e-04"
    assert format_value(np.int64(5000)) == "5000"
    assert format_value(2016) == "2016"  # years without a separator
    assert format_value(123456) == "123,456"
    assert format_value(True) == "yes"
    assert format_value(pd.Timestamp("2020-05-01")) == "2020-05-01"
    assert format_value("<x>") == "&lt;x&gt;"


def test_long_tables_are_truncated_with_a_note(tmp_path):
    df = pd.DataFrame({"flux_kg_day": np.arange(100.0)})
    out = tmp_path / "r.html"
    write_report(out, title="t", sections=[Section("s", tables=[Table(df, max_rows=10)])])
    html = out.read_text(encoding="utf-8")
    assert html.count("<tr>") == 11  # header + 10 rows
    assert "Showing 10 of 100 rows" in html


def test_missing_or_bad_figure_warns_and_report_still_written(tmp_path):
    bad = tmp_path / "not.png"
    bad.write_text("GIF89a", encoding="ascii")
    out = tmp_path / "r.html"
    with pytest.warns(DataQualityWarning) as record:
        write_report(out, title="t",
                     sections=[Section("s", figures=[tmp_path / "missing.png", bad])])
    assert len(record) == 2
    html = out.read_text(encoding="utf-8")
    assert "missing.png is missing" in html and "not.png is not a PNG" in html


def test_bad_input_raises_and_writes_nothing(tmp_path):
    out = tmp_path / "r.html"
    with pytest.raises(DataError, match="non-empty title"):
        write_report(out, title=" ", sections=[])
    with pytest.raises(DataError, match="section 1 is a dict"):
        write_report(out, title="t", sections=[{"title": "x"}])
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        write_report(out, title="t", sections=[Section("s", tables=[Table([1, 2])])])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not CHROMIUM.exists() or shutil.which("chromium") is None,
                    reason="headless check needs /usr/bin/chromium (not installed by default)")
def test_report_loads_in_headless_chromium_without_console_errors(tmp_path):
    out, _ = _report(tmp_path, synthetic=True)
    proc = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", "--dump-dom", out.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Guizhou demo" in proc.stdout
    console = [ln for ln in proc.stderr.splitlines()
               if "CONSOLE" in ln or "Uncaught" in ln or "Refused to" in ln]
    assert console == []


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_markdown_lite_never_lets_markup_through(text):
    html = markdown_lite(text)
    parser = _Collector()
    parser.feed(html)
    parser.close()
    assert parser.errors == [] and parser.stack == []  # balanced
    allowed = {"p", "ul", "ol", "li", "h4", "strong", "em", "code"}
    assert {t for t, _ in parser.tags} <= allowed
    assert all(not attrs for _, attrs in parser.tags)  # no attributes, so no links or handlers
