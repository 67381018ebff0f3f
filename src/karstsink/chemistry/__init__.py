"""Geochemistry: the PHREEQC engine, speciation, equilibrium Ca and weathering diagnostics."""
