"""The report's notes on a catchment's concentration model read model.json as written:
a diagnostic JSON has no number for (NaN, written as null) is said as n/a, not a crash."""

from __future__ import annotations

import json

from karstsink.workflows._report_notes import interval_note, model_note


def test_a_null_diagnostic_is_said_as_nan(tmp_path):
    # LOADEST with <= 2 uncensored samples has no serial correlation; its model.json
    # holds null there (and for a PPCC it could not compute)
    doc = {"model": {"method": "loadest", "model": 1, "equation": "a0 + a1 lnQ",
                     "coefficients_amle": {"a0": 1.5, "a1": 0.2}, "terms": ["1", "lnQ"],
                     "n_samples": 3, "r_squared_pct": 91.0, "residual_variance_amle": None,
                     "ppcc": None, "serial_correlation": None, "b_chemostatic": None},
           "settings": {"analytical_uncertainty": {"column": "hco3_sd", "n_samples": 3,
                                                   "rsd": None}}}
    (tmp_path / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    text, table = model_note(tmp_path, "one")
    assert "serial correlation n/a" in text and "PPCC n/a" in text
    assert "C-Q exponent" not in text  # no b to state
    assert table["estimate"].tolist() == [1.5, 0.2]
    assert "relative standard uncertainty n/a" in interval_note(tmp_path, "loadest")


def test_a_rating_model_without_a_bias_factor(tmp_path):
    doc = {"model": {"method": "rating", "a": 2.0, "b": -0.12, "cf": None}}
    (tmp_path / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    text, _ = model_note(tmp_path, "one")
    assert "**b = -0.120**" in text and "bias correction factor n/a" in text
