"""The result contract every flux estimator returns (``direct``, ``rating``, ``loadest``,
``wrtds``).

An estimator produces a :class:`FluxEstimate`.  Period aggregation (months,
calendar years, water years, the whole record) lives in
:mod:`karstsink.flux.aggregate` and asks the estimate for the mean daily flux
and its 95 % interval over any grouping of days through
:meth:`FluxEstimate.period_stats`, because each method knows its own error
structure (LOADEST: regression covariance; WRTDS: block bootstrap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._common import Z95

#: Columns every ``FluxEstimate.daily`` carries (more may follow).
DAILY_COLUMNS = ("discharge_m3s", "conc_mg_L", "flux_kg_day", "flux_se_kg_day")
#: Columns ``period_stats`` returns.
PERIOD_COLUMNS = ("flux_kg_day", "flux_se_kg_day", "flux_lo95_kg_day", "flux_hi95_kg_day")


@dataclass
class FluxEstimate:
    """Daily concentration and flux from one estimator, with what is needed for intervals.

    Attributes
    ----------
    method : str
        ``"direct"``, ``"rating"``, ``"loadest"`` or ``"wrtds"``.
    daily : pandas.DataFrame
        One row per day on a daily ``DatetimeIndex`` named ``date``, with at
        least :data:`DAILY_COLUMNS`: discharge [m³ s⁻¹], concentration
        [mg L⁻¹], flux [kg d⁻¹] and its standard error [kg d⁻¹] (NaN where the
        method has none per day).
    samples : pandas.DataFrame
        The calibration samples as used: ``date``, ``discharge_m3s``,
        ``conc_mg_L``, ``censored`` (bool), and where the method fits a model
        ``fitted_mg_L`` and ``residual`` (in the model's space, e.g. ln units).
    model : dict
        JSON-serialisable coefficients, diagnostics (R², AIC, b, flux bias...)
        and settings; written to ``model.json`` by the CLI.
    replicates : numpy.ndarray or None
        Optional ``(n_replicates, n_days)`` array of daily fluxes [kg d⁻¹] from a
        bootstrap; when given, the default :meth:`period_stats` uses it.
    """

    method: str
    daily: pd.DataFrame
    samples: pd.DataFrame
    model: dict[str, Any] = field(default_factory=dict)
    replicates: np.ndarray | None = None

    def period_stats(self, labels: pd.Series | np.ndarray) -> pd.DataFrame:
        """Mean daily flux and its 95 % interval for each group of days.

        Parameters
        ----------
        labels : array_like
            One group label per row of :attr:`daily` (e.g. the water year);
            NaN/None labels are left out.

        Returns
        -------
        pandas.DataFrame
            Indexed by label, with :data:`PERIOD_COLUMNS` [kg d⁻¹].

        Notes
        -----
        This default uses :attr:`replicates` (percentile interval) when
        present; otherwise it treats daily errors as perfectly correlated
        within a period (the conservative bound, since errors of a fitted
        model are strongly correlated between neighbouring days) and gives a
        normal interval.  Estimators with a better error model override it.
        """
        labels = pd.Series(np.asarray(labels), index=self.daily.index)
        flux = self.daily["flux_kg_day"].to_numpy(dtype=float)
        rows = {}
        for label, idx in labels.groupby(labels, sort=True).indices.items():
            mean = float(np.mean(flux[idx]))
            if self.replicates is not None:
                reps = self.replicates[:, idx].mean(axis=1)
                se = float(np.std(reps, ddof=1))
                lo, hi = (float(v) for v in np.percentile(reps, [2.5, 97.5]))
            else:
                se = float(np.mean(self.daily["flux_se_kg_day"].to_numpy(dtype=float)[idx]))
                lo, hi = mean - Z95 * se, mean + Z95 * se
            rows[label] = (mean, se, lo, hi)
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(PERIOD_COLUMNS))
