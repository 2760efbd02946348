# The two set-up commands of the README are `make run` and `make test`.
PYTHON ?= python
export MEDHUB_SAMPLES_DIR ?= $(abspath ../shared/data)
export GRADIO_ANALYTICS_ENABLED = False
export HF_HUB_DISABLE_TELEMETRY = 1
# Fewer glibc malloc arenas: peak RSS 1.6-1.9 GB -> 1.45 GB with the same latency (docs/BENCHMARKS.md).
export MALLOC_ARENA_MAX ?= 2

.PHONY: install install-dev run test test-fast bench lint

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

# A developer aid, not a set-up command: the quick part of the suite (no app process, no browser,
# nothing slow, no network; markers in pyproject.toml). Assumes `make install-dev` was run once.
FAST_MARKS = not server and not browser and not slow and not network
test-fast:
	$(PYTHON) -m pytest -m "$(FAST_MARKS)"

bench: install-dev
	$(PYTHON) -m medhub bench

lint:
	$(PYTHON) -m ruff check .
