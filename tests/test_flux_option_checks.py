"""One rule for the estimator options of ``karstsink flux`` and ``run_flux``.

:func:`karstsink.workflows.catchment.check_method_options` owns it: the CLI turns its
error into a usage error (exit 2, before any file is read), ``run_flux`` (``karstsink
run``) raises it as a DataError, so the two messages are the same text.
"""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from karstsink.cli import main
from karstsink.exceptions import DataError, KarstSinkError
from karstsink.workflows._errors import in_toml
from karstsink.workflows.catchment import (
    FluxOptionError,
    check_method_options,
    run_flux,
)


def _message(method, given, model=None):
    with pytest.raises(FluxOptionError) as info:
        check_method_options(method, given, model=model)
    return str(info.value)


def test_the_error_is_a_data_error():
    assert issubclass(FluxOptionError, DataError) and issubclass(FluxOptionError,
                                                                 KarstSinkError)


@pytest.mark.parametrize("model", [None, 0, 99, "0", "99"])
def test_extra_goes_with_model_0_or_99(model):
    check_method_options("loadest", {"--extra": ["ec"], "--model": model}, model=model)


@pytest.mark.parametrize("model", [7, "7"])
def test_extra_with_a_fixed_term_model_is_refused(model):
    text = _message("loadest", {"--extra": ["ec"], "--model": model}, model=model)
    assert text == ("--extra needs --model 99 (or 0), not 7: LOADEST models 1-9 have "
                    "fixed terms.")


def test_a_model_without_extra_is_not_the_extra_rule():
    check_method_options("loadest", {"--extra": (), "--model": "7"}, model="7")
    check_method_options("loadest", {"--extra": None}, model=7)


@pytest.mark.parametrize(("method", "given", "expected"), [
    ("rating", {"--proxy": "ec"},
     "--proxy applies to --method direct only (use --extra for LOADEST)."),
    ("direct", {"--extra": ["ec"]}, "--extra applies to --method loadest only."),
    ("wrtds", {"--model": "7"}, "--model applies to --method loadest only."),
    ("rating", {"--model": "9", "--extra": ("ec",)},
     "--model and --extra apply to --method loadest only."),
    ("loadest", {"--seed": 0}, "--seed applies to --method wrtds only."),
    ("loadest", {"--min-obs": 50, "--jobs": 2},
     "--jobs and --min-obs apply to --method wrtds only."),
])
def test_an_option_of_another_method_is_refused(method, given, expected):
    assert _message(method, given) == expected


def test_each_method_takes_its_own_options():
    check_method_options("direct", {"--proxy": "ec", "--model": None, "--extra": ()})
    check_method_options("wrtds", {"--bootstrap": 0, "--seed": 1, "--jobs": 1,
                                   "--min-obs": 10, "--min-uncen": 5})
    check_method_options("rating", {"--proxy": None, "--extra": [], "--seed": None})


def test_run_flux_applies_the_rule_before_reading(tmp_path):
    missing = tmp_path / "no_such.csv"  # never read: the options are refused first
    with pytest.raises(FluxOptionError, match=r"^--extra needs --model 99 \(or 0\), not 7"):
        run_flux(missing, missing, area_km2=1.0, method="loadest",
                 method_options={"model": 7}, extra_regressors=["ec"])
    with pytest.raises(FluxOptionError, match="--proxy applies to --method direct only"):
        run_flux(missing, missing, area_km2=1.0, method="loadest", proxy="ec")


def test_cli_and_run_flux_say_the_same(tmp_path):
    days = pd.date_range("2019-10-01", "2020-09-30", freq="D")
    qp, sp = tmp_path / "q.csv", tmp_path / "s.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "Q (m3/s)": 1.0, "ec": 400.0}).to_csv(
        qp, index=False)
    pd.DataFrame({"date": days[::9].strftime("%Y-%m-%d"), "hco3": 200.0}).to_csv(
        sp, index=False)
    with pytest.raises(FluxOptionError) as info:
        run_flux(qp, sp, area_km2=10.0, units="mg/L", method="loadest",
                 method_options={"model": 7}, extra_regressors=["ec"])
    r = CliRunner().invoke(main, ["flux", "--discharge", str(qp), "--samples", str(sp),
                                  "--units", "mg/L", "--area", "10", "--model", "7",
                                  "--extra", "ec", "-o", str(tmp_path / "x")],
                           catch_exceptions=False)
    assert r.exit_code == 2, r.output
    assert " ".join(str(info.value).split()) in " ".join(r.output.split())
    assert not (tmp_path / "x").exists()


def test_the_rule_names_the_toml_keys_in_a_run():
    err = FluxOptionError("--extra needs --model 99 (or 0), not 7: LOADEST models 1-9 have "
                          "fixed terms.")
    text = str(in_toml(err, "catchments[0]", " (catchment 'a')", given={"model", "extra"}))
    assert text.startswith("catchments[0] (catchment 'a'): catchments[0].extra needs "
                           "catchments[0].model = 99 (or 0), not 7")


# --------------------------------------------------------------------------- karstsink run
# The same rule in the run configuration: a share written in a catchment's own table needs
# that catchment's column (SOURCE_OPTIONS); a [carbon] share is for every catchment.

RUN_HEAD = '[project]\noutput = "out"\n'
CATCHMENT_A = ('[[catchments]]\nname = "a"\narea_km2 = 10\ndischarge = "q.csv"\n'
               'samples = "s.csv"\n')


def _run_config(tmp_path, text):
    (tmp_path / "q.csv").write_text("date,Q (m3/s)\n2020-01-01,1\n", encoding="utf-8")
    (tmp_path / "s.csv").write_text("Date,HCO3- (mg/L)\n2020-01-01,200\n", encoding="utf-8")
    path = tmp_path / "run.toml"
    path.write_text(RUN_HEAD + text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("share", "column", "what"), [
    ("acid_so4_share", "so4", "SO4"), ("evaporite_so4_share", "so4", "SO4"),
    ("acid_no3_share", "no3", "NO3"), ("bcp_share", "toc", "TOC")])
def test_a_catchment_share_without_its_column_is_refused_naming_the_keys(tmp_path, share,
                                                                          column, what):
    from karstsink.config import load_run_config
    from karstsink.exceptions import ConfigError

    # the second catchment writes the share and no column: catchments[1]
    text = CATCHMENT_A + CATCHMENT_A.replace('"a"', '"b"') + f"{share} = 0.5\n"
    path = _run_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    assert str(info.value) == (
        f"{path}: catchments[1].{share}: needs catchments[1].{column}, the {what} column of "
        f"the samples whose flux it acts on: name it ({column} = \"{column}\"), or leave "
        f"{share} out (a share for every catchment goes in [carbon]) (catchment 'b')")
    # with the column the share is the catchment's (and recorded as its override)
    path.write_text(RUN_HEAD + text + f'{column} = "{column}"\n', encoding="utf-8")
    b = load_run_config(path)["catchments"][1]
    assert b[share] == 0.5 and b[column] == column and b["carbon_overrides"] == {share: 0.5}


def test_a_carbon_share_needs_no_column(tmp_path):
    from karstsink.config import load_run_config

    path = _run_config(tmp_path, "[carbon]\nbcp_share = 0.7\nacid_no3_share = 0.4\n"
                                 + CATCHMENT_A)
    a = load_run_config(path)["catchments"][0]
    assert (a["bcp_share"], a["acid_no3_share"], a["toc"], a["no3"]) == (0.7, 0.4, None, None)


def test_a_share_out_of_range_is_said_first(tmp_path):
    from karstsink.config import load_run_config
    from karstsink.exceptions import ConfigError

    with pytest.raises(ConfigError,
                       match=r"catchments\[0\]\.bcp_share: must be a number in 0-1 \(a share\)"):
        load_run_config(_run_config(tmp_path, CATCHMENT_A + "bcp_share = 1.5\n"))


def test_karstsink_run_stops_on_it_before_any_work(tmp_path):
    path = _run_config(tmp_path, CATCHMENT_A + "bcp_share = 0.5\n")
    r = CliRunner().invoke(main, ["run", str(path)])
    assert r.exit_code == 1, r.output
    assert "catchments[0].bcp_share: needs catchments[0].toc" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize(("share", "option", "source"), [
    ("acid_so4_share", "--acid-so4-share", "--so4"),
    ("evaporite_so4_share", "--evaporite-so4-share", "--so4"),
    ("acid_no3_share", "--acid-no3-share", "--no3"), ("bcp_share", "--bcp-share", "--toc")])
def test_run_flux_refuses_a_share_without_its_column(tmp_path, share, option, source):
    # Python as the CLI: a share that cannot act on anything is refused, not ignored; the
    # default (None) is no share given
    q = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=3), "Q (m3/s)": 1.0})
    with pytest.raises(FluxOptionError, match=rf"{option} applies to the .* flux of {source}"):
        run_flux(q, tmp_path / "never_read.csv", area_km2=1.0, **{share: 0.5})



@pytest.mark.parametrize(("method", "option"), [("wrtds", "windowY"), ("wrtds", "min_ob"),
                                                ("wrtds", "proxy"), ("rating", "model"),
                                                ("loadest", "window_y"), ("direct", "terms")])
def test_an_option_the_method_does_not_have_is_refused_not_dropped(method, option):
    # WRTDS used to take any keyword and run its defaults: a misspelt windowY was ignored
    from karstsink.flux import estimate

    days = pd.date_range("2018-01-01", "2018-12-31", freq="D")
    q = pd.DataFrame({"discharge_m3s": 1.0}, index=days)
    s = pd.DataFrame({"date": days[::20], "conc_mg_L": 200.0, "censored": False})
    with pytest.raises(DataError, match=f"the {method} method has no option.*'{option}'"):
        estimate(q, s, method=method, **{option: 1})
