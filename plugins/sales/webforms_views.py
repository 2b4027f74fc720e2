"""Web-to-lead forms: the administrators' pages and the public address websites post to.

* ``/sales/web-forms/`` (permission ``sales.webform.manage``): the list, a form's settings
  with the HTML to paste into the website and its address, (de)activation, a new key, delete.
* ``POST /forms/lead/<key>`` (public): a visitor's form. Its company is the form's (the key
  names it; :func:`core.tenancy.company_from_url`), never the session's, so it works for
  visitors who are not signed in and is exempt from CSRF (the form lives on another site).
  Spam is kept out by a honeypot field (a bot that fills it is answered as if all went well;
  nothing is stored) and a rate limit per form and client address
  (``CRM_WEB_FORM_RATE_LIMIT`` a minute).

Form-encoded posts get pages (a redirect to the form's success page, a thank-you page, or a
400 page naming the problems); JSON posts get JSON (201 ``{"id": ...}``, or a problem
document with ``errors`` by field).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.access import require_permission
from core.api import Problem, problem_response, rate_limiter
from core.auth import client_address, public
from core.db import get_session
from core.forms import confirmation_required, handle_form
from core.mail import external_url
from core.models import Team, User
from core.tenancy import company_from_url, current_company, enter_company
from plugins.sales import MANAGE_WEBFORMS
from plugins.sales.models import WebForm
from plugins.sales.webforms import (
    HONEYPOT_FIELD,
    capture_lead,
    create_web_form,
    read_submission,
    regenerate_key,
    update_web_form,
    web_form_by_key,
    web_form_schema,
)

blueprint = Blueprint("sales_web_forms", __name__, url_prefix="/sales/web-forms", template_folder="templates")
public_blueprint = Blueprint("sales_web_form_post", __name__, url_prefix="/forms", template_folder="templates")

MAX_POST_BYTES = 64 * 1024  # a contact form, not a file upload


# -- the administrators' pages ------------------------------------------------------------------------


def _form_or_404(form_id: int) -> WebForm:
    web_form = get_session().get(WebForm, form_id)  # scoped: another company's is not found
    if web_form is None:
        abort(404)
    return web_form


@blueprint.get("/")
@require_permission(MANAGE_WEBFORMS)
def index() -> Any:
    """The company's forms with their owner and team (one query)."""
    rows = get_session().execute(
        select(WebForm, User.name, Team.name)
        .outerjoin(User, User.id == WebForm.owner_id).outerjoin(Team, Team.id == WebForm.team_id)
        .order_by(WebForm.name, WebForm.id)).all()
    return render_template("sales/webforms/index.html", rows=rows)


@blueprint.route("/new", methods=["GET", "POST"])
@require_permission(MANAGE_WEBFORMS)
def new() -> Any:
    def save(data: dict[str, Any], _form: Any) -> Any:
        web_form = create_web_form(get_session(), current_company().id, data)
        flash(_("Form “%(name)s” added: paste the HTML below into your website.", name=web_form.name), "success")
        return redirect(url_for("sales_web_forms.edit", form_id=web_form.id))

    return handle_form(web_form_schema(), "sales/webforms/form.html", save,
                       initial={"source": "website", "active": True}, web_form=None)


def snippet(web_form: WebForm) -> str:
    """The HTML a website pastes: a plain form posting to the form's public address."""
    return render_template("sales/webforms/_snippet.html", endpoint=endpoint_url(web_form),
                           honeypot=HONEYPOT_FIELD).strip() + "\n"


def endpoint_url(web_form: WebForm) -> str:
    """The form's public address (with ``CRM_BASE_URL`` when set, as links in mail)."""
    return external_url("sales_web_form_post.submit", key=web_form.key)


@blueprint.route("/<int:form_id>", methods=["GET", "POST"])
@require_permission(MANAGE_WEBFORMS)
def edit(form_id: int) -> Any:
    """The form's settings, its public address and the HTML to paste."""
    web_form = _form_or_404(form_id)

    def save(data: dict[str, Any], _form: Any) -> Any:
        update_web_form(get_session(), web_form, data)
        flash(_("Form “%(name)s” saved.", name=web_form.name), "success")
        return redirect(url_for("sales_web_forms.edit", form_id=web_form.id))

    initial = {name: getattr(web_form, name) for name in ("name", "source", "owner_id", "team_id", "success_url",
                                                           "active")}
    return handle_form(web_form_schema(), "sales/webforms/form.html", save, initial=initial, web_form=web_form,
                       snippet=snippet(web_form), endpoint=endpoint_url(web_form))


@blueprint.post("/<int:form_id>/active")
@require_permission(MANAGE_WEBFORMS)
def toggle(form_id: int) -> Response:
    """Take leads again (``active=1``) or no more (``active=0``); the address and key stay."""
    web_form = _form_or_404(form_id)
    active = request.form.get("active") == "1"
    update_web_form(get_session(), web_form, {"active": active})
    flash(_("“%(name)s” takes leads again.", name=web_form.name) if active
          else _("“%(name)s” is deactivated: its address takes no more leads.", name=web_form.name), "success")
    return redirect(url_for("sales_web_forms.edit", form_id=web_form.id))


@blueprint.post("/<int:form_id>/key")
@require_permission(MANAGE_WEBFORMS)
def new_key(form_id: int) -> Any:
    web_form = _form_or_404(form_id)
    page = confirmation_required(
        _("Give “%(name)s” a new address? The old one stops working at once: paste the new HTML into "
          "your website.", name=web_form.name), label=_("Regenerate key"))
    if page is not None:
        return page
    regenerate_key(get_session(), web_form)
    flash(_("“%(name)s” has a new address: update your website.", name=web_form.name), "success")
    return redirect(url_for("sales_web_forms.edit", form_id=web_form.id))


@blueprint.post("/<int:form_id>/delete")
@require_permission(MANAGE_WEBFORMS)
def delete(form_id: int) -> Any:
    web_form = _form_or_404(form_id)
    page = confirmation_required(
        _("Delete the form “%(name)s”? Its address stops taking leads; the leads it brought stay.",
          name=web_form.name), label=_("Delete form"))
    if page is not None:
        return page
    get_session().delete(web_form)
    get_session().flush()
    flash(_("Form “%(name)s” deleted.", name=web_form.name), "success")
    return redirect(url_for("sales_web_forms.index"))


# -- the public address ---------------------------------------------------------------------------------


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best_match(["text/html", "application/json"]) == \
        "application/json"


def _field_labels() -> dict[str, str]:
    """The posted fields as the visitor's page names them."""
    return {"name": _("Name"), "first_name": _("First name"), "last_name": _("Last name"), "email": _("Email"),
            "phone": _("Phone"), "organisation": _("Organisation"), "title": _("Job title"),
            "message": _("Message"), "source": _("Source"), "campaign": _("Campaign")}


def _refusal(status: int, message: str, errors: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> Any:
    """A 4xx for the visitor: a problem document for JSON, else a small page saying why."""
    if _wants_json():
        by_field = {name or "body": [text] for name, text in errors.items()} if errors else None
        return problem_response(Problem(status, message, errors=by_field, headers=headers,
                                        type="validation" if errors else None,
                                        title="Invalid input" if errors else None))
    if errors:
        message = _("Please correct the following:")
    labels = _field_labels()
    problems = [f"{labels[name]}: {text}" if name in labels else text for name, text in (errors or {}).items()]
    page = render_template("sales/webforms/public_page.html", status=status, message=message, problems=problems)
    return page, status, headers or {}


def _thanks(web_form: WebForm, lead_id: int | None) -> Any:
    if _wants_json():
        return {"id": lead_id}, 201
    if web_form.success_url:
        return redirect(web_form.success_url, code=303)
    return render_template("sales/webforms/public_page.html", status=200, message="", problems=[])


@public_blueprint.post("/lead/<key>")
@public
@company_from_url
def submit(key: str) -> Any:
    """A visitor's form: a new lead for the form's company, or a 4xx saying why not."""
    request.max_content_length = MAX_POST_BYTES
    session = get_session()
    web_form = web_form_by_key(session, key)
    if web_form is None or not web_form.active or not enter_company(web_form.company_id):
        return _refusal(404, _("This form does not exist or takes no more messages."))
    limit = current_app.config["CRM_WEB_FORM_RATE_LIMIT"]
    if limit > 0:
        count = rate_limiter().hit(f"sales.webform:{web_form.key}:{client_address()}", limit)
        if not count.allowed:
            return _refusal(429, _("Too many messages from your address in a short time. "
                                   "Try again in %(num)s seconds.", num=count.reset_after),
                            headers={"Retry-After": str(count.reset_after)})
    if request.is_json:
        posted = request.get_json(silent=True)
        if not isinstance(posted, dict):
            return _refusal(400, _("Send the form's fields as a JSON object."))
    else:
        posted = request.form.to_dict()
    if str(posted.get(HONEYPOT_FIELD) or "").strip():  # a bot: answer as usual, keep nothing
        return _thanks(web_form, None)
    values, errors = read_submission(posted, web_form, request.referrer)
    if values is None:
        return _refusal(400, _("Check these fields: %(fields)s.", fields=", ".join(name or "body" for name in errors)),
                        errors)
    lead = capture_lead(session, web_form, values)
    return _thanks(web_form, lead.id)


@public_blueprint.after_request
def _allow_other_sites(response: Response) -> Response:
    """Scripts on the company's website may post JSON here: nothing of a session is used, so
    any origin may (no credentials are allowed)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    return response
