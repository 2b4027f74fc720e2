from marshmallow import Schema, fields, validate


class NoteSchema(Schema):
    """Validation shared by the page's form and any API. The metadata labels the form's
    fields (core.forms.Form and templates/macros/form.html)."""

    title = fields.String(
        required=True,
        validate=[validate.Length(min=1, error="Enter a title."), validate.Length(max=200)],
        error_messages={"required": "Enter a title."},
        metadata={"label": "Title"},
    )
    body = fields.String(
        load_default="", validate=validate.Length(max=10_000),
        metadata={"label": "Text", "widget": "textarea", "attrs": {"rows": 3}},
    )
