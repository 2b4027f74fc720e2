"""Web-to-lead forms: the administrators' pages (set up, HTML to paste, deactivate, new key,
delete, permission) and the public address a website posts to (a lead for the key's company
with its source and UTM, honeypot, rate limit, inactive or unknown key, refused input, JSON,
a disabled plugin)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from core.models import AuditEntry, Event, Team
from core.testing import counting_queries, make_company
from plugins.sales.models import Lead, WebForm
from tests.plugins.customers.test_accounts import make_member
from tests.plugins.sales.helpers import in_company


def add_web_form(app, company, name: str = "Contact us", **values) -> WebForm:
    from plugins.sales.webforms import create_web_form

    def work(session):
        web_form = create_web_form(session, company.id, {"name": name, **values})
        session.expunge(web_form)
        return web_form
    return in_company(app, company, work)


def leads_of(app, company) -> list[Lead]:
    def work(session):
        found = list(session.scalars(select(Lead).order_by(Lead.id)))
        session.expunge_all()
        return found
    return in_company(app, company, work)


@pytest.fixture
def visitor(app) -> FlaskClient:
    """A visitor of the company's website: not signed in, no CSRF token of ours."""
    return FlaskClient(app, app.response_class, use_cookies=True)


# -- the administrators' pages -------------------------------------------------------------------------


def test_the_list_starts_empty_and_a_form_set_up_in_the_admin_pages_gets_a_key_and_its_html(client, app, company,
                                                                                            admin, db_session):
    page = client.get("/sales/web-forms/").text
    assert "No web forms yet" in page
    answer = client.post("/sales/web-forms/new", data={
        "name": "Spring campaign page", "source": "spring-site", "owner_id": str(admin.id),
        "success_url": "https://acme.example/thanks", "active": "y"})
    assert answer.status_code == 302
    web_form = db_session.scalar(select(WebForm))
    assert answer.headers["Location"] == f"/sales/web-forms/{web_form.id}"
    assert (web_form.name, web_form.source, web_form.owner_id, web_form.active) == (
        "Spring campaign page", "spring-site", admin.id, True)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", web_form.key)
    page = client.get(f"/sales/web-forms/{web_form.id}").text
    assert f"http://localhost/forms/lead/{web_form.key}" in page
    assert 'name="website_url"' in page.replace("&#34;", '"').replace("&quot;", '"')  # the snippet, escaped
    assert "&lt;form method=&#34;post&#34;" in page and "utm_source" in page
    assert "Spring campaign page" in client.get("/sales/web-forms/").text


def test_a_refused_form_says_why_and_keeps_what_was_typed(client, app, company, admin, db_session):
    answer = client.post("/sales/web-forms/new", data={"name": "", "source": "site",
                                                       "success_url": "javascript:alert(1)"})
    assert answer.status_code == 422
    assert "Enter a name." in answer.text and "https://" in answer.text
    assert 'value="javascript:alert(1)"' in answer.text and 'value="site"' in answer.text
    assert db_session.scalar(select(WebForm)) is None


def test_regenerating_the_key_asks_first_then_the_old_address_stops_working(client, app, company, admin, visitor):
    web_form = add_web_form(app, company)
    asked = client.post(f"/sales/web-forms/{web_form.id}/key")  # without JavaScript: the question page
    assert asked.status_code == 200 and "The old one stops working at once" in asked.text
    assert in_company(app, company, lambda s: s.get(WebForm, web_form.id).key) == web_form.key
    assert client.post(f"/sales/web-forms/{web_form.id}/key", data={"_confirmed": "yes"}).status_code == 302
    new_key = in_company(app, company, lambda s: s.get(WebForm, web_form.id).key)
    assert new_key != web_form.key
    trail = in_company(app, company, lambda s: s.execute(
        select(AuditEntry.action, AuditEntry.changes).where(AuditEntry.record_type == "sales_web_form")
        .order_by(AuditEntry.id)).all())
    assert [action for action, _changes in trail] == ["create", "new_key"]
    assert web_form.key not in str(trail) and new_key not in str(trail)  # the key is a secret
    assert visitor.post(f"/forms/lead/{web_form.key}", data={"name": "A", "email": "a@x.example"}).status_code == 404
    assert visitor.post(f"/forms/lead/{new_key}", data={"name": "A", "email": "a@x.example"}).status_code == 200


def test_deactivating_stops_the_address_and_deleting_asks_first(client, app, company, admin, visitor):
    web_form = add_web_form(app, company)
    assert client.post(f"/sales/web-forms/{web_form.id}/active", data={"active": "0"}).status_code == 302
    answer = visitor.post(f"/forms/lead/{web_form.key}", data={"name": "A", "email": "a@x.example"})
    assert answer.status_code == 404 and "takes no more messages" in answer.text
    assert client.post(f"/sales/web-forms/{web_form.id}/delete").status_code == 200  # the question
    assert in_company(app, company, lambda s: s.get(WebForm, web_form.id)) is not None
    assert client.post(f"/sales/web-forms/{web_form.id}/delete", data={"_confirmed": "yes"}).status_code == 302
    assert in_company(app, company, lambda s: s.scalar(select(WebForm))) is None


def test_a_rep_without_the_permission_gets_403_on_every_admin_page(client, app, company, admin, login_as):
    web_form = add_web_form(app, company)
    rep = make_member(app, company, "rep@acme.test", "Rep")
    login_as(rep)
    assert client.get("/sales/web-forms/").status_code == 403
    assert client.get("/sales/web-forms/new").status_code == 403
    assert client.get(f"/sales/web-forms/{web_form.id}").status_code == 403
    assert client.post(f"/sales/web-forms/{web_form.id}/delete", data={"_confirmed": "yes"}).status_code == 403
    assert "/sales/web-forms/" not in client.get("/sales/leads/").text  # no menu entry either


def test_another_companys_form_is_not_found_in_the_admin_pages(client, app, company, admin):
    other = make_company(app, "Other", "other")
    other.enable("customers", "sales")
    theirs = add_web_form(app, other, "Theirs")
    assert client.get(f"/sales/web-forms/{theirs.id}").status_code == 404
    assert "Theirs" not in client.get("/sales/web-forms/").text


def test_the_list_runs_the_same_queries_for_one_form_or_many(client, app, company, admin):
    add_web_form(app, company, "First")
    with counting_queries(app) as few:
        assert client.get("/sales/web-forms/").status_code == 200
    for number in range(12):
        add_web_form(app, company, f"Form {number}")
    with counting_queries(app) as many:
        page = client.get("/sales/web-forms/").text
    assert "Form 11" in page
    assert len(many) == len(few)


# -- the public address -----------------------------------------------------------------------------------


def test_a_post_creates_a_lead_for_the_keys_company_with_source_utm_and_message(app, company, admin, visitor,
                                                                               db_session):
    team_id = in_company(app, company, lambda s: (s.add(team := Team(company_id=company.id, name="Inbound")),
                                                  s.flush(), team.id)[2])
    web_form = add_web_form(app, company, source="website", team_id=team_id)
    answer = visitor.post(f"/forms/lead/{web_form.key}", data={
        "first_name": "Li", "last_name": "Wei", "email": "Li.Wei@Panda.example", "phone": "+86 138 0013 8000",
        "organisation": "Panda Foods", "message": "Call me about prices", "utm_medium": "email",
        "website_url": ""}, headers={"Referer": "https://acme.example/contact?utm_source=newsletter"
                                                "&utm_medium=ignored&utm_campaign=spring"})
    assert answer.status_code == 200 and "Thank you" in answer.text
    (lead,) = leads_of(app, company)
    assert (lead.name, lead.organisation, lead.notes, lead.status) == (
        "Li Wei", "Panda Foods", "Call me about prices", "new")
    assert (lead.email_normalized, lead.phone_normalized) == ("li.wei@panda.example", "+8613800138000")
    assert (lead.source, lead.utm_source, lead.utm_medium, lead.utm_campaign) == (
        "website", "newsletter", "email", "spring")
    assert (lead.owner_id, lead.team_id, lead.company_id) == (None, team_id, company.id)
    events = db_session.execute(select(Event.name, Event.payload).where(Event.name == "sales.lead.created")).all()
    assert [(name, payload["id"]) for name, payload in events] == [("sales.lead.created", lead.id)]


def test_the_forms_owner_gets_the_lead_and_a_posted_source_wins_then_the_success_page(app, company, admin,
                                                                                      visitor):
    web_form = add_web_form(app, company, owner_id=admin.id, success_url="https://acme.example/thanks")
    answer = visitor.post(f"/forms/lead/{web_form.key}", data={"name": "Ana", "phone": "010 1234",
                                                               "source": "partner-site"})
    assert answer.status_code == 303 and answer.headers["Location"] == "https://acme.example/thanks"
    (lead,) = leads_of(app, company)
    assert (lead.owner_id, lead.source) == (admin.id, "partner-site")


def test_a_filled_honeypot_answers_as_usual_and_stores_nothing(app, company, admin, visitor):
    web_form = add_web_form(app, company)
    answer = visitor.post(f"/forms/lead/{web_form.key}", data={"name": "Bot", "email": "bot@spam.example",
                                                               "website_url": "http://spam.example"})
    assert answer.status_code == 200 and "Thank you" in answer.text
    json_answer = visitor.post(f"/forms/lead/{web_form.key}", json={"name": "Bot", "email": "b@spam.example",
                                                                    "website_url": "x"})
    assert json_answer.status_code == 201
    assert leads_of(app, company) == []


@pytest.fixture
def app_config():
    return {"CRM_WEB_FORM_RATE_LIMIT": 3}


def test_more_posts_than_the_rate_limit_get_429_for_that_address_and_form(app, company, admin, visitor,
                                                                         monkeypatch):
    monkeypatch.setattr("core.api._clock", lambda: 1_800_000_030.0)  # all posts in one minute
    web_form, other_form = add_web_form(app, company), add_web_form(app, company, "Other")
    data = {"name": "Many", "email": "many@example.com"}
    for _number in range(3):
        assert visitor.post(f"/forms/lead/{web_form.key}", data=data).status_code == 200
    refused = visitor.post(f"/forms/lead/{web_form.key}", data=data)
    assert refused.status_code == 429 and "Too many messages" in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert visitor.post(f"/forms/lead/{other_form.key}", data=data).status_code == 200  # per form
    assert visitor.post(f"/forms/lead/{web_form.key}", data=data,
                        environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200  # per address
    assert len(leads_of(app, company)) == 5


def test_an_unknown_key_answers_404(app, company, admin, visitor):
    assert visitor.post("/forms/lead/not-a-key", data={"name": "A", "email": "a@x.example"}).status_code == 404
    answer = visitor.post("/forms/lead/not-a-key", json={"name": "A", "email": "a@x.example"})
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"


def test_a_post_without_a_name_or_a_way_to_answer_gets_400_naming_the_fields(app, company, admin, visitor):
    web_form = add_web_form(app, company)
    answer = visitor.post(f"/forms/lead/{web_form.key}", data={"name": "", "organisation": "Acme"})
    assert answer.status_code == 400
    assert "Name: Enter the person&#39;s name." in answer.text
    assert "Email: Give an email address or a phone number." in answer.text
    bad_email = visitor.post(f"/forms/lead/{web_form.key}", data={"name": "A", "email": "not-an-email"})
    assert bad_email.status_code == 400 and "Email:" in bad_email.text
    too_long = visitor.post(f"/forms/lead/{web_form.key}", data={"name": "A" * 201, "email": "a@x.example"})
    assert too_long.status_code == 400 and "Name:" in too_long.text
    assert leads_of(app, company) == []


def test_json_posts_get_201_with_the_id_or_a_problem_naming_the_fields(app, company, admin, visitor):
    web_form = add_web_form(app, company)
    answer = visitor.post(f"/forms/lead/{web_form.key}", json={"name": "Jay", "email": "jay@example.com",
                                                               "utm_campaign": "autumn"})
    assert answer.status_code == 201
    (lead,) = leads_of(app, company)
    assert answer.json == {"id": lead.id} and lead.utm_campaign == "autumn"
    refused = visitor.post(f"/forms/lead/{web_form.key}", json={"phone": "010 1234"})
    assert refused.status_code == 400 and refused.mimetype == "application/problem+json"
    assert refused.json["errors"] == {"name": ["Enter the person's name."]}
    not_an_object = visitor.post(f"/forms/lead/{web_form.key}", json=["Jay"])
    assert not_an_object.status_code == 400
    preflight = visitor.options(f"/forms/lead/{web_form.key}", headers={
        "Origin": "https://acme.example", "Access-Control-Request-Method": "POST"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"  # scripts on the website may post


def test_each_key_brings_its_lead_to_its_own_company_whoever_is_signed_in(client, app, company, admin, visitor):
    other = make_company(app, "Other", "other")
    other.enable("customers", "sales")
    theirs = add_web_form(app, other, "Theirs")
    assert visitor.post(f"/forms/lead/{theirs.key}", data={"name": "For them", "email": "t@x.example"}).status_code \
        == 200
    # Acme's signed-in admin posting to the other company's form: the key decides, not the session.
    assert client.post(f"/forms/lead/{theirs.key}", data={"name": "Also them", "email": "u@x.example"}).status_code \
        == 200
    assert leads_of(app, company) == []
    assert [(lead.name, lead.company_id) for lead in leads_of(app, other)] == [("For them", other.id),
                                                                              ("Also them", other.id)]
    actors = in_company(app, other, lambda s: s.scalars(
        select(AuditEntry.user_id).where(AuditEntry.record_type == "sales_lead")).all())
    assert actors and set(actors) == {None}  # recorded as nobody, not as whoever was signed in


def test_a_form_of_a_company_that_disabled_sales_answers_404(app, visitor):
    other = make_company(app, "Other", "other")
    other.enable("customers")
    web_form = add_web_form(app, other)
    assert visitor.post(f"/forms/lead/{web_form.key}", data={"name": "A", "email": "a@x.example"}).status_code == 404
    assert leads_of(app, other) == []


def test_a_form_without_an_owner_leaves_the_lead_to_the_assignment_rules_and_scores_it(app, company, admin,
                                                                                       visitor):
    from tests.plugins.sales.test_assignment import add_rule
    from tests.plugins.sales.test_scoring import add_rule as add_scoring_rule

    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    add_rule(app, company, "Web leads to Rita", source="website", user_id=rep.id)
    add_scoring_rule(app, company, kind="field", field="utm_source", operator="equals", value="newsletter",
                     points=15)
    web_form = add_web_form(app, company, source="website")
    visitor.post(f"/forms/lead/{web_form.key}", data={"name": "Ana", "email": "ana@example.com",
                                                      "utm_source": "newsletter"})
    (lead,) = leads_of(app, company)
    assert (lead.owner_id, lead.score) == (rep.id, 15)  # the UTM field counted when the lead was scored
