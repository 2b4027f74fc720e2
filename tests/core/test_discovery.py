"""Discovery of built-in plugins: every folder under the built-in package with a manifest."""

from __future__ import annotations

import pytest

from core import plugin_manager


@pytest.fixture
def builtin_root(fixture_plugins_path, monkeypatch):
    monkeypatch.setattr(plugin_manager, "BUILTIN_PACKAGE", "fx_builtin_root")


def test_builtin_plugins_are_found_by_folder_without_importing_them(builtin_root):
    import sys

    found, problems = plugin_manager.discover()
    alpha = next(info for info in found if info.name == "alpha")
    assert alpha.module_name == "fx_builtin_root.alpha"
    assert alpha.origin == "built-in"
    assert "fx_builtin_root.alpha" not in sys.modules  # manifest read, code not run yet
    assert "notaplugin" not in [info.name for info in found]


def test_builtin_folder_and_manifest_name_must_agree(builtin_root):
    found, problems = plugin_manager.discover()
    assert "other_name" not in [info.name for info in found]
    assert problems == [
        "plugin 'fx_builtin_root.misnamed' (built-in) is named 'other_name' in its manifest "
        "but 'misnamed' where it is announced"
    ]


def test_the_real_builtin_package_is_searched():
    assert plugin_manager.BUILTIN_PACKAGE == "plugins"
    assert plugin_manager._package_dir("plugins") is not None
