"""Web-to-lead forms: the rules of setting one up, and of turning a visitor's post into a lead.

A :class:`plugins.sales.models.WebForm` belongs to a company and has a random key; a form on
the company's website posts to ``/forms/lead/<key>`` (:mod:`plugins.sales.webforms_views`).
The key is the only thing that names the company, so it is long (22 URL-safe characters from
:func:`secrets.token_urlsafe`, 128 bits) and can be regenerated when it leaks.

A post is read by :func:`read_submission` into what the lead form accepts, and checked by the
lead's own schema (:class:`plugins.sales.lead_imports.CapturedLeadSchema`: the same lengths
and email check as the lead form and the import); :func:`capture_lead` then adds it through
:func:`plugins.sales.leads.create_lead`, so ``sales.lead.created`` fires as for any lead.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import member_choices, team_choices
from core.audit import log_action
from core.forms import field_errors, localize_schema
from plugins.sales.lead_imports import UTM_FIELDS, CapturedLeadSchema
from plugins.sales.leads import create_lead
from plugins.sales.models import Lead, WebForm

KEY_BYTES = 16  # token_urlsafe(16): 22 characters
HONEYPOT_FIELD = "website_url"  # hidden from people; a bot that fills every field fills it
MAX_TEXT = 2000  # a single posted value longer than this is not a person at a form
# What the website's form may send, besides the honeypot; anything else is ignored.
SUBMITTED_FIELDS = ("name", "first_name", "last_name", "email", "phone", "organisation", "organization",
                    "company", "title", "message", "source", "campaign", *UTM_FIELDS)


def new_key() -> str:
    """A fresh random key for a form's public address."""
    return secrets.token_urlsafe(KEY_BYTES)


# -- setting a form up ------------------------------------------------------------------------------


def _web_address(value: str) -> None:
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ValidationError(_("Give a web address starting with https:// or http://."))


class WebFormSchema(Schema):
    """A web-to-lead form as an administrator sets it up."""

    name = fields.String(required=True, validate=[validate.Length(min=1, error=_l("Enter a name.")),
                                                  validate.Length(max=120)],
                         error_messages={"required": _l("Enter a name.")},
                         metadata={"label": _l("Name"), "help": _l("For you: the page or campaign the form is on.")})
    source = fields.String(load_default="website", validate=validate.Length(max=60),
                           metadata={"label": _l("Source"),
                                     "help": _l("The source of the leads it brings, unless the form sends one.")})
    owner_id = fields.Integer(load_default=None, allow_none=True,
                              metadata={"label": _l("Owner of new leads"), "blank": _l("Nobody yet (to assign)")})
    team_id = fields.Integer(load_default=None, allow_none=True,
                             metadata={"label": _l("Team"), "blank": _l("No team")})
    success_url = fields.String(load_default="", validate=[validate.Length(max=500), _web_address],
                                metadata={"label": _l("Page after sending"), "widget": "url",
                                          "help": _l("Where visitors go once they sent the form, e.g. your own "
                                                     "thank-you page. Blank: a short thank-you page of ours.")})
    active = fields.Boolean(load_default=True, metadata={
        "label": _l("Active"), "help": _l("An inactive form takes no more leads; its address answers “not found”.")})

    def __init__(self, *, owners: list[tuple[int, str]] | None = None,
                 teams: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, choices, message in (("owner_id", owners, _l("Choose an owner among the company's members.")),
                                       ("team_id", teams, _l("Choose one of the company's teams."))):
            if choices is None:
                continue
            field = self.fields[name]
            field.validators = [*field.validators, validate.OneOf([value for value, _label in choices],
                                                                  error=str(message))]
            field.metadata = {**field.metadata, "choices": choices}


def web_form_schema() -> WebFormSchema:
    """The form's schema with this request's owner and team choices."""
    return WebFormSchema(owners=member_choices(), teams=team_choices())


_SETTINGS = ("name", "source", "owner_id", "team_id", "success_url", "active")


def create_web_form(session: Session, company_id: int, data: Mapping[str, Any]) -> WebForm:
    web_form = WebForm(company_id=company_id, key=new_key())
    update_web_form(session, web_form, data)
    session.add(web_form)
    session.flush()
    return web_form


def update_web_form(session: Session, web_form: WebForm, data: Mapping[str, Any]) -> WebForm:
    for name in _SETTINGS:
        if name in data:
            value = data[name]
            setattr(web_form, name, value.strip() if isinstance(value, str) else value)
    session.flush()
    return web_form


def regenerate_key(session: Session, web_form: WebForm) -> str:
    """A new key: the old address stops working at once (the website's form must be updated)."""
    web_form.key = new_key()
    session.flush()
    log_action(session, web_form, "new_key", {})
    return web_form.key


def web_form_by_key(session: Session, key: str) -> WebForm | None:
    """The form with this key, whatever the company in context (the key is what names the
    company): only a visitor's post looks a form up this way."""
    if not key or len(key) > 64:
        return None
    return session.scalar(select(WebForm).where(WebForm.key == key).execution_options(crm_unscoped=True))


# -- a visitor's post ---------------------------------------------------------------------------------


def _first(value: Any) -> str:
    """One posted value as text: JSON may send numbers, lists or nothing."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if value is None or isinstance(value, (dict, bool)):
        return ""
    return str(value).strip()


def utm_from_referrer(referrer: str | None) -> dict[str, str]:
    """``utm_source``/``utm_medium``/``utm_campaign`` of the page that sent the form (its URL's
    query, as the Referer header gives it)."""
    if not referrer:
        return {}
    query = parse_qs(urlsplit(referrer).query)
    return {name: query[name][0].strip() for name in UTM_FIELDS if query.get(name) and query[name][0].strip()}


def read_submission(posted: Mapping[str, Any], web_form: WebForm,
                    referrer: str | None) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The lead a post describes, checked: ``(values, {})`` or ``(None, errors by the posted
    field's name)``. The name may come as first and last name; an email or a phone is needed;
    the message becomes the lead's notes; the source is the form's unless the post gives one;
    the UTM parameters come from the post, else from the referring page's address."""
    got = {name: _first(posted.get(name)) for name in SUBMITTED_FIELDS}
    problems: dict[str, str] = {}
    too_long = [name for name, value in got.items() if len(value) > MAX_TEXT and name != "message"]
    for name in too_long:
        problems[name] = _("At most %(num)s characters.", num=MAX_TEXT)
    name = got["name"] or " ".join(part for part in (got["first_name"], got["last_name"]) if part)
    data: dict[str, Any] = {
        "name": name, "email": got["email"], "phone": got["phone"], "title": got["title"],
        "organisation": got["organisation"] or got["organization"] or got["company"],
        "notes": got["message"], "source": got["source"] or web_form.source, "campaign": got["campaign"],
    }
    referred = utm_from_referrer(referrer)
    for utm in UTM_FIELDS:
        data[utm] = got[utm] or referred.get(utm, "")
    if not data["email"] and not data["phone"]:
        problems["email"] = _("Give an email address or a phone number.")
    schema = localize_schema(CapturedLeadSchema())
    try:
        values = schema.load(data)
    except ValidationError as error:
        values = None
        for field_name, message in field_errors(error, schema).items():
            posted_name = {"notes": "message"}.get(field_name, field_name)
            problems.setdefault("" if posted_name.startswith("_") else posted_name, message)
    if problems:
        return None, problems
    return values, {}


def capture_lead(session: Session, web_form: WebForm, values: Mapping[str, Any]) -> Lead:
    """Add the lead a web form brought, for the form's company, status new, in the form's
    team: owned by the form's default owner if it has one, else by whom the assignment rules
    choose (or nobody: the customer pool)."""
    data = {name: value for name, value in values.items() if name not in ("status", "owner_id", "team_id")}
    data.update({name: values.get(name, "") for name in UTM_FIELDS}, status="new", team_id=web_form.team_id)
    return create_lead(session, web_form.company_id, data, web_form.owner_id, by_rules=web_form.owner_id is None)
