"""Writing the per-pixel sd raster ``total_sink_sd.tif`` (``[uncertainty] sd_raster``).

The numbers come from :mod:`._draws_sd`; this module lays them out as a GDAL COG with the
map's tags and style, for :mod:`.run` and :mod:`.series`.
"""

from __future__ import annotations

from ._draws_sd import SD_STEM, sd_lattice

__all__ = ["write_sd_raster"]


def write_sd_raster(folder, spec, pieces: list, co2: bool, year: str | None = None
                    ) -> list[str]:
    """Write ``total_sink_sd.tif`` (and its QGIS style) into ``folder``; returns the file
    names.

    The per-pixel sample sd (ddof = 1) of the K draws' total sink on the subsample, in
    the unit of ``total_sink.tif`` (t C km⁻² yr⁻¹, t CO2 km⁻² yr⁻¹ with ``co2``):
    float32, NaN nodata, at s x the grid's pixel size (transform = the grid's scaled by
    s), the grid's CRS; lattice pixel (I, J) is the sample at full-resolution pixel
    (I s, J s), the top-left pixel of its s x s cell.  A Cloud-Optimised GeoTIFF
    (GDAL's COG driver, DEFLATE, floating-point predictor), written to a temporary name
    in ``folder`` and renamed.  ``pieces``: the merged :func:`block_draws` pieces;
    ``year``: a series year (its tags are added).
    """
    from pathlib import Path

    import rasterio
    from affine import Affine

    from ..io.atomic import atomic_path
    from ._block import band_stats
    from ._style import stats_tags, write_qml
    from .executor import OUTPUT_META

    d = spec.draws
    s = d.step
    grid = spec.grid
    sd = sd_lattice(pieces, grid, s)
    unit = OUTPUT_META["total"][3 if co2 else 2]
    desc = (f"Standard deviation of the total carbon sink over {d.k} Monte Carlo draws, "
            f"every {s}-th row and column: pixel (I, J) is the grid's pixel "
            f"({s} I, {s} J), the top-left pixel of its {s} x {s} cell")
    year_tags = (spec.name_tags or {}).get(year, {}) if year is not None else {}
    tags = {**spec.tags, **year_tags, "units": unit, "description": desc,
            "karstsink_draws": str(d.k), "karstsink_seed": str(d.seed),
            "karstsink_subsample_step_px": str(s)}
    stats = band_stats(sd)
    path = Path(folder) / f"{SD_STEM}.tif"
    with atomic_path(path) as part, rasterio.open(
            part, "w", driver="COG", width=sd.shape[1], height=sd.shape[0], count=1,
            dtype="float32", crs=grid.crs, transform=grid.transform @ Affine.scale(s),
            nodata=float("nan"), compress="DEFLATE", predictor="FLOATING_POINT",
            overview_resampling="AVERAGE") as ds:
        ds.write(sd, 1)
        ds.set_band_description(1, desc)
        ds.set_band_unit(1, unit)
        ds.update_tags(1, units=unit, quantity="total_sd", **stats_tags(stats, False))
        ds.update_tags(**tags)
    write_qml(Path(folder) / f"{SD_STEM}.qml", "total", desc, unit, stats)
    return [f"{SD_STEM}.tif", f"{SD_STEM}.qml"]
