"""Segments: saved filters over accounts and contacts, with a live count."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.scoping import company_scope
from core.testing import make_company
from plugins.customers.models import Segment
from plugins.customers.services import segment_count as count  # what other plugins import
from plugins.customers.services import segment_members as members
from tests.plugins.customers.test_accounts import add_account, admin, make_member  # noqa: F401

HTMX = {"HX-Request": "true"}


def save(client, name, query, target="accounts"):
    return client.post("/customers/segments/", data={"name": name, "target": target, "query": query,
                                                     "next": f"/customers/{target}/"})


def segment_id(db_session, company, name):
    with company_scope(db_session, company.id):
        return db_session.scalar(select(Segment.id).where(Segment.name == name))


def test_a_segment_keeps_the_lists_search_and_filters_and_counts_what_matches_now(app, client, company, admin, db_session):
    add_account(app, company, "Active One", status="active", region="North")
    add_account(app, company, "Active Two", status="active", region="South")
    add_account(app, company, "Prospect", status="prospect", region="North")
    assert save(client, "Active in the north", "status=active&region=North&sort=-name&cols=default").status_code == 302
    seg = segment_id(db_session, company, "Active in the north")
    with company_scope(db_session, company.id):
        assert db_session.get(Segment, seg).query == "status=active&region=North"  # no sort, no columns
    body = client.get(f"/customers/segments/{seg}/count", headers=HTMX).text
    assert body.strip() == "1 record"
    add_account(app, company, "Active Three", status="active", region="North")  # evaluated when asked
    assert client.get(f"/customers/segments/{seg}/count", headers=HTMX).text.strip() == "2 records"
    opened = client.get(f"/customers/segments/{seg}")
    assert opened.status_code == 302 and opened.location.endswith("/customers/accounts/?status=active&region=North")


def test_members_are_what_the_user_may_see(app, client, company, admin, db_session):
    rep = make_member(app, company, "rep@acme.test", "Rep")
    add_account(app, company, "Mine", status="active", owner_id=rep.id)
    add_account(app, company, "Not mine", status="active", owner_id=company.admin.id)
    save(client, "Active", "status=active")
    with app.test_request_context():
        from core.db import get_session
        from core.models import User

        session = get_session()
        with company_scope(session, company.id):
            segment = session.scalar(select(Segment))
            assert count(session, segment, user=session.get(User, company.admin.id)) == 2
            rep_user = session.get(User, rep.id)
            assert count(session, segment, user=rep_user) == 1
            assert [a.name for a in session.scalars(members(segment, rep_user))] == ["Mine"]


def test_a_segment_needs_a_unique_name_and_a_known_target(app, client, company, admin):
    assert save(client, "Twice", "").status_code == 302
    again = save(client, "twice", "")
    assert again.status_code == 422 and "A segment named “twice” exists already." in again.text
    blank = save(client, "  ", "")
    assert blank.status_code == 422 and "Give the segment a name" in blank.text
    assert save(client, "Odd", "", target="invoices").status_code == 422


def test_the_list_offers_saving_its_filters_as_a_segment(app, client, company, admin):
    page = client.get("/customers/accounts/?status=active").text
    form = re.search(r'<form method="post" action="/customers/segments/".*?</form>', page, re.S).group(0)
    assert 'name="target" value="accounts"' in form, form
    assert re.search(r'name="query" value="[^"]*status=active', form), form


def test_another_companys_segment_is_not_found(app, client, company, admin, db_session):
    other = make_company(app, "Beta", "beta")
    other.enable("customers")

    with app.app_context():
        from core.db import get_session

        session = get_session()
        session.add(Segment(company_id=other.id, name="Theirs", target="accounts", query=""))
        session.commit()
        theirs = session.scalar(select(Segment.id).where(Segment.name == "Theirs").execution_options(crm_unscoped=True))
    assert client.get(f"/customers/segments/{theirs}").status_code == 404
    assert client.get(f"/customers/segments/{theirs}/count").status_code == 404
    assert "Theirs" not in client.get("/customers/segments/").text


def test_deleting_a_segment_asks_first_and_keeps_its_records(app, client, company, admin, db_session):
    add_account(app, company, "Kept", status="active")
    save(client, "Gone soon", "status=active")
    seg = segment_id(db_session, company, "Gone soon")
    asked = client.post(f"/customers/segments/{seg}/delete")
    assert asked.status_code == 200 and "Its records are not touched." in asked.text
    assert client.post(f"/customers/segments/{seg}/delete", data={"_confirmed": "yes"}).status_code == 302
    assert segment_id(db_session, company, "Gone soon") is None
    assert "Kept" in client.get("/customers/accounts/").text
