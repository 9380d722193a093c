# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
# Both create (or refresh) .venv and install the pinned dependencies. torch==2.13.0 is
# pinned and resolved together with everything else, so pip never pulls a CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.artgan-installed

.PHONY: demo test test-slow test-browser check bench install clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/artgan demo

test: $(STAMP)
	$(PY) -m pytest -q

# Lint, format and type checks (ruff and mypy, configured in pyproject.toml).
check: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# The studio driven in a real browser (Playwright + Debian's chromium at /usr/bin/chromium;
# skipped without it). About 3 minutes.
test-browser: $(STAMP)
	$(PY) -m pytest -q -m browser

bench: $(STAMP)
	$(PY) benchmarks/train_throughput.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
