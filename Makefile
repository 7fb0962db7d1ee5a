# Every target builds its own virtual environment first, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install check lint typecheck test bench demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,examples]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check headwater tests bench examples
	$(BIN)/ruff format --check headwater tests bench examples

typecheck: install
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint typecheck

test: check
	$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/run.py

demo: install
	$(BIN)/headwater validate examples/ml_pipeline.py
	@echo "== first run: every task runs, each in its own process"
	$(BIN)/headwater run examples/ml_pipeline.py
	@echo "== second run: nothing changed, so every task is a cache hit"
	$(BIN)/headwater run examples/ml_pipeline.py
	$(BIN)/python examples/show_results.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
