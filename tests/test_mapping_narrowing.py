"""Error lines where a value the types allow to be None cannot be used (issue 17, mypy)."""

import numpy as np
import pytest

from karstsink.exceptions import ConfigError, UnitError
from karstsink.mapping._block import model_inputs
from karstsink.mapping._input_units import known_unit
from karstsink.mapping.model import ModelParams, remap_classes


def test_known_unit_gives_the_unit_and_refuses_an_unknown_one():
    # 1 mm/month = 12 mm/yr (12 monthly steps per year)
    u = known_unit("runoff", "mm/month")
    assert (u.factor, u.amount, u.per_year) == (12.0, 1.0, 12.0)
    with pytest.raises(UnitError, match=r"runoff\.units = 'furlongs'.*mm/yr"):
        known_unit("runoff", "furlongs")
    with pytest.raises(UnitError, match="class codes"):
        known_unit("landcover", "m")


def test_min_slope_transition_without_a_slope_is_one_config_error():
    codes = np.array([[40, 10]], np.int32)
    valid = np.ones_like(codes, bool)
    with pytest.raises(ConfigError, match=r"min_slope_deg.*dem"):
        remap_classes(codes, valid, None, [{"from": 40, "to": 10, "min_slope_deg": 25}])
    # without min_slope_deg no slope is needed: class 40 becomes 10
    out = remap_classes(codes, valid, None, [{"from": 40, "to": 10}])
    assert out.tolist() == [[10, 10]]


def test_runoff_with_evapotranspiration_takes_it_as_the_aet():
    # [inputs] documents "aet / evapotranspiration (mm/yr) for the Brook et al. (1983)
    # model": with runoff given, the evapotranspiration input is the AET
    a = np.ones((2, 2), np.float32)
    lc = (np.ones((2, 2), np.int32), np.ones((2, 2), bool))
    p = ModelParams(np.ones(3), np.ones(3), np.ones(3), ())
    et = np.full((2, 2), 800.0, np.float32)
    with_et = model_inputs({"landcover": lc, "carbonate": a, "temperature": a, "runoff": a,
                            "evapotranspiration": et}, p)
    with_aet = model_inputs({"landcover": lc, "carbonate": a, "temperature": a, "runoff": a,
                             "aet": et}, p)
    np.testing.assert_array_equal(with_et["pco2_ppmv"], with_aet["pco2_ppmv"])


def test_no_aet_source_is_one_line():
    a = np.ones((2, 2), np.float32)
    raw = {"landcover": (np.ones((2, 2), np.int32), np.ones((2, 2), bool)),
           "carbonate": a, "temperature": a, "runoff": a}
    p = ModelParams(np.ones(3), np.ones(3), np.ones(3), ())
    with pytest.raises(ConfigError, match="add one, or soil_pco2"):
        model_inputs(raw, p)


def test_model_params_with_acid_needs_its_equilibrium_ratio():
    # the karst water's HCO3 is 2 C_acid - A with C_acid from the acid's PHREEQC tables;
    # without them C_acid would be the acid-free C and the acid subtracted twice
    with pytest.raises(ValueError, match="acid_ratio is None"):
        ModelParams(np.ones(3), np.ones(3), np.ones(3), (), so4=np.array([0.0, 0.3, 0.0]))
    # no acid (zeros, or shares of 0) needs no tables
    ModelParams(np.ones(3), np.ones(3), np.ones(3), (), so4=np.zeros(3), no3=np.zeros(3))
    ModelParams(np.ones(3), np.ones(3), np.ones(3), (), no3=np.full(3, 0.2),
                shares={"acid_no3_share": 0.0})
