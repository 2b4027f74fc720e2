"""Plugin discovery, validation and loading by create_app: every problem, all at once.

The plugins used here are the tiny packages under tests/fixture_plugins (see each one's
docstring for the one thing it gets wrong).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from core import __version__, create_app
from core.errors import StartupError
from core.manifest import Manifest
from core.plugin_manager import dependency_order

pytestmark = pytest.mark.usefixtures("fixture_plugins_path")


def config(tmp_path: Path, modules: list[str], plugins: list[str] | None) -> dict:
    return {
        "CRM_ENV": "testing",
        "CRM_INSTANCE_PATH": str(tmp_path),
        "CRM_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
        "SECRET_KEY": "x",
        "CRM_CHECK_SCHEMA": False,
        "CRM_PLUGIN_MODULES": modules,
        "CRM_PLUGINS": plugins,
    }


def start(tmp_path: Path, modules: list[str], plugins: list[str] | None = None):
    """create_app with ``modules`` as extra plugin packages; ``plugins`` defaults to them."""
    return create_app(config(tmp_path, modules, list(modules) if plugins is None else plugins))


def refusal(tmp_path: Path, modules: list[str], plugins: list[str] | None = None) -> list[str]:
    """The problems of the StartupError that create_app must raise."""
    with pytest.raises(StartupError) as caught:
        start(tmp_path, modules, plugins)
    assert caught.value.problems, "a StartupError must carry at least one problem"
    return caught.value.problems


def only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


# -- what loads ----------------------------------------------------------------------------------


def test_valid_plugins_load_and_their_blueprints_belong_to_them(tmp_path):
    app = start(tmp_path, ["fx_child", "fx_base"])

    assert app.extensions["crm.plugins"].names == ["fx_base", "fx_child"]
    assert app.extensions["crm.blueprint_owners"] == {"fx_base": "fx_base", "fx_child": "fx_child"}


def test_load_order_is_dependencies_first_then_alphabetical(tmp_path):
    # fx_ord_c -> fx_ord_a -> fx_ord_z; fx_ord_b needs nothing. Given in a scrambled order.
    modules = ["fx_ord_c", "fx_ord_z", "fx_ord_b", "fx_ord_a"]

    app = start(tmp_path, modules, plugins=["fx_ord_a", "fx_ord_c", "fx_ord_b", "fx_ord_z"])

    assert app.extensions["crm.plugins"].names == ["fx_ord_b", "fx_ord_z", "fx_ord_a", "fx_ord_c"]


def test_load_order_does_not_depend_on_configuration_order(tmp_path):
    first = start(tmp_path / "one", ["fx_ord_a", "fx_ord_b", "fx_ord_c", "fx_ord_z"])
    second = start(tmp_path / "two", ["fx_ord_z", "fx_ord_c", "fx_ord_b", "fx_ord_a"])

    assert first.extensions["crm.plugins"].names == second.extensions["crm.plugins"].names


def test_crm_plugins_loads_only_the_plugins_it_names(tmp_path):
    app = start(tmp_path, ["fx_base", "fx_child"], plugins=["fx_base"])

    assert app.extensions["crm.plugins"].names == ["fx_base"]
    assert "fx_child" not in app.blueprints


# -- what is refused -----------------------------------------------------------------------------


def test_missing_dependency_is_refused_naming_both_plugins(tmp_path):
    problem = only(refusal(tmp_path, ["fx_lonely"]))

    assert "'fx_lonely'" in problem
    assert "'fx_absent'" in problem
    assert "not installed" in problem


def test_dependency_not_selected_in_crm_plugins_is_refused(tmp_path):
    problem = only(refusal(tmp_path, ["fx_base", "fx_child"], plugins=["fx_child"]))

    assert "plugin 'fx_child' depends on 'fx_base'" in problem
    assert "CRM_PLUGINS" in problem


def test_dependency_cycle_is_refused_showing_the_cycle(tmp_path):
    problem = only(refusal(tmp_path, ["fx_cycle_b", "fx_cycle_a"]))

    assert problem == "dependency cycle: fx_cycle_a -> fx_cycle_b -> fx_cycle_a"


def test_two_packages_with_the_same_plugin_name_are_refused(tmp_path):
    problem = only(refusal(tmp_path, ["fx_dup_one", "fx_dup_two"], plugins=["fx_dup"]))

    assert "two plugins are named 'fx_dup'" in problem
    assert "fx_dup_one" in problem
    assert "fx_dup_two" in problem


def test_incompatible_core_version_is_refused_naming_both_versions(tmp_path):
    problem = only(refusal(tmp_path, ["fx_future"]))

    assert "plugin 'fx_future' 1.0.0" in problem
    assert "needs core >=9" in problem
    assert f"this is core {__version__}" in problem


def test_misspelled_hook_is_refused_naming_plugin_and_hook(tmp_path):
    problem = only(refusal(tmp_path, ["fx_typo"]))

    assert "plugin 'fx_typo'" in problem
    assert "'menu_item'" in problem
    assert "not a hook" in problem


def test_hook_argument_missing_from_the_spec_is_refused(tmp_path):
    problem = only(refusal(tmp_path, ["fx_extra_arg"]))

    assert problem.startswith("plugin 'fx_extra_arg'")
    assert "menu_items" in problem
    assert "colour" in problem


def test_invalid_manifest_is_refused_with_its_problems(tmp_path):
    problem = only(refusal(tmp_path, ["fx_bad_manifest", "fx_base"], plugins=["fx_base"]))

    assert problem.startswith("invalid manifest for 'fx_bad_manifest'")
    assert "missing key 'summary'" in problem
    assert "unknown key 'colour'" in problem
    assert "name 'FxBad'" in problem
    assert "version 'not a version'" in problem


def test_plugin_whose_import_raises_is_refused_with_the_error(tmp_path):
    problem = only(refusal(tmp_path, ["fx_explodes"]))

    assert problem == (
        "plugin 'fx_explodes' failed to import: RuntimeError: fx_explodes blew up at import"
    )


def test_crm_plugins_naming_an_uninstalled_plugin_is_refused(tmp_path):
    problem = only(refusal(tmp_path, ["fx_base"], plugins=["fx_base", "fx_ghost"]))

    assert problem == "CRM_PLUGINS names 'fx_ghost', which is not installed (or was refused above)"


def test_unknown_plugin_package_is_refused(tmp_path):
    problem = only(refusal(tmp_path, ["fx_no_such_package"], plugins=[]))

    assert "'fx_no_such_package'" in problem
    assert "cannot be found" in problem


def test_every_plugin_problem_is_listed_in_one_startup_error(tmp_path):
    modules = [
        "fx_bad_manifest", "fx_lonely", "fx_cycle_a", "fx_cycle_b",
        "fx_future", "fx_typo", "fx_explodes", "fx_extra_arg", "fx_base",
    ]
    plugins = [m for m in modules if m != "fx_bad_manifest"]

    problems = refusal(tmp_path, modules, plugins)

    expected = [
        "invalid manifest for 'fx_bad_manifest'",
        "plugin 'fx_lonely' depends on 'fx_absent'",
        "dependency cycle: fx_cycle_a -> fx_cycle_b -> fx_cycle_a",
        "plugin 'fx_future' 1.0.0 needs core >=9",
        "plugin 'fx_typo' implements 'menu_item'",
        "plugin 'fx_explodes' failed to import",
        "plugin 'fx_extra_arg': ",
    ]
    assert len(problems) == len(expected), problems
    for fragment in expected:
        assert sum(fragment in problem for problem in problems) == 1, (fragment, problems)
    assert not any("fx_base" in problem for problem in problems)


def test_plugin_depending_on_a_plugin_with_a_missing_dependency_is_reported(tmp_path):
    problems = refusal(tmp_path, ["fx_on_lonely", "fx_lonely"])

    assert len(problems) == 2, problems
    assert "plugin 'fx_lonely' depends on 'fx_absent'" in problems[0]
    assert problems[1] == "plugin 'fx_on_lonely' cannot load because 'fx_lonely' cannot"


def test_plugin_depending_on_an_incompatible_plugin_is_reported_as_unable_to_load(tmp_path):
    # (The dependents of a cycle are checked on dependency_order directly, below.)
    problems = refusal(tmp_path, ["fx_on_future", "fx_future"])

    assert len(problems) == 2, problems
    assert "plugin 'fx_future' 1.0.0 needs core >=9" in problems[0]
    # fx_future is installed: its dependent must not be told it is missing.
    assert problems[1] == "plugin 'fx_on_future' cannot load because 'fx_future' cannot"


def test_plugin_depending_on_a_plugin_that_fails_to_import_is_reported(tmp_path):
    problems = refusal(tmp_path, ["fx_on_explodes", "fx_explodes"])

    assert problems == [
        "plugin 'fx_explodes' failed to import: RuntimeError: fx_explodes blew up at import",
        "plugin 'fx_on_explodes' cannot load because 'fx_explodes' cannot",
    ]


def test_blueprint_name_clash_between_plugins_is_refused(tmp_path):
    problem = only(refusal(tmp_path, ["fx_clash_two", "fx_clash_one"]))

    assert problem == (
        "plugin 'fx_clash_two' registers blueprint 'fx_clash', whose name is already taken"
    )


def test_plugin_command_with_a_taken_name_is_refused(tmp_path):
    problem = only(refusal(tmp_path, ["fx_cli_clash"]))

    assert problem == "plugin 'fx_cli_clash' adds command 'db', which is taken"


def test_blueprint_and_command_clashes_are_reported_together(tmp_path):
    problems = refusal(tmp_path, ["fx_clash_one", "fx_clash_two", "fx_cli_clash"])

    assert len(problems) == 2, problems
    assert any("blueprint 'fx_clash'" in p for p in problems)
    assert any("command 'db'" in p for p in problems)


# -- permission and setting declarations ---------------------------------------------------------


@pytest.fixture
def declaration_problems(tmp_path) -> list[str]:
    """fx_decls declares one valid permission and setting, and one of each mistake."""
    return refusal(tmp_path, ["fx_decls"])


def test_declaration_problems_are_reported_together(declaration_problems):
    assert len(declaration_problems) == 5, declaration_problems
    assert not any("fx_decls.page_size" in p for p in declaration_problems)


def test_permission_code_without_the_plugin_prefix_is_refused(declaration_problems):
    assert (
        "plugin 'fx_decls' declares permission 'other.write', which must start with 'fx_decls.'"
        in declaration_problems
    )


def test_permission_declared_twice_is_refused(declaration_problems):
    assert "permission 'fx_decls.read' is declared twice (by 'fx_decls')" in declaration_problems


def test_setting_default_of_the_wrong_type_is_refused(declaration_problems):
    assert (
        "plugin 'fx_decls' setting 'fx_decls.title': default 'twenty' is not a int"
        in declaration_problems
    )


def test_setting_of_an_unknown_type_is_refused(declaration_problems):
    assert any(
        p.startswith("plugin 'fx_decls' setting 'fx_decls.tags': unknown type 'list'")
        for p in declaration_problems
    ), declaration_problems


def test_bool_default_for_an_int_setting_is_refused(declaration_problems):
    assert (
        "plugin 'fx_decls' setting 'fx_decls.limit': default True is not a int"
        in declaration_problems
    )


# -- the dependency graph on its own -------------------------------------------------------------


def manifest(name: str, *depends: str) -> Manifest:
    return Manifest(
        name=name,
        title=name.title(),
        version=Version("1.0"),
        summary="",
        depends=tuple(depends),
        category="other",
        core=SpecifierSet(">=0.1"),
    )


def graph(*manifests: Manifest) -> dict[str, Manifest]:
    return {m.name: m for m in manifests}


def test_dependency_order_puts_a_diamond_bottom_first_and_peers_alphabetically():
    manifests = graph(
        manifest("app", "right", "left"),
        manifest("right", "base"),
        manifest("left", "base"),
        manifest("base"),
    )

    order, problems = dependency_order(manifests)

    assert order == ["base", "left", "right", "app"]
    assert problems == []


def test_dependency_order_is_the_same_whatever_the_input_order():
    manifests = [
        manifest("app", "right", "left"),
        manifest("right", "base"),
        manifest("left", "base"),
        manifest("base"),
        manifest("alone"),
    ]

    forward = dependency_order(graph(*manifests))
    backward = dependency_order(graph(*reversed(manifests)))

    assert forward == backward
    assert forward[0] == ["alone", "base", "left", "right", "app"]


def test_dependency_order_reports_a_three_cycle_once_from_its_smallest_name():
    manifests = graph(
        manifest("c", "a"),
        manifest("b", "c"),
        manifest("a", "b"),
        manifest("d", "a"),
        manifest("e"),
    )

    order, problems = dependency_order(manifests)

    assert order == ["e"]
    assert problems == [
        "dependency cycle: a -> b -> c -> a",
        "plugin 'd' depends on a plugin in a dependency cycle",
    ]


def test_dependency_order_leaves_out_missing_dependencies_and_their_dependents():
    manifests = graph(
        manifest("top", "middle"),
        manifest("middle", "ghost"),
        manifest("fine"),
    )

    order, problems = dependency_order(manifests)

    assert order == ["fine"]
    assert problems == [
        "plugin 'middle' depends on 'ghost', which is not installed (or not selected in CRM_PLUGINS)",
        "plugin 'top' cannot load because 'middle' cannot",
    ]


def test_dependency_order_reports_dependents_of_refused_plugins_as_unable_to_load():
    manifests = graph(manifest("top", "middle"), manifest("middle", "old"), manifest("fine"))

    order, problems = dependency_order(manifests, refused={"old"})

    assert order == ["fine"]
    assert problems == [
        "plugin 'middle' cannot load because 'old' cannot",
        "plugin 'top' cannot load because 'middle' cannot",
    ]


def test_a_start_up_hook_that_raises_is_reported_not_a_traceback(tmp_path):
    problem = only(refusal(tmp_path, ["fx_hook_raises"]))

    assert problem == (
        "plugin 'fx_hook_raises' failed in hook 'register_blueprints': "
        "RuntimeError: no database credentials for the blueprint"
    )
