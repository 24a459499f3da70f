.PHONY: default install test test-all test-dist demo coverage lint types check soak bench docs readme dist clean

export PYTHONWARNINGS = default

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Our code runs with every warning shown (PYTHONWARNINGS above). The tools
# (pip and the build backend it runs, nox, Sphinx, twine) run with Python's
# own filters: their internal deprecations are not ours to show.
TOOL := env -u PYTHONWARNINGS
PIP := $(TOOL) $(PY) -m pip

default: check

# The virtualenv is built once per change of setup.cfg; each stamp records
# which extras it holds.
$(VENV)/.created:
	$(TOOL) $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel
	touch $@

$(VENV)/.installed-testing: setup.cfg $(VENV)/.created
	$(PIP) install --quiet -e '.[testing,speedups]'
	touch $@

$(VENV)/.installed-tests: setup.cfg $(VENV)/.created
	$(PIP) install --quiet -e '.[testing,speedups,tests]'
	touch $@

$(VENV)/.installed-bench: setup.cfg $(VENV)/.created
	$(PIP) install --quiet -e '.[testing,speedups,tests,bench]'
	touch $@

$(VENV)/.installed-lint: setup.cfg $(VENV)/.created
	$(PIP) install --quiet -e '.[testing,speedups,tests,lint]'
	touch $@

$(VENV)/.installed-docs: setup.cfg $(VENV)/.created
	$(PIP) install --quiet -e '.[testing,docs]'
	touch $@

$(VENV)/.installed-tools: $(VENV)/.created
	$(PIP) install --quiet nox build twine
	touch $@

install: $(VENV)/.installed-tests

demo: $(VENV)/.installed-testing
	$(PY) -m bittap_ws demo

test: $(VENV)/.installed-tests
	$(PY) -m pytest

# The suite on every Python that setup.cfg claims and this machine has
# (pyenv's included); nox names the ones it skipped. See noxfile.py.
test-all: $(VENV)/.installed-tools
	$(TOOL) $(PY) -m nox -s tests

# Installs the wheel from `make dist` into a new virtualenv with its
# testing extra and runs `bittap-ws demo` there.
test-dist: dist $(VENV)/.installed-tests
	BITTAP_WS_DIST=dist $(PY) -m pytest -m dist tests/test_dist.py

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
	$(PY) -m ruff check bittap_ws tests examples noxfile.py docs/conf.py
	$(PY) -m mypy --strict bittap_ws
	$(PY) -m docutils --strict README.rst /dev/null
	$(PY) -m docutils --strict CHANGELOG.rst /dev/null

# mypy --strict with and without the optional speedups (orjson, wsaccel).
types: $(VENV)/.installed-tools
	$(TOOL) $(PY) -m nox -s types

check: lint types coverage

# The reference documentation, in docs/_build/html; any warning fails it.
docs: $(VENV)/.installed-docs
	$(TOOL) $(PY) -m sphinx -W --keep-going -n -q -b html docs docs/_build/html

readme: $(VENV)/.installed-lint
	$(PY) -m docutils --strict README.rst /dev/null

dist: $(VENV)/.installed-tools
	rm -rf dist
	$(TOOL) $(PY) -m build --quiet
	$(TOOL) $(PY) -m twine check --strict dist/*

clean:
	find . -name '*.pyc' -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf build dist *.egg-info .coverage .coverage.* htmlcov .pytest_cache .mypy_cache .ruff_cache docs/_build
