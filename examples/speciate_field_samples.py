"""Speciate a messy field-sample table with PHREEQC and look at the carbonate system.

Run:  python examples/speciate_field_samples.py [--out DIR]

Reads ``data/examples/field_samples.csv`` (SYNTHETIC Guizhou-like spring and river samples in
the style labs export them: units in headers, ``<0.05``, ``n.d.``, a pH typo, Chinese site
names), speciates every computable row with the 2024 ``phreeqc.dat`` and writes the result with
its provenance to DIR (default ``out/speciation``).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import karstsink
from karstsink.exceptions import DataQualityWarning

HERE = Path(__file__).resolve().parent
FIELD_CSV = HERE.parent / "data" / "examples" / "field_samples.csv"


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # the flags are in qa_flags
        table = karstsink.read_samples(FIELD_CSV)
        result = karstsink.speciate(table, jobs=1)
    cols = ["temp_c", "ph", "si_calcite", "si_dolomite", "log_pco2", "dic_mmol_kgw",
            "cbe_pct", "ca_mg_hco3_molar", "qa_flags"]
    print(result[cols].head(8).to_string())
    ok = result["si_calcite"].notna()
    print(f"\n{ok.sum()} of {len(result)} samples speciated; median SI calcite "
          f"{result.loc[ok, 'si_calcite'].median():.2f}, median log pCO2 "
          f"{result.loc[ok, 'log_pco2'].median():.2f} (log10 atm)")
    flagged = result.loc[result["qa_flags"] != "", ["qa_flags"]]
    print(f"{len(flagged)} rows carry flags, e.g.:\n{flagged.head(5).to_string()}")
    result.to_csv(out / "field_samples_speciated.csv", index=False)
    meta = result.attrs["karstsink"]["speciation"]
    (out / "field_samples_speciated.meta.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"database {meta['database']['name']} sha256 {meta['database']['sha256'][:12]}...; "
          f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/speciation"))
    main(parser.parse_args().out)
