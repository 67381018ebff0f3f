"""Set Guizhou's karst and biological carbon sinks against the 2020-2060 emission scenarios.

Run:  python examples/scenario_balance.py [--out DIR]

Writes ``balance.csv`` (one row per scenario and year, t CO2 with t C beside it) and
``balance.png`` (the balance chart) to DIR (default ``out/scenario_balance``), and prints the
share of emissions the sinks offset in 2030 and 2060.

The sink numbers are order-of-magnitude values, not results:
- karst (inorganic) sink: 109,000 km2 of carbonate outcrop x 29-39 t CO2 km-2 yr-1 (the
  Banzhai, Huanghou and Houzhai catchments of Guizhou, 2007-2013, from a 2017 Chinese journal
  paper) = 3.2-4.3 Mt CO2/yr; the midpoint 3.7 Mt CO2/yr is used;
- biological sink: Guizhou forests' "annual fixed carbon 30.24 Mt" (2019, provincial forestry
  department, as reported by China Daily; the source does not say C or CO2). It is read here
  as t CO2, the cautious reading; as t C it would be 3.664 x larger.
Emission scenarios: Sustainability 2022, 14(21), 14377, doi:10.3390/su142114377.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from karstsink.plots.scenario import plot_balance
from karstsink.scenario import balance

SINKS_T_CO2_YR = {"karst": 3.7e6, "biological": 30.24e6}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table = balance(SINKS_T_CO2_YR, "all")
    table.to_csv(out / "balance.csv", index=False)
    plot_balance(table, out / "balance.png",
                 title="Guizhou: sinks vs energy-sector emission scenarios (illustrative sinks)")
    for year in (2030, 2060):
        rows = table[table.year == year]
        for row in rows.itertuples():
            print(f"{year} {row.scenario:>10}: emissions {row.emissions_t_co2_yr / 1e6:6.1f} "
                  f"Mt CO2 ({row.emissions_t_c_yr / 1e6:5.1f} Mt C); karst sink offsets "
                  f"{row.karst_share_pct:4.1f} %, all sinks {row.total_share_pct:5.1f} %; "
                  f"residual {row.residual_t_co2_yr / 1e6:6.1f} Mt CO2")
    print(f"wrote {out / 'balance.csv'} and {out / 'balance.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Sinks against emission scenarios.")
    parser.add_argument("--out", type=Path, default=Path("out/scenario_balance"))
    main(parser.parse_args().out)
