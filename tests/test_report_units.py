"""The report states the map in the unit the map stage wrote on its rasters.

With ``[project] co2 = true`` the map stage writes t CO2 km-2 yr-1 rasters; the report's
map captions, the quick looks it redraws (their colour bars), the map text and the
headline must then say t CO2, and a t C map stays in t C (reviewer's bug: the report
captioned a CO2 map "t C km-2 yr-1").
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from mapping_helpers import GEO, GEO_SHAPE, GEO_TRANSFORM, uniform_inputs, write, zones_two_halves

from karstsink.exceptions import DataError

# Uniform map inputs (mapping_helpers.uniform_inputs): 15 degC, soil pCO2 1e-2 atm,
# R = 500 mm/yr, open system, phreeqc.dat: Ca_eq = 1.932 mmol/kgw, so a carbonate pixel's
# karst sink is 12.011 g/mol x 0.5 m/yr x 1.932 mmol/L = 11.60 t C km-2 yr-1 (the hand value
# of tests/test_mapping.py and tests/test_catchment_comparison.py); in CO2 the molar mass
# of CO2 instead of C: 44.009 x 0.5 x 1.932 = 42.51 t CO2 km-2 yr-1.
HAND_SINK_C = 12.011 * 0.5 * 1.932
HAND_SINK_CO2 = HAND_SINK_C * 44.009 / 12.011
UNIT_C, UNIT_CO2 = "t C km-2 yr-1", "t CO2 km-2 yr-1"  # as the map stage tags its rasters


def _run(folder: Path, co2: bool) -> tuple[Path, list[str]]:
    """A tiny run (map with two zones, no samples or catchments) through run_pipeline;
    returns its output folder and the colour-bar units of every quick look drawn."""
    import karstsink.plots.maps as maps
    from karstsink.workflows import run_pipeline

    inputs = uniform_inputs(folder / "rasters")
    zones_two_halves(folder / "rasters")
    text = (("[project]\nco2 = true\n" if co2 else "")
            + "[speciation]\nsamples = []\n[map.inputs]\n"
            + "".join(f'{k} = "rasters/{Path(v).name}"\n' for k, v in inputs.items())
            + '[map.zones]\npath = "rasters/zones.gpkg"\nfield = "county"\n'
            + '[map.tables]\nlandcover = "worldcover"\n[map.grid]\nblock_size = 128\n'
            + "[report]\nhtml = true\n")
    cfg = folder / "run.toml"
    cfg.write_text(text, encoding="utf-8")
    units: list[str] = []
    draw = maps.quicklook

    def spy(*args, **kwargs):
        units.append(kwargs.get("unit", "t C km-2 yr-1 (the default)"))
        return draw(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(maps, "quicklook", spy)
        result = run_pipeline(cfg, folder / "out", jobs=2)
    return result.out_dir, units


@pytest.fixture(scope="module")
def co2_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("co2"), co2=True)


@pytest.fixture(scope="module")
def c_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("carbon"), co2=False)


def _map_section(html: str) -> str:
    sections = re.findall(r"<section id=\"sec-\d+\"><h2>(.*?)</h2>(.*?)</section>", html,
                          flags=re.S)
    found = [body for title, body in sections if title == "Sink maps"]
    assert len(found) == 1, [t for t, _ in sections]
    return found[0]


def _summary(html: str) -> dict[str, str]:
    block = re.search(r'<section class="summary".*?</section>', html, flags=re.S)
    assert block is not None
    return dict(re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', block.group(0)))


def _masses(value: str) -> list[tuple[float, str]]:
    """"1.72 kt CO2/yr (470 t C/yr)" -> [(1720.0, "CO2"), (470.0, "C")] (tonnes per year)."""
    scale = {"t": 1.0, "kt": 1e3, "Mt": 1e6}
    found = re.findall(r"([\d.,]+) (t|kt|Mt) (CO2|C)/yr", value)
    assert len(found) == 2, value
    return [(float(x.replace(",", "")) * scale[m], what) for x, m, what in found]


def _number_before(text: str, unit: str) -> float:
    found = re.search(r"\(([\d.]+) " + re.escape(unit) + " of karst\\)", text)
    assert found is not None, text
    return float(found.group(1))


def test_co2_map_is_captioned_and_headlined_in_t_co2(co2_run):
    out, units = co2_run
    import rasterio

    with rasterio.open(out / "map" / "total_sink.tif") as ds:  # what the map stage wrote
        assert ds.tags(1)["units"] == UNIT_CO2
    html = (out / "report.html").read_text(encoding="utf-8")
    section = _map_section(html)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", section, flags=re.S)
    assert len(captions) == 3
    for caption in captions:
        assert f"[{UNIT_CO2}]" in caption
        assert not re.search(r"\bt C\b", caption), caption  # t C, not the t of t CO2
    # the quick looks the map stage and the report drew: colour bars in t CO2
    assert units and all(u == UNIT_CO2 for u in units), units
    # the map text leads in t CO2: per km² of karst the hand value in CO2
    text = section.split("<table", 1)[0]
    assert re.search(r"[\d.,]+ (t|kt|Mt) CO2/yr</strong>", text), text
    assert "t C km" not in text
    assert _number_before(text, "t CO2 km⁻² yr⁻¹") == pytest.approx(HAND_SINK_CO2, rel=0.01)
    assert "GeoTIFFs (COG, t CO2 km⁻² yr⁻¹)" in text
    assert "t C and t CO2 per year" in section  # the zone table carries both
    head = _summary(html)
    # the chosen unit first, the other in brackets: the same total, x 44.009/12.011
    for key in ("karst sink, raster total", "biological sink, raster total"):
        (lead, lead_unit), (other, other_unit) = _masses(head[key])
        assert (lead_unit, other_unit) == ("CO2", "C"), head[key]
        assert lead == pytest.approx(other * 44.009 / 12.011, rel=0.01)


def test_t_c_map_stays_in_t_c(c_run):
    out, units = c_run
    html = (out / "report.html").read_text(encoding="utf-8")
    section = _map_section(html)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", section, flags=re.S)
    assert len(captions) == 3
    for caption in captions:
        assert f"[{UNIT_C}]" in caption and "CO2" not in caption
    assert units and all(u == UNIT_C for u in units), units
    text = section.split("<table", 1)[0]
    assert re.search(r"[\d.,]+ (t|kt|Mt) C/yr</strong>", text), text
    assert _number_before(text, "t C km⁻² yr⁻¹") == pytest.approx(HAND_SINK_C, rel=0.01)
    assert "GeoTIFFs (COG, t C km⁻² yr⁻¹)" in text
    head = _summary(html)
    (lead, lead_unit), (other, other_unit) = _masses(head["karst sink, raster total"])
    assert (lead_unit, other_unit) == ("C", "CO2")
    assert other == pytest.approx(lead * 44.009 / 12.011, rel=0.01)


def test_a_raster_without_the_map_stage_unit_is_refused(tmp_path):
    from karstsink.workflows._map_unit import map_unit

    path = write(tmp_path / "total_sink.tif", np.ones(GEO_SHAPE, np.float32), GEO_TRANSFORM,
                 GEO)
    with pytest.raises(DataError, match="declares the unit ''"):
        map_unit(path)
