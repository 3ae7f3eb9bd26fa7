# The two README commands: `make bench` and `make test`. Each sets up .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_FLAGS := -q --disable-pip-version-check -c constraints.txt

.PHONY: bench test test-fast lint data clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and on its own, so the pinned CPU build is what every later resolve sees.
	$(BIN)/pip install $(PIP_FLAGS) torch==2.13.0
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/cnbench bench --jobs 2

# The corpus check (hashes, labels, leakage of real text into the synthetic corpus,
# near-duplicates) runs first: a test suite that passes on leaked data proves nothing.
test: $(STAMP)
	$(BIN)/cnbench data check
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not slow'

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts bench

data: $(STAMP)
	$(BIN)/cnbench data build

clean:
	rm -rf $(VENV) mlruns/mlflow.db mlruns/artifacts
