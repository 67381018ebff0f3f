# karstsink: every target bootstraps .venv itself, so a fresh clone needs only python3 and make.
# `make demo` installs karstsink with its runtime dependencies only (no extras, ~0.7 GB
# installed); `make test` adds what the tests exercise: the [test] extra (pytest, hypothesis,
# phreeqpy, dask, PyYAML, xarray, rioxarray, mypy), [fast] (numba) and [docs] (mkdocs, for tests/test_docs.py).
# pip prints what it downloads and installs: nothing is hidden behind --quiet.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The editable install leaves src/karstsink as plain source: byte-compile it, as a regular
# (non-editable) pip install does, so a command does not recompile ~30 modules at every
# start where PYTHONDONTWRITEBYTECODE is set (0.1-0.3 s of `karstsink speciate`'s start-up,
# measured). Stale .pyc files are ignored by Python (source mtime), so editing stays safe.
COMPILE := $(PY) -m compileall -q src/karstsink
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test
TEST_EXTRAS := test,fast,docs

.PHONY: demo test bench docs lint clean

$(PY):
	@echo ">>> creating the virtual environment $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	@echo ">>> making sure pip can install an editable package (pip >= 21.3)"
	$(PIP) install "pip>=21.3"

$(DEMO_STAMP): pyproject.toml | $(PY)
	@echo ">>> make demo: installing karstsink (editable) and its runtime dependencies only"
	@echo ">>>   numpy, pandas, scipy, rasterio, geopandas, pyogrio, shapely, matplotlib, pillow,"
	@echo ">>>   phreeqc (IPhreeqc), openpyxl, tqdm, isal, click: ~0.7 GB; no test/docs/dask/numba extras"
	$(PIP) install -e .
	$(COMPILE)
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	@echo ">>> make test: installing karstsink (editable) with the extras [$(TEST_EXTRAS)]"
	@echo ">>>   the runtime dependencies, pytest, hypothesis, PyYAML, phreeqpy, dask[distributed],"
	@echo ">>>   xarray, rioxarray, mypy, numba and mkdocs(-material, mkdocstrings): ~1.2 GB"
	$(PIP) install -e ".[$(TEST_EXTRAS)]"
	$(COMPILE)
	touch $@

demo: $(DEMO_STAMP)
	$(VENV)/bin/karstsink demo -o demo_output --overwrite

test: $(TEST_STAMP)
	$(PY) -m pytest -q

bench: $(TEST_STAMP)
	$(PY) benchmarks/bench_speciate.py
	$(PY) benchmarks/bench_flux.py
	$(PY) benchmarks/bench_map.py

docs: $(TEST_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) site demo_output .pytest_cache .hypothesis
