# karstsink: every target bootstraps .venv itself, so a fresh clone needs only python3 and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench docs lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,phreeqpy,dask,fast,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/karstsink demo -o demo_output --overwrite

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_speciate.py
	$(PY) benchmarks/bench_flux.py
	$(PY) benchmarks/bench_map.py

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) site demo_output .pytest_cache .hypothesis
