"""Shared fixtures: where the real data lives, and the cards."""

from __future__ import annotations

from pathlib import Path

import pytest

from medhub.paths import DATA_ROOT, REPO_ROOT

REPO = REPO_ROOT


def data_available() -> bool:
    return DATA_ROOT.is_dir()


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real image sets (../shared/data); tests that need them skip when they are absent."""
    if not data_available():
        pytest.skip(f"real data not found at {DATA_ROOT}")
    return DATA_ROOT


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep what a person may want to look at afterwards (screenshots, reports)."""
    path = REPO / "artifacts"
    path.mkdir(exist_ok=True)
    return path


# The app server fixture lives here, in one place, so that every test module shares ONE app per session
# (a session fixture imported into several test modules is a separate fixture in each: one app each).
try:
    from tests.app_server import app_url  # noqa: E402, F401
except ImportError:  # tests/app_server.py not there yet
    pass


# Marks (registered in pyproject.toml; `make test-fast` leaves out server, browser, slow and network).
# The marks that follow from a fixture are checked here, so that the fast subset can never start an
# app by accident: a test that asks for the session's app must be marked `server`, one that asks for
# the real data `data`.
FIXTURE_MARKS = {"app_url": "server", "data_root": "data"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    unmarked = [
        f"{item.nodeid}: uses {fixture} but is not marked {mark!r}"
        for item in items
        for fixture, mark in FIXTURE_MARKS.items()
        if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(mark) is None
    ]
    if unmarked:
        raise pytest.UsageError("tests without the mark their fixtures call for:\n" + "\n".join(unmarked))
