"""Shared test set-up. The fixtures themselves (app, client, company, ...) come from
``core.testing``, the pytest plugin that plugin authors use too."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FIXTURE_PLUGINS = Path(__file__).parent / "fixture_plugins"


@pytest.fixture
def fixture_plugins_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Makes the tiny plugins under tests/fixture_plugins importable by package name."""
    monkeypatch.syspath_prepend(str(FIXTURE_PLUGINS))
    yield FIXTURE_PLUGINS
    # Forget fixture plugins between tests, except those with models: their mapped classes
    # live in the process-wide metadata and must not be defined twice.
    with_models = {m.split(".")[0] for m in sys.modules if m.startswith("fx_") and m.endswith(".models")}
    for name in [m for m in sys.modules if m.split(".")[0].startswith("fx_")]:
        if name.split(".")[0] not in with_models:
            del sys.modules[name]
