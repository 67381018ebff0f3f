"""The rule book of data-quality flags: every code karstsink writes, registered once.

Every stage that judges data (field samples, speciation, carbon accounting,
discharge records, flux estimators, maps) writes short codes into a
``qa_flags`` column (``;``-separated) or a ``flags`` counter in its metadata.
This module is the one place that says which codes exist, what each means,
how severe it is and at which threshold it fires; the stages ask it instead
of keeping their own copy, and the documentation's flag table is generated
from it (:func:`markdown_table`).

Severities
----------
``fatal``
    The flagged value or row is not used: a sample is not speciated, a
    reading is left out of a mean or a fit, a pixel is written as nodata.
``warn``
    Computed, but the result deserves a look.
``info``
    Noted for the record; results are not affected.

A *keyed* code takes a ``:<key>`` suffix naming the column it concerns
(``not_numeric:ca``); stages that judge a single quantity (a discharge
column) may write the same code bare.

Examples
--------
>>> from karstsink import qa
>>> qa.rule("charge_imbalance").severity
'warn'
>>> qa.threshold("charge_imbalance")
10.0
>>> qa.is_fatal("not_numeric:ca"), qa.is_fatal("ph_unusual")
(True, False)
>>> qa.join(["ph_unusual", "missing_temp", "not_numeric:ca"])
'missing_temp;not_numeric:ca;ph_unusual'
"""

from __future__ import annotations

from ._qa_core import (
    COMPARISONS,
    RULES,
    SEVERITIES,
    STAGES,
    Rule,
    add_flag,
    is_fatal,
    join,
    markdown_table,
    register,
    rule,
    split,
    threshold,
)

__all__ = [
    "ALKALINITY_DISAGREE_PCT",
    "CBE_LIMIT_PCT",
    "COMPARISONS",
    "FATAL",
    "IONIC_STRENGTH_LIMIT_MOL_KGW",
    "PH_CARBONATE_BUFFER_MIN",
    "PH_PHENOLPHTHALEIN",
    "PH_RANGE",
    "PH_SENTINEL",
    "PH_USUAL_RANGE",
    "RULES",
    "SENSITIVITY_MIN_DRAWS_PER_COEFFICIENT",
    "SENSITIVITY_MIN_R2_PCT",
    "SEVERITIES",
    "STAGES",
    "TEMP_RANGE_C",
    "TEMP_USUAL_RANGE_C",
    "Rule",
    "add_flag",
    "is_fatal",
    "join",
    "markdown_table",
    "register",
    "rule",
    "split",
    "threshold",
]


# ---------------------------------------------------------------------------
# the rules (order = order in qa_flags; the first 18 keep the order samples has always used)
# ---------------------------------------------------------------------------

_INPUT = ("samples", "speciation")

register("missing_ph", "fatal", "No pH value, so the sample is not speciated.", stages=_INPUT)
register("missing_temp", "fatal", "No water temperature, so the sample is not speciated.",
         stages=_INPUT)
register("missing_alkalinity", "fatal",
         "Neither HCO3 nor alkalinity is given, so the sample is not speciated.", stages=_INPUT)
register("ph_out_of_range", "fatal",
         "pH outside {low}-{high} is not a water analysis: the value is set to NaN and the "
         "sample is not speciated.", threshold=(0.0, 14.0), unit="pH", comparison="outside",
         stages=_INPUT)
register("temp_out_of_range", "fatal",
         "Water temperature outside {low} to {high} °C: the value is set to NaN and the "
         "sample is not speciated.", threshold=(-2.0, 100.0), unit="°C", comparison="outside",
         stages=_INPUT)
register("negative_value", "fatal",
         "A negative concentration, conductivity or discharge is impossible: the value is set "
         "to NaN and not used.", threshold=0.0, unit="(the column's unit)", comparison="<",
         stages=("samples", "speciation", "flux", "discharge"), keyed=True)
register("not_numeric", "fatal",
         "Text in a number column: the value is set to NaN and not used.",
         stages=("samples", "speciation", "flux", "discharge"), keyed=True)
_READ = ("samples", "speciation", "flux", "discharge")  # values read as nothing
register("sentinel_value", "fatal", "A no-value sentinel (-99, -999, -9999, -99999; a pH of "
         "exactly 0) in a number column: set to NaN and not used, never read as a number.",
         stages=_READ,
         keyed=True)
register("conflicting_values", "fatal", "Two columns of one quantity (Ca in mg/L and mmol/L; "
         "one header twice) differ by over 1 % and the reported precision: NaN, not used.",
         stages=_READ, keyed=True)
register("formula_without_value", "fatal", "An XLSX formula cell with no stored value: not "
         "used; open and save the workbook in Excel or LibreOffice to store the values.",
         stages=_READ, keyed=True)
register("censored_value", "fatal",
         "A '<x' or '>x' pH or water temperature: a measurement, not a concentration below a "
         "detection limit, so no value can stand in for it; set to NaN and not speciated.",
         stages=_INPUT, keyed=True)
register("carbonate_exceeds_alkalinity", "fatal",
         "Total alkalinity fills HCO3 (no HCO3 given) but is less than 2 x CO3 [meq/L], so "
         "HCO3 = alkalinity - 2 CO3 would be negative: the analysis is inconsistent and the "
         "sample is not speciated.", threshold=0.0, unit="mmol/L", comparison="<",
         stages=_INPUT)
register("ph_unusual", "warn",
         "pH outside {low}-{high} is unusual for natural waters: computed, but check the value.",
         threshold=(4.0, 11.0), unit="pH", comparison="outside", stages=("samples",))
register("temp_unusual", "warn",
         "Water temperature outside {low}-{high} °C is unusual: computed, but check the value.",
         threshold=(0.0, 50.0), unit="°C", comparison="outside", stages=("samples",))
register("below_detection", "warn",
         "A '<x' value below the detection limit x: field samples replace it as "
         "below_detection says (half the limit by default), flux estimators treat it as "
         "censored at x.", stages=("samples", "flux"), keyed=True)
register("above_range", "warn",
         "A '>x' value above the analytical range, kept at the limit x (a lower bound).",
         stages=("samples", "flux"), keyed=True)
register("bad_date", "warn",
         "The date could not be read and is left empty (NaT). An empty date is flagged only "
         "in flux samples, which need one (the sample is not used).",
         stages=("samples", "flux"))
register("bad_coordinate", "warn",
         "Latitude or longitude is not a number or lies beyond ±90° or ±180°: set to NaN.",
         stages=("samples",), keyed=True)
register("duplicate_sample_id", "warn",
         "The same sample ID occurs on more than one row (every copy is flagged).",
         stages=("samples",))
# HCO3 and alkalinity measure nearly the same: total alkalinity [meq/L] = HCO3 + 2 CO3 +
# OH - H, and below the phenolphthalein end point, pH 8.3, the carbonate alkalinity is nil
# (APHA Standard Methods 2320 B), so without a CO3 column the check is made there only.
# Titrations agree to a few %, while an alkalinity in mg/L as CaCO3 read as HCO3 in mg/L
# (or the reverse) differs by a factor 61.017/50.044 = 1.219: 10 % lies between.
#: The phenolphthalein end point: below it carbonate alkalinity is nil (APHA 2320 B) [pH].
PH_PHENOLPHTHALEIN = 8.3
register("alkalinity_disagrees", "warn",
         "HCO3 and total alkalinity are both given and differ by more than {threshold} % of "
         "the alkalinity (HCO3 + 2 CO3 against alkalinity in meq/L; without CO3, only at pH "
         f"<= {PH_PHENOLPHTHALEIN:g}, where carbonate alkalinity is nil): one may be in the "
         "wrong unit (mg/L as CaCO3 and mg/L as HCO3 differ by 22 %). HCO3 is used; check "
         "both.",
         threshold=10.0, unit="%", comparison=">", stages=_INPUT)
# Above pH 8.3 part of the alkalinity is carbonate. PHREEQC 3.8.6 (phreeqc.dat; Ca 1.6
# mmol/kgw, alkalinity 3.2 meq/kgw as HCO3): 2 x (CO3-2 + CaCO3) / (HCO3- + CaHCO3+) is
# 5.7 % at pH 8.3 and 8.9 % at pH 8.5 at 25 °C (3.5 and 5.6 % at 10 °C).  Carbonate
# weathering keeps HCO3 / 2 of soil CO2 whatever the CO3 (charge balance: 2 (Ca + Mg) =
# HCO3 + 2 CO3), so an alkalinity taken as HCO3 overstates the sink by 2 CO3 / HCO3.
register("carbonate_in_alkalinity", "warn",
         "Total alkalinity stands for HCO3 at pH above {threshold} with no CO3 given: part of "
         "it is carbonate, so HCO3 and the carbonic-acid sink from it are overstated (by about "
         "6 % at pH 8.3 and 9 % at pH 8.5, 25 °C). Give CO3 (in mmol/L it equals the "
         "phenolphthalein alkalinity P in meq/L) or HCO3.",
         threshold=PH_PHENOLPHTHALEIN, unit="pH", comparison=">",
         stages=("samples", "speciation", "flux"))
# PHREEQC's percent error is 100 (cations - |anions|) / (cations + |anions|) in meq
# (Parkhurst & Appelo 2013, USGS TM 6-A43, doi:10.3133/tm6A43)
register("charge_imbalance", "warn",
         "The absolute charge-balance error (PHREEQC's percent error) exceeds {threshold} %: "
         "the analysis misses or misreports major ions, so results are computed but doubtful.",
         threshold=10.0, unit="%", comparison=">", stages=("speciation",))
# the ion-association (Debye-Hückel) aqueous model is reliable up to about seawater ionic
# strength, ~0.7 mol/kgw (Parkhurst & Appelo 2013, doi:10.3133/tm6A43)
register("high_ionic_strength", "warn",
         "Ionic strength above {threshold} mol/kgw, where the Debye-Hückel activity models of "
         "phreeqc.dat and wateq4f.dat are not valid: re-run with pitzer.dat (never flagged "
         "with a Pitzer or SIT database).", threshold=0.7, unit="mol/kgw", comparison=">",
         stages=("speciation",))
register("phreeqc_failed", "warn",
         "PHREEQC could not solve this sample (no convergence, or an input it rejects): its "
         "results are NaN, phreeqc_message has PHREEQC's words, and a new run (e.g. with "
         "another database) tries it again.", stages=("speciation",))
register("phreeqc_convergence_warning", "warn",
         "PHREEQC solved this sample only after convergence trouble: check phreeqc_message.",
         stages=("speciation",))
register("uncertainty_draws_failed", "warn",
         "PHREEQC could not solve some Monte Carlo draws of this sample: its _sd, _lo95 and "
         "_hi95 columns use the draws it solved (count in the metadata).",
         stages=("speciation",))

# carbon accounting
_CARBON = ("speciation", "carbon", "flux")
register("negative_carbonic_hco3", "warn",
         "HCO3 after the sulfuric- and nitric-acid correction is negative: the acid or "
         "evaporite shares do not fit this water (gypsum?), so no carbonic-acid sink is "
         "computed.", threshold=0.0, unit="mmol/L", comparison="<", stages=(*_CARBON, "map"))
# 6.4 ~ pK1 of carbonic acid (6.35 at 25 °C; Plummer & Busenberg 1982, GCA 46:1011-1040,
# doi:10.1016/0016-7037(82)90056-4): below it CO2(aq), not HCO3-, dominates DIC
register("ph_below_carbonate_buffer", "warn",
         "pH below {threshold}, under the carbonate-buffer range: there sulfuric acid releases "
         "CO2 rather than following 2 CaCO3 + H2SO4 -> 2 HCO3-, the reaction the acid "
         "correction assumes.",
         threshold=6.4, unit="pH", comparison="<", stages=_CARBON)
register("acid_ion_missing", "warn",
         "SO4 or NO3 has no value (an empty, nd or n.d. cell, no column, or '<DL' without "
         "its limit), so the sulfuric- and nitric-acid correction cannot be made and "
         "hco3_carbonic_mmol_l is NaN; give both (0 where the lab found none).",
         stages=("speciation",))

# flux samples and estimators
register("missing_value", "fatal",
         "An empty value (or na, nd, -): the sample or reading is not used.",
         stages=("flux", "discharge"), keyed=True)
register("detection_limit_unknown", "fatal",
         "A below-detection value whose limit was lost (read with below_detection 'zero' or "
         "'nan'), so it cannot enter as censored and is not used.", stages=("flux",),
         keyed=True)
register("outside_discharge_record", "fatal",
         "The sample date lies outside the discharge record: not used for calibration.",
         stages=("flux",))
register("no_discharge", "fatal",
         "The sample falls on a day without discharge: not used for calibration.",
         stages=("flux",))
register("zero_discharge", "fatal",
         "A sample on a zero-discharge day (ln Q undefined): left out of the rating, LOADEST "
         "and WRTDS fits; the flux on zero-flow days is 0.", stages=("flux",))
register("zero_concentration", "fatal",
         "A concentration of exactly 0, which no measurement gives (a value below detection "
         "is written '<DL'; a missing one, blank): a 0 typed for a missing value. Field "
         "samples set a major ion's (Ca, Mg, Na, K, Cl, SO4, HCO3, alkalinity) to NaN and "
         "do not use it (NO3, CO3 and trace constituents keep a 0, a value below the "
         "reporting resolution; so does a canonical column such as ca_mmol_l); the direct "
         "flux method leaves it out, as its interpolation would pull to 0.",
         stages=("samples", "speciation", "flux"), keyed=True)
register("nonpositive_value", "fatal",
         "A zero or negative concentration cannot enter a regression on ln C or ln load: "
         "left out of the fit.", threshold=0.0, unit="mg/L", comparison="<=", stages=("flux",))
# as EGRET's removeDuplicates (Hirsch & De Cicco 2015, USGS TM 4-A10, doi:10.3133/tm4A10)
register("duplicate_sample", "fatal", "The date and value of an earlier sample (a copied "
         "row): left out; the earlier row is used.", stages=("flux",))
register("duplicate_sample_date", "warn", "Another sample with a different value has the same "
         "date: each is used (the direct method averages them).", stages=("flux",))
register("no_value", "fatal",
         "No usable value of the extra LOADEST regressor or direct-method proxy named by the "
         "key (missing, or not positive for a log term): a sample is left out of the "
         "calibration, a day has no flux (NaN, a missing day).",
         stages=("flux",), keyed=True)
register("half_reporting_limit_used", "warn",
         "A censored sample enters the direct method at half its reporting limit.",
         stages=("flux",))
register("reporting_limit_used", "warn",
         "A censored SO4 or NO3 sample enters the direct method at its reporting limit, so "
         "the sink's acid correction is not understated.", stages=("flux",))
register("held_flat", "warn",
         "A day before the first or after the last sample: the direct method holds the "
         "concentration at that sample's value.", stages=("flux",))
register("beyond_samples", "warn",
         "A year (sink row) whose every day with a flux lies before the first or after the "
         "last calibration sample used: its flux rests on no sample of its own (the model "
         "or the held concentration is carried outside the sampled period); a projection, "
         "not an estimate.", stages=("flux",))
register("no_sample_in_year", "warn",
         "A year (sink row) inside the sampled period with no calibration sample used dated "
         "in it: its flux is carried over from the samples of other years (the model's fit "
         "to them, or the direct method's interpolation between the samples either side).",
         stages=("flux",))
register("load_not_computable", "fatal",
         "A day whose discharge (or date) lies so far outside the calibration samples that "
         "the model cannot be evaluated there: LOADEST overflows (a reading of 1e-300 or 1e20 "
         "m3/s), or the WRTDS surface gives a concentration (or flow-normalised one) that is "
         "not finite or above 1e6 mg/L: that value is NaN and the day counts as missing; the "
         "other days are not affected.",
         stages=("flux",))
register("negative_prediction", "fatal",
         "The proxy regression of the direct method predicts a negative concentration: that "
         "day's flux is NaN.", threshold=0.0, unit="mg/L", comparison="<", stages=("flux",))

register("implausible_runoff", "warn",
         "The mean discharge over the catchment area is a runoff depth above {threshold} "
         "mm/yr, more than the highest mean annual precipitation anywhere (11,872 mm/yr at "
         "Mawsynram, India: WMO Archive of Weather and Climate Extremes, Cerveny et al. "
         "2007, doi:10.1175/BAMS-88-6-853): the discharge unit (L/s read as m3/s) or the "
         "area is likely wrong. The sink row is computed as given and flagged.",
         threshold=12000.0, unit="mm/yr", comparison=">", stages=("carbon",))
register("implausible_hco3", "warn",
         "The flow-weighted mean HCO3 of the sink row (its HCO3 flux over its discharge) is "
         "above {threshold} mmol/L (2,260 mg/L), more than pure water takes up from "
         "dolomite or calcite under 1 atm of CO2 at 0 °C (alkalinity 36.5 and 27.1 meq/kgw: "
         "PHREEQC 3.8.6 with phreeqc.dat), far more CO2 than soil air holds: unless the "
         "water is a CO2-charged mineral spring, the concentration unit (mg/L read as "
         "mmol/L) or the discharge is wrong. The sink row is computed as given and flagged.",
         threshold=37.0, unit="mmol/L", comparison=">", stages=("carbon",))

# discharge records
register("duplicate_timestamp", "fatal",
         "A repeated timestamp: the later readings are left out of the day's mean.",
         stages=("discharge",))
register("zero_flow", "warn",
         "A reading of zero discharge: used as no flow (a flux of 0). A 0 written for a "
         "missing reading must be a blank cell instead, which is interpolated or flagged "
         "missing.", stages=("discharge",))
register("interpolated", "warn",
         "A day in a gap of at most max_gap_days days ({threshold} by default, the "
         "threshold), filled by linear interpolation in time.",
         threshold=7, unit="days", comparison="<=", stages=("discharge",))
register("missing", "fatal",
         "A day in a gap too long to interpolate or at either end of the record (kept only "
         "with allow_gaps): its discharge and flux are NaN.", stages=("discharge",))

# maps (pixel counters in the map metadata)
register("unknown_classes", "fatal",
         "Land-cover class codes missing from the class table: those pixels are written as "
         "nodata.", stages=("map",))
register("landcover_float_codes_rounded", "info", "Land-cover classes stored as whole-number "
         "floats, read as integer classes (count of pixels).", stages=("map",))
register("bad_fraction", "fatal",
         "A carbonate or dolomite fraction outside {low}-{high}: the pixel is written as nodata.",
         threshold=(0.0, 1.0), unit="", comparison="outside", stages=("map",))
register("negative_runoff", "warn", "Negative runoff, treated as 0.", threshold=0.0,
         unit="mm/yr", comparison="<", stages=("map",))
register("scenario_negative_carbonic_hco3", "warn",
         "As negative_carbonic_hco3, for a pixel of the scenario's land cover: its scenario "
         "karst sink is written as nodata.", threshold=0.0, unit="mmol/L", comparison="<",
         stages=("map",))
register("temp_clamped", "warn",
         "Temperature outside the equilibrium table (0-40 °C for the shipped table): "
         "clamped to the table's edge.", stages=("map",))
register("pco2_clamped", "warn",
         "Soil pCO2 outside the equilibrium table (10^-5 to 1 atm): clamped to the table's "
         "edge.", stages=("map",))
register("missing_input_values", "warn",
         "An input of the karst sink (climate, soil pCO2, DEM, dolomite or carbonate fraction) "
         "without a value on part of the mapped carbonate: those pixels are nodata and left "
         "out of the totals (run.json: pixels, of_pixels, domain, share per input).",
         stages=("map",))
# sensitivity.csv (the regression of a zone's total sink on the drawn parameters)
register("sensitivity_few_draws", "warn",
         "Fewer than {threshold} Monte Carlo draws per regression coefficient (the varied "
         "parameters + 1): the variance shares are noisy; raise [uncertainty] draws. "
         "Rule of thumb of at least 10 observations per coefficient: "
         "Harrell 2015, Regression Modeling Strategies, doi:10.1007/978-3-319-19425-7.",
         threshold=10.0, unit="draws", comparison="<", stages=("map",))
register("sensitivity_low_r2", "warn",
         "The regression explains less than {threshold} % of the variance "
         "(explained_variance_pct): the response is not near-linear in the parameters and the "
         "variance shares are only indicative (Saltelli et al. 2008, doi:10.1002/9780470725184).",
         threshold=70.0, unit="%", comparison="<", stages=("map",))
register("outside_zones", "warn",
         "Valid pixels of the map that lie in no zone hold more than {threshold} % of the "
         "map's valid area: the zone table's TOTAL row leaves them out (their area and sinks "
         "are in run.json, flags.outside_zones, whenever there are any); give zones that "
         "cover the map, or read TOTAL as the zones' total only.",
         threshold=1.0, unit="%", comparison=">", stages=("map",))

#: Codes (without ``:<key>``) whose value or row is not used.
FATAL: frozenset[str] = frozenset(c for c, r in RULES.items() if r.severity == "fatal")


def _number(code: str) -> float:
    value = threshold(code)
    if not isinstance(value, float):
        raise TypeError(f"the threshold of {code!r} is a range, not a number.")
    return value


def _range(code: str) -> tuple[float, float]:
    value = threshold(code)
    if not isinstance(value, tuple):
        raise TypeError(f"the threshold of {code!r} is a number, not a range.")
    return value


#: Valid pH range; outside it the value is set to NaN (``ph_out_of_range``) [pH].
PH_RANGE = _range("ph_out_of_range")
#: A pH of exactly 0: what lab sheets writing 0 for "not measured" hold, never a measured
#: natural water; ``sentinel_value`` [pH].  Only pH: a concentration of 0 is a value.
PH_SENTINEL = 0.0
#: pH range usual for natural waters (``ph_unusual`` outside it) [pH].
PH_USUAL_RANGE = _range("ph_unusual")
#: Valid water-temperature range (``temp_out_of_range``) [°C].
TEMP_RANGE_C = _range("temp_out_of_range")
#: Usual water-temperature range (``temp_unusual`` outside it) [°C].
TEMP_USUAL_RANGE_C = _range("temp_unusual")
#: Absolute charge-balance error above which ``charge_imbalance`` fires [%].
CBE_LIMIT_PCT = _number("charge_imbalance")
#: Ionic strength above which ``high_ionic_strength`` fires [mol kgw⁻¹].
IONIC_STRENGTH_LIMIT_MOL_KGW = _number("high_ionic_strength")
#: Relative difference of HCO3 (+ 2 CO3) and alkalinity above which
#: ``alkalinity_disagrees`` fires [% of the alkalinity].
ALKALINITY_DISAGREE_PCT = _number("alkalinity_disagrees")
#: pH below which ``ph_below_carbonate_buffer`` fires [pH].
PH_CARBONATE_BUFFER_MIN = _number("ph_below_carbonate_buffer")
#: Monte Carlo draws per regression coefficient below which ``sensitivity_few_draws`` fires.
SENSITIVITY_MIN_DRAWS_PER_COEFFICIENT = _number("sensitivity_few_draws")
#: Regression R² below which ``sensitivity_low_r2`` fires [%].
SENSITIVITY_MIN_R2_PCT = _number("sensitivity_low_r2")
#: Share of the map's valid area outside every zone above which ``outside_zones`` fires [%].
OUTSIDE_ZONES_MAX_PCT = _number("outside_zones")
