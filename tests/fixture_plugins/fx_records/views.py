from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.audit import record_type
from core.auth import signed_in
from core.db import get_session
from core.forms import confirmation_required, handle_form
from core.records import detail_context

blueprint = Blueprint("fx_records", __name__, url_prefix="/fx-records", template_folder="templates")


class ThingSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"label": _l("Name"), "help": _l("Shown in lists.")})
    email = fields.Email(metadata={"label": "Email"})
    count = fields.Integer(validate=validate.Range(min=0, max=10), metadata={"label": "Count"})
    size = fields.String(required=True, validate=validate.OneOf(["s", "m", "l"], labels=["Small", "Medium", "Large"]),
                         metadata={"label": "Size"})
    active = fields.Boolean(load_default=False, metadata={"label": "Active"})
    due = fields.Date(metadata={"label": "Due"})
    at = fields.DateTime(metadata={"label": "At"})
    notes = fields.String(load_default="", metadata={"label": "Notes", "widget": "textarea", "attrs": {"rows": 4}})
    secret = fields.String(metadata={"label": "Secret", "widget": "password"})

    @validates_schema
    def no_thirteen(self, data, **_kwargs):
        if data.get("name") == "thirteen":
            raise ValidationError("That name brings bad luck.")


SAVED = []


@blueprint.route("/form", methods=["GET", "POST"])
@signed_in
def form():
    def save(data, form):
        if data["name"] == "taken":
            form.fail("That name is taken.", "name")
            return None
        SAVED.append(data)
        flash("Saved.", "success")
        return redirect(url_for("fx_records.form"))

    return handle_form(ThingSchema, "fx_records/form.html", save, initial={"name": "Initial", "size": "m"})


@blueprint.get("/gadgets/<int:gadget_id>")
@signed_in
def gadget(gadget_id):
    from fx_gadgets.models import Gadget

    found = get_session().get(Gadget, gadget_id)
    if found is None:
        abort(404)
    return render_template("fx_records/detail.html", gadget=found, **detail_context(record_type(found), found))


@blueprint.post("/gadgets/<int:gadget_id>/archive")
@signed_in
def archive(gadget_id):
    page = confirmation_required("Archive this gadget?", label="Archive")
    if page is not None:
        return page
    return f"archived {gadget_id}"
