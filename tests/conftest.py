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
    for name in [m for m in sys.modules if m.split(".")[0].startswith("fx_")]:
        del sys.modules[name]
