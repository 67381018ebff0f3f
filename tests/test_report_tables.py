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
