"""The notes plugin tested the way any plugin tests itself: with core.testing's fixtures."""

import io
import re

from atrium_notes.models import Note
from sqlalchemy import select


def test_notes_page_is_hidden_until_the_company_enables_the_plugin(client, company, login_as):
    login_as(company.admin)
    assert client.get("/notes/").status_code == 404
    company.enable("notes")
    assert client.get("/notes/").status_code == 200


def test_menu_shows_notes_once_enabled(client, company, login_as):
    login_as(company.admin)
    assert b'href="/notes/"' not in client.get("/").data
    company.enable("notes")
    assert b'href="/notes/"' in client.get("/").data


def test_adding_a_note_lists_it(client, company, login_as):
    company.enable("notes")
    login_as(company.admin)
    response = client.post("/notes/", data={"title": "Call back", "body": "Friday"})
    assert response.status_code == 302
    page = client.get("/notes/").data
    assert b"Call back" in page and b"Note added." in page


def test_a_note_without_title_is_refused_with_the_reason_and_nothing_saved(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    response = client.post("/notes/", data={"title": "", "body": "kept text"})
    assert response.status_code == 422
    assert b"Enter a title." in response.data
    assert b"kept text" in response.data  # the user's input is not lost
    assert db_session.scalars(select(Note)).all() == []


def test_disabling_keeps_the_notes_and_enabling_shows_them_again(client, company, login_as):
    company.enable("notes")
    login_as(company.admin)
    client.post("/notes/", data={"title": "Survives", "body": ""})
    company.disable("notes")
    assert client.get("/notes/").status_code == 404
    company.enable("notes")
    assert b"Survives" in client.get("/notes/").data


def test_deleting_a_note_moves_it_to_the_trash_and_undo_restores_it(client, company, login_as):
    company.enable("notes")
    login_as(company.admin)
    client.post("/notes/", data={"title": "Regrettable", "body": ""})
    note_id = int(re.search(r"/notes/(\d+)/delete", client.get("/notes/").text).group(1))

    page = client.post(f"/notes/{note_id}/delete", data={"_confirmed": "yes"}, follow_redirects=True).text
    assert "moved to the trash" in page and "Undo" in page
    assert ">Regrettable</a></td>" not in page
    assert "Regrettable" in client.get("/trash/notes_note/").text

    undo_url = f"/trash/notes_note/{note_id}/restore"
    assert f'action="{undo_url}"' in page
    assert client.post(undo_url, data={"next": "/notes/"}).headers["Location"] == "/notes/"
    assert ">Regrettable</a></td>" in client.get("/notes/").text


def test_deleting_a_note_of_another_company_answers_404(client, company, login_as, app):
    from core.testing import make_company

    company.enable("notes")
    login_as(company.admin)
    client.post("/notes/", data={"title": "Acme only", "body": ""})
    beta = make_company(app, "Beta", "beta")
    beta.enable("notes")
    login_as(beta.admin)
    assert client.post("/notes/1/delete", data={"_confirmed": "yes"}).status_code == 404


def test_a_notes_page_shows_its_history(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    client.post("/notes/", data={"title": "Tracked", "body": ""})
    note_id = db_session.scalar(select(Note.id))
    page = client.get(f"/notes/{note_id}").text
    assert "History" in page and "Acme Admin" in page and "created this" in page


def test_the_add_form_keeps_the_values_and_shows_the_error_on_the_field(client, company, login_as):
    company.enable("notes")
    login_as(company.admin)
    page = client.post("/notes/", data={"title": "", "body": "kept text"}).text
    assert '<label class="form-label" for="field-title">Title' in page
    assert 'aria-invalid="true" aria-describedby="field-title-error"' in page
    assert '<div class="invalid-feedback" id="field-title-error">Enter a title.</div>' in page
    assert '<textarea class="form-control" id="field-body" name="body" maxlength="10000" rows="3">kept text</textarea>' in page
    assert '<a class="alert-link" href="#field-title">Title: Enter a title.</a>' in page


def test_editing_a_note_changes_it_and_a_bad_edit_is_refused_with_the_reason(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    client.post("/notes/", data={"title": "Draft", "body": "v1"})
    note_id = db_session.scalar(select(Note.id))
    form = client.get(f"/notes/{note_id}/edit").text
    assert 'value="Draft"' in form and ">v1</textarea>" in form
    refused = client.post(f"/notes/{note_id}/edit", data={"title": "", "body": "v2"})
    assert refused.status_code == 422 and "Enter a title." in refused.text and ">v2</textarea>" in refused.text
    saved = client.post(f"/notes/{note_id}/edit", data={"title": "Final", "body": "v2"})
    assert saved.headers["Location"] == f"/notes/{note_id}"
    page = client.get(f"/notes/{note_id}").text
    assert "<h1 class=\"mb-0\">Final</h1>" in page and "changed" in page  # the edit is in the history


def test_a_notes_page_has_its_actions_and_a_statistics_panel_loaded_on_its_own(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    client.post("/notes/", data={"title": "Counted", "body": "three little words"})
    note_id = db_session.scalar(select(Note.id))
    page = client.get(f"/notes/{note_id}").text
    assert f'href="/notes/{note_id}/edit"><i class="bi bi-pencil" aria-hidden="true"></i> Edit</a>' in page
    assert f'<form class="confirm-form d-inline" method="post" action="/notes/{note_id}/delete">' in page
    assert f'hx-get="/notes/{note_id}/panels/stats" hx-trigger="load"' in page and "Statistics" in page
    panel = client.get(f"/notes/{note_id}/panels/stats", headers={"HX-Request": "true"}).text
    assert re.search(r"<dt class=\"col-6\">Words</dt><dd class=\"col-6\">3</dd>", panel)


def test_deleting_without_confirmation_asks_first_and_keeps_the_note(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    client.post("/notes/", data={"title": "Keep me", "body": ""})
    note_id = db_session.scalar(select(Note.id))
    page = client.post(f"/notes/{note_id}/delete")
    assert page.status_code == 200 and "Move the note “Keep me” to the trash?" in page.text
    assert '<input type="hidden" name="_confirmed" value="yes">' in page.text
    assert ">Keep me</a></td>" in client.get("/notes/").text


def test_a_member_without_a_notes_role_is_refused(app, client, company, db_session):
    from core.models import Membership, User

    company.enable("notes")
    user = User(email="guest@acme.test", name="Guest")
    user.set_password("long enough")
    user.memberships.append(Membership(company_id=company.id))
    db_session.add(user)
    db_session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
    assert client.get("/notes/").status_code == 403
    assert b'href="/notes/"' not in client.get("/").data  # the menu hides what they cannot open


def test_every_route_of_the_plugin_says_who_may_use_it(app):
    from core.access import route_access_problems

    assert route_access_problems(app, blueprints=["notes"]) == []


# -- the list page: search, sort, pages, CSV export, htmx ----------------------------------------


def add_notes(db_session, company, *titles, body=""):
    from datetime import datetime, timedelta, timezone

    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    db_session.add_all([
        Note(company_id=company.id, title=title, body=body, created_at=start + timedelta(minutes=n))
        for n, title in enumerate(titles)
    ])
    db_session.commit()


def listed_titles(html):
    return re.findall(r'<a href="/notes/\d+">([^<]*)</a>', html)


def test_the_search_box_finds_notes_by_title_or_text(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    add_notes(db_session, company, "Call Alice", "Lunch")
    add_notes(db_session, company, "Visit", body="bring the ALICE contract")
    assert sorted(listed_titles(client.get("/notes/?q=alice").text)) == ["Call Alice", "Visit"]
    page = client.get("/notes/?q=nobody").text
    assert listed_titles(page) == [] and "Nothing matches" in page


def test_notes_sort_by_title_both_ways_and_newest_first_by_default(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    add_notes(db_session, company, "Beta", "Alpha", "Gamma")
    assert listed_titles(client.get("/notes/").text) == ["Gamma", "Alpha", "Beta"]
    assert listed_titles(client.get("/notes/?sort=title").text) == ["Alpha", "Beta", "Gamma"]
    page = client.get("/notes/?sort=-title").text
    assert listed_titles(page) == ["Gamma", "Beta", "Alpha"] and 'aria-sort="descending"' in page


def test_notes_come_in_pages_of_twenty(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    add_notes(db_session, company, *(f"Note {n:02d}" for n in range(25)))
    first = client.get("/notes/?sort=title").text
    assert len(listed_titles(first)) == 20 and "Page 1 of 2 (25 items)" in first
    second = client.get("/notes/?sort=title&page=2").text
    assert listed_titles(second) == [f"Note {n}" for n in range(20, 25)]
    assert listed_titles(client.get("/notes/?sort=title&page=99").text) == listed_titles(second)  # the last page


def test_notes_export_as_csv_with_the_current_search_and_sort(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    add_notes(db_session, company, "Call Bob", "Call Ann", "Lunch")
    response = client.get("/notes/export?q=call&sort=title")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.text.splitlines()
    assert lines[0] == "Title,Text,Added"
    assert [line.split(",")[0] for line in lines[1:]] == ["Call Ann", "Call Bob"]
    assert 'href="/notes/export?q=call&amp;sort=title"' in client.get("/notes/?q=call&sort=title").text


def test_notes_export_as_a_spreadsheet(client, company, login_as, db_session):
    from openpyxl import load_workbook

    company.enable("notes")
    login_as(company.admin)
    add_notes(db_session, company, "Call Bob", "Lunch")
    response = client.get("/notes/export?format=xlsx&sort=title")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Title", "Text", "Added")
    assert [row[0] for row in rows[1:]] == ["Call Bob", "Lunch"]


def test_notes_filter_by_the_day_they_were_added(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    add_notes(db_session, company, "New year")  # added on 2025-01-01 (UTC)
    assert listed_titles(client.get("/notes/?added_from=2025-01-01&added_to=2025-01-01").text) == ["New year"]
    assert listed_titles(client.get("/notes/?added_to=2024-12-31").text) == []
    ignored = client.get("/notes/?added_from=not-a-date").text
    assert listed_titles(ignored) == ["New year"] and "Ignored invalid filter values" in ignored


def test_selected_notes_go_to_the_trash_together_after_a_confirmation(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    add_notes(db_session, company, "One", "Two", "Kept")
    ids = [str(note_id) for note_id in db_session.scalars(select(Note.id).where(Note.title.in_(["One", "Two"])))]
    asked = client.post("/notes/bulk/delete", data={"ids": ids, "action": "delete"})
    assert asked.status_code == 200 and "Move the selected notes to the trash? 2 records selected." in asked.text
    assert sorted(listed_titles(client.get("/notes/").text)) == ["Kept", "One", "Two"]
    done = client.post("/notes/bulk/delete", data={"ids": ids, "action": "delete", "_confirmed": "yes"})
    assert done.status_code == 302
    assert listed_titles(client.get("/notes/").text) == ["Kept"]


def test_typing_in_the_search_box_gets_only_the_results_from_htmx(client, company, login_as, db_session):
    company.enable("notes")
    login_as(company.admin)
    add_notes(db_session, company, "Call Alice", "Lunch")
    response = client.get("/notes/?q=lunch", headers={"HX-Request": "true", "HX-Target": "notes"})
    assert response.text.lstrip().startswith('<div id="notes"') and "<html" not in response.text
    assert listed_titles(response.text) == ["Lunch"]
    assert "<html" in client.get("/notes/?q=lunch").text


def test_the_latest_notes_widget_links_the_five_newest_for_readers_only(app, client, company, login_as, db_session):
    from core.models import Membership, User
    from core.testing import TEST_PASSWORD

    company.enable("notes")
    add_notes(db_session, company, *(f"Note {n}" for n in range(7)))
    login_as(company.admin)
    assert 'hx-get="/dashboard/widgets/notes.latest"' in client.get("/").text
    body = client.get("/dashboard/widgets/notes.latest", headers={"HX-Request": "true"}).text
    assert re.findall(r'<a href="/notes/\d+">([^<]+)</a>', body) == [f"Note {n}" for n in (6, 5, 4, 3, 2)]
    outsider = User(email="outsider@acme.test", name="No role")  # a member without notes.note.read
    outsider.set_password(TEST_PASSWORD)
    outsider.memberships.append(Membership(company_id=company.id))
    db_session.add(outsider)
    db_session.commit()
    login_as(outsider)
    assert "Latest notes" not in client.get("/").text
    assert client.get("/dashboard/widgets/notes.latest", headers={"HX-Request": "true"}).status_code == 404
