# ganbench: the two commands are `make bench SUITE=losses` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
SUITE  ?= smoke
WORKERS ?= 2
RESULTS ?= results
SCALE  ?=
SCALE_FLAG := $(if $(SCALE),--scale $(SCALE))
STAMP  := $(VENV)/.installed
# Tests run in TEST_WORKERS pytest-xdist processes (TEST_WORKERS=0: one process); each has its own cache and data root.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

.PHONY: setup bench test test-fast leaderboard plots bench-aggregate clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; the editable install picks up code edits.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

bench: $(STAMP)
	$(BIN)/ganbench bench $(SUITE) --results $(RESULTS) --workers $(WORKERS) $(SCALE_FLAG)

# Everything: tests/unit and tests/e2e (what CI runs).
test: $(STAMP)
	$(PYTEST)

# tests/unit only: no command line in a subprocess, no suite, no worker process, no real training.
test-fast: $(STAMP)
	$(PYTEST) tests/unit

leaderboard: $(STAMP)
	$(BIN)/ganbench leaderboard $(SUITE) --results $(RESULTS) $(SCALE_FLAG)

plots: $(STAMP)
	$(BIN)/ganbench plot $(SUITE) --results $(RESULTS) $(SCALE_FLAG)

# Benchmark (not a timed test): aggregate 10,000 synthetic run records into a leaderboard in every format.
bench-aggregate: $(STAMP)
	$(BIN)/python tests/benchmarks/aggregate.py

# Removes the environment and caches; never the results a user produced.
clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
