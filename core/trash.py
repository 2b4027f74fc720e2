"""Soft delete, the trash and restore, for every model with :class:`~core.db.SoftDeleteMixin`.

Deleting moves a row to the trash (it leaves every query); restoring brings it back; a
company administrator may delete it for good. Which trash a user may open follows the
model's ``__permission_prefix__`` (e.g. ``"notes.note"``): restoring needs
``<prefix>.delete``; without a prefix, only administrators use that trash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from core.access import abort_unless_admin, has_permission, is_admin, visible
from core.auth import signed_in
from core.audit import record_type
from core.db import Base, SoftDeleteMixin, get_session, utcnow
from core.migrate import table_owners
from core.tenancy import enabled_for_request
from core.ui import safe_next

PAGE_SIZE = 50


def soft_delete(record: SoftDeleteMixin, user_id: int | None = None) -> None:
    record.deleted_at = utcnow()
    record.deleted_by_id = user_id


def restore(record: SoftDeleteMixin) -> None:
    record.deleted_at = None
    record.deleted_by_id = None


def record_title(record: object) -> str:
    """What to call a record in lists: its name, title or subject, else its type and id."""
    for attribute in ("name", "title", "subject"):
        value = getattr(record, attribute, None)
        if value:
            return str(value)
    return f"{record_type(record)} #{getattr(record, 'id', '?')}"


@dataclass(frozen=True)
class TrashKind:
    record_type: str
    model: type
    plugin: str

    @property
    def label(self) -> str:
        return getattr(self.model, "__record_label__", self.record_type)


def trash_kinds() -> list[TrashKind]:
    """Soft-deletable models of the core and of the plugins enabled for the company."""
    owners = table_owners(current_app.extensions["crm.plugins"])
    enabled = enabled_for_request()
    kinds = []
    for mapper in Base.registry.mappers:
        model = mapper.class_
        if not issubclass(model, SoftDeleteMixin):
            continue
        owner = owners.get(model.__tablename__)
        if owner == "core" or owner in enabled:
            kinds.append(TrashKind(record_type(model), model, owner))
    return sorted(kinds, key=lambda kind: kind.label.lower())


def may_restore(kind: TrashKind) -> bool:
    prefix = getattr(kind.model, "__permission_prefix__", None)
    if prefix and has_permission(current_user, f"{prefix}.delete"):
        return True
    return is_admin(current_user)


def _visible_deleted(model: type) -> Any:
    """Deleted rows of ``model`` that the user may see: record visibility applies in the
    trash as everywhere (``__permission_prefix__`` names the record type in roles)."""
    statement = select(model).where(model.deleted_at.is_not(None))  # type: ignore[attr-defined]
    if hasattr(model, "owner_id"):
        record_type_in_roles = getattr(model, "__permission_prefix__", None) or record_type(model)
        statement = visible(statement, model, record_type_in_roles)
    return statement


def deleted_rows(session: Session, model: type, page: int) -> tuple[list[object], int]:
    statement = _visible_deleted(model)
    total = session.scalar(
        select(func.count()).select_from(statement.subquery()), execution_options={"include_deleted": True}
    ) or 0
    rows = session.scalars(
        statement.order_by(model.deleted_at.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE),  # type: ignore[attr-defined]
        execution_options={"include_deleted": True},
    ).all()
    return list(rows), total


blueprint = Blueprint("trash", __name__, url_prefix="/trash")


def _kind(name: str) -> TrashKind:
    for kind in trash_kinds():
        if kind.record_type == name and may_restore(kind):
            return kind
    abort(404)


def _find(kind: TrashKind, record_id: int) -> object:
    record = get_session().scalar(
        _visible_deleted(kind.model).where(kind.model.id == record_id),  # type: ignore[attr-defined]
        execution_options={"include_deleted": True},
    )
    if record is None:
        abort(404)
    return record


@blueprint.get("/")
@signed_in  # each view checks the record type's own permission
def index() -> str:
    session = get_session()
    counts = []
    for kind in trash_kinds():
        if may_restore(kind):
            _, total = deleted_rows(session, kind.model, 1)
            counts.append((kind, total))
    return render_template("trash/index.html", kinds=counts)


@blueprint.get("/<name>/")
@signed_in  # each view checks the record type's own permission
def kind_page(name: str) -> str:
    kind = _kind(name)
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = deleted_rows(get_session(), kind.model, page)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template(
        "trash/kind.html", kind=kind, rows=rows, total=total, page=page, pages=pages,
        title_of=record_title, can_purge=is_admin(current_user),
    )


@blueprint.post("/<name>/<int:record_id>/restore")
@signed_in  # each view checks the record type's own permission
def restore_view(name: str, record_id: int) -> Response:
    kind = _kind(name)
    record = _find(kind, record_id)
    restore(record)  # type: ignore[arg-type]
    flash(_("Restored “%(title)s”.", title=record_title(record)), "success")
    return redirect(safe_next(request.form.get("next"), url_for("trash.kind_page", name=name)))


@blueprint.post("/<name>/<int:record_id>/purge")
@signed_in  # each view checks the record type's own permission
def purge_view(name: str, record_id: int) -> Response:
    kind = _kind(name)
    abort_unless_admin(_("Only an administrator of this company can delete records for good."))
    if request.form.get("confirm") != "yes":
        flash(_("Tick the confirmation box to delete for good."), "error")
        return redirect(url_for("trash.kind_page", name=name))
    record = _find(kind, record_id)
    title = record_title(record)
    get_session().delete(record)
    flash(_("Deleted “%(title)s” for good.", title=title), "success")
    return redirect(url_for("trash.kind_page", name=name))
