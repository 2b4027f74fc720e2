"""Saved views of list pages (core.saved_views), on the notes example's list."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select

from core.db import get_session
from core.listing import LISTINGS
from core.models import AuditEntry, Membership, Role, RolePermission, SavedView, User
from core.scoping import company_scope
from core.testing import TEST_PASSWORD, counting_queries, make_company

NOTES_EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "atrium-notes"


@pytest.fixture
def app_config(monkeypatch):
    monkeypatch.syspath_prepend(str(NOTES_EXAMPLE))
    return {"CRM_PLUGIN_MODULES": ["atrium_notes"]}


@pytest.fixture
def crm_plugins():
    return ["notes"]


@pytest.fixture
def acme(app, company):
    company.enable("notes")
    return company


def add_reader(app, company_id: int, email: str = "reader@acme.test") -> User:
    """A member (not an administrator) who may read notes."""
    with app.app_context():
        session = get_session()
        role = Role(company_id=company_id, name="Note readers")
        role.permissions = [RolePermission(code="notes.note.read")]
        user = User(email=email, name=email.split("@")[0].title())
        user.set_password(TEST_PASSWORD)
        session.add_all([role, user])
        session.flush()
        session.add(Membership(user_id=user.id, company_id=company_id, role_id=role.id))
        session.commit()
        return user


def add_notes(app, company_id: int, *titles: str) -> None:
    from atrium_notes.models import Note

    with app.app_context():
        session = get_session()
        with company_scope(session, company_id):
            session.add_all([Note(title=title, body=f"about {title}") for title in titles])
            session.commit()


def save(client, name: str, query: str = "", shared: bool = False, list_id: str = "notes", **extra):
    data = {"list_id": list_id, "name": name, "query": query, "next": "/notes/", **extra}
    if shared:
        data["shared"] = "yes"
    return client.post("/saved-views/", data=data)


def stored(app) -> list[SimpleNamespace]:
    """Every saved view of every company, as plain values."""
    with app.app_context():
        views = get_session().scalars(select(SavedView).execution_options(crm_unscoped=True).order_by(SavedView.id))
        return [SimpleNamespace(**{column.key: getattr(view, column.key) for column in SavedView.__table__.columns})
                for view in views]


def titles(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r'<a href="/notes/\d+">([^<]*)</a>', body)


def view_names(html: str) -> list[str]:
    """The saved views the macro lists."""
    panel = html.split('id="notes-views"', 1)[1].split("<form id=\"notes-save-view\"", 1)[0]
    return re.findall(r'<a href="/notes/\?[^"]*"[^>]*>([^<]*)</a>', panel)


# -- saving and applying -----------------------------------------------------------------------


def test_a_saved_view_keeps_only_the_lists_parameters_and_opens_the_list_with_them(app, client, acme, login_as):
    add_notes(app, acme.id, "Alpha apple", "Alpha pear", "Beta apple")
    login_as(acme.admin)

    response = save(client, "Alphas", "q=alpha&sort=title&page=3&after=xyz&bogus=1&added_from=2000-01-01&cols=")

    assert response.status_code == 303
    [view] = stored(app)
    assert (view.list_id, view.name, view.owner_id, view.shared, view.company_id) == (
        "notes", "Alphas", acme.admin.id, False, acme.id)
    assert parse_qsl(view.query) == [("q", "alpha"), ("sort", "title"), ("added_from", "2000-01-01"),
                                     ("cols", "default")]
    target = urlsplit(response.headers["Location"])
    assert (target.path, target.query) == ("/notes/", view.query)
    page = client.get(response.headers["Location"]).text
    assert titles(page) == ["Alpha apple", "Alpha pear"]  # searched and sorted by title
    assert 'aria-current="page">Alphas</a>' in page  # the view shown now is marked


def test_the_macro_lists_the_views_with_links_applying_them_and_a_save_form(app, client, acme, login_as):
    add_notes(app, acme.id, "Alpha", "Beta")
    login_as(acme.admin)
    save(client, "Betas", "q=beta", shared=True)

    page = client.get("/notes/?q=alpha&page=1").text

    assert view_names(page) == ["Betas"]
    assert '<a href="/notes/?q=beta&amp;cols=default">Betas</a>' in page  # not the active one
    assert "aria-current" not in page.split('id="notes-views"', 1)[1].split("</details>", 1)[0]
    assert '<span class="badge text-bg-light border">Shared</span>' in page
    form = page.split('<form id="notes-save-view"', 1)[1].split("</form>", 1)[0]
    assert 'action="/saved-views/"' in form
    assert '<input type="hidden" name="list_id" value="notes">' in form
    assert '<input type="hidden" name="query" value="q=alpha&amp;sort=-added&amp;cols=default">' in form
    assert '<label class="form-label small fw-semibold" for="notes-view-name">' in form
    assert 'name="shared"' in form and 'name="csrf_token"' in form


def test_the_columns_the_session_remembers_are_saved_when_the_query_names_none(app, client, acme, login_as):
    login_as(acme.admin)
    client.get("/notes/?cols=none")  # hides the optional "Text" column; the session keeps it

    save(client, "Narrow", "q=x")

    assert dict(parse_qsl(stored(app)[0].query))["cols"] == "none"


def test_the_views_part_of_the_page_costs_one_query_however_many_views(app, client, acme, login_as):
    login_as(acme.admin)
    for number in range(6):
        save(client, f"View {number}", f"q={number}", shared=number % 2 == 0)

    with counting_queries(app) as statements:
        page = client.get("/notes/").text

    assert len(view_names(page)) == 6
    assert len([s for s in statements if "core_saved_view" in s]) == 1


# -- who sees what --------------------------------------------------------------------------------


def test_a_reader_sees_their_own_views_and_the_shared_ones_but_not_anothers_private_views(app, client, acme, login_as):
    reader = add_reader(app, acme.id)
    login_as(acme.admin)
    save(client, "Admin private", "q=a")
    save(client, "Admin shared", "q=b", shared=True)
    login_as(reader)
    save(client, "Reader private", "q=c")

    assert view_names(client.get("/notes/").text) == ["Admin shared", "Reader private"]
    login_as(acme.admin)
    assert view_names(client.get("/notes/").text) == ["Admin private", "Admin shared"]


def test_another_companys_views_are_never_visible_nor_deletable(app, client, acme, login_as):
    beta = make_company(app, "Beta", "beta")
    beta.enable("notes")
    login_as(beta.admin)
    client.get(save(client, "Beta shared", "q=x", shared=True).headers["Location"])  # shows the flash
    [beta_view] = stored(app)

    login_as(acme.admin)
    page = client.get("/notes/").text

    assert view_names(page) == []
    assert "Beta shared" not in page
    assert client.post(f"/saved-views/{beta_view.id}/delete", data={"_confirmed": "yes"}).status_code == 404
    assert len(stored(app)) == 1


def test_anothers_private_view_is_not_found_and_a_shared_one_is_refused_to_a_non_administrator(
        app, client, acme, login_as):
    reader = add_reader(app, acme.id)
    login_as(acme.admin)
    save(client, "Private", "q=a")
    save(client, "Shared", "q=b", shared=True)
    private, shared = stored(app)

    login_as(reader)
    assert client.post(f"/saved-views/{private.id}/delete", data={"_confirmed": "yes"}).status_code == 404
    refused = client.post(f"/saved-views/{shared.id}/delete", data={"_confirmed": "yes"})
    assert refused.status_code == 403
    assert "Only the person who saved a shared view" in refused.text
    assert len(stored(app)) == 2
    page = client.get("/notes/").text
    assert f"/saved-views/{shared.id}/delete" not in page  # no delete button either


def test_an_administrator_may_delete_a_shared_view_of_someone_else_but_not_a_private_one(app, client, acme, login_as):
    reader = add_reader(app, acme.id)
    login_as(reader)
    save(client, "Reader private", "q=a")
    save(client, "Reader shared", "q=b", shared=True)
    private, shared = stored(app)

    login_as(acme.admin)
    assert client.post(f"/saved-views/{private.id}/delete", data={"_confirmed": "yes"}).status_code == 404
    assert client.post(f"/saved-views/{shared.id}/delete", data={"_confirmed": "yes"}).status_code == 303
    assert [view.name for view in stored(app)] == ["Reader private"]


def test_deleting_a_view_asks_for_confirmation_first_and_leaves_an_audit_trail(app, client, acme, login_as):
    login_as(acme.admin)
    save(client, "Old", "q=a")
    [view] = stored(app)

    asked = client.post(f"/saved-views/{view.id}/delete", data={"next": "/notes/?q=a"})
    assert asked.status_code == 200
    assert "Delete the saved view “Old”?" in asked.text
    assert len(stored(app)) == 1

    done = client.post(f"/saved-views/{view.id}/delete", data={"next": "/notes/?q=a", "_confirmed": "yes"})
    assert (done.status_code, done.headers["Location"]) == (303, "/notes/?q=a")
    assert stored(app) == []
    with app.app_context():
        actions = get_session().scalars(select(AuditEntry.action).where(
            AuditEntry.record_type == "core.saved_view", AuditEntry.record_id == str(view.id))
            .execution_options(crm_unscoped=True)).all()
    assert sorted(actions) == ["create", "purge"]  # the trail's word for a row deleted for good


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "message"), [
    ("", "Give the view a name."),
    ("   ", "Give the view a name."),
    ("x" * 81, "The name may have at most 80 characters."),
])
def test_a_missing_or_too_long_name_is_refused_with_a_message_and_the_form_again(
        app, client, acme, login_as, name, message):
    login_as(acme.admin)

    response = save(client, name, "q=kept", shared=True)

    assert response.status_code == 422
    assert message in response.text
    assert 'aria-describedby="saved-view-name-error"' in response.text
    assert 'name="query" value="q=kept&amp;cols=default"' in response.text  # nothing typed is lost
    assert 'name="shared" value="yes" checked' in response.text
    assert stored(app) == []


def test_a_name_is_unique_per_list_and_owner(app, client, acme, login_as):
    reader = add_reader(app, acme.id)
    login_as(acme.admin)
    assert save(client, "Mine", "q=a").status_code == 303

    again = save(client, "Mine", "q=b")

    assert again.status_code == 422
    assert "You already have a view named “Mine” on this list." in again.text
    login_as(reader)
    assert save(client, "Mine", "q=c").status_code == 303  # another owner may use the name
    assert len(stored(app)) == 2


def test_an_unknown_list_id_is_refused_with_400(app, client, acme, login_as):
    login_as(acme.admin)

    response = save(client, "Sneaky", "q=a", list_id="no-such-list")

    assert response.status_code == 400
    assert "“no-such-list” is not a list of this application." in response.text
    assert stored(app) == []


def test_saving_needs_a_signed_in_user(app, client, acme):
    response = save(client, "Anon", "q=a")
    assert response.status_code in (302, 303, 401)
    assert stored(app) == []


def test_the_listing_registry_knows_every_declared_list(app):
    from atrium_notes.services import NOTES

    assert LISTINGS["notes"] is NOTES
