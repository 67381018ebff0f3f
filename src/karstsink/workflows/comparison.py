"""Catchment against map: each catchment's observed sink beside the map's over its outline.

``karstsink run`` writes the result as ``catchment_comparison.csv`` (columns
:data:`COMPARISON_COLUMNS`) when the run has a ``[map]`` and at least one
catchment has a ``boundary``; :func:`karstsink.workflows.sections.comparison_section`
shows it in the report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..exceptions import KarstSinkError
from ..units import C_TO_CO2
from ._errors import in_toml
from ._map_unit import map_unit, unit_is_co2

__all__ = ["COMPARISON_COLUMNS", "catchment_comparison"]

#: Columns of ``catchment_comparison.csv``.
COMPARISON_COLUMNS = ["catchment", "area_km2", "boundary_area_km2", "observed_sink_t_c_km2_yr",
                      "observed_lo95_t_c_km2_yr", "observed_hi95_t_c_km2_yr",
                      "map_karst_sink_t_c_km2_yr", "ratio_observed_to_map", "note"]


def catchment_comparison(cfg: dict, catchments: pd.DataFrame, karst_tif: Path) -> pd.DataFrame:
    """Each catchment's observed sink against the map's karst sink over its outline.

    The map value is the area-weighted mean of ``karst_sink.tif`` over the whole
    outline [t C km-2 yr-1] (:func:`karstsink.mapping.zones.raster_mean_in_polygon`):
    carbonate-free pixels count with their 0, nodata pixels and any part off the map
    are left out and reported in ``note``.

    Parameters
    ----------
    cfg : dict
        The checked run configuration (:func:`karstsink.config.load_run_config`); each
        entry of ``cfg["catchments"]`` may carry a ``boundary`` (and ``boundary_layer``).
    catchments : pandas.DataFrame
        ``catchment_sinks.csv`` of the run: ``catchment``, ``sink_t_c_km2_yr``,
        ``sink_lo95_t_c_km2_yr``, ``sink_hi95_t_c_km2_yr`` [t C km-2 yr-1].
    karst_tif : pathlib.Path
        The run's ``map/karst_sink.tif`` [t C km-2 yr-1, or t CO2 km-2 yr-1 when the
        run wrote CO2 rasters, as the raster's own unit says
        (:func:`karstsink.workflows._map_unit.map_unit`); converted back to carbon here].

    Returns
    -------
    pandas.DataFrame
        One row per catchment, columns :data:`COMPARISON_COLUMNS`.

    Raises
    ------
    KarstSinkError
        An unreadable outline, named by its TOML key (``catchments[0].boundary``).
    DataError
        ``karst_tif`` declares no unit, or one the map stage does not write.
    """
    import rasterio

    from ..mapping.zones import raster_mean_in_polygon, read_outline

    with rasterio.open(karst_tif) as ds:
        crs = ds.crs
    co2 = unit_is_co2(map_unit(karst_tif))  # the unit the map stage wrote on the raster
    observed = catchments.set_index("catchment")
    rows = []
    for c in cfg["catchments"]:
        obs = observed.loc[c["name"]]
        row = {"catchment": c["name"], "area_km2": c["area_km2"],
               "boundary_area_km2": float("nan"),
               "observed_sink_t_c_km2_yr": float(obs["sink_t_c_km2_yr"]),
               "observed_lo95_t_c_km2_yr": float(obs["sink_lo95_t_c_km2_yr"]),
               "observed_hi95_t_c_km2_yr": float(obs["sink_hi95_t_c_km2_yr"]),
               "map_karst_sink_t_c_km2_yr": float("nan"),
               "ratio_observed_to_map": float("nan")}
        notes = []
        if c.get("boundary") is None:
            notes.append("no boundary given")
        else:
            try:
                outline, area = read_outline(c["boundary"], crs, c.get("boundary_layer"))
                stats = raster_mean_in_polygon(karst_tif, outline)
            except KarstSinkError as err:
                raise in_toml(err, f"{c['key']}.boundary", f" (catchment {c['name']!r})"
                               ) from err
            mean = stats["mean"]
            if co2:  # the run wrote t CO2 rasters
                mean /= C_TO_CO2
            row["boundary_area_km2"] = area
            row["map_karst_sink_t_c_km2_yr"] = mean
            missing = stats["nodata_area_km2"] + stats["off_grid_area_km2"]
            if stats["polygon_area_km2"] > 0 and missing > 0.001 * stats["polygon_area_km2"]:
                notes.append(f"{100 * missing / stats['polygon_area_km2']:.1f} % of the outline "
                             "has no map value (nodata pixels or off the map), left out of "
                             "the mean")
            if abs(area / c["area_km2"] - 1) > 0.05:
                notes.append(f"outline area {area:.3g} km2 differs from area_km2 "
                             f"{c['area_km2']:g} by {100 * (area / c['area_km2'] - 1):+.0f} %")
            obs_sink = row["observed_sink_t_c_km2_yr"]
            if mean > 0 and obs_sink == obs_sink:
                row["ratio_observed_to_map"] = obs_sink / mean
                if obs_sink > mean:
                    notes.append("observed above the MPD potential: the map's inputs over the "
                                 "outline (runoff, soil pCO2, temperature, the run's SO4/NO3 "
                                 "for the acid correction) do not represent this catchment, "
                                 "or water from outside the outline reaches the outlet")
            elif mean == 0:
                notes.append("no carbonate rock mapped inside the outline: no ratio")
            elif mean != mean:
                notes.append("no map value inside the outline: no ratio")
            if obs_sink != obs_sink:
                notes.append("no observed sink (the constituent is not HCO3)")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)

