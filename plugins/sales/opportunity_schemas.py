"""Validation of opportunities, shared by the form and the API.

Choices known only at request time (the accounts the user may see, the company's pipelines,
stages, active lost reasons and members) are given to the constructor and become ``OneOf``
validators, so the form shows selects and the API refuses anything else. The one rule across
fields lives here too: a deal put in a lost stage needs a lost reason (form and API alike).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from marshmallow import (
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from plugins.sales.opportunities import DEFAULT_CURRENCY

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CHOICE_ERRORS = {
    "account_id": _l("Choose one of the accounts you can see."),
    "pipeline_id": _l("Choose one of the pipelines."),
    "stage_id": _l("Choose one of the stages."),
    "lost_reason_id": _l("Choose one of the lost reasons."),
    "owner_id": _l("Choose an owner among the company's members."),
}
LOST_REASON_NEEDED = _l("Say why the deal was lost.")
MAX_CONTACTS = 50
# ``contact_names(account_id, ids=..., limit=...)`` of plugins.customers.services: the visible
# contacts (of the account, when given) among ``ids``, by id.
ContactNames = Callable[..., dict[int, str]]


def _optional_id(label: Any, blank: Any = None) -> fields.Integer:
    metadata = {"label": label, **({"blank": blank} if blank is not None else {})}
    return fields.Integer(load_default=None, allow_none=True, metadata=metadata)


class OpportunitySchema(Schema):
    """An opportunity. ``OpportunitySchema(choices={...}, lost_stage_ids={...})``: ``choices``
    per field as ``(value, label)`` pairs; ``lost_stage_ids`` the stages that need a reason."""

    name = fields.String(required=True,
                         validate=[validate.Length(min=1, error=_l("Enter a name.")), validate.Length(max=200)],
                         error_messages={"required": _l("Enter a name.")}, metadata={"label": _l("Name")})
    account_id = _optional_id(lazy_pgettext("customer", "Account"), _l("No account"))
    pipeline_id = _optional_id(_l("Pipeline"))
    stage_id = _optional_id(_l("Stage"), _l("First open stage"))
    amount = fields.Decimal(load_default=Decimal(0), places=2, as_string=True,
                            validate=validate.Range(min=0, max=Decimal(9999999999999999),
                                                    error=_l("Enter an amount of 0 or more.")),
                            error_messages={"invalid": _l("Enter an amount such as 12500.00.")},
                            metadata={"label": _l("Amount")})
    currency = fields.String(load_default=DEFAULT_CURRENCY,
                             metadata={"label": _l("Currency"), "help": _l("A three-letter code such as USD, EUR, CNY.")})
    expected_close_date = fields.Date(load_default=None, allow_none=True,
                                      error_messages={"invalid": _l("Enter a date such as 2026-05-31.")},
                                      metadata={"label": _l("Expected close date")})
    probability = fields.Integer(load_default=None, allow_none=True,
                                 validate=validate.Range(min=0, max=100, error=_l("Enter a percentage from 0 to 100.")),
                                 metadata={"label": _l("Probability (%)"),
                                           "help": _l("Leave empty to follow the stage's probability.")})
    source = fields.String(load_default="", validate=validate.Length(max=60), metadata={"label": _l("Source")})
    lost_reason_id = _optional_id(_l("Lost reason"), _l("None"))
    note = fields.String(load_default="", validate=validate.Length(max=10_000),
                         metadata={"label": _l("Note"), "widget": "textarea", "attrs": {"rows": 3}})
    owner_id = _optional_id(_l("Owner"), _l("Nobody"))
    contact_ids = fields.List(fields.Integer(), load_default=list,
                              validate=validate.Length(max=MAX_CONTACTS,
                                                       error=_l("Link at most {max} contacts to a deal.")),
                              metadata={"label": _l("Contacts"),
                                        "help": _l("People of the account involved in the deal.")})

    def __init__(self, *, choices: dict[str, Sequence[tuple[Any, Any]]] | None = None,
                 lost_stage_ids: Collection[int] = (), contact_names: ContactNames | None = None,
                 account_id: int | None = None, account_names: ContactNames | None = None,
                 **kwargs: Any) -> None:
        """``contact_names`` checks ``contact_ids`` against the account (the one sent, else
        ``account_id``, the deal's own: a PATCH may send contacts alone). ``account_names``
        (``plugins.customers.services.account_names``) checks ``account_id`` when there are
        too many accounts for ``choices`` (the form's picker)."""
        super().__init__(**kwargs)
        self.lost_stage_ids = set(lost_stage_ids)
        self.contact_names, self.account_id = contact_names, account_id
        self.account_picker = account_names is not None
        if account_names is not None:
            def visible_account(value: int | None) -> None:
                if value is not None and not account_names([value]):
                    raise ValidationError(str(_CHOICE_ERRORS["account_id"]))
            field = self.fields["account_id"]
            field.validators = [*field.validators, visible_account]
        for name, pairs in (choices or {}).items():
            pairs = list(pairs)
            schema_field = self.fields[name]
            schema_field.validators = [
                *schema_field.validators,
                validate.OneOf([value for value, _label in pairs], labels=[label for _value, label in pairs],
                               error=str(_CHOICE_ERRORS.get(name, _l("Choose one of the options.")))),
            ]
            schema_field.metadata = {**schema_field.metadata, "choices": pairs}

    @pre_load
    def _upper_currency(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("currency"), str):
            data = {**data, "currency": data["currency"].strip().upper() or DEFAULT_CURRENCY}
        return data

    @validates("currency")
    def _currency(self, value: str, **_kwargs: Any) -> None:
        if not _CURRENCY.match(value or ""):
            raise ValidationError(_l("Enter a three-letter currency code such as USD."))

    @validates_schema
    def _lost_needs_reason(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("stage_id") in self.lost_stage_ids and not data.get("lost_reason_id"):
            raise ValidationError(str(LOST_REASON_NEEDED), "lost_reason_id")

    @validates_schema
    def _contacts_of_the_account(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """A deal's contacts are contacts of its account that the user may see."""
        ids = list(dict.fromkeys(data.get("contact_ids") or ()))
        if not ids or self.contact_names is None:
            return
        data["contact_ids"] = ids
        account_id = data["account_id"] if "account_id" in data else self.account_id
        if account_id is None:
            raise ValidationError(_("Choose the account first: a deal's contacts are its account's."), "contact_ids")
        found = self.contact_names(account_id, ids=ids, limit=len(ids))
        wrong = [contact_id for contact_id in ids if contact_id not in found]
        if wrong:
            known = self.contact_names(None, ids=wrong, limit=len(wrong))
            names = ", ".join(known.get(contact_id, f"#{contact_id}") for contact_id in wrong)
            raise ValidationError(_("Not a contact of the chosen account: %(names)s.", names=names), "contact_ids")


class StageMoveSchema(Schema):
    """A move to a stage (the detail page's control, the API's ``/stage``): the same rule."""

    stage_id = fields.Integer(required=True, error_messages={"required": _l("Choose a stage.")},
                              metadata={"label": _l("Move to stage")})
    lost_reason_id = _optional_id(_l("Lost reason"), _l("None"))

    def __init__(self, *, lost_stage_ids: Collection[int] = (), reason_ids: Collection[int] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lost_stage_ids = set(lost_stage_ids)
        self.reason_ids = None if reason_ids is None else set(reason_ids)

    @validates_schema
    def _lost_needs_reason(self, data: dict[str, Any], **_kwargs: Any) -> None:
        reason = data.get("lost_reason_id")
        if reason is not None and self.reason_ids is not None and reason not in self.reason_ids:
            raise ValidationError(str(_CHOICE_ERRORS["lost_reason_id"]), "lost_reason_id")
        if data.get("stage_id") in self.lost_stage_ids and not reason:
            raise ValidationError(str(LOST_REASON_NEEDED), "lost_reason_id")
