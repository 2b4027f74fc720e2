"""A third-party plugin, pip-installed the way a user would, is found, migrated, enabled
and serving its page; and its own test suite passes with core.testing's fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent.parent / "examples" / "atrium-notes"
CRM = str(Path(sys.executable).parent / "crm")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install`` of the example folder into a directory of its own (not this env)."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, env={**os.environ, "TMPDIR": str(build)},
    )
    return target


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(installed_site: Path, tmp_path: Path, fresh_database_url: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    environment.update(
        PYTHONPATH=str(installed_site),
        CRM_INSTANCE_PATH=str(tmp_path / "instance"),
        CRM_DATABASE_URL=fresh_database_url,
    )
    return environment


def test_installed_plugin_is_found_migrated_enabled_and_serving(env: dict[str, str]) -> None:
    listed = run([CRM, "plugins", "list"], env)
    assert listed.returncode == 1 and "crm db upgrade" in listed.stderr  # not migrated yet

    upgraded = run([CRM, "db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    status = run([CRM, "db", "status", "--check"], env)
    assert status.returncode == 0 and "notes" in status.stdout

    demo = run([CRM, "demo"], env)
    assert demo.returncode == 0, demo.stderr
    assert "demo data: Notes" in demo.stdout

    listed = run([CRM, "plugins", "list"], env)
    assert "notes" in listed.stdout and "demo" in listed.stdout

    page = run([sys.executable, "-c", SERVE_NOTES_PAGE], env)
    assert page.returncode == 0, page.stderr
    assert page.stdout.split() == ["200", "True", "True"]


SERVE_NOTES_PAGE = """
from core import create_app
from core.auth import find_user_by_email

app = create_app()
client = app.test_client()
with app.app_context():
    session_id = find_user_by_email("admin@example.com").get_id()
with client.session_transaction() as session:
    session["_user_id"] = session_id
page = client.get("/notes/")
print(page.status_code, b"Welcome to Atrium" in page.data, b'href="/notes/"' in client.get("/").data)
"""


def test_the_example_plugins_own_tests_pass(installed_site: Path, tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    environment["PYTHONPATH"] = str(installed_site)
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist"], environment, cwd=EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "23 passed" in result.stdout
