"""The engine loads only the PHASES it reports, and gets the whole database's numbers.

Expected values come from PHREEQC itself (the PyPI ``phreeqc`` package, IPhreeqc
3.8) run on the *whole* database file, with the same input text, in a fresh
instance; the karstsink run uses the reduced database.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from karstsink.chemistry._engine_input import only_elements, only_phases
from karstsink.chemistry.engine import INPUT_COLUMNS, PhreeqcEngine

DB = """\
# a comment before any keyword
SOLUTION_MASTER_SPECIES
C        CO3-2   2.0     HCO3    12.0111
PHASES
Calcite
	CaCO3 = CO3-2 + Ca+2
	log_k	-8.48
C # graphite: llnl.dat names phases like elements
	C + 2 H2O = CO2 + 4 H+ + 4 e-
	log_k	-32.0
Gypsum
	CaSO4:2H2O = Ca+2 + SO4-2 + 2 H2O
	-log_k	-4.58
exchange_master_species
X	X-
END
"""


def test_only_phases_drops_the_other_phase_entries_and_keeps_every_other_block():
    # Written out by hand: the "C" and "Gypsum" entries (name line to the line before
    # the next entry or keyword) are gone; the keyword in lower case ends the block.
    expected = """\
# a comment before any keyword
SOLUTION_MASTER_SPECIES
C        CO3-2   2.0     HCO3    12.0111
PHASES
Calcite
	CaCO3 = CO3-2 + Ca+2
	log_k	-8.48
exchange_master_species
X	X-
END
"""
    assert only_phases(DB, ["Calcite"]) == expected
    assert only_phases(DB, ["Calcite", "C", "Gypsum"]) == DB


SPECIES_DB = """\
SOLUTION_MASTER_SPECIES
Alkalinity CO3-2 1.0 Ca0.5(CO3)0.5 50.05
Ca       Ca+2    0.0     Ca      40.08
U        UO2+2   0.0     238.029 238.029
U(6)     UO2+2   0.0     238.029 238.029
O_phthalate O_phthalate-2 0.0 164.1 164.1
SOLUTION_SPECIES
Ca+2 = Ca+2
	log_k 0
# an indented reaction, as in wateq4f.dat
        2 UO2+2 + 2 H2O = (UO2)2(OH)2+2 + 2 H+
        log_k -5.62
Ca+2 + O_phthalate-2 = CaO_phthalate
	log_k 2.4
Ca+2 + H2O = CaOH+ + H+
	-log_k -12.78
SURFACE_MASTER_SPECIES
Hfo_w    Hfo_wOH
EXCHANGE_SPECIES
X- = X-
PHASES
Calcite
	CaCO3 = CO3-2 + Ca+2
END
"""


def test_only_elements_drops_the_species_of_other_elements_and_the_surface_blocks():
    # Written out by hand: U (every redox state) and llnl.dat-style O_phthalate go with their
    # species (the indented reaction and the comment line before it, which belongs to
    # the Ca+2 entry, stays); the surface and exchange blocks go; PHASES is kept whole.
    expected = """\
SOLUTION_MASTER_SPECIES
Alkalinity CO3-2 1.0 Ca0.5(CO3)0.5 50.05
Ca       Ca+2    0.0     Ca      40.08
SOLUTION_SPECIES
Ca+2 = Ca+2
	log_k 0
# an indented reaction, as in wateq4f.dat
Ca+2 + H2O = CaOH+ + H+
	-log_k -12.78
PHASES
Calcite
	CaCO3 = CO3-2 + Ca+2
END
"""
    assert only_elements(SPECIES_DB, ["Ca", "C"]) == expected
    # a redox state counts as its element
    assert "(UO2)2(OH)2+2" in only_elements(SPECIES_DB, ["Ca", "U(6)"])


def _samples() -> np.ndarray:
    """Five waters: a limestone and a dolomite spring, a gypsum-affected river, two odd ones."""
    cols = {c: i for i, c in enumerate(INPUT_COLUMNS)}
    rows = [
        dict(temp_c=15.0, ph=7.4, hco3_mmol_l=4.5, ca_mmol_l=2.1, mg_mmol_l=0.2, na_mmol_l=0.1,
             cl_mmol_l=0.1, so4_mmol_l=0.15, no3_mmol_l=0.1),
        dict(temp_c=17.5, ph=7.9, hco3_mmol_l=5.2, ca_mmol_l=1.4, mg_mmol_l=1.2, k_mmol_l=0.03,
             sio2_mmol_l=0.1),
        dict(temp_c=21.0, ph=7.7, hco3_mmol_l=2.4, ca_mmol_l=2.9, mg_mmol_l=0.6, so4_mmol_l=2.0,
             sr_mmol_l=0.01, f_mmol_l=0.02),
        dict(temp_c=4.0, ph=8.6, hco3_mmol_l=1.0, co3_mmol_l=0.05, ca_mmol_l=0.4, na_mmol_l=0.3,
             cl_mmol_l=0.2, fe_mmol_l=1e-4, mn_mmol_l=1e-4, ba_mmol_l=1e-4),
        dict(temp_c=30.0, ph=6.6, hco3_mmol_l=8.0, ca_mmol_l=3.5, mg_mmol_l=1.0, nh4_mmol_l=0.05,
             po4_mmol_l=0.005, no2_mmol_l=0.001),
    ]
    values = np.full((len(rows), len(INPUT_COLUMNS)), np.nan)
    for i, row in enumerate(rows):
        for name, v in row.items():
            values[i, cols[name]] = v
    return values


@pytest.mark.parametrize("database", ["phreeqc.dat", "wateq4f.dat", "llnl.dat",
                                      "minteq.v4.dat", "pitzer.dat"])
def test_reduced_database_gives_the_whole_databases_results(database):
    import phreeqc

    engine = PhreeqcEngine(database, phases=("Aragonite",))
    described = engine.describe()
    phases = described["phases_used"]
    assert described["phases_loaded"] == [p for p in phases.values() if p] + ["Aragonite"]
    # pitzer.dat's PITZER block names B(OH)4- and others: without their species PHREEQC
    # refuses the file, so the check keeps every species there; the other four know
    # every element karstsink gives a solution (the 15 below, carbon included)
    expected_elements = ("all" if database == "pitzer.dat" else
                         "Ba C Ca Cl F Fe K Mg Mn N Na P S Si Sr".split())
    assert described["species_of_elements"] == expected_elements
    values = _samples()
    if engine.activity_model == "pitzer":  # pitzer.dat has no N, F, P (dropped by the engine)
        values = values[:4]
    got = pd.DataFrame(engine.run_array(values).values, columns=engine.columns)

    raw = phreeqc.Phreeqc()
    assert raw.LoadDatabase(str(engine.database.path)) == 0
    raw.SetSelectedOutputStringOn(True)
    assert raw.RunString(engine.input_text(values)) == 0, raw.GetErrorString()
    ref = pd.read_csv(io.StringIO(raw.GetSelectedOutputString()), sep="\t")
    ref.columns = [c.strip() for c in ref.columns]
    ref = ref.mask(ref == -999.999)  # PHREEQC: no saturation index (Mg absent); karstsink: NaN
    assert list(ref["soln"]) == list(range(1, len(values) + 1))

    pairs = {"si_calcite": f"si_{phases['calcite']}", "si_dolomite": f"si_{phases['dolomite']}",
             "si_gypsum": f"si_{phases['gypsum']}", "log_pco2": "si_CO2(g)",
             "si_aragonite": "si_Aragonite", "ionic_strength": "mu", "cbe_pct": "pct_err"}
    for mine, theirs in pairs.items():
        np.testing.assert_allclose(got[mine], ref[theirs], rtol=1e-12, atol=1e-12,
                                   err_msg=f"{database}: {mine}")
    # mol/kgw -> mmol/kgw
    np.testing.assert_allclose(got["dic_mmol_kgw"], 1000 * ref["C(4)"], rtol=1e-12)
    np.testing.assert_allclose(got["hco3_mmol_kgw"], 1000 * ref["m_HCO3-"], rtol=1e-12)


def test_a_database_the_scanner_misreads_is_loaded_whole(tmp_path):
    # PHREEQC reads a phase name indented; the scanner takes that line for part of the
    # entry before it (dropped), so the reduced file lacks Gypsum: the check catches it.
    whole = PhreeqcEngine("phreeqc.dat")
    text = whole.database.text()
    assert "\nGypsum\n" in text
    path = tmp_path / "indented.dat"
    path.write_bytes(text.replace("\nGypsum\n", "\n  Gypsum\n").encode("latin-1"))
    engine = PhreeqcEngine(path)
    assert engine.describe()["phases_loaded"] == "all"
    values = _samples()
    np.testing.assert_array_equal(engine.run_array(values).values,
                                  whole.run_array(values).values)
