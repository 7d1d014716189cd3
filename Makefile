# Two entry points: `make run` (the server with the bundled model) and `make test` (the whole suite).
# Both create .venv on first use. torch is pinned to the CPU build here only to keep set-up fast on
# machines without a GPU; the package itself accepts any torch 2.x (see pyproject.toml).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
# Debian packages the tests need: a browser for the UI tests, the emoji font and CLDR for the sprite dataset
# tests, tmux for the terminal test of the CLI, node for the tests of the web UI's state (tests/web).
TEST_DEBS ?= chromium chromium-driver fonts-noto-color-emoji unicode-cldr-core tmux redis-server nodejs

.PHONY: run test lint setup setup-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[test]"
	touch $@

setup: $(VENV)/.installed

setup-test: setup
	bash scripts/install-test-deps.sh $(TEST_DEBS)

# `make run PORT=8000` serves on another port (7860 is also AUTOMATIC1111's, often taken).
run: setup
	$(BIN)/pixelforge serve $(if $(PORT),--port $(PORT))

test: setup-test
	$(BIN)/ruff check pixelforge tests benchmarks training
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check pixelforge tests benchmarks training
