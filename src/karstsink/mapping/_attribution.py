r"""Factorial attribution of a sink change to climate, land cover and their interaction.

For a pair of years :math:`a \to b` the varying inputs fall into two groups: climate
(:data:`._series_config.CLIMATE_INPUTS` or ``[series] climate``) and land cover (every
other varying input: the classes, NEP/NPP).  The map pass evaluates the sink :math:`S`
with each group from year :math:`a` or :math:`b` (a 2 x 2 design; the two mixed
evaluations are extra variants of the same pass, zone sums only), and

.. math::

    \Delta S &= S(c_b, l_b) - S(c_a, l_a)\\
    \text{climate} &= S(c_b, l_a) - S(c_a, l_a)\\
    \text{land cover} &= S(c_a, l_b) - S(c_a, l_a)\\
    \text{interaction} &= S(c_b, l_b) - S(c_b, l_a) - S(c_a, l_b) + S(c_a, l_a)

so the three terms add up to :math:`\Delta S` exactly (a two-factor factorial
decomposition with year :math:`a` as the reference, as in the climate / land-use
scenario runs of Zeng, Liu & Kaufmann 2019, doi:10.1038/s41467-019-13772-4).
"""

from __future__ import annotations

import numpy as np

from ._area import has_valid_pixel
from ._block import Variant

__all__ = ["ATTRIBUTION_COLUMNS", "attribution_rows", "mixed_variants"]

ATTRIBUTION_COLUMNS = ("year_a", "year_b", "total_change_t_c_yr", "climate_t_c_yr",
                       "landcover_t_c_yr", "interaction_t_c_yr")


def mixed_keys(names: list[str], varying: tuple[str, ...], climate: tuple[str, ...],
               year_c: int, year_l: int) -> dict[str, str]:
    """Model input -> source key with the climate inputs of ``year_c`` and the other
    varying inputs of ``year_l`` (constant inputs keep their key)."""
    keys = {}
    for n in names:
        if n not in varying:
            keys[n] = n
        else:
            keys[n] = f"{n}@{year_c if n in climate else year_l}"
    return keys


def mixed_variants(names: list[str], varying: tuple[str, ...], climate: tuple[str, ...],
                   pairs, existing: list[Variant]) -> tuple[list[Variant], dict]:
    """The extra variants of the attribution and, per pair, the labels of
    ``(S(c_a,l_a), S(c_b,l_a), S(c_a,l_b), S(c_b,l_b))``; a combination equal to an
    existing variant (a group that does not vary) reuses it."""
    known = {tuple(sorted(v.keys.items())): v.label for v in existing}
    extra: list[Variant] = []
    design = {}
    for a, b in pairs:
        labels = []
        for yc, yl in ((a, a), (b, a), (a, b), (b, b)):
            keys = mixed_keys(names, varying, climate, yc, yl)
            sig = tuple(sorted(keys.items()))
            if sig not in known:
                label = f"attribution/c{yc}_l{yl}"
                extra.append(Variant(label, keys, write=False))
                known[sig] = label
            labels.append(known[sig])
        design[(a, b)] = tuple(labels)
    return extra, design


def zone_totals(sums: np.ndarray | None, nz: int, grid_total: float) -> np.ndarray:
    """Total sink [t C yr⁻¹] per zone and the TOTAL (last) from one variant's zone sums
    ``(quantities, 1 + zones [+ union])`` (the zone table's rules: NaN for a zone without
    a valid pixel; the union column, when zones overlap, for the TOTAL)."""
    if sums is None:
        return np.array([grid_total])
    area, nodata, total = sums[0, 1:nz + 1], sums[2, 1:nz + 1], sums[5, 1:nz + 1]
    z = np.where(has_valid_pixel(area, nodata), total, np.nan)
    tot = sums[5, nz + 1] if sums.shape[1] > nz + 1 else (
        np.nansum(z) if np.isfinite(z).any() else np.nan)
    return np.r_[z, tot]


def attribution_rows(design: dict, totals: dict) -> list[dict]:
    """Rows of ``attribution.csv`` (without the zone columns): per pair, one dict of
    :data:`ATTRIBUTION_COLUMNS` whose values are arrays over the zones (+ TOTAL);
    ``totals``: variant label -> :func:`zone_totals`."""
    rows = []
    for (a, b), (aa, ba, ab, bb) in design.items():
        s_aa, s_ba, s_ab, s_bb = (totals[k] for k in (aa, ba, ab, bb))
        rows.append({"year_a": a, "year_b": b, "total_change_t_c_yr": s_bb - s_aa,
                     "climate_t_c_yr": s_ba - s_aa, "landcover_t_c_yr": s_ab - s_aa,
                     "interaction_t_c_yr": s_bb - s_ba - s_ab + s_aa})
    return rows
