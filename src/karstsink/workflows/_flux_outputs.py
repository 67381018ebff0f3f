"""The samples table a flux run writes (private part of :mod:`karstsink.workflows.catchment`).

The estimators fit the samples in date order
(:func:`karstsink.io.flux_samples.flux_samples_from_table` sorts them, a row without a
date last); ``samples.csv`` gives them back in the order of the samples file, one row per
input row, so that each row can be matched to its input row, as ``karstsink speciate``
keeps its rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["samples_in_input_order"]


def samples_in_input_order(used: pd.DataFrame, taken: pd.DataFrame,
                           table: pd.DataFrame) -> pd.DataFrame:
    """The estimator's samples back in the order of the samples file, with its sample IDs.

    Parameters
    ----------
    used : pandas.DataFrame
        The samples as the estimator used them (``FluxEstimate.samples``), row for row
        those of ``taken``.
    taken : pandas.DataFrame
        From :func:`~karstsink.io.flux_samples.flux_samples_from_table`, whose
        ``attrs["input_rows"]`` gives each row's position in ``table``.
    table : pandas.DataFrame
        The canonical sample table the rows were taken from
        (:func:`~karstsink.io.flux_samples.read_flux_table`).

    Returns
    -------
    pandas.DataFrame
        ``used`` in the order of ``table`` (a row without a date in its place, flagged
        ``bad_date``), with the reader's ``sample_id`` appended last when the samples
        file has a sample-ID column (and ``used`` has no ``sample_id`` column yet).
        ``used`` unchanged when its rows are not those of ``taken``.
    """
    order = taken.attrs.get("input_rows")
    out = used.copy()
    attrs = {k: v for k, v in used.attrs.items() if k != "input_rows"}  # now the row order
    ok = order is not None and len(order) == len(out) == len(taken) == len(table)
    if ok:  # the same rows in the same (date) order
        a = pd.to_datetime(out["date"]).to_numpy("datetime64[ns]")
        b = pd.to_datetime(taken["date"]).to_numpy("datetime64[ns]")
        ok = bool(((a == b) | (np.isnat(a) & np.isnat(b))).all())
    if ok:
        out.index = pd.Index(order)
        out = out.sort_index().reset_index(drop=True)
        if "sample_id" in table.columns and "sample_id" not in out.columns:
            out["sample_id"] = table["sample_id"].to_numpy()
    out.attrs = attrs
    return out
