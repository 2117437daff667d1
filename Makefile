# One entry point for people and CI. `make demo` and `make test` set everything up themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements-system.txt 2>/dev/null | sha1sum | cut -c1-12)
DEMO_DIR ?= build/demo

.PHONY: venv demo test lint typecheck pytest bench bench-probe system-deps clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the lab, the probe and the browser tests need (root only; skipped otherwise).
system-deps:
	@bash scripts/install-system-deps.sh

demo: venv
	$(BIN)/python -m ayiq.demo --workdir $(DEMO_DIR)

lint: venv
	$(BIN)/ruff check src tests benchmarks

typecheck: venv
	$(BIN)/mypy src/ayiq

pytest: venv system-deps
	$(BIN)/python -m pytest tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests ran"; exit 1; fi; exit $$rc

test: lint typecheck pytest

bench: venv
	$(BIN)/python benchmarks/run.py

# Ayiq's probe side by side with OONI Probe (../shared/anchors/ooni-probe) in the censorship lab (root).
bench-probe: venv system-deps
	$(BIN)/python benchmarks/probe_vs_ooni.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
