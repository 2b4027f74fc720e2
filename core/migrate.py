"""Migrations: one Alembic version branch for the core and one per plugin.

The core's revisions live in ``core/migrations/versions`` (branch ``core``); a plugin's
live in its own ``migrations/`` folder, its first revision labelled with the plugin's
name. A revision that needs another plugin's tables names that plugin's revision in
``depends_on``. ``crm db upgrade`` runs ``upgrade heads`` over all of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy.exc import DBAPIError, OperationalError

from core.db import get_database, safe_url
from core.plugin_manager import PluginManager

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# Alembic is imported inside the functions that use it: most commands and every web
# process that starts without the schema check never need it (a tenth of a second).

CORE_BRANCH = "core"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(app: Flask) -> Config:
    """An Alembic configuration built from the application (no alembic.ini involved)."""
    from alembic.config import Config

    manager: PluginManager = app.extensions["crm.plugins"]
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    locations = [MIGRATIONS_DIR / "versions"]
    locations += [info.migrations_path for info in manager if info.migrations_path]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    config.attributes["crm_app"] = app
    return config


def branches(app: Flask) -> list[str]:
    """The version branches, core first, then plugins with migrations in dependency order."""
    manager: PluginManager = app.extensions["crm.plugins"]
    return [CORE_BRANCH] + [info.name for info in manager if info.migrations_path]


@dataclass(frozen=True)
class BranchStatus:
    branch: str
    current: str | None
    head: str | None

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


class SchemaInspectionError(Exception):
    """The database cannot be reached, or its migration state cannot be read."""


def _applied_heads(app: Flask) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    engine = get_database(app).engine
    try:
        with engine.connect() as connection:
            return tuple(MigrationContext.configure(connection).get_current_heads())
    except (OperationalError, DBAPIError) as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise SchemaInspectionError(
            f"cannot connect to the database {safe_url(engine.url)!r}: {reason}"
        ) from None


def status(app: Flask) -> tuple[list[BranchStatus], list[str]]:
    """Each branch's applied and head revision, and problems that stop an upgrade."""
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    script = ScriptDirectory.from_config(alembic_config(app))
    current_heads = _applied_heads(app)
    problems: list[str] = []
    known = [rev for rev in current_heads if _exists(script, rev)]
    for rev in sorted(set(current_heads) - set(known)):
        problems.append(
            f"the database is at revision {rev}, which no installed plugin provides "
            "(was a plugin removed without `crm db downgrade <plugin>@base`?)"
        )
    applied = {rev.revision for rev in script.iterate_revisions(tuple(known), "base")} if known else set()

    result = []
    for branch in branches(app):
        try:
            head_rev = script.get_revision(f"{branch}@head")
        except CommandError as error:
            if not any(branch in (rev.branch_labels or ()) for rev in script.walk_revisions()):
                problems.append(
                    f"plugin '{branch}' has a migrations folder but no revision labelled "
                    f"'{branch}'; create one with `crm db revision -p {branch} -m \"...\"`"
                )
            else:
                problems.append(f"migrations of '{branch}': {error}")
            continue
        head = head_rev.revision if head_rev else None
        current = None
        for rev in script.iterate_revisions(f"{branch}@head", "base"):
            if branch in rev.branch_labels and rev.revision in applied:
                current = rev.revision
                break
        result.append(BranchStatus(branch, current, head))
    return result, problems


def _exists(script: ScriptDirectory, revision: str) -> bool:
    from alembic.util.exc import CommandError

    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def schema_problems(app: Flask) -> list[str]:
    """Why the database cannot be served as it is (empty when it is at every head)."""
    try:
        statuses, problems = status(app)
    except SchemaInspectionError as error:
        return [str(error)]
    if problems:
        # With an unknown revision applied, which branches are "behind" cannot be told,
        # and `crm db upgrade` would fail too: report only the cause.
        return problems
    behind = [s for s in statuses if not s.up_to_date]
    if behind:
        names = ", ".join(s.branch for s in behind)
        problems.append(
            f"the database is behind its migrations for {names}; run `crm db upgrade`"
        )
    return problems


def upgrade(app: Flask, target: str = "heads", sql: bool = False) -> None:
    from alembic import command

    command.upgrade(alembic_config(app), target, sql=sql)


def downgrade(app: Flask, target: str, sql: bool = False) -> None:
    from alembic import command

    command.downgrade(alembic_config(app), target, sql=sql)


def compared(name: str | None, type_: str, parent_names: object = None) -> bool:
    """Alembic's ``include_name``: whether the comparison of the database with the models looks
    at the table or index ``name``. Text-search indexes (:mod:`core.textsearch`: an FTS5 table
    and its shadow tables on SQLite, a trigram index on PostgreSQL) are made by migrations that
    no model declares, so they are left out rather than reported as extra."""
    from core.textsearch import is_text_index_object

    return not (type_ in ("table", "index") and is_text_index_object(name))


def schema_differences(app: Flask) -> list[object]:
    """What the database lacks or has extra compared with the models of the loaded branches
    (Alembic's autogenerate diff, without the text-search indexes): empty when the migrations
    build exactly the models. Tables of models from plugins this app does not load are left
    out."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import MetaData

    from core.db import Base

    loaded = set(branches(app))
    owners = table_owners(app.extensions["crm.plugins"])
    expected = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        if owners.get(table.name) in loaded:
            table.to_metadata(expected)
    with get_database(app).engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": compared})
        return list(compare_metadata(context, expected))


def table_owners(manager: PluginManager) -> dict[str, str]:
    """Which branch owns each table the models declare: the core for models in ``core``,
    else the loaded plugin whose package defines the model. Tables of models from packages
    that are not loaded (imported elsewhere in the process) are left out."""
    from core.db import Base

    packages = [("core", CORE_BRANCH)] + [(info.module_name, info.name) for info in manager]
    packages.sort(key=lambda item: -len(item[0]))  # the most specific package wins
    owners = {}
    for mapper in Base.registry.mappers:
        module = mapper.class_.__module__
        owner = next(
            (name for package, name in packages if module == package or module.startswith(package + ".")),
            None,
        )
        if owner is not None:
            for table in mapper.tables:
                owners[table.name] = owner
    return owners


def new_revision(app: Flask, plugin: str, message: str, autogenerate: bool) -> str:
    """Write a new revision file in ``plugin``'s branch and return its path.

    The first revision of a plugin starts the branch (labelled with the plugin name)
    and depends on the current heads of the core and of the plugins it depends on, so
    its foreign keys to their tables always have something to point at.
    """
    from alembic import command
    from alembic.script import ScriptDirectory

    manager: PluginManager = app.extensions["crm.plugins"]
    if plugin == CORE_BRANCH:
        version_path = MIGRATIONS_DIR / "versions"
        dependencies: list[str] = []
    else:
        info = manager[plugin]
        version_path = info.path / "migrations"
        dependencies = [CORE_BRANCH, *info.manifest.depends]
    version_path.mkdir(exist_ok=True)  # before the config, which lists existing folders
    config = alembic_config(app)
    script = ScriptDirectory.from_config(config)
    starts_branch = not any(
        plugin in rev.branch_labels for rev in script.walk_revisions() if rev.branch_labels
    )
    depends_on = None
    if starts_branch:
        heads = []
        for branch in dependencies:
            if branch == CORE_BRANCH or manager[branch].migrations_path:
                revision = script.get_revision(f"{branch}@head")
                if revision is not None:
                    heads.append(revision.revision)
        depends_on = heads or None
    config.attributes["crm_autogenerate_tables"] = table_owners(manager)
    config.attributes["crm_autogenerate_plugin"] = plugin
    created = command.revision(
        config,
        message=message,
        autogenerate=autogenerate,
        head="base" if starts_branch else f"{plugin}@head",
        branch_label=plugin if starts_branch else None,
        version_path=str(version_path),
        depends_on=depends_on,
    )
    scripts = created if isinstance(created, list) else [created]
    return str(scripts[0].path) if scripts and scripts[0] is not None else ""
