"""Flux estimation: daily discharge plus sparse samples -> daily, monthly and annual loads.

``estimate(discharge, samples, constituent, method=...)`` is the one entry
point; the estimators live in ``direct``, ``rating``, ``loadest`` and ``wrtds``.
Period tables come from :func:`karstsink.flux.aggregate.aggregate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ..exceptions import DataError
from ._base import FluxEstimate

__all__ = ["METHODS", "FluxEstimate", "estimate"]

#: Estimators :func:`estimate` dispatches to: the package's one list of flux method names
#: (the run configuration and ``karstsink flux --method`` take theirs from here).
METHODS: tuple[str, ...] = ("direct", "rating", "loadest", "wrtds")


def estimate(
    discharge: pd.DataFrame,
    samples: pd.DataFrame,
    constituent: str | None = None,
    method: str = "loadest",
    **options: Any,
) -> FluxEstimate:
    """Estimate daily flux of one constituent with the chosen method.

    Parameters
    ----------
    discharge : pandas.DataFrame
        Daily discharge from :func:`karstsink.hydrology.read_discharge`
        (``discharge_m3s`` [m³ s⁻¹] on a daily ``DatetimeIndex``).
    samples : pandas.DataFrame
        From :func:`karstsink.flux.samples.read_flux_samples` (``date``,
        ``conc_mg_L`` [mg L⁻¹], ``censored``).
    constituent : str, optional
        Recorded in the result (``estimate.model["constituent"]``).
    method : {"loadest", "rating", "direct", "wrtds"}, default "loadest"
        The estimator; ``options`` are passed on to
        :func:`~karstsink.flux.direct.estimate_direct`,
        :func:`~karstsink.flux.rating.estimate_rating`,
        :func:`~karstsink.flux.loadest.estimate_loadest` or
        ``karstsink.flux.wrtds.estimate_wrtds``.

    Returns
    -------
    FluxEstimate
        Daily concentration [mg L⁻¹] and flux [kg d⁻¹] with standard errors.
    """
    method = str(method).lower()
    func: Callable[..., Any]
    if method == "direct":
        from .direct import estimate_direct as func
    elif method == "rating":
        from .rating import estimate_rating as func
    elif method == "loadest":
        from .loadest import estimate_loadest as func
    elif method == "wrtds":
        from .wrtds import estimate_wrtds as func
    else:
        raise DataError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    import inspect

    params = inspect.signature(func).parameters
    known = [n for n, p in params.items()
             if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD
                                             and n not in ("discharge", "daily", "samples"))]
    unknown = sorted(set(options) - set(known))
    if unknown:  # never dropped in silence (a misspelt window_y would run the defaults)
        raise DataError(f"the {method} method has no option(s) {', '.join(map(repr, unknown))}; "
                        f"its options are {', '.join(known)}.")
    result = func(discharge, samples, **options)
    if constituent is not None:
        result.model.setdefault("constituent", constituent)
    return result
