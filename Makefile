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

.PHONY: setup bench test test-fast leaderboard plots bench-aggregate bench-speed clean

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

# Benchmark (not a timed test): what the framework costs (docs/scale-out.md, Performance). ganbench's step against
# the minimal plain-PyTorch loop doing the same work (statistics off and on), and a whole SPEED_RUN_STEPS-step run
# split by phase against a plain script, for the losses suite's 2-D MLP on ring8 and its DCGAN on digits. Measure on
# a quiet machine: the numbers are wall-clock times.
SPEED_STEPS ?= 300
SPEED_REPEATS ?= 5
SPEED_RUN_STEPS ?= 300
bench-speed: $(STAMP)
	$(BIN)/ganbench speed -d ring8 --set batch_size=128 \
		--set 'arch_options={g_hidden: 128, g_layers: 3, d_hidden: 128, d_layers: 2, d_act: lrelu, init: torch}' \
		--steps $(SPEED_STEPS) --repeats $(SPEED_REPEATS) --run-steps $(SPEED_RUN_STEPS)
	$(BIN)/ganbench speed -d digits --set arch_options.width=16 \
		--steps $(SPEED_STEPS) --repeats $(SPEED_REPEATS) --run-steps $(SPEED_RUN_STEPS)

# Removes the environment and caches; never the results a user produced.
clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
