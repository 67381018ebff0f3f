"""Cheap checks of a map configuration's files, for a pipeline whose map stage comes last.

``karstsink run`` speciates the samples and computes the catchment fluxes before it
maps, so a wrong raster or zones file would be reported minutes into the run.
:func:`check_map_files` reads the files' metadata only (no pixel, no feature): every
input raster of every year opens, has a CRS (or the CF latitude/longitude one its file
implies) and reconciles its bands and unit with its entry
(:func:`karstsink.mapping._sources.resolve_input`); a polygon input's layer, field and CRS
(:meth:`karstsink.mapping._vector.VectorRead.layer_info`); the ``[grid] like`` raster; the
zones file's field and CRS (:func:`karstsink.mapping._zone_io.check_zones_file`).  The
errors are those the map run raises, each naming its key (``[inputs] temperature: ...``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ..exceptions import KarstSinkError

__all__ = ["check_map_files"]


@contextlib.contextmanager
def _named(key: str, name: str | None = None) -> Iterator[None]:
    """Re-raise a karstsink error of one file with its key first (unless it names one)."""
    try:
        yield
    except KarstSinkError as err:
        text = str(err)
        if text.startswith("["):
            raise
        if name is not None and text.startswith(f"Input {name!r} ("):
            raise type(err)(f"{key} ({text[len(f'Input {name!r} ('):]}") from err
        raise type(err)(f"{key}: {text}") from err


def check_map_files(cfg) -> None:
    """Open every file of a map configuration (metadata only) before the run.

    Parameters
    ----------
    cfg : karstsink.mapping.config.MapConfig
        A validated configuration (its paths exist: :func:`~.config.config_from_dict`).

    Raises
    ------
    RasterError, UnitError, ConfigError, DataError
        A raster GDAL cannot open or without a CRS, bands or units that do not fit its
        entry, a polygon layer or zones file without its field or CRS; the message starts
        with the key (``[inputs] temperature``, ``[grid] like``, ``[zones] field``).
    """
    from ._inputs import InputSpec
    from ._series_config import year_config
    from ._sources import resolve_input
    from ._vector import VectorRead
    from ._zone_io import check_zones_file
    from .grid import Grid, _open, _require_crs

    years = [cfg] if cfg.series is None else [year_config(cfg, y) for y in cfg.series.years]
    seen: set[tuple[str, str]] = set()
    for one in years:
        for name, path in one.inputs.items():
            spec = one.input_specs.get(name) or InputSpec(name, Path(path))
            if (name, str(spec.path)) in seen:  # a constant input of a series: once
                continue
            seen.add((name, str(spec.path)))
            with _named(f"[inputs] {name}", name):
                read = resolve_input(spec)
                if spec.is_vector:
                    VectorRead.from_path(read.path).layer_info()
                    continue
                with _open(read.path) as ds:
                    if read.crs is None:  # else the CRS a CF lat/lon file implies
                        _require_crs(ds, read.path)
    if cfg.grid_like is not None:
        with _named("[grid] like"):
            Grid.from_raster(cfg.grid_like)
    if cfg.zones_path is not None and cfg.zones_field is not None:
        with _named("[zones] path"):
            check_zones_file(cfg.zones_path, cfg.zones_field, cfg.zones_layer)
