"""The shell's small building blocks (templates/macros/ui.html): icons, dialogs, confirmed
POSTs that also work without JavaScript, and the progress bar of a background job."""

from __future__ import annotations

import re

import pytest
from flask import render_template_string

from core.models import Job
from core.testing import make_company
from tests.gadgets import add_gadgets, create_gadget_table

PLUGINS = ["fx_gadgets", "fx_records"]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": PLUGINS}


@pytest.fixture
def crm_plugins():
    return PLUGINS


def render(app, source: str, **context) -> str:
    with app.test_request_context():
        return render_template_string('{% import "macros/ui.html" as ui %}' + source, **context)


# -- icon and modal -----------------------------------------------------------------------------


def test_an_icon_is_hidden_from_screen_readers_unless_it_has_a_label(app):
    assert render(app, "{{ ui.icon('trash') }}") == '<i class="bi bi-trash" aria-hidden="true"></i>'
    assert render(app, "{{ ui.icon('star', 'Favourite') }}") == '<i class="bi bi-star" role="img" aria-label="Favourite"></i>'


def test_a_modal_is_labelled_by_its_title_and_has_a_labelled_close_button(app):
    html = render(app, "{% call ui.modal('about', 'About <us>') %}<p>Body</p>{% endcall %}")
    assert '<div class="modal fade" id="about" tabindex="-1" aria-labelledby="about-title" aria-hidden="true">' in html
    assert '<h2 class="modal-title fs-5" id="about-title">About &lt;us&gt;</h2>' in html
    assert '<button type="button" class="btn-close" data-bs-dismiss="modal" aria-label="Close"></button>' in html
    assert '<div class="modal-body"><p>Body</p></div>' in html


# -- confirm_form -------------------------------------------------------------------------------


def test_confirm_form_opens_a_dialog_holding_the_confirmed_post(app):
    html = render(app, "{{ ui.confirm_form('/items/3/delete', 'Delete', 'Delete this item?', fields={'next': '/items'}) }}")
    trigger, dialog = html.split('<div class="modal fade"')
    # The visible button submits an unconfirmed form when Bootstrap's script is not there.
    assert '<form class="confirm-form d-inline" method="post" action="/items/3/delete">' in trigger
    assert 'name="csrf_token"' in trigger and '<input type="hidden" name="next" value="/items">' in trigger
    assert "_confirmed" not in trigger
    target = re.search(r'data-bs-target="#([^"]+)"', trigger).group(1)
    assert 'onclick="if (window.bootstrap) { event.preventDefault(); }"' in trigger
    assert f' id="{target}" ' in dialog and f'aria-labelledby="{target}-title"' in dialog
    assert '<form class="modal-content" method="post" action="/items/3/delete">' in dialog
    assert '<input type="hidden" name="_confirmed" value="yes">' in dialog and 'name="csrf_token"' in dialog
    assert '<input type="hidden" name="next" value="/items">' in dialog
    assert '<p class="mb-0">Delete this item?</p>' in dialog
    assert '<button type="submit" class="btn btn-danger">Delete</button>' in dialog
    assert 'aria-label="Close"' in dialog and "Cancel" in dialog


def test_two_confirm_forms_on_a_page_get_their_own_dialogs(app):
    html = render(app, "{{ ui.confirm_form('/a/1', 'Go', 'Sure?', danger=false) }}{{ ui.confirm_form('/a/2', 'Go', 'Sure?') }}")
    targets = re.findall(r'data-bs-target="#([^"]+)"', html)
    assert len(set(targets)) == 2 and all(re.fullmatch(r"[a-z0-9-]+", t) for t in targets)
    assert '<button type="submit" class="btn btn-primary">Go</button>' in html  # not a danger


@pytest.fixture
def gadget(app, company, client, login_as):
    create_gadget_table(app)
    company.enable(*PLUGINS)
    login_as(company.admin)
    return add_gadgets(app, company, "Sprocket")[0]


def test_without_javascript_an_unconfirmed_post_gets_a_confirmation_page_that_posts_again(client, gadget):
    url = f"/fx-records/gadgets/{gadget}/archive"
    page = client.post(url, data={"reason": "old"}, headers={"Referer": f"http://localhost/fx-records/gadgets/{gadget}"})
    assert page.status_code == 200 and "archived" not in page.text
    assert page.headers["Cache-Control"] == "no-store"
    form = re.search(r'<form method="post" action="([^"]+)".*?</form>', page.text, re.DOTALL)
    assert form.group(1) == url and "<p>Archive this gadget?</p>" in page.text
    assert '<input type="hidden" name="_confirmed" value="yes">' in form.group()
    assert '<input type="hidden" name="reason" value="old">' in form.group()  # what was sent is sent again
    assert '<button type="submit" class="btn btn-danger">Archive</button>' in form.group()
    assert f'<a class="btn btn-outline-secondary" href="/fx-records/gadgets/{gadget}">Cancel</a>' in form.group()
    confirmed = client.post(url, data={"reason": "old", "_confirmed": "yes"})
    assert confirmed.status_code == 200 and confirmed.text == f"archived {gadget}"


def test_the_confirmation_pages_cancel_link_never_leaves_the_site(client, gadget):
    page = client.post(f"/fx-records/gadgets/{gadget}/archive", headers={"Referer": "https://evil.example/x"})
    assert '<a class="btn btn-outline-secondary" href="/">Cancel</a>' in page.text


# -- progress -----------------------------------------------------------------------------------


def add_job(app, company_id: int, job_id: str, **values) -> None:
    from core.db import get_session

    with app.app_context():
        session = get_session()
        session.add(Job(id=job_id, company_id=company_id, name="import", **values))
        session.commit()


def test_the_progress_macro_loads_the_fragment_and_has_a_link_without_javascript(app):
    html = render(app, "{{ ui.progress('abc', next='/done') }}")
    assert 'hx-get="/jobs/abc/progress?next=/done"' in html and 'hx-trigger="load"' in html
    assert 'role="status"' in html
    assert '<noscript><a href="/jobs/abc/progress?next=/done">' in html


def test_a_running_jobs_fragment_shows_its_progress_and_polls_again(app, client, company, login_as):
    add_job(app, company.id, "run1", status="running", done=25, total=200, message="Reading rows")
    login_as(company.admin)
    response = client.get("/jobs/run1/progress", headers=HTMX)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.text
    assert "<html" not in html
    assert 'hx-get="/jobs/run1/progress" hx-trigger="every 1s" hx-swap="outerHTML"' in html
    assert 'role="progressbar"' in html and 'aria-valuenow="12"' in html and 'aria-valuemin="0"' in html
    assert 'style="width: 12%">12%</div>' in html
    assert "25 of 200" in html and "Reading rows" in html


def test_a_job_of_unknown_size_shows_a_moving_bar_without_a_value(app, client, company, login_as):
    add_job(app, company.id, "run2", status="queued", done=0, total=None)
    login_as(company.admin)
    html = client.get("/jobs/run2/progress", headers=HTMX).text
    assert "aria-valuenow" not in html and "progress-bar-animated" in html and "Waiting to start" in html
    assert 'hx-trigger="every 1s"' in html


def test_a_finished_jobs_fragment_stops_polling_and_links_to_next(app, client, company, login_as):
    add_job(app, company.id, "done1", status="done", done=10, total=10)
    login_as(company.admin)
    html = client.get("/jobs/done1/progress?next=/notes/", headers=HTMX).text
    assert "hx-trigger" not in html and "hx-get" not in html
    assert 'aria-valuenow="100"' in html and "bg-success" in html
    assert '<p class="mt-2 mb-0" role="status">Done. <a href="/notes/">Continue</a></p>' in html
    assert 'href="https' not in client.get("/jobs/done1/progress?next=https://evil.example/", headers=HTMX).text


def test_a_failed_jobs_fragment_stops_polling_and_shows_the_error(app, client, company, login_as):
    add_job(app, company.id, "fail1", status="failed", done=3, total=10, error="ValueError: row 4 is empty")
    login_as(company.admin)
    html = client.get("/jobs/fail1/progress", headers=HTMX).text
    assert "hx-trigger" not in html and "bg-danger" in html
    assert re.search(r'<div class="alert alert-danger mt-2 mb-0" role="alert">\s*<p class="mb-0">The job failed. '
                     r'ValueError: row 4 is empty</p>', html)


def test_without_htmx_the_progress_is_a_page_that_refreshes_until_the_job_finishes(app, client, company, login_as):
    add_job(app, company.id, "run3", status="running", done=1, total=2)
    add_job(app, company.id, "done2", status="done", done=2, total=2)
    login_as(company.admin)
    running = client.get("/jobs/run3/progress").text
    assert "<html" in running and '<meta http-equiv="refresh" content="2">' in running
    assert 'http-equiv="refresh"' not in client.get("/jobs/done2/progress").text


def test_another_companys_job_progress_answers_404(app, client, company, login_as):
    add_job(app, company.id, "mine", status="running", done=1, total=2)
    beta = make_company(app, "Beta", "beta")
    login_as(beta.admin)
    assert client.get("/jobs/mine/progress", headers=HTMX).status_code == 404
    assert client.get("/jobs/nope/progress", headers=HTMX).status_code == 404


def test_the_progress_fragment_sends_anonymous_visitors_to_sign_in(app, client, company):
    add_job(app, company.id, "anon", status="running", done=1, total=2)
    assert client.get("/jobs/anon/progress").status_code in (302, 401)


# -- small helpers for pages --------------------------------------------------------------------


def test_undo_toast_posts_to_the_undo_url_with_the_way_back(app):
    html = render(app, "{{ ui.undo_toast('Moved to the trash.', '/trash/x/1/restore', next='/items') }}")
    assert '<form class="alert alert-info d-flex align-items-center gap-2" role="status" method="post" action="/trash/x/1/restore">' in html
    assert 'name="csrf_token"' in html and '<input type="hidden" name="next" value="/items">' in html
    assert "Undo</button>" in html


def test_the_record_header_puts_the_callers_buttons_before_the_actions(app):
    from core.hooks import RecordAction

    with app.test_request_context():
        html = render_template_string(
            '{% import "macros/detail.html" as detail %}'
            '{% call detail.header("Lamp", "An item", actions) %}<a class="own" href="/x">Own</a>{% endcall %}',
            actions=[RecordAction("Open", "/open"), RecordAction("Stop", "/stop", method="post", danger=True)])
    assert '<h1 class="mb-0">Lamp</h1>' in html and '<p class="text-body-secondary mb-0">An item</p>' in html
    group = re.search(r'<div class="record-actions[^"]*" role="group" aria-label="Actions">(.*)</div>', html, re.DOTALL).group(1)
    assert group.index('class="own"') < group.index('href="/open"') < group.index('action="/stop"')
    assert '<button type="submit" class="btn btn-sm btn-outline-danger">Stop</button>' in group
    assert "modal" not in group  # no confirm asked for: a plain form
