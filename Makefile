# Every target builds its own virtual environment first, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

UI_STAMP := headwater/ui/index.html
UI_SRC   := $(shell find ui/src ui/index.html ui/package.json ui/vite.config.ts -type f 2>/dev/null)

.PHONY: install ui check lint typecheck test test-python test-ui e2e bench demo clean peers proto

# Peers the tests talk to, each in its own virtual environment (never the project's own):
# the kfp SDK (compiles the Kubeflow corpus, loads and runs IR with kfp.local), and
# Airflow 3 with the Headwater provider (integrations/airflow) installed in it.
PEERS    := .venvs
KFP_STAMP := $(PEERS)/kfp/.installed
AIRFLOW_STAMP := $(PEERS)/airflow/.installed
# MLServer, the serving benchmark's reference: only 'make bench' needs it.
MLSERVER_STAMP := $(PEERS)/mlserver/.installed

# Bytecode is compiled here, not on first import: an editable install gets no .pyc files
# where PYTHONDONTWRITEBYTECODE is set, and every headwater process would recompile its
# modules. compileall skips what is up to date, so this costs little on each call.
install: $(STAMP) $(UI_STAMP)
	$(BIN)/python -m compileall -q headwater

# The web UI: built into the Python package, which serves it at /.
ui/node_modules/.installed: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	touch $@

$(UI_STAMP): ui/node_modules/.installed $(UI_SRC)
	cd ui && npm run build

ui: $(UI_STAMP)

$(KFP_STAMP): tests/peers/kfp-requirements.txt
	rm -rf $(PEERS)/kfp
	$(PYTHON) -m venv $(PEERS)/kfp
	$(PEERS)/kfp/bin/pip install --quiet -r tests/peers/kfp-requirements.txt
	touch $@

# Headwater and the provider are editable installs: only a change to what they depend on
# rebuilds it.
$(AIRFLOW_STAMP): tests/peers/airflow-requirements.txt pyproject.toml integrations/airflow/pyproject.toml
	rm -rf $(PEERS)/airflow
	$(PYTHON) -m venv $(PEERS)/airflow
	$(PEERS)/airflow/bin/pip install --quiet -r tests/peers/airflow-requirements.txt
	touch $@

peers: $(KFP_STAMP) $(AIRFLOW_STAMP)

$(MLSERVER_STAMP): tests/peers/mlserver-requirements.txt
	rm -rf $(PEERS)/mlserver
	$(PYTHON) -m venv $(PEERS)/mlserver
	$(PEERS)/mlserver/bin/pip install --quiet -r tests/peers/mlserver-requirements.txt
	touch $@

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,examples,ray,tensorboard,serving]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check headwater tests bench examples integrations scripts
	$(BIN)/ruff format --check headwater tests bench examples integrations scripts

# The Airflow provider is checked against Airflow's own types, in the Airflow environment.
typecheck: install $(AIRFLOW_STAMP)
	$(BIN)/mypy
	cd integrations/airflow && $(CURDIR)/$(BIN)/mypy --python-executable $(CURDIR)/$(PEERS)/airflow/bin/python
	$(BIN)/lint-imports

check: lint typecheck

test: check test-python test-ui e2e

# Two workers; a test file stays on one, and the folders that share a costly peer (the
# Ray cluster, kfp, Airflow) stay whole on one (docs/adr/0026-parallel-tests.md).
TEST_WORKERS ?= 2
test-python: install peers
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadscope

# Component tests (vitest) and the type check of the UI.
test-ui: ui/node_modules/.installed
	cd ui && npx tsc -b && npm test

# The UI end to end in a real browser (Debian's chromium) against a real standalone.
e2e: install
	cd ui && node e2e/run.mjs

bench: install peers $(MLSERVER_STAMP)
	$(BIN)/python bench/run.py
	@echo "== web UI: opening a 1,000-task run (browser: chromium)"
	cd ui && node e2e/run.mjs --bench

# The Open Inference Protocol's gRPC modules (headwater/serving/_proto), from its .proto;
# the generated files are committed, so only a change to the .proto needs this.
proto: install
	$(BIN)/python scripts/gen_proto.py

demo: install
	$(BIN)/headwater validate examples/ml_pipeline.py
	@echo "== first run: every task runs, each in its own process"
	$(BIN)/headwater run examples/ml_pipeline.py
	@echo "== second run: nothing changed, so every task is a cache hit"
	$(BIN)/headwater run examples/ml_pipeline.py
	$(BIN)/python examples/show_results.py
	@echo "== register the model, serve it, ask it for one prediction with curl, stop the server"
	$(BIN)/python examples/serve_model.py

clean:
	rm -rf $(VENV) $(PEERS) build .pytest_cache .mypy_cache .ruff_cache headwater/ui ui/node_modules
