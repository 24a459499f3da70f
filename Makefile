.PHONY: default install test demo coverage lint types check soak bench readme dist clean

export PYTHONWARNINGS = default

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

default: check

# The virtualenv is built once per change of setup.cfg; each stamp records
# which extras it holds.
$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	touch $@

$(VENV)/.installed-testing: setup.cfg $(VENV)/.created
	$(PY) -m pip install --quiet -e '.[testing,speedups]'
	touch $@

$(VENV)/.installed-tests: setup.cfg $(VENV)/.created
	$(PY) -m pip install --quiet -e '.[testing,speedups,tests]'
	touch $@

$(VENV)/.installed-bench: setup.cfg $(VENV)/.created
	$(PY) -m pip install --quiet -e '.[testing,speedups,tests,bench]'
	touch $@

$(VENV)/.installed-lint: setup.cfg $(VENV)/.created
	$(PY) -m pip install --quiet -e '.[testing,speedups,tests,lint]'
	touch $@

install: $(VENV)/.installed-tests

demo: $(VENV)/.installed-testing
	$(PY) -m bittap_ws demo

test: $(VENV)/.installed-tests
	$(PY) -m pytest

# A bounded soak against the bundled server with faults; SOAK_DURATION
# seconds (default 300). Not part of `make test`.
soak: $(VENV)/.installed-testing
	$(PY) soak/soak.py

coverage: $(VENV)/.installed-tests
	$(PY) -m coverage run -m pytest
	$(PY) -m coverage report

# Compares bittap_ws with websocket-client, websockets (sync and asyncio,
# 1 to 64 callers), python-binance and binance-connector over loopback;
# under three minutes. Writes a table and a plot to benchmarks/results/.
# See benchmarks/bench.py.
bench: $(VENV)/.installed-bench
	$(PY) benchmarks/bench.py


lint: $(VENV)/.installed-lint
	$(PY) -m ruff check bittap_ws tests
	$(PY) -m mypy --strict bittap_ws
	$(PY) -m docutils --strict README.rst /dev/null

types: $(VENV)/.installed-lint
	$(PY) -m mypy --strict bittap_ws

check: lint coverage

readme: $(VENV)/.installed-lint
	$(PY) -m docutils --strict README.rst /dev/null

dist: $(VENV)/.created
	$(PY) -m pip install --quiet build
	$(PY) -m build

clean:
	find . -name '*.pyc' -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf build dist *.egg-info .coverage .coverage.* htmlcov .pytest_cache .mypy_cache .ruff_cache
