"""core.manifest: reading and validating a plugin's manifest.toml before any of its code runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from core.manifest import CATEGORIES, ManifestError, load_manifest, validate

VALID = """\
name = "deals"
title = "Deals"
version = "1.2.3"
summary = "Track the deals of the company."
core = ">=0.1,<1"
depends = ["contacts", "companies"]
category = "sales"
"""


def valid_data(**changes: object) -> dict:
    """A valid parsed manifest with ``changes`` applied (a value of None removes the key)."""
    data = {
        "name": "deals",
        "title": "Deals",
        "version": "1.2.3",
        "summary": "Track the deals of the company.",
        "core": ">=0.1,<1",
        "depends": ["contacts"],
        "category": "sales",
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.toml"
    path.write_text(text)
    return path


def problems_of(**changes: object) -> list[str]:
    return validate(valid_data(**changes))


def test_valid_manifest_is_parsed_into_typed_fields(tmp_path):
    manifest = load_manifest(write(tmp_path, VALID))

    assert manifest.name == "deals"
    assert manifest.title == "Deals"
    assert manifest.summary == "Track the deals of the company."
    assert manifest.version == Version("1.2.3")
    assert manifest.depends == ("contacts", "companies")
    assert manifest.category == "sales"
    assert manifest.supports_core("0.1.0")
    assert manifest.supports_core("0.9.5")
    assert not manifest.supports_core("1.0.0")
    assert not manifest.supports_core("0.0.9")


def test_optional_keys_default_to_no_dependencies_and_category_other(tmp_path):
    text = "\n".join(line for line in VALID.splitlines() if not line.startswith(("depends", "category")))

    manifest = load_manifest(write(tmp_path, text))

    assert manifest.depends == ()
    assert manifest.category == "other"


def test_valid_manifest_has_no_problems():
    assert validate(valid_data()) == []


def test_missing_manifest_file_is_an_error_naming_the_path(tmp_path):
    path = tmp_path / "manifest.toml"

    with pytest.raises(ManifestError) as caught:
        load_manifest(path)

    assert str(path) in str(caught.value)
    assert "no manifest.toml" in str(caught.value)


def test_invalid_toml_is_an_error_naming_the_file(tmp_path):
    path = write(tmp_path, 'name = "deals\ntitle = "Deals"\n')

    with pytest.raises(ManifestError) as caught:
        load_manifest(path)

    assert str(path) in str(caught.value)
    assert "not valid TOML" in str(caught.value)


@pytest.mark.parametrize("key", ["name", "title", "version", "summary", "core"])
def test_missing_required_key_is_reported(key):
    assert problems_of(**{key: None}) == [f"missing key '{key}'"]


def test_empty_manifest_reports_every_missing_key():
    assert validate({}) == [
        "missing key 'name'",
        "missing key 'title'",
        "missing key 'version'",
        "missing key 'summary'",
        "missing key 'core'",
    ]


def test_unknown_key_is_reported():
    assert problems_of(author="Someone") == ["unknown key 'author'"]


@pytest.mark.parametrize("key", ["title", "summary"])
def test_blank_or_non_string_text_is_reported(key):
    assert problems_of(**{key: "  "}) == [f"'{key}' must be a non-empty string"]
    assert problems_of(**{key: 3}) == [f"'{key}' must be a non-empty string"]


@pytest.mark.parametrize(
    "name", ["Deals", "deals-pipeline", "1deals", "_deals", "deals.pro", "d" * 41]
)
def test_bad_plugin_name_is_reported(name):
    problems = problems_of(name=name)

    assert len(problems) == 1
    assert f"name '{name}' must be lower-case letters" in problems[0]


@pytest.mark.parametrize("name", ["d", "deals", "deals_2", "d" * 40])
def test_good_plugin_names_are_accepted(name):
    assert problems_of(name=name) == []


@pytest.mark.parametrize("version", ["one", "1.0-beta-x", "v1..2"])
def test_bad_version_is_reported(version):
    assert problems_of(version=version) == [
        f"version '{version}' is not a valid version number"
    ]


@pytest.mark.parametrize("core", ["0.1.0", "banana", ">=0.1 <1", "=>0.1"])
def test_bad_core_range_is_reported(core):
    assert problems_of(core=core) == [
        f"core '{core}' is not a version range such as '>=0.1,<1'"
    ]


@pytest.mark.parametrize("depends", ["contacts", ["contacts", 3], {"contacts": True}])
def test_depends_that_is_not_a_list_of_names_is_reported(depends):
    assert problems_of(depends=depends) == ["'depends' must be a list of plugin names"]


def test_depends_given_as_a_string_in_toml_is_refused(tmp_path):
    text = VALID.replace('depends = ["contacts", "companies"]', 'depends = "contacts"')

    with pytest.raises(ManifestError, match="'depends' must be a list of plugin names"):
        load_manifest(write(tmp_path, text))


def test_self_dependency_is_reported():
    assert problems_of(depends=["contacts", "deals"]) == ["a plugin cannot depend on itself"]


def test_unknown_category_is_reported_with_the_allowed_ones():
    problems = problems_of(category="finance")

    assert len(problems) == 1
    assert "category 'finance' is not one of" in problems[0]
    for category in CATEGORIES:
        assert category in problems[0]


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_every_known_category_is_accepted(category):
    assert problems_of(category=category) == []


def test_every_problem_of_one_manifest_is_reported_together(tmp_path):
    path = write(
        tmp_path,
        'name = "Bad-Name"\n'
        'version = "x.y"\n'
        'core = "banana"\n'
        'depends = "Bad-Name"\n'
        'category = "finance"\n'
        'author = "Someone"\n',
    )

    with pytest.raises(ManifestError) as caught:
        load_manifest(path)

    message = str(caught.value)
    expected = [
        "missing key 'title'",
        "missing key 'summary'",
        "unknown key 'author'",
        "name 'Bad-Name' must be lower-case letters",
        "version 'x.y' is not a valid version number",
        "core 'banana' is not a version range",
        "'depends' must be a list of plugin names",
        "category 'finance' is not one of",
    ]
    for fragment in expected:
        assert fragment in message
    assert message.startswith(f"{path}: ")
    assert message.count("; ") == len(expected) - 1
