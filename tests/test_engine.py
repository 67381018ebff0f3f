"""The PHREEQC engine: input text, database probing, failure isolation, workers, backends.

Every number checked here comes from a PHREEQC run (PHREEQC 3.8.6 via PyPI phreeqc
1.1.1, or IPhreeqc 3.7.3 via phreeqpy, database named in each test), compared with
another PHREEQC run of the same input.
"""

from __future__ import annotations

import itertools

import hypothesis.strategies as st
import numpy as np
import pytest
from conftest import requires_phreeqpy
from hypothesis import given, settings

from karstsink.chemistry.engine import (
    INPUT_COLUMNS,
    RESULT_COLUMNS,
    PhreeqcEngine,
    _condense,
    chunk_bounds,
    phase_column,
    run_chunks,
)
from karstsink.exceptions import SpeciationError

COL = {c: i for i, c in enumerate(INPUT_COLUMNS)}


def sample(temp=16.0, ph=7.4, hco3=4.1, **ions) -> np.ndarray:
    """One engine input row; ions by canonical key (ca=2.0 -> ca_mmol_l)."""
    row = np.full(len(INPUT_COLUMNS), np.nan)
    row[COL["temp_c"]], row[COL["ph"]], row[COL["hco3_mmol_l"]] = temp, ph, hco3
    defaults = {"ca": 2.0, "mg": 0.25, "na": 0.13, "k": 0.026, "cl": 0.14, "so4": 0.25,
                "no3": 0.16}
    for key, value in {**defaults, **ions}.items():
        row[COL[f"{key}_mmol_l"]] = value
    return row


def realistic(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = [sample(temp=rng.uniform(8, 25), ph=rng.uniform(6.8, 8.3),
                   hco3=rng.uniform(1, 6), ca=rng.uniform(0.5, 3), mg=rng.uniform(0.05, 1.5),
                   so4=rng.uniform(0.05, 1)) for _ in range(n)]
    return np.array(rows)


# A genuinely failing sample: at pH 11 with 0.05 meq/L alkalinity the non-carbonate
# alkalinity (OH-) exceeds the total; PHREEQC stops with "Alkalinity has not converged"
# and leaves a garbage row.
NOT_CONVERGING = sample(ph=11.0, hco3=0.05, ca=0.1)
# Another one: 100 mol/L of Ca makes the solute mass exceed the solution mass; PHREEQC
# stops before printing anything for it ("Solute mass exceeds solution mass").
TOO_CONCENTRATED = sample(ca=1e5, hco3=1e5)


@pytest.fixture(scope="module")
def engine() -> PhreeqcEngine:
    return PhreeqcEngine("phreeqc.dat")


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(a, b)  # NaN == NaN here; bit-identical otherwise


def test_input_text_leaves_out_missing_values_and_adds_carbonate_to_alkalinity(engine):
    row = sample(hco3=3.0, co3=0.25, mg=np.nan)
    text = engine.input_text(row[None, :])
    assert text.startswith("PRINT\n -reset false\nSOLUTION 1\n units mmol/l\n temp 16.0\n"
                           " pH 7.4\n Ca 2.0\n")
    assert " Mg " not in text
    assert " Alkalinity 3.5\n" in text  # 3.0 + 2 x 0.25 meq/L
    assert "SOLUTION 2" not in text
    two = engine.input_text(np.vstack([row, row]), start=1)
    assert "SOLUTION 2\n" in two and "SOLUTION 1\n" not in two


def test_probe_finds_database_specific_names():
    minteq = PhreeqcEngine("minteq.v4.dat")
    assert minteq.standard_phases["dolomite"] == "Dolomite(ordered)"
    assert minteq.species["co2aq"] == "H2CO3"
    pitzer = PhreeqcEngine("pitzer.dat")
    assert set(pitzer.dropped) == {"no3_mmol_l", "nh4_mmol_l", "no2_mmol_l", "f_mmol_l",
                                   "po4_mmol_l"}
    assert "N(5)" not in pitzer.input_text(sample()[None, :])


def test_missing_component_gives_nan_not_the_phreeqc_sentinel(engine):
    res = engine.run_array(np.vstack([sample(mg=np.nan, so4=np.nan), sample()]))
    si = dict(zip(engine.columns, res.values[0], strict=True))
    assert np.isnan(si["si_dolomite"]) and np.isnan(si["si_gypsum"])
    assert np.isfinite(si["si_calcite"])
    assert np.isfinite(res.values[1]).all()
    assert not (res.values <= -999).any()


@pytest.mark.parametrize("bad", [NOT_CONVERGING, TOO_CONCENTRATED], ids=["converge", "mass"])
@pytest.mark.parametrize("positions", [(0,), (3,), (6,), (2, 3), (0, 6), (1, 2, 4)])
def test_failing_samples_are_isolated_and_the_rest_of_the_chunk_kept(engine, bad, positions):
    good = realistic(7, seed=1)
    clean = engine.run_array(good).values
    mixed = good.copy()
    for p in positions:
        mixed[p] = bad
    res = engine.run_array(mixed)
    assert sorted(res.failed) == list(positions)
    for p in positions:
        assert np.isnan(res.values[p]).all()
        assert res.failed[p]
    others = [i for i in range(7) if i not in positions]
    assert_same(res.values[others], clean[others])


def test_failure_message_is_readable(engine):
    res = engine.run_array(np.vstack([sample(), NOT_CONVERGING]))
    assert "Alkalinity has not converged" in res.failed[1]
    assert "initial solution" not in res.failed[1]  # chunk-internal numbers are dropped
    res = engine.run_array(TOO_CONCENTRATED[None, :])
    assert "Solute mass exceeds solution mass" in res.failed[0]


def test_condense_joins_lines_and_strips_prefixes():
    text = "ERROR: A has not converged.\n\nERROR: Model failed to converge for initial " \
           "solution 12.\nERROR: A has not converged.\n"
    assert _condense(text) == "A has not converged.; Model failed to converge."


def test_results_do_not_depend_on_position_or_instance_history():
    # PHREEQC instances remember earlier runs to the 13th digit; the engine must not
    values = realistic(30, seed=2)
    fresh = PhreeqcEngine("phreeqc.dat")
    whole = fresh.run_array(values).values
    used = PhreeqcEngine("phreeqc.dat")
    for seed in range(5):
        junk = realistic(7, seed=100 + seed)
        junk[seed % 7] = NOT_CONVERGING
        used.run_array(junk)
    assert_same(used.run_array(values[17:]).values, whole[17:])
    assert_same(used.run_array(values[:5]).values, whole[:5])


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 100])
def test_chunking_does_not_change_results(engine, chunk_size):
    values = realistic(12, seed=3)
    values[5] = NOT_CONVERGING
    ref = engine.run_array(values)
    run = run_chunks(values, engine, jobs=1, chunk_size=chunk_size)
    assert_same(run.values, ref.values)
    assert sorted(run.failed) == [5]


def test_two_workers_equal_one_process_exactly(engine):
    values = realistic(40, seed=4)
    values[[3, 22]] = NOT_CONVERGING
    values[30] = TOO_CONCENTRATED
    one = run_chunks(values, engine, jobs=1, chunk_size=6)
    done: list[int] = []
    two = run_chunks(values, engine, jobs=2, chunk_size=6, progress=done.append)
    assert two.info["jobs"] == 2 and two.info["n_chunks"] == 7
    assert_same(two.values, one.values)
    assert two.failed.keys() == one.failed.keys() == {3, 22, 30}
    assert sum(done) == 40


def test_run_chunks_refuses_what_phreeqc_would_silently_misread(engine):
    values = realistic(3)
    values[1, COL["ca_mmol_l"]] = -1.0  # PHREEQC would take it as 0
    with pytest.raises(SpeciationError, match=r"first rows \[1\]"):
        run_chunks(values, engine, jobs=1)
    values = realistic(3)
    values[2, COL["ph"]] = np.nan
    with pytest.raises(SpeciationError, match="pH"):
        run_chunks(values, engine, jobs=1)


def test_extra_phases_and_unknown_phase():
    eng = PhreeqcEngine("phreeqc.dat", phases=["Fluorite", "Aragonite", "Calcite"])
    assert eng.columns == (*RESULT_COLUMNS, "si_fluorite", "si_aragonite")
    res = eng.run_array(sample()[None, :]).values[0]
    assert np.isnan(res[-2])  # no F given: SI undefined, NaN not -999.999
    # aragonite is less stable than calcite: a smaller SI in the same water
    assert res[-1] < res[0]
    with pytest.raises(SpeciationError, match=r"'Fluorit' \(did you mean Fluorite"):
        PhreeqcEngine("phreeqc.dat", phases=["Fluorit"])


def test_phase_column_names():
    assert phase_column("CO2(g)") == "si_co2_g"
    assert phase_column("Fe(OH)3(a)") == "si_fe_oh_3_a"


def test_unknown_engine_and_database():
    with pytest.raises(SpeciationError, match="Unknown PHREEQC engine 'iphreeqc'"):
        PhreeqcEngine(engine="iphreeqc")
    with pytest.raises(SpeciationError, match="neither a file nor one of the bundled"):
        PhreeqcEngine("no_such.dat")


def test_database_by_path(tmp_path, engine):
    copy = tmp_path / "my phreeqc.dat"
    copy.write_bytes(engine.database.path.read_bytes())
    mine = PhreeqcEngine(copy)
    assert mine.database.sha256 == engine.database.sha256
    values = realistic(3)
    assert_same(mine.run_array(values).values, engine.run_array(values).values)


def test_broken_database_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.dat"
    bad.write_text("SOLUTION_MASTER_SPECIES\nCa Ca+2 0 40.08\nPHASES\nCalcite\n  nonsense\n")
    with pytest.raises(SpeciationError, match=r"could not load the database broken\.dat"):
        PhreeqcEngine(bad)


def test_a_database_without_inorganic_carbon_is_refused():
    # ColdChem.dat (shipped with PHREEQC) has no C(4) master species: PHREEQC would warn
    # "Could not find element in database, Alkalinity. Concentration is set to zero." and
    # report a DIC of 0 for every sample
    with pytest.raises(SpeciationError, match=r"^The database ColdChem\.dat has no inorganic "
                                              r"carbon .*use phreeqc\.dat"):
        PhreeqcEngine("ColdChem.dat")


def test_describe_records_provenance(engine):
    d = engine.describe()
    assert d["engine"] == "phreeqc"
    assert d["engine_version"].startswith("3.8")
    assert len(d["database"]["sha256"]) == 64
    assert d["phases_used"]["dolomite"] == "Dolomite"


@requires_phreeqpy
def test_phreeqpy_and_phreeqc_agree_on_wateq4f():
    values = realistic(25, seed=5)
    values[7] = NOT_CONVERGING
    a = PhreeqcEngine("wateq4f.dat", engine="phreeqc")
    b = PhreeqcEngine("wateq4f.dat", engine="phreeqpy")
    assert b.version.startswith("3.7.3")
    ra, rb = a.run_array(values), b.run_array(values)
    assert ra.failed.keys() == rb.failed.keys() == {7}
    np.testing.assert_allclose(rb.values, ra.values, rtol=1e-9, atol=1e-9)


@requires_phreeqpy
def test_phreeqpy_cannot_load_2024_phreeqc_dat_and_says_what_to_do():
    with pytest.raises(SpeciationError, match=r"wateq4f\.dat"):
        PhreeqcEngine("phreeqc.dat", engine="phreeqpy")


@requires_phreeqpy
def test_phreeqpy_in_workers():
    eng = PhreeqcEngine("wateq4f.dat", engine="phreeqpy")
    values = realistic(10, seed=6)
    assert_same(run_chunks(values, eng, jobs=2, chunk_size=5).values,
                eng.run_array(values).values)


class _MarkedWarnings:
    """Stub around the real backend (orchestration only): it reports a PHREEQC
    convergence warning for any run containing a sample at exactly 33.3 °C."""

    def __init__(self, real):
        self._real = real
        self._warn = ""

    def run(self, text: str) -> int:
        marked = " temp 33.3\n" in text
        self._warn = "WARNING: Maximum iterations exceeded, 100\n" if marked else ""
        return self._real.run(text)

    def warnings(self) -> str:
        return self._warn

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.mark.parametrize("marked", [(0,), (5,), (2, 3), (0, 7, 8)])
def test_convergence_warnings_are_traced_to_their_samples(marked):
    values = realistic(9, seed=8)
    values[list(marked), COL["temp_c"]] = 33.3
    clean = PhreeqcEngine().run_array(values)
    eng = PhreeqcEngine()
    eng._backend = _MarkedWarnings(eng._backend)
    res = eng.run_array(values)
    assert sorted(res.warned) == list(marked)
    assert all("Maximum iterations" in m for m in res.warned.values())
    assert not res.failed
    assert_same(res.values, clean.values)  # results kept: PHREEQC did converge


def test_small_tables_run_in_process_by_default(engine):
    # default chunks hold >= 500 samples: 10 samples are one chunk, no pool is started
    run = run_chunks(realistic(10), engine, jobs=4)
    assert run.info["n_chunks"] == 1 and run.info["jobs"] == 1
    assert run.info["start_method"] is None


@given(n=st.integers(0, 60_000), jobs=st.integers(1, 8),
       chunk_size=st.one_of(st.none(), st.integers(1, 5000)))
@settings(max_examples=300, deadline=None)
def test_chunk_schedule_covers_every_row_once_in_order(n, jobs, chunk_size):
    bounds = chunk_bounds(n, jobs, chunk_size)
    # contiguous from 0 to n: every row in exactly one chunk, in input order
    edges = [0] + [b for _, b in bounds]
    assert [a for a, _ in bounds] == edges[:-1] and edges[-1] == n
    sizes = [b - a for a, b in bounds]
    assert all(s >= 1 for s in sizes)
    if chunk_size is not None:
        # an explicit size is kept, only the last chunk takes the rest
        assert all(s == chunk_size for s in sizes[:-1]) and all(s <= chunk_size for s in sizes)
    else:
        assert max(sizes, default=0) <= 2000  # the documented default, DEFAULT_CHUNK_SIZE
        if jobs >= 2:
            # the tail shrinks but no chunk but the whole run is under 250 samples,
            # and none but the last (which takes a remainder < 250) grows
            assert all(s >= 250 for s in sizes) or sizes == [n]
            assert all(x >= y for x, y in itertools.pairwise(sizes[:-1]))


def test_default_schedule_ends_in_small_chunks_for_two_workers():
    # 20,000 samples on 2 workers: 2000-sample chunks while more than 8000 remain
    # (8000 / (2 * 2) = 2000), then ceil(rest / 4): 6000 -> 1500, 4500 -> 1125, ...
    sizes = [b - a for a, b in chunk_bounds(20_000, 2)]
    assert sizes[:8] == [2000] * 7 + [1500] and sizes[8] == 1125
    assert sum(sizes) == 20_000 and sizes[-1] < 2000
