"""Report tables: human headers from the variable registry, print blocks for wide tables."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from karstsink.report import PRINT_COLUMNS, Section, Table, column_label, render_report


def test_column_labels_are_words_with_the_registry_unit():
    # units as variables.csv states them, written with superscripts
    assert column_label("karst_sink_t_c_km2_yr") == ("Karst sink", "t C km⁻² yr⁻¹")
    assert column_label("sink_lo95_t_c_km2_yr") == ("Sink lower 95 %", "t C km⁻² yr⁻¹")
    assert column_label("karst_share_pct") == ("Karst share", "%")
    assert column_label("residual_t_co2_yr") == ("Residual", "t CO2 yr⁻¹")  # CO2 stays CO2
    assert column_label("discharge_m3s") == ("Discharge", "m³/s")
    assert column_label("hco3_flux_kg_yr") == ("HCO₃⁻ flux", "kg/yr")
    # not registered: the unit of the registered name it starts with (si_calcite: 1, none)
    assert column_label("si_calcite_median") == ("SI calcite median", "")
    assert column_label("dic_mmol_kgw_median") == ("DIC median", "mmol/kgw")
    assert column_label("scenario") == ("Scenario", "")
    assert column_label("qa_flags") == ("QA flags", "")


def _headers(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r'<code class="col">(.*?)</code>', html)]


def test_wide_tables_get_print_blocks_with_every_column_and_the_keys_repeated():
    cols = ["scenario", "year"] + [f"x{i}_sink_t_co2_yr" for i in range(9)]
    df = pd.DataFrame([["baseline", 2020, *np.arange(9.0)]], columns=cols)
    html = render_report(title="t", sections=[Section("s", tables=[Table(df, caption="c")])],
                         generated="x")
    screen, printed = html.split('class="tablewrap print-only"')
    assert _headers(screen) == cols  # the whole table for the screen
    blocks = printed.split("<table>")[1:]
    assert len(blocks) == 2  # 9 value columns, 5 per block with the 2 key columns
    for b in blocks:
        heads = _headers(b)
        assert heads[:2] == ["scenario", "year"] and len(heads) <= PRINT_COLUMNS
    assert sorted({h for b in blocks for h in _headers(b)}) == sorted(cols)
    assert "columns 1-5 of 9" in blocks[0] and "(continued)" in blocks[1]
    # a narrow table is written once
    narrow = render_report(title="t", sections=[Section("s", tables=[df[cols[:4]]])])
    assert "tablewrap print-only" not in narrow and _headers(narrow) == cols[:4]


def test_headers_carry_the_registry_description_as_tooltip():
    df = pd.DataFrame({"karst_share_pct": [1.0]})
    html = render_report(title="t", sections=[Section("s", tables=[df])])
    assert 'title="Share of the year&#x27;s emissions the karst sink offsets."' in html
    assert "Karst share <span class=\"u\">(%)</span>" in html


def test_print_style_sheet_wraps_tables_and_breaks_pages():
    html = render_report(title="t", sections=[Section("s")])
    css = html[html.index("<style>"):html.index("</style>")]
    media = css[css.index("@media print"):]
    for rule in ("table-layout: fixed", "overflow-wrap: anywhere", "break-before: page",
                 "max-width: 100%", ".print-only { display: block; }",
                 ".screen-only { display: none; }"):
        assert rule in media, rule


def test_a_catchment_section_shows_the_flags_and_partial_years_of_its_sink(tmp_path):
    from karstsink.workflows.sections import catchment_section

    # calendar years (--year-start 1); 2016 is whole, 2017 is not; 2017 is flagged
    # beyond_samples in sink.csv, and the report must show both
    # a WRTDS interval of 100 kg/d from 95 to 101: -5.0 % to +1.0 %, not "±3.0 %"
    pd.DataFrame({"flux_kg_day": [100.0], "flux_se_kg_day": [1.5], "flux_lo95_kg_day": [95.0],
                  "flux_hi95_kg_day": [101.0], "n_days": [600]}).to_csv(
        tmp_path / "total.csv", index=False)
    sink = pd.DataFrame({"period": ["2016", "2017", "total"],
                         "complete": [True, False, False], "sink_t_c_km2_yr": [7.0, 7.5, 7.2],
                         "qa_flags": ["", "beyond_samples", "beyond_samples"]})
    row = {"first_day": "2016-01-01", "last_day": "2017-08-31", "n_samples": 40,
           "sink_t_c_km2_yr": 7.2, "sink_t_co2_km2_yr": 26.4, "sink_lo95_t_c_km2_yr": 7.0,
           "sink_hi95_t_c_km2_yr": 7.3}
    section = catchment_section({"name": "c1", "area_km2": 10.0, "method": "wrtds",
                                 "year_start": 1}, row, sink, tmp_path)
    table = section.tables[0]
    assert list(table.data.columns) == ["year", "complete", "sink_t_c_km2_yr", "qa_flags"]
    assert table.data["complete"].tolist() == [True, False]
    assert table.data["qa_flags"].tolist() == ["", "beyond_samples"]
    assert "per year" in table.caption and "water year" not in table.caption
    assert "a bootstrap standard deviation of 1.5 kg/d" in section.text
    assert "the interval runs -5.0 % to +1.0 % about it" in section.text
