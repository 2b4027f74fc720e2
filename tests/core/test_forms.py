"""Forms made from marshmallow schemas (core.forms.Form, templates/macros/form.html), the
form-level errors of ``field_errors``, and confirmation of destructive POSTs."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.forms import Form, field_errors, field_names, form_data

PLUGINS = ["fx_records"]


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS}


@pytest.fixture
def crm_plugins():
    return PLUGINS


@pytest.fixture
def signed_in(client, company, login_as):
    company.enable(*PLUGINS)
    login_as(company.admin)
    return client


class ItemSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(max=20),
                          metadata={"label": _l("Title"), "help": _l("A short name.")})
    email = fields.Email()
    price = fields.Decimal(as_string=True)
    amount = fields.Integer(validate=validate.Range(min=1))
    kind = fields.String(validate=validate.OneOf(["a", "b"], labels=["Apple", "Banana"]))
    done = fields.Boolean(load_default=False)
    due = fields.Date()
    at = fields.DateTime()
    body = fields.String(metadata={"widget": "textarea"})
    created = fields.DateTime(dump_only=True)
    renamed = fields.String(data_key="other_name")

    @validates_schema
    def title_is_not_forbidden(self, data, **_kwargs):
        if data.get("title") == "forbidden":
            raise ValidationError("This title is forbidden.")


def fields_by_name(form):
    return {f.name: f for f in form.fields}


# -- Form, without HTTP ---------------------------------------------------------------------------


def test_fields_are_inferred_from_the_schema(app):
    with app.test_request_context():
        form = Form(ItemSchema)
        found = fields_by_name(form)
    assert list(found) == ["title", "email", "price", "amount", "kind", "done", "due", "at", "body", "other_name"]
    assert {name: f.widget for name, f in found.items()} == {
        "title": "text", "email": "email", "price": "number", "amount": "number", "kind": "select",
        "done": "checkbox", "due": "date", "at": "datetime-local", "body": "textarea", "other_name": "text",
    }
    assert found["title"].label == "Title" and found["title"].help == "A short name." and found["title"].required
    assert found["email"].label == "Email" and not found["email"].required  # no label given: from the name
    assert found["kind"].choices == [("a", "Apple"), ("b", "Banana")]
    assert found["title"].attrs == {"maxlength": 20}
    assert found["amount"].attrs == {"min": 1} and found["price"].attrs == {"step": "any"}


def test_initial_values_come_from_an_object_or_a_dict(app):
    class Item:
        title = "Lamp"
        price = Decimal("12.50")
        due = date(2025, 3, 7)
        at = datetime(2025, 3, 7, 9, 30)
        done = True
        kind = "b"

    with app.test_request_context():
        from_object = fields_by_name(Form(ItemSchema, Item()))
        from_dict = fields_by_name(Form(ItemSchema, {"title": "Desk", "done": False}))
    assert [from_object[n].value for n in ("title", "price", "due", "at", "kind")] == [
        "Lamp", "12.50", "2025-03-07", "2025-03-07T09:30", "b"]
    assert from_object["done"].checked and not from_dict["done"].checked
    assert from_dict["title"].value == "Desk" and from_dict["email"].value == ""


def test_validate_returns_the_loaded_data_and_treats_empty_non_text_fields_as_not_sent(app):
    submitted = {"title": "Lamp", "email": "", "price": "", "amount": "", "kind": "", "due": "2025-03-07",
                 "at": "2025-03-07T09:30", "done": "y", "body": ""}
    with app.test_request_context():
        data = Form(ItemSchema, data=submitted).validate()
    assert data == {"title": "Lamp", "due": date(2025, 3, 7), "at": datetime(2025, 3, 7, 9, 30),
                    "done": True, "body": ""}


def test_a_refused_form_keeps_the_values_and_has_one_message_per_field(app):
    with app.test_request_context():
        form = Form(ItemSchema, data={"title": "x" * 21, "amount": "0", "kind": "c", "done": "y"})
        assert form.validate() is None
        found = fields_by_name(form)
    assert found["title"].value == "x" * 21 and found["title"].error == "Longer than maximum length 20."
    assert found["amount"].error == "Must be greater than or equal to 1."
    assert found["kind"].error == "Must be one of: a, b."
    assert found["done"].checked and found["email"].error == ""
    assert form.form_errors == []


def test_schema_errors_and_unknown_fields_are_form_level_errors(app):
    with app.test_request_context():
        form = Form(ItemSchema, data={"title": "forbidden"})
        assert form.validate() is None
        assert form.form_errors == ["This title is forbidden."]
        form = Form(ItemSchema, data={"title": "ok", "colour": "red"})
        assert form.validate() is None
        assert form.form_errors == ["The form sent an unexpected field “colour”."]


def test_marshmallows_messages_go_through_the_catalog_before_being_formatted(app, monkeypatch):
    import core.forms

    monkeypatch.setattr(core.forms, "_", lambda message, **values: "«" + message + "»")
    with app.test_request_context():
        form = Form(ItemSchema, data={"title": "x" * 21, "amount": "zero", "email": "nope"})
        form.validate()
        found = fields_by_name(form)
    assert found["title"].error == "«Longer than maximum length 20.»"
    assert found["amount"].error == "«Not a valid integer.»"
    assert found["email"].error == "«Not a valid email address.»"
    # The schema class keeps marshmallow's own messages.
    assert ItemSchema._declared_fields["title"].validators[0].message_max == "Longer than maximum length {max}."


def test_a_schema_instance_given_to_a_form_is_not_changed(app, monkeypatch):
    import core.forms

    schema = ItemSchema()
    monkeypatch.setattr(core.forms, "_", lambda message, **values: "«" + message + "»")
    with app.test_request_context():
        Form(schema, data={}).validate()
    with pytest.raises(ValidationError) as refused:
        schema.load({})
    assert refused.value.messages == {"title": ["Missing data for required field."]}


def test_fail_shows_an_error_found_after_validation(app):
    with app.test_request_context():
        form = Form(ItemSchema, data={"title": "Lamp"})
        assert form.validate() is not None
        form.fail("That title is taken.", "title")
        form.fail("Try again later.")
    assert fields_by_name(form)["title"].error == "That title is taken."
    assert form.form_errors == ["Try again later."] and form.has_errors


# -- field_errors -------------------------------------------------------------------------------


def test_field_errors_knows_the_schemas_fields_and_puts_the_rest_under_form(app):
    error = ValidationError({"title": ["Too long.", "Other."], "other_name": ["Bad."], "_schema": ["Whole form."],
                             "colour": ["Unknown field."]})
    with app.test_request_context():
        for schema in (ItemSchema, ItemSchema(), field_names(ItemSchema)):
            assert field_errors(error, schema) == {"title": "Too long.", "other_name": "Bad.", "_form": "Whole form."}
        assert field_errors(ValidationError({"colour": ["Unknown field."]}), ItemSchema) == {
            "_form": "The form sent an unexpected field “colour”."}
        assert field_errors(ValidationError("Just text."), ItemSchema) == {"_form": "Just text."}
    assert "renamed" not in field_names(ItemSchema) and "created" not in field_names(ItemSchema)


def test_form_data_leaves_out_the_csrf_token_and_the_confirmation_flag(app):
    with app.test_request_context(method="POST", data={"csrf_token": "t", "_confirmed": "yes", "title": "Lamp"}):
        assert form_data() == {"title": "Lamp"}


# -- the form page (fx_records: handle_form + the form macros) ------------------------------------


def test_the_form_page_renders_labels_types_required_and_choices(signed_in):
    page = signed_in.get("/fx-records/form")
    assert page.status_code == 200
    html = page.text
    assert '<label class="form-label" for="field-name">Name <span class="text-danger" aria-hidden="true">*</span></label>' in html
    assert re.search(r'<input type="text" class="form-control" value="Initial" id="field-name" name="name" required '
                     r'aria-describedby="field-name-help" maxlength="100">', html)
    assert '<div class="form-text" id="field-name-help">Shown in lists.</div>' in html
    assert 'type="email"' in html and 'type="number"' in html and 'type="date"' in html
    assert 'type="datetime-local"' in html and 'type="password"' in html
    assert '<input type="checkbox" class="form-check-input" value="y" id="field-active" name="active">' in html
    assert '<select class="form-select" id="field-size" name="size" required>' in html
    assert '<option value="m" selected>Medium</option>' in html and "Choose…" not in html
    assert '<textarea class="form-control" id="field-notes" name="notes" rows="4"></textarea>' in html
    assert 'role="alert"' not in html


def test_a_bad_post_answers_422_with_the_values_kept_and_errors_inline(signed_in):
    import fx_records.views

    response = signed_in.post("/fx-records/form", data={
        "name": "", "email": "not an address", "count": "11", "size": "", "active": "y", "secret": "hunter2",
    })
    assert response.status_code == 422
    html = response.text
    assert re.search(r'<input type="email" class="form-control is-invalid" value="not an address" id="field-email" '
                     r'name="email" aria-invalid="true" aria-describedby="field-email-error">', html)
    assert '<div class="invalid-feedback" id="field-email-error">Not a valid email address.</div>' in html
    assert 'aria-describedby="field-name-error field-name-help"' in html  # the error, then the help
    assert '<div class="invalid-feedback" id="field-count-error">Must be greater than or equal to 0 and less than or equal to 10.</div>' in html
    assert '<div class="invalid-feedback" id="field-size-error">Missing data for required field.</div>' in html
    assert '<option value="">Choose…</option>' in html
    assert 'value="y" checked id="field-active"' in html
    assert "hunter2" not in html  # a password is never sent back
    summary = re.search(r'<div class="alert alert-danger" role="alert".*?</div>', html, re.DOTALL).group()
    assert '<a class="alert-link" href="#field-email">Email: Not a valid email address.</a>' in summary
    assert fx_records.views.SAVED == []


def test_an_unknown_field_and_a_schema_error_are_shown_in_the_summary(signed_in):
    response = signed_in.post("/fx-records/form", data={"name": "ok", "size": "s", "colour": "red"})
    assert response.status_code == 422
    assert "<li>The form sent an unexpected field “colour”.</li>" in response.text
    response = signed_in.post("/fx-records/form", data={"name": "thirteen", "size": "s"})
    assert response.status_code == 422 and "<li>That name brings bad luck.</li>" in response.text


def test_a_good_post_runs_the_action_and_an_error_it_finds_is_shown_on_the_field(signed_in):
    import fx_records.views

    fx_records.views.SAVED.clear()
    response = signed_in.post("/fx-records/form", data={"name": "Lamp", "size": "l", "count": "3", "due": ""})
    assert response.status_code == 302
    assert fx_records.views.SAVED == [{"name": "Lamp", "size": "l", "count": 3, "active": False, "notes": ""}]
    response = signed_in.post("/fx-records/form", data={"name": "taken", "size": "l"})
    assert response.status_code == 422
    assert '<div class="invalid-feedback" id="field-name-error">That name is taken.</div>' in response.text
    fx_records.views.SAVED.clear()


def test_a_select_names_its_empty_choice_when_the_schema_says_how(app):
    from marshmallow import Schema, fields

    from core.forms import Form

    class OwnerSchema(Schema):
        owner = fields.String(load_default=None, metadata={"widget": "select", "blank": "Nobody",
                                                           "choices": [("1", "Ann")]})

    with app.test_request_context():
        form = Form(OwnerSchema)
        html = app.jinja_env.from_string('{% import "macros/form.html" as f %}{{ f.field(form, "owner") }}').render(form=form)
    assert '<option value="">Nobody</option>' in html and '<option value="1">Ann</option>' in html
