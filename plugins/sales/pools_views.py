"""Customer pool pages: the pool (leads or accounts waiting for an owner: claim them, or assign
them as a manager), "Give back to the pool" on a lead's and an account's page, and the pools'
set-up (``/sales/pools/manage``).

Records in a pool have no owner, so the pool page lists them whatever the record visibility
(that is the point of a pool) but does not link to their pages, which a rep sees once the
record is theirs. The rules live in :mod:`plugins.sales.pools`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.access import has_permission, member_choices, require_permission, team_choices
from core.db import get_session
from core.forms import confirmation_required, handle_form
from core.tenancy import current_company
from core.ui import safe_next
from plugins.sales import ASSIGN_POOL, MANAGE_POOLS, READ_LEADS, WRITE_LEADS
from plugins.sales.models import Pool
from plugins.sales.pools import (
    ACCOUNT_TYPE,
    KINDS,
    LEAD_TYPE,
    PoolError,
    active_pools,
    all_pools,
    assign,
    claim,
    counters,
    pool_records,
    release,
)

blueprint = Blueprint("sales_pools", __name__, url_prefix="/sales/pools", template_folder="templates")

# What a person needs, besides seeing the pool, to take or give back records of each kind.
WRITE_PERMISSION = {"leads": WRITE_LEADS, "accounts": "customers.account.write"}
READ_PERMISSION = {"leads": READ_LEADS, "accounts": "customers.account.read"}
KIND_LABELS = {"leads": _l("Leads"), "accounts": _l("Accounts")}
MAX_SELECTED = 200  # one claim or assignment: a page of the list, a few times over


def _kinds() -> list[str]:
    return [kind for kind in KINDS if has_permission(current_user, READ_PERMISSION[kind])]


def _kind_arg(value: str | None) -> str:
    kinds = _kinds()
    if value in kinds:
        return value  # type: ignore[return-value]
    if value:
        abort(404)
    return kinds[0]


def _selected_ids() -> list[int]:
    """The ids of the checked rows, or the one row whose own button was pressed."""
    raw = [request.form["one"]] if request.form.get("one") else request.form.getlist("ids")
    try:
        ids = [int(value) for value in raw]
    except ValueError:
        abort(400, _("The records chosen are not valid."))
    if len(ids) > MAX_SELECTED:
        abort(400, _("Choose at most %(num)s records at a time.", num=MAX_SELECTED))
    return ids


def _page(kind: str, pool_id: int | None, error: str | None = None, status: int = 200) -> Any:
    session = get_session()
    pools = active_pools(session, kind)
    pool = next((item for item in pools if item.id == pool_id), pools[0] if pools else None)
    if pool_id is not None and pool is not None and pool.id != pool_id:
        abort(404)
    search = (request.values.get("q") or "").strip()[:200]
    after = request.args.get("after", type=int)
    rows, next_cursor = pool_records(session, pool, kind, search, after) if pool else ([], None)
    may_assign = has_permission(current_user, ASSIGN_POOL)
    return render_template(
        "sales/pools/index.html", kind=kind, kinds=_kinds(), kind_labels=KIND_LABELS, pools=pools, pool=pool,
        rows=rows, next_cursor=next_cursor, after=after, search=search, error=error,
        mine=counters(session, current_user.id, pool), may_claim=has_permission(current_user, WRITE_PERMISSION[kind]),
        may_assign=may_assign, members=member_choices() if may_assign else [],
        may_manage=has_permission(current_user, MANAGE_POOLS)), status


@blueprint.get("/")
@require_permission(READ_LEADS)
def index() -> Any:
    """The records waiting in a pool: tabs Leads / Accounts, a pool selector, search, claim."""
    return _page(_kind_arg(request.args.get("kind")), request.args.get("pool", type=int))


def _back(kind: str, pool_id: int | None) -> Response:
    return redirect(safe_next(request.form.get("next"), url_for("sales_pools.index", kind=kind, pool=pool_id)))


@blueprint.post("/claim")
@require_permission(READ_LEADS)
def claim_view() -> Any:
    """Claim the chosen records; a refusal shows the pool again with the reason (409)."""
    kind = _kind_arg(request.form.get("kind"))
    pool_id = request.form.get("pool", type=int)
    if not has_permission(current_user, WRITE_PERMISSION[kind]):
        abort(403)
    ids = _selected_ids()
    try:
        count = claim(get_session(), current_user, KINDS[kind], ids)
    except PoolError as error:
        return _page(kind, pool_id, str(error), 409)
    flash(ngettext("%(num)s record is yours now.", "%(num)s records are yours now.", count), "success")
    return _back(kind, pool_id)


@blueprint.post("/assign")
@require_permission(ASSIGN_POOL)
def assign_view() -> Any:
    """Assign the chosen records to a member (a manager's decision: no limits)."""
    kind = _kind_arg(request.form.get("kind"))
    pool_id = request.form.get("pool", type=int)
    to_user = request.form.get("to_user", type=int)
    if to_user is None:
        return _page(kind, pool_id, _("Choose the member to assign to."), 422)
    try:
        count = assign(get_session(), current_user, KINDS[kind], _selected_ids(), to_user)
    except PoolError as error:
        return _page(kind, pool_id, str(error), 422)
    flash(ngettext("%(num)s record assigned.", "%(num)s records assigned.", count), "success")
    return _back(kind, pool_id)


@blueprint.post("/release/<kind>/<int:record_id>")
@require_permission(READ_LEADS)
def release_view(kind: str, record_id: int) -> Any:
    """Give a record back to its pool (its owner, or a manager), after confirming."""
    if kind not in KINDS or not has_permission(current_user, WRITE_PERMISSION[kind]):
        abort(404 if kind not in KINDS else 403)
    detail = (url_for("sales_leads.detail", lead_id=record_id) if kind == "leads"
              else url_for("customers_accounts.detail", account_id=record_id))
    page = confirmation_required(_("Give this record back to the pool? Someone else may claim it, and you can "
                                   "claim it again only after the cool-down."),
                                 label=_("Give back"), cancel_url=detail)
    if page is not None:
        return page
    try:
        release(get_session(), current_user, KINDS[kind], [record_id],
                for_anyone=has_permission(current_user, ASSIGN_POOL))
    except PoolError as error:
        flash(str(error), "danger")
        return redirect(detail), 303
    flash(_("Given back to the pool."), "success")
    return redirect(url_for("sales_pools.index", kind=kind))


def release_actions(record_type: str, record: Any, user: Any) -> list[Any]:
    """"Give back to the pool" on the page of a lead or an account its user owns (a manager
    with the pool's assign permission: any owned one). No query: it runs on every page."""
    from core import RecordAction

    kind = {LEAD_TYPE: "leads", ACCOUNT_TYPE: "accounts"}.get(record_type)
    owner_id = getattr(record, "owner_id", None)
    if kind is None or owner_id is None or getattr(record, "id", None) is None:
        return []
    if kind == "leads" and getattr(record, "status", "") == "converted":
        return []
    if owner_id != getattr(user, "id", None) and not has_permission(user, ASSIGN_POOL):
        return []
    return [RecordAction(_("Give back to the pool"), url_for("sales_pools.release_view", kind=kind, record_id=record.id),
                         method="post", icon="box-arrow-up", permission=WRITE_PERMISSION[kind], order=80,
                         confirm=_("Give “%(name)s” back to the pool? Someone else may claim it.",
                                   name=getattr(record, "name", "")))]


# -- set-up --------------------------------------------------------------------------------------


def _days(label: Any, help_text: Any, minimum: int = 0, required: bool = True) -> fields.Integer:
    common = {"metadata": {"label": label, "help": help_text},
              "validate": validate.Range(min=minimum, max=3650, error=_l("Enter a number from {min} to {max}."))}
    if required:
        return fields.Integer(required=True, error_messages={"required": _l("Enter a number.")}, **common)
    return fields.Integer(load_default=None, allow_none=True, **common)


def pool_schema(team_choices: list[tuple[int, str]]) -> Schema:
    """The pool form; ``team_choices`` are the company's teams."""

    class PoolSchema(Schema):
        name = fields.String(required=True, validate=[validate.Length(min=1, error=_l("Enter a name.")),
                                                      validate.Length(max=120)],
                             error_messages={"required": _l("Enter a name.")}, metadata={"label": _l("Name")})
        team_id = fields.Integer(load_default=None, allow_none=True,
                                 validate=validate.OneOf([value for value, _label in team_choices],
                                                         error=_l("Choose one of the teams.")),
                                 metadata={"label": _l("Team"), "blank": _l("Any team"), "choices": team_choices,
                                           "help": _l("Records of this team only.")})
        region = fields.String(load_default="", validate=validate.Length(max=80), metadata={
            "label": _l("Region"), "help": _l("Records of this region only; empty: any region.")})
        for_leads = fields.Boolean(load_default=False, metadata={"label": _l("Holds leads")})
        for_accounts = fields.Boolean(load_default=False, metadata={"label": _l("Holds accounts")})
        follow_up_days = _days(_l("Days without follow-up before returning"),
                               _l("Empty: no such rule."), minimum=1, required=False)
        close_days = _days(_l("Days to convert or win before returning"),
                           _l("Counted from the claim; empty: no such rule."), minimum=1, required=False)
        warn_days = _days(_l("Warn the owner days before"), _l("0: no warning."))
        protect_days = _days(_l("Protection after claiming (days)"), _l("Not returned during these days."))
        cooldown_days = _days(_l("Cool-down before claiming again (days)"),
                              _l("After giving a record back, or losing it to the pool, a rep waits this long "
                                 "to claim it again."))
        daily_claim_limit = _days(_l("Claims per rep per day"), _l("Counted from midnight (UTC)."), minimum=1)
        holding_cap = _days(_l("Most leads and accounts a rep holds"),
                            _l("Open leads plus accounts owned; claiming stops there."), minimum=1)
        position = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10000), metadata={
            "label": _l("Order"), "help": _l("A record goes to the first matching pool, lowest order first.")})
        active = fields.Boolean(load_default=False, metadata={"label": _l("Active")})

        @validates_schema
        def _holds_something(self, data: dict[str, Any], **_kwargs: Any) -> None:
            if not data.get("for_leads") and not data.get("for_accounts"):
                raise ValidationError(_("A pool holds leads, accounts or both."), "for_leads")

    return PoolSchema()


_DEFAULTS = {"for_leads": True, "for_accounts": True, "warn_days": 2, "protect_days": 3, "cooldown_days": 7,
             "daily_claim_limit": 10, "holding_cap": 200, "active": True, "position": 0, "region": ""}
_FIELDS = tuple(_DEFAULTS) + ("name", "team_id", "follow_up_days", "close_days")


@blueprint.get("/manage")
@require_permission(MANAGE_POOLS)
def manage() -> Any:
    """The company's pools and their rules, in the order that decides membership."""
    session = get_session()
    return render_template("sales/pools/manage.html", pools=all_pools(session), teams=dict(team_choices()))


def _handle(pool: Pool | None) -> Any:
    session = get_session()
    teams = team_choices()

    def save(data: dict[str, Any], form: Any) -> Any:
        data["name"] = data["name"].strip()
        clash = session.scalar(select(Pool.id).where(Pool.name == data["name"]))
        if clash is not None and (pool is None or clash != pool.id):
            form.fail(_("Another pool has this name."), "name")
            return None
        target = pool or Pool(company_id=current_company().id)
        for name in _FIELDS:
            setattr(target, name, data.get(name))
        target.region = (data.get("region") or "").strip()
        session.add(target)
        session.flush()
        flash(_("Pool “%(name)s” saved.", name=target.name), "success")
        return redirect(url_for("sales_pools.manage"))

    initial = {name: getattr(pool, name) for name in _FIELDS} if pool else dict(_DEFAULTS)
    return handle_form(pool_schema(teams), "sales/pools/form.html", save, initial=initial, pool=pool)


@blueprint.route("/manage/new", methods=["GET", "POST"])
@require_permission(MANAGE_POOLS)
def new() -> Any:
    return _handle(None)


def _pool_or_404(pool_id: int) -> Pool:
    pool = get_session().scalar(select(Pool).where(Pool.id == pool_id))
    if pool is None:
        abort(404)
    return pool


@blueprint.route("/manage/<int:pool_id>", methods=["GET", "POST"])
@require_permission(MANAGE_POOLS)
def edit(pool_id: int) -> Any:
    return _handle(_pool_or_404(pool_id))


@blueprint.post("/manage/<int:pool_id>/delete")
@require_permission(MANAGE_POOLS)
def delete(pool_id: int) -> Any:
    """Delete a pool: its records stay as they are and fall to the next matching pool."""
    pool = _pool_or_404(pool_id)
    page = confirmation_required(_("Delete the pool “%(name)s”? Its records stay, in the next matching pool if any.",
                                   name=pool.name), label=_("Delete"))
    if page is not None:
        return page
    get_session().delete(pool)
    flash(_("Pool “%(name)s” deleted.", name=pool.name), "success")
    return redirect(url_for("sales_pools.manage"))
