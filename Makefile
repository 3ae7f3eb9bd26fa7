# The two README commands: `make bench` and `make test`. Each sets up .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_FLAGS := -q --disable-pip-version-check -c constraints.txt
# Label Studio, the annotation server, pins packages that clash with constraints.txt (pyarrow,
# numpy through opencv): it lives in its own environment, pinned by constraints-annotate.txt.
ANNOTATE_VENV := .venv-annotate
ANNOTATE_BIN := $(ANNOTATE_VENV)/bin
ANNOTATE_STAMP := $(ANNOTATE_VENV)/.installed

.PHONY: bench test test-fast lint data clean annotate-server-env annotate-server

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and on its own, so the pinned CPU build is what every later resolve sees.
	$(BIN)/pip install $(PIP_FLAGS) torch==2.13.0
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $(STAMP)

# The server's database migrated once into $(ANNOTATE_VENV)/migrated: the Label Studio test
# copies it and starts in seconds instead of migrating a new database for two minutes.
$(ANNOTATE_STAMP): constraints-annotate.txt
	test -x $(ANNOTATE_BIN)/python || $(PYTHON) -m venv $(ANNOTATE_VENV)
	$(ANNOTATE_BIN)/pip install -q --disable-pip-version-check -c constraints-annotate.txt \
		label-studio==1.23.2
	rm -rf $(ANNOTATE_VENV)/migrated
	LABEL_STUDIO_BASE_DATA_DIR=$(abspath $(ANNOTATE_VENV))/migrated LATEST_VERSION_CHECK=false \
		COLLECT_ANALYTICS=false $(ANNOTATE_BIN)/label-studio version > /dev/null
	touch $(ANNOTATE_STAMP)

annotate-server-env: $(ANNOTATE_STAMP)

# Label Studio on http://127.0.0.1:8080 for labelling the tasks of `cnbench annotate export`.
annotate-server: $(ANNOTATE_STAMP)
	LATEST_VERSION_CHECK=false $(ANNOTATE_BIN)/label-studio start --no-browser \
		--internal-host 127.0.0.1 --port 8080

bench: $(STAMP)
	$(BIN)/cnbench bench --jobs 2

# The corpus check (hashes, labels, leakage of real text into the synthetic corpus,
# near-duplicates) runs first: a test suite that passes on leaked data proves nothing.
# The Label Studio server's environment too: the slow annotation test runs a real one.
test: $(STAMP) $(ANNOTATE_STAMP)
	$(BIN)/cnbench data check
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not slow'

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts bench

data: $(STAMP)
	$(BIN)/cnbench data build

clean:
	rm -rf $(VENV) $(ANNOTATE_VENV) mlruns/mlflow.db mlruns/artifacts .cache
