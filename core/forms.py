"""HTML forms handled by plugins: fields from a marshmallow schema, errors, confirmation.

* :func:`form_data`: the submitted form as a dict for a schema's ``load``;
* :class:`Form`: the fields of a schema (labels, widgets, choices, values, one error each)
  for ``templates/macros/form.html``, with :meth:`Form.validate`; :func:`render_form`
  answers 422 when the form has errors, so the usual GET/POST view stays short;
* :func:`field_errors`: a :class:`marshmallow.ValidationError` as one message per field,
  form-level problems (``_schema``, unknown fields) under ``_form``;
* :func:`confirmation_required`: the server side of ``ui.confirm_form``: a destructive
  POST without ``_confirmed=yes`` gets a confirmation page instead (works without JavaScript).

The guide with complete examples is docs/plugins/ui.md.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from flask import current_app, render_template, request
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, missing, validate
from werkzeug.wrappers import Response

from core.i18n import N_, translate

# The hidden field ``ui.confirm_form`` and the confirmation page send with a confirmed POST.
CONFIRM_FIELD = "_confirmed"
CONFIRM_VALUE = "yes"
FORM_ERROR_KEY = "_form"


def form_data() -> dict[str, str]:
    """The submitted form as a dict for a marshmallow schema's ``load``.

    Leaves out the CSRF token field that every form carries, and the confirmation flag of
    confirmed forms, so schemas can keep refusing unknown fields (a misspelled field name
    is a bug worth hearing about).
    """
    token_field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    return {key: value for key, value in request.form.items() if key not in (token_field, CONFIRM_FIELD)}


# -- marshmallow's own messages, translated -------------------------------------------------------

# marshmallow's default messages, marked for the catalog. They are looked up when a Form
# is built (in the request's language) and written into that Form's copy of the schema, so
# marshmallow formats the translated text ({min}, {choices}, ...) itself.
MARSHMALLOW_MESSAGES = frozenset({
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid type."),
    N_("Invalid input type."),
    N_("Unknown field."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Not a valid integer."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_('"{input}" cannot be formatted as a date.'),
    N_("Not a valid URL."),
    N_("Not a valid email address."),
    N_("Not a valid UUID."),
    N_("Not a valid list."),
    N_("Must be one of: {choices}."),
    N_("Shorter than minimum length {min}."),
    N_("Longer than maximum length {max}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be greater than {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be less than {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("Must be greater than {min} and less than {max}."),
    N_("Must be equal to {other}."),
    N_("String does not match expected pattern."),
    N_("Invalid input."),
})
# marshmallow's generic "Not a valid {obj_type}." would leave the type's name in English.
_TEMPORAL_MESSAGES = {
    fields.DateTime: N_("Not a valid date and time."),
    fields.Time: N_("Not a valid time."),
}
_VALIDATOR_MESSAGE_ATTRIBUTES = ("error", "message_min", "message_max", "message_all", "message_equal")


def _translated(message: Any) -> Any:
    return _(message) if isinstance(message, str) and message in MARSHMALLOW_MESSAGES else message


def localize_schema(schema: Schema) -> Schema:
    """Translate marshmallow's default messages in ``schema`` (changed in place), for this request.

    Messages a plugin wrote itself are left alone: give them with ``lazy_gettext``.
    """
    schema.error_messages = {key: _translated(value) for key, value in schema.error_messages.items()}
    for schema_field in schema.fields.values():
        messages = {key: _translated(value) for key, value in schema_field.error_messages.items()}
        for field_class, message in _TEMPORAL_MESSAGES.items():
            if type(schema_field) is field_class and messages.get("invalid") == "Not a valid {obj_type}.":
                messages["invalid"] = _(message)
        schema_field.error_messages = messages
        # marshmallow copies fields shallowly per schema instance: the validators are the
        # class's own objects, so they are copied before their messages are changed.
        schema_field.validators = [copy.copy(validator) for validator in schema_field.validators]
        for validator in schema_field.validators:
            for attribute in _VALIDATOR_MESSAGE_ATTRIBUTES:
                value = getattr(validator, attribute, None)
                if isinstance(value, str) and value in MARSHMALLOW_MESSAGES:
                    setattr(validator, attribute, _(value))
    return schema


# -- errors -------------------------------------------------------------------------------------


def _first_message(value: Any) -> str:
    """The first message of a marshmallow error value (a list, a nested dict, or text)."""
    while True:
        if isinstance(value, Mapping) and value:
            value = next(iter(value.values()))
        elif isinstance(value, (list, tuple)) and value:
            value = value[0]
        else:
            return translate(value) if value else ""


def field_names(schema: Schema | type[Schema] | Iterable[str]) -> frozenset[str]:
    """The names a form sends for ``schema``'s loadable fields (``data_key`` when set)."""
    if isinstance(schema, type) and issubclass(schema, Schema):
        schema = schema()
    if isinstance(schema, Schema):
        return frozenset(f.data_key or name for name, f in schema.load_fields.items())
    return frozenset(schema)


def field_errors(error: ValidationError, schema: Schema | type[Schema] | Iterable[str]) -> dict[str, str]:
    """One message per field of ``schema`` (a schema, its class, or the field names), as text.

    Anything not about one of those fields goes under ``_form``: the schema's own errors
    (``_schema``, from ``@validates_schema``) and fields the form sent that the schema does
    not know (marshmallow refuses them; the message names the field).
    """
    names = field_names(schema)
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    errors: dict[str, str] = {}
    for name, value in messages.items():
        if name in names:
            errors[name] = _first_message(value)
        elif name == "_schema":
            errors.setdefault(FORM_ERROR_KEY, _first_message(value))
        else:
            errors.setdefault(FORM_ERROR_KEY, _("The form sent an unexpected field “%(field)s”.", field=name))
    return errors


# -- the Form -------------------------------------------------------------------------------------

# Input types inferred from the marshmallow field class, most specific first.
_WIDGETS: tuple[tuple[type[fields.Field], str], ...] = (
    (fields.Email, "email"),
    (fields.Url, "url"),
    (fields.Boolean, "checkbox"),
    (fields.Number, "number"),
    (fields.Date, "date"),
    (fields.DateTime, "datetime-local"),
    (fields.Time, "time"),
)
CHECKBOX_VALUE = "y"


@dataclass
class FormField:
    """One field as the form macros show it.

    ``value`` is text for the control (as submitted after a refused POST, else the initial
    value); ``checked`` is for checkboxes; ``choices`` are ``(value, label)`` pairs for a
    select, and ``blank`` labels its empty choice ("No manager"; default "—", or "Choose…"
    when the field is required); ``attrs`` are extra HTML attributes (``maxlength``, ``min``,
    ``max``, ``step``).
    """

    name: str
    id: str
    label: str
    widget: str
    required: bool = False
    value: str = ""
    checked: bool = False
    help: str = ""
    error: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    blank: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def error_id(self) -> str:
        return f"{self.id}-error"

    @property
    def help_id(self) -> str:
        return f"{self.id}-help"

    @property
    def described_by(self) -> str:
        """The ids for ``aria-describedby``: the error first, then the help text."""
        return " ".join(i for i, present in ((self.error_id, self.error), (self.help_id, self.help)) if present)


def _display(value: Any) -> str:
    """A Python value as the text an input shows."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return CHECKBOX_VALUE if value else ""
    return str(value)


def _is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in fields.Boolean.truthy
    return bool(value)


class OptionalEmail(fields.Email):
    """An email address, or nothing: "" (or only spaces) clears it, as an API client sends it.
    Spaces around an address are dropped before it is checked."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return ""
        return super()._deserialize(value, attr, data, **kwargs)

    def _validate(self, value: Any) -> None:
        if value != "":  # nothing to check in "no address"
            super()._validate(value)


class Form:
    """The fields of a marshmallow schema, for showing and validating an HTML form.

    ``schema``: a schema class or instance (an instance is copied, as its messages get
    translated for this request). ``initial``: an object or dict with the values to show
    first (ignored once ``data`` is given). ``data``: the submitted form
    (:func:`form_data`), or ``None`` when nothing was submitted. ``only``: the field names to
    show, in order (default: every loadable field, in declaration order). ``id_prefix``:
    prefixes the HTML ids, for two forms on one page.

    Field metadata (``metadata={...}`` on the marshmallow field) is read for ``label``,
    ``help``, ``widget`` (``textarea``, ``select``, ``checkbox``, ``password``, any input
    type), ``choices`` (``(value, label)`` pairs), ``blank`` (the label of a select's empty
    choice) and ``attrs`` (extra HTML attributes).
    """

    def __init__(
        self,
        schema: Schema | type[Schema],
        initial: Any = None,
        data: Mapping[str, Any] | None = None,
        *,
        only: Iterable[str] | None = None,
        id_prefix: str = "field-",
    ) -> None:
        self.schema = localize_schema(schema() if isinstance(schema, type) else copy.deepcopy(schema))
        self.initial = initial
        self.submitted_data = dict(data) if data is not None else None
        self.id_prefix = id_prefix
        self.errors: dict[str, str] = {}
        self.data: dict[str, Any] | None = None
        by_name = {f.data_key or name: f for name, f in self.schema.load_fields.items()}
        names = list(only) if only is not None else list(by_name)
        self.fields: list[FormField] = [self._build(name, by_name[name]) for name in names]

    @classmethod
    def from_request(cls, schema: Schema | type[Schema], initial: Any = None, **options: Any) -> Form:
        """A form with the request's submitted data when it is a POST, else with ``initial``."""
        return cls(schema, initial, form_data() if request.method == "POST" else None, **options)

    # -- reading -----------------------------------------------------------------------------

    @property
    def submitted(self) -> bool:
        return self.submitted_data is not None

    def __getitem__(self, name: str) -> FormField:
        for form_field in self.fields:
            if form_field.name == name:
                return form_field
        raise KeyError(name)

    def __iter__(self) -> Any:
        return iter(self.fields)

    @property
    def form_errors(self) -> list[str]:
        """Problems not about one shown field: the schema's own, unknown or hidden fields."""
        shown = {f.name for f in self.fields}
        return [message for name, message in self.errors.items() if name not in shown]

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    # -- validating --------------------------------------------------------------------------

    def validate(self) -> dict[str, Any] | None:
        """Load the submitted data: the loaded dict, or ``None`` (errors set) when refused.

        An empty value for a field other than plain text (an email, a number, a date, a
        select) counts as not sent,
        so an optional field left empty is fine and a required one says it is missing.
        """
        if self.submitted_data is None:
            return None
        payload = {name: value for name, value in self.submitted_data.items() if not self._empty(name, value)}
        try:
            self.data = self.schema.load(payload)
        except ValidationError as error:
            self.fail(error)
            return None
        return self.data

    def validate_on_submit(self) -> dict[str, Any] | None:
        """:meth:`validate` when the form was submitted, else ``None``."""
        return self.validate() if self.submitted else None

    def fail(self, error: ValidationError | str, field_name: str | None = None) -> None:
        """Show an error found later (a service's ValidationError, a rule of the view).

        A message given as text goes to ``field_name``, or to the form when it is ``None``.
        """
        if isinstance(error, ValidationError):
            found = field_errors(error, self.schema)
        else:
            found = {field_name or FORM_ERROR_KEY: str(error)}
        self.errors.update(found)
        for form_field in self.fields:
            form_field.error = self.errors.get(form_field.name, "")

    # -- building ----------------------------------------------------------------------------

    def _empty(self, name: str, value: Any) -> bool:
        schema_field = self._schema_field(name)
        if schema_field is None or not (isinstance(value, str) and value.strip() == ""):
            return False
        # Plain text may be empty; an empty email, URL, number, date or choice means "none".
        return type(schema_field) is not fields.String or self._widget(schema_field) == "select"

    def _schema_field(self, name: str) -> fields.Field | None:
        return next((f for key, f in self.schema.load_fields.items() if (f.data_key or key) == name), None)

    def _initial_value(self, name: str, schema_field: fields.Field) -> Any:
        attribute = schema_field.attribute or schema_field.name or name
        if self.initial is None:
            return None
        if isinstance(self.initial, Mapping):
            return self.initial.get(name, self.initial.get(attribute))
        return getattr(self.initial, attribute, None)

    @staticmethod
    def _choices(schema_field: fields.Field) -> list[tuple[str, str]]:
        declared = schema_field.metadata.get("choices")
        if declared is not None:
            return [(str(value), translate(label)) for value, label in declared]
        for validator in schema_field.validators:
            if isinstance(validator, validate.OneOf):
                labels = list(validator.labels) or [str(c) for c in validator.choices]
                return [(str(value), translate(label)) for value, label in zip(validator.choices, labels, strict=False)]
        return []

    def _widget(self, schema_field: fields.Field) -> str:
        if schema_field.metadata.get("widget"):
            return str(schema_field.metadata["widget"])
        if self._choices(schema_field):
            return "select"
        for field_class, widget in _WIDGETS:
            if isinstance(schema_field, field_class):
                return widget
        return "text"

    @staticmethod
    def _attrs(schema_field: fields.Field, widget: str) -> dict[str, Any]:
        """HTML limits mirroring the schema's validators, so browsers help before the server."""
        attrs: dict[str, Any] = {}
        for validator in schema_field.validators:
            if isinstance(validator, validate.Length) and widget not in ("select", "checkbox"):
                if validator.max is not None:
                    attrs["maxlength"] = validator.equal or validator.max
            elif isinstance(validator, validate.Range) and widget == "number":
                if validator.min is not None and validator.min_inclusive:
                    attrs["min"] = validator.min
                if validator.max is not None and validator.max_inclusive:
                    attrs["max"] = validator.max
        if widget == "number" and not isinstance(schema_field, fields.Integer):
            attrs["step"] = "any"
        attrs.update(schema_field.metadata.get("attrs", {}))
        return attrs

    def _build(self, name: str, schema_field: fields.Field) -> FormField:
        widget = self._widget(schema_field)
        if self.submitted_data is not None:
            raw = self.submitted_data.get(name)
            # A refused password is not sent back to the browser.
            value = "" if raw is None or widget == "password" else str(raw)
            checked = raw is not None and _is_true(raw)
        else:
            initial = self._initial_value(name, schema_field)
            default = schema_field.load_default
            if initial is None and default is not missing and not callable(default):
                initial = default
            value, checked = _display(initial), _is_true(initial) if initial is not None else False
        metadata = schema_field.metadata
        return FormField(
            name=name,
            id=f"{self.id_prefix}{name}",
            label=translate(metadata.get("label")) or name.replace("_", " ").capitalize(),
            widget=widget,
            required=schema_field.required,
            value=CHECKBOX_VALUE if widget == "checkbox" else value,
            checked=checked,
            help=translate(metadata.get("help", "")),
            choices=self._choices(schema_field),
            blank=translate(metadata.get("blank", "")),
            attrs=self._attrs(schema_field, widget),
        )


def render_form(template: str, form: Form, **context: Any) -> tuple[str, int]:
    """``template`` rendered with ``form``: status 422 when the form has errors, else 200."""
    return render_template(template, form=form, **context), 422 if form.has_errors else 200


def handle_form(
    schema: Schema | type[Schema],
    template: str,
    on_valid: Callable[[dict[str, Any], Form], Any],
    *,
    initial: Any = None,
    **context: Any,
) -> Any:
    """The whole GET/POST pattern of a form page in one call.

    GET shows the form with ``initial``; a POST that validates calls ``on_valid(data, form)``
    and returns what it returns (usually a redirect). It may call ``form.fail(...)`` and
    return ``None`` to show the form again with that error. A refused POST shows the form
    again with status 422, the submitted values kept and one message per field.
    """
    form = Form.from_request(schema, initial)
    data = form.validate_on_submit()
    if data is not None:
        result = on_valid(data, form)
        if result is not None:
            return result
    return render_form(template, form, **context)


# -- confirmation ---------------------------------------------------------------------------------


def confirmed() -> bool:
    """Whether this POST carries the confirmation (``_confirmed=yes``)."""
    return request.form.get(CONFIRM_FIELD) == CONFIRM_VALUE


def confirmation_required(
    message: str,
    *,
    title: str | None = None,
    label: str | None = None,
    danger: bool = True,
    cancel_url: str | None = None,
) -> Response | None:
    """``None`` when this POST was confirmed; else the page that asks to confirm it.

    Call it first in a destructive POST route (``if (page := confirmation_required(...)):
    return page``). ``ui.confirm_form`` sends ``_confirmed=yes`` from its dialog; without
    JavaScript its button posts without it and the user gets this page, which posts the same
    fields again, confirmed. ``cancel_url`` (a path on this site) defaults to the referrer.
    """
    if confirmed():
        return None
    from core.ui import safe_next  # core.ui imports the hooks machinery; keep this module light

    token_field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    resend = [(key, value) for key, value in request.form.items(multi=True) if key not in (token_field, CONFIRM_FIELD)]
    referrer = request.referrer or ""
    if referrer.startswith(request.host_url):
        referrer = "/" + referrer[len(request.host_url):]
    body = render_template(
        "records/confirm.html", message=message, title=title or _("Please confirm"),
        label=label or _("Confirm"), danger=danger, action=request.full_path.rstrip("?"),
        fields=resend, cancel_url=safe_next(cancel_url or referrer, "/"),
    )
    return Response(body, status=200, headers={"Cache-Control": "no-store"})
