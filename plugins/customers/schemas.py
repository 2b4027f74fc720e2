"""Validation of accounts and contacts, shared by the pages' forms and any API.

The metadata labels the form's fields (core.forms.Form and templates/macros/form.html).
Choices known only at request time (the company's members as owners, the accounts a contact
may belong to) are given to the schema's constructor: they become a ``OneOf`` validator, so
the form shows a select and refuses anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from marshmallow import Schema, ValidationError, fields, validate, validates

from core.forms import OptionalEmail
from plugins.customers.models import ACCOUNT_KINDS, ACCOUNT_SIZES, ACCOUNT_STATUSES
from plugins.customers.normalize import normalize_phone, split_values

KIND_LABELS = {"organisation": _l("Organisation"), "individual": _l("Individual")}
STATUS_LABELS = {"prospect": _l("Prospect"), "active": lazy_pgettext("lifecycle status", "Active"),
                 "inactive": _l("Inactive"),
                 "churned": _l("Churned")}
# Company sizes are numbers of employees: the same in every language.
SIZE_LABELS = {size: size for size in ACCOUNT_SIZES}

# "example.com", "www.example.com/path", "https://example.com": a host with a dot, no spaces.
_WEBSITE = re.compile(r"^(https?://)?[^\s/:@]+\.[^\s/:@]{2,}(:\d+)?(/\S*)?$", re.IGNORECASE)
_TAGS_MAX = 20


def _name_field(label: Any) -> fields.String:
    return fields.String(
        required=True,
        validate=[validate.Length(min=1, error=_l("Enter a name.")), validate.Length(max=200)],
        error_messages={"required": _l("Enter a name.")},
        metadata={"label": label},
    )


def _text(label: Any, max_length: int, **metadata: Any) -> fields.String:
    return fields.String(load_default="", validate=validate.Length(max=max_length),
                         metadata={"label": label, **metadata})


_OTHER_VALUES_MAX = 10


class _Values(fields.Field):
    """Several phones or emails: a list (the API) or a text with one per line, or separated by
    commas or semicolons (a form, a spreadsheet cell). Loaded as the text the record stores
    (one per line), shown by the API as a list. Each value is checked on its own, and the
    message names the one that is wrong."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        super().__init__(load_default="", **kwargs)
        self.kind = kind

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> list[str]:
        return split_values(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, (list, tuple)):
            if not all(isinstance(item, str) for item in value):
                raise ValidationError(_l("Give a list of texts."))
            values = split_values("\n".join(value))
        elif isinstance(value, str):
            values = split_values(value)
        else:
            raise ValidationError(_l("Give a list of texts."))
        if len(values) > _OTHER_VALUES_MAX:
            raise ValidationError(_l("At most %(num)s.", num=_OTHER_VALUES_MAX))
        for item in values:
            self._check(item)
        return "\n".join(values)

    def _check(self, item: str) -> None:
        if self.kind == "email":
            try:
                validate.Email()(item)
                validate.Length(max=254)(item)
            except ValidationError:
                raise ValidationError(_l("“%(value)s” is not an email address.", value=item[:60])) from None
        elif len(item) > 40 or len(normalize_phone(item).lstrip("+")) < 3:
            raise ValidationError(_l("“%(value)s” is not a phone number.", value=item[:60]))


def _other_phones_field() -> _Values:
    return _Values("phone", metadata={"label": _l("Other phones"), "widget": "textarea", "attrs": {"rows": 2},
                                      "help": _l("One per line.")})


def _other_emails_field() -> _Values:
    return _Values("email", metadata={"label": _l("Other emails"), "widget": "textarea", "attrs": {"rows": 2},
                                      "help": _l("One per line.")})


def _email_field() -> fields.Email:
    return OptionalEmail(load_default="", validate=validate.Length(max=254), metadata={"label": _l("Email")})


def _tags_field() -> fields.String:
    return fields.String(load_default="", validate=validate.Length(max=600),
                         metadata={"label": _l("Tags"), "help": _l("Separated by commas, e.g. vip, partner.")})


def _owner_field() -> fields.Integer:
    return fields.Integer(load_default=None, allow_none=True,
                          metadata={"label": _l("Owner"), "blank": _l("Nobody")})


def split_tags(text: str) -> list[str]:
    """The distinct tag names of a comma-separated text, in order, without blanks."""
    names: list[str] = []
    for part in (text or "").split(","):
        name = " ".join(part.split())[:60]
        if name and name.lower() not in {n.lower() for n in names}:
            names.append(name)
    return names


def _check_tags(value: str) -> None:
    if len(split_tags(value)) > _TAGS_MAX:
        raise ValidationError(_l("At most %(num)s tags.", num=_TAGS_MAX))


class _ChoicesAtRequestTime(Schema):
    """A schema whose select fields get their choices when it is made."""

    # The message when a value is not among the choices, per field.
    CHOICE_ERRORS: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, *, choices: dict[str, Sequence[tuple[Any, Any]]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, pairs in (choices or {}).items():
            pairs = list(pairs)
            schema_field = self.fields[name]
            schema_field.validators = [
                *schema_field.validators,
                validate.OneOf([value for value, _label in pairs], labels=[label for _value, label in pairs],
                               error=str(self.CHOICE_ERRORS.get(name, _l("Choose one of the options.")))),
            ]
            schema_field.metadata = {**schema_field.metadata, "choices": pairs}


class AccountSchema(_ChoicesAtRequestTime):
    """An account. ``AccountSchema(choices={"owner_id": [(user_id, name), ...]})`` limits the
    owner to the company's members."""

    CHOICE_ERRORS: ClassVar[Mapping[str, Any]] = {"owner_id": _l("Choose an owner among the company's members.")}

    name = _name_field(_l("Name"))
    kind = fields.String(load_default="organisation",
                         validate=validate.OneOf(ACCOUNT_KINDS, labels=[KIND_LABELS[k] for k in ACCOUNT_KINDS]),
                         metadata={"label": _l("Kind")})
    status = fields.String(load_default="prospect",
                           validate=validate.OneOf(ACCOUNT_STATUSES,
                                                   labels=[STATUS_LABELS[s] for s in ACCOUNT_STATUSES]),
                           metadata={"label": _l("Status")})
    industry = _text(_l("Industry"), 80)
    size = fields.String(load_default="",
                         validate=validate.OneOf(("",) + ACCOUNT_SIZES, labels=[""] + list(ACCOUNT_SIZES)),
                         metadata={"label": _l("Size (employees)"),
                                   "choices": [(s, s) for s in ACCOUNT_SIZES], "widget": "select"})
    region = _text(_l("Region"), 80)
    tier = _text(_l("Tier"), 20)
    source = _text(_l("Source"), 60, help=_l("Where the account came from: a fair, a referral, the website…"))
    website = fields.String(load_default="", validate=validate.Length(max=300), metadata={"label": _l("Website")})
    phone = _text(_l("Phone"), 40, widget="tel")
    other_phones = _other_phones_field()
    email = _email_field()
    other_emails = _other_emails_field()
    address = _text(_l("Address"), 400, widget="textarea", attrs={"rows": 2})
    owner_id = _owner_field()
    tags = _tags_field()
    notes = fields.String(load_default="", validate=validate.Length(max=10_000),
                          metadata={"label": _l("Notes"), "widget": "textarea", "attrs": {"rows": 4}})

    @validates("website")
    def _website(self, value: str, **_kwargs: Any) -> None:
        if value.strip() and not _WEBSITE.match(value.strip()):
            raise ValidationError(_l("Enter a web address such as example.com."))

    @validates("tags")
    def _tags(self, value: str, **_kwargs: Any) -> None:
        _check_tags(value)


class ContactSchema(_ChoicesAtRequestTime):
    """A contact. ``ContactSchema(choices={"owner_id": [...], "account_id": [...]})`` limits
    the owner to the company's members and the account to those the user may see."""

    CHOICE_ERRORS: ClassVar[Mapping[str, Any]] = {"owner_id": _l("Choose an owner among the company's members."),
                                                  "account_id": _l("Choose one of the accounts you can see.")}

    name = _name_field(_l("Name"))
    title = _text(_l("Job title"), 120)
    department = _text(_l("Department"), 120)
    account_id = fields.Integer(load_default=None, allow_none=True,
                                metadata={"label": lazy_pgettext("customer", "Account"), "blank": _l("No account")})
    phone = _text(_l("Phone"), 40, widget="tel")
    other_phones = _other_phones_field()
    email = _email_field()
    other_emails = _other_emails_field()
    im_handle = _text(_l("Messaging handle"), 120)
    birthday = fields.Date(load_default=None, allow_none=True,
                           error_messages={"invalid": _l("Enter a date such as 1990-05-31.")},
                           metadata={"label": _l("Birthday")})
    address = _text(_l("Address"), 400, widget="textarea", attrs={"rows": 2})
    consent_email = fields.Boolean(load_default=False, metadata={"label": _l("May be contacted by email")})
    consent_phone = fields.Boolean(load_default=False, metadata={"label": _l("May be contacted by phone")})
    consent_sms = fields.Boolean(load_default=False, metadata={"label": _l("May be contacted by text message")})
    consent_source = _text(_l("How consent was given"), 120,
                           help=_l("e.g. web form, phone call; recorded with the date when a consent changes."))
    owner_id = _owner_field()
    tags = _tags_field()

    @validates("tags")
    def _tags(self, value: str, **_kwargs: Any) -> None:
        _check_tags(value)
