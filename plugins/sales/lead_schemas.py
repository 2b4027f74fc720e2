"""Validation of leads, shared by the lead form and the API.

Owner choices (the company's members) are known only at request time: :func:`lead_schema`
gives the schema with them as a ``OneOf`` validator, so the form shows a select and the API
refuses anyone else. Status ``converted`` is the conversion's to set, never a person's: a
converted lead keeps it and cannot be moved back by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from core.access import member_choices
from core.forms import OptionalEmail
from plugins.sales.models import LEAD_STATUSES

STATUS_LABELS = {"new": _l("New"), "contacted": _l("Contacted"), "qualified": _l("Qualified"),
                 "unqualified": _l("Unqualified"), "converted": _l("Converted")}
SETTABLE_STATUSES = tuple(status for status in LEAD_STATUSES if status != "converted")


def _text(label: Any, max_length: int, **metadata: Any) -> fields.String:
    return fields.String(load_default="", validate=validate.Length(max=max_length),
                         metadata={"label": label, **metadata})


def _status_field(statuses: Sequence[str]) -> fields.String:
    return fields.String(load_default="new",
                         validate=validate.OneOf(statuses, labels=[STATUS_LABELS[s] for s in statuses],
                                                 error=str(_l("Choose one of the options."))),
                         metadata={"label": _l("Status"), "choices": [(s, STATUS_LABELS[s]) for s in statuses]})


class LeadSchema(Schema):
    """A lead. Use :func:`lead_schema` to get it with the owner choices of the request."""

    name = fields.String(required=True,
                         validate=[validate.Length(min=1, error=_l("Enter the person's name.")),
                                   validate.Length(max=200)],
                         error_messages={"required": _l("Enter the person's name.")},
                         metadata={"label": _l("Name")})
    title = _text(_l("Job title"), 120)
    organisation = _text(_l("Organisation"), 200)
    email = OptionalEmail(load_default="", validate=validate.Length(max=254), metadata={"label": _l("Email")})
    phone = _text(_l("Phone"), 40, widget="tel")
    region = _text(_l("Region"), 80)
    industry = _text(_l("Industry"), 80)
    source = _text(_l("Source"), 60, help=_l("Where the lead came from: a fair, the website, a referral…"))
    campaign = _text(_l("Campaign"), 200)
    status = _status_field(SETTABLE_STATUSES)
    owner_id = fields.Integer(load_default=None, allow_none=True,
                              metadata={"label": _l("Owner"), "blank": _l("Nobody")})
    notes = fields.String(load_default="", validate=validate.Length(max=10_000),
                          metadata={"label": _l("Notes"), "widget": "textarea", "attrs": {"rows": 4}})

    def __init__(self, *, owners: Sequence[tuple[int, str]] | None = None, current_status: str | None = None,
                 auto_assign: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if auto_assign:  # a new lead and assignment rules exist: no owner means "the rules choose"
            owner = self.fields["owner_id"]
            owner.metadata = {**owner.metadata, "blank": _l("Assign automatically")}
        if current_status == "converted":  # it stays converted: the only choice offered
            self.fields["status"] = _status_field(("converted",))
            self.load_fields["status"] = self.fields["status"]
            self.fields["status"]._bind_to_schema("status", self)
        if owners is not None:
            owner = self.fields["owner_id"]
            owners = list(owners)
            owner.validators = [*owner.validators, validate.OneOf(
                [value for value, _label in owners], labels=[label for _value, label in owners],
                error=str(_l("Choose an owner among the company's members.")))]
            owner.metadata = {**owner.metadata, "choices": owners}


def lead_schema(current_status: str | None = None, **kwargs: Any) -> LeadSchema:
    """The lead schema with this request's owner choices (``current_status``: the edited lead's)."""
    return LeadSchema(owners=member_choices(), current_status=current_status, **kwargs)
