# The two set-up commands of the README are `make run` and `make test`.
PYTHON ?= python
export MEDHUB_SAMPLES_DIR ?= $(abspath ../shared/data)
export GRADIO_ANALYTICS_ENABLED = False
export HF_HUB_DISABLE_TELEMETRY = 1
# Fewer glibc malloc arenas: peak RSS 1.6-1.9 GB -> 1.45 GB with the same latency (docs/BENCHMARKS.md).
export MALLOC_ARENA_MAX ?= 2

.PHONY: install install-dev run test bench lint

install:
	$(PYTHON) -m pip install -q -r requirements.txt
	bash scripts/ensure_korean_font.sh

install-dev:
	$(PYTHON) -m pip install -q -r requirements-dev.txt
	bash scripts/ensure_chromium.sh

run: install
	$(PYTHON) app.py

test: install-dev
	$(PYTHON) -m pytest

bench: install-dev
	$(PYTHON) -m medhub bench

lint:
	$(PYTHON) -m ruff check .
