"""Record pages: actions and panels from the enabled plugins' ``record_actions`` and
``record_panels`` hooks (core.records), composed with the detail macros."""

from __future__ import annotations

import logging
import re

import pytest

from core.db import get_session
from core.hooks import RecordAction, RecordPanel
from core.models import Membership, User
from core.records import detail_context, record_actions, record_panels
from core.testing import TEST_PASSWORD
from tests.gadgets import add_gadgets, create_gadget_table

PLUGINS = ["fx_gadgets", "fx_records", "fx_records_panels", "fx_records_broken"]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS}


@pytest.fixture
def crm_plugins():
    return PLUGINS


@pytest.fixture
def gadget_id(app, company):
    create_gadget_table(app)
    company.enable(*PLUGINS)
    return add_gadgets(app, company, "Sprocket")[0]


@pytest.fixture
def member(app, company):
    """A member of the company with no role, hence no permission."""
    with app.app_context():
        session = get_session()
        user = User(email="member@acme.test", name="Member")
        user.set_password(TEST_PASSWORD)
        user.memberships.append(Membership(company_id=company.id))
        session.add(user)
        session.commit()
        return user


def action_labels(page: str) -> list[str]:
    header = re.search(r'<div class="record-actions.*?</header>', page, re.DOTALL).group()
    return [re.sub(r"<[^>]+>", "", label).strip()
            for label in re.findall(r'<(?:a|button type="submit") class="btn btn-sm[^"]*"[^>]*>(.*?)</(?:a|button)>', header,
                                    re.DOTALL)]


def panel_titles(page: str) -> list[str]:
    return re.findall(r'<h2 class="h6 mb-0" id="panel-[^"]+-title">([^<]+)</h2>', page)


def test_actions_and_panels_of_every_enabled_plugin_are_sorted_and_bad_ones_left_out(
        client, company, login_as, gadget_id, caplog):
    login_as(company.admin)
    with caplog.at_level(logging.WARNING):
        page = client.get(f"/fx-records/gadgets/{gadget_id}")
    assert page.status_code == 200
    assert action_labels(page.text) == ["Audit secrets", "Edit", "Report", "Archive"]
    assert panel_titles(page.text) == ["Secret", "Alpha", "Zeta", "Broken"]
    assert "Sneaky" not in page.text and "Teleport" not in page.text
    assert "'other.sneaky' of plugin 'fx_records_panels' left out" in caplog.text
    assert "not a RecordAction with method get or post" in caplog.text


def test_a_plugin_whose_hook_raises_is_left_out_and_logged(client, company, login_as, gadget_id, caplog):
    login_as(company.admin)
    with caplog.at_level(logging.ERROR):
        page = client.get(f"/fx-records/gadgets/{gadget_id}")
    assert page.status_code == 200 and "Report" in page.text  # the other plugins still answer
    assert "record_actions hook of plugin 'fx_records_broken' failed" in caplog.text
    assert "record_panels hook of plugin 'fx_records_broken' failed" in caplog.text


def test_items_the_user_lacks_the_permission_for_are_left_out(client, company, login_as, gadget_id, member):
    login_as(member)
    page = client.get(f"/fx-records/gadgets/{gadget_id}").text
    assert action_labels(page) == ["Edit", "Report", "Archive"]
    assert panel_titles(page) == ["Alpha", "Zeta", "Broken"]


def test_a_disabled_plugins_actions_and_panels_disappear(client, company, login_as, gadget_id):
    login_as(company.admin)
    company.disable("fx_records_panels")
    page = client.get(f"/fx-records/gadgets/{gadget_id}").text
    assert action_labels(page) == ["Edit"]
    assert panel_titles(page) == [] and "record-panels" not in page
    company.enable("fx_records_panels")
    assert panel_titles(client.get(f"/fx-records/gadgets/{gadget_id}").text) == ["Secret", "Alpha", "Zeta", "Broken"]


def test_panels_load_lazily_with_a_placeholder_an_error_message_and_a_link_without_javascript(
        client, company, login_as, gadget_id):
    login_as(company.admin)
    page = client.get(f"/fx-records/gadgets/{gadget_id}").text
    card = re.search(r'<section class="card record-panel[^"]*" id="panel-fx_records_panels-alpha".*?</section>', page,
                     re.DOTALL).group()
    url = "/fx-panels/summary/fx_gadgets_gadget"
    assert f'hx-get="{url}"' in card and 'hx-trigger="load"' in card
    assert 'aria-labelledby="panel-fx_records_panels-alpha-title"' in card
    assert 'role="status"' in card and "Loading…" in card and 'class="spinner-border' in card
    assert "hx-on::response-error=" in card and "hx-on::send-error=" in card
    assert '<template class="panel-error"><p class="text-danger mb-0" role="alert">This panel could not load.' in card
    assert f'<noscript><p class="mb-0"><a href="{url}">Show Alpha</a></p></noscript>' in card
    assert "Summary of a" not in page  # the body is not rendered with the page
    assert client.get(url, headers=HTMX).text == "<p>Summary of a fx_gadgets_gadget</p>"
    assert client.get("/fx-panels/broken", headers=HTMX).status_code == 500  # its card shows the message


def test_the_record_page_shows_the_audit_history(client, company, login_as, gadget_id):
    login_as(company.admin)
    page = client.get(f"/fx-records/gadgets/{gadget_id}").text
    assert 'aria-labelledby="history-heading"' in page and "created this" in page


def test_get_actions_are_links_and_post_actions_forms_that_confirm(client, company, login_as, gadget_id):
    login_as(company.admin)
    page = client.get(f"/fx-records/gadgets/{gadget_id}").text
    assert re.search(r'<a class="btn btn-sm btn-outline-secondary" href="/fx-panels/report">\s*Report</a>', page)
    assert '<i class="bi bi-pencil" aria-hidden="true"></i> Edit</a>' in page
    archive = f"/fx-records/gadgets/{gadget_id}/archive"
    assert f'<form class="confirm-form d-inline" method="post" action="{archive}">' in page
    assert 'class="btn btn-sm btn-outline-danger" data-bs-toggle="modal"' in page
    assert '<div class="modal-body"><p class="mb-0">Archive this gadget?</p></div>' in page


def test_detail_context_gathers_actions_panels_and_history(app, company, gadget_id, member):
    from flask_login import login_user
    from fx_gadgets.models import Gadget

    from core.audit import record_type

    with app.test_request_context():
        login_user(company.admin)
        app.preprocess_request()  # chooses the company, as for a real request
        gadget = get_session().get(Gadget, gadget_id)
        context = detail_context(record_type(gadget), gadget)
        assert context["record_type"] == "fx_gadgets_gadget"
        assert [a.label for a in context["actions"]] == ["Audit secrets", "Edit", "Report", "Archive"]
        assert all(isinstance(p, RecordPanel) for p in context["panels"])
        assert [p.key for p in context["panels"]][0] == "fx_records_panels.secret"
        assert [(entry.action, who) for entry, who in context["history"]] == [("create", None)]
        # Asked for another user, the items that need a permission they lack are left out.
        other = get_session().get(User, member.id)
        assert "Audit secrets" not in [a.label for a in record_actions(record_type(gadget), gadget, user=other)]
        assert all(isinstance(a, RecordAction) for a in record_actions(record_type(gadget), gadget, user=other))
        assert len(record_panels(record_type(gadget), gadget, user=other)) == 3
