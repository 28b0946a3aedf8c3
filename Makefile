# Two commands: `make run` (set up and start the app) and `make test` (set up and pass the suite).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
SCENARIO ?= data/disney_2021
STORE ?=

.PHONY: run test lint format bench demo-data clean

# The venv is rebuilt when pyproject.toml changes (the stamp is older than it).
$(VENV)/.installed-run: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-run
	$(PY) -m pip install --quiet -e '.[test,scale]'
	touch $@

# ogctests, the OGC API - Features validator (tests/test_ogc_validator.py), pins pytest < 9: it
# is kept beside the venv without its dependencies and runs in a subprocess.
OGCTESTS := ogctests==0.1.15 httpx==0.27.2 httpcore==1.0.9 h11==0.16.0 sniffio==1.3.1 \
	openapi-schema-validator==0.6.3 rfc3339-validator==0.1.4
$(VENV)/.installed-ogctests: Makefile $(VENV)/.installed-run
	$(PY) -m pip install --quiet --no-deps --upgrade --target $(VENV)/ogctests $(OGCTESTS)
	touch $@

run: $(VENV)/.installed-run
	$(PY) -m streamlit run app.py --server.address=127.0.0.1 --server.port=$(PORT) \
		--server.headless=true --browser.gatherUsageStats=false -- --scenario $(SCENARIO) \
		$(if $(STORE),--store $(STORE))

test: $(VENV)/.installed-test $(VENV)/.installed-ogctests
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest --doctest-modules geo --ignore=geo/ui -q -p no:cacheprovider
	$(PY) -m pytest -n 2 --dist loadgroup -q

lint: $(VENV)/.installed-test
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# PySAL spopt (the staging benchmark's reference) lives in its own venv: it is not a project
# dependency, and its pins must not move the project's packages.
SPOPT_VENV := benchmarks/.spopt-venv
$(SPOPT_VENV)/.installed:
	test -x $(SPOPT_VENV)/bin/python || $(PYTHON) -m venv $(SPOPT_VENV)
	$(SPOPT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SPOPT_VENV)/bin/python -m pip install --quiet spopt highspy pulp
	touch $@

bench: $(VENV)/.installed-test $(SPOPT_VENV)/.installed
	CITYOPS_SPOPT_PYTHON=$(SPOPT_VENV)/bin/python $(PY) benchmarks/run_all.py

demo-data: $(VENV)/.installed-run
	$(PY) data/make_demo.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
