"""Importing leads from files, end to end through the core's import pages: headings suggested
(Chinese ones too), normalised email and phone, searchable leads, the owner by email or name,
the dry run's errors by row, duplicates skipped or updated by email or phone."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.imports import suggest_mapping
from plugins.sales.lead_imports import LEADS
from plugins.sales.models import Lead
from tests.plugins.customers.test_accounts import make_member
from tests.plugins.customers.test_imports import csv_bytes, import_file, run_of
from tests.plugins.sales.helpers import in_company


def leads(app, company) -> list[Lead]:
    def work(session):
        found = list(session.scalars(select(Lead).order_by(Lead.id)))
        session.expunge_all()
        return found
    return in_company(app, company, work)


def add_lead(app, company, name: str, **values) -> int:
    def work(session):
        lead = Lead(company_id=company.id, name=name, **values)
        session.add(lead)
        session.flush()
        return lead.id
    return in_company(app, company, work)


def test_chinese_and_english_headings_are_suggested_for_the_lead_fields(app):
    with app.test_request_context():
        assert suggest_mapping(["姓名", "公司", "邮箱", "手机", "来源", "负责人", "Job title", "utm_source", "备注"],
                               LEADS) == ["name", "organisation", "email", "phone", "source", "owner", "title",
                                          "utm_source", "notes"]


def test_a_csv_import_creates_normalised_searchable_leads_owned_as_the_file_says(app, client, company, admin,
                                                                                  db_session):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    content = csv_bytes([
        ["Name", "Organisation", "Email", "Phone", "Status", "Owner", "Source", "UTM source", "Notes"],
        ["Li Wei", "Panda Foods", " Li.Wei@Panda.example ", "+86 138-0013-8000", "Contacted", "rita rep", "fair",
         "newsletter", "Met at the fair"],
        ["Ana Gómez", "", "ana@example.com", "", "", "REP@acme.test", "", "", ""],
        ["Mine", "", "", "010 1234", "qualified", "", "", "", ""],
    ])
    run_id = import_file(client, "sales.leads", content, key="email")
    assert run_of(db_session, run_id).created == 3
    li, ana, mine = leads(app, company)
    assert (li.name, li.organisation, li.email, li.email_normalized) == (
        "Li Wei", "Panda Foods", "Li.Wei@Panda.example", "li.wei@panda.example")
    assert (li.phone_normalized, li.status, li.owner_id, li.source, li.utm_source, li.notes) == (
        "+8613800138000", "contacted", rep.id, "fair", "newsletter", "Met at the fair")
    assert (ana.status, ana.owner_id) == ("new", rep.id)  # blank status: new; owner by email
    assert (mine.status, mine.owner_id) == ("qualified", admin.id)  # blank owner: who imports
    assert "panda" in li.search_text and "13800138000" in li.search_text
    listed = client.get("/sales/leads/?q=panda").text
    assert re.findall(r'<a href="/sales/leads/\d+">([^<]+)</a>', listed) == ["Li Wei"]
    assert "Li Wei" in client.get("/sales/leads/?q=138 0013 8000").text  # the phone however typed


def test_the_dry_run_lists_each_refused_row_and_writes_nothing(app, client, company, admin, db_session):
    content = csv_bytes([
        ["Name", "Email", "Status", "Owner"],
        ["Good", "good@example.com", "new", ""],
        ["", "nameless@example.com", "", ""],
        ["Bad email", "not-an-email", "", ""],
        ["Converted", "c@example.com", "converted", ""],
        ["Stranger", "s@example.com", "", "nobody@else.example"],
        ["Odd", "o@example.com", "pending", ""],
    ])
    uploaded = client.post("/imports/new", data={"target": "sales.leads", "file": (__import__("io").BytesIO(content),
                                                                                    "leads.csv")},
                           content_type="multipart/form-data")
    run_id = int(uploaded.headers["Location"].rstrip("/").split("/")[-1])
    form = {"column-0": "name", "column-1": "email", "column-2": "status", "column-3": "owner",
            "mode": "skip", "key": "email", "action": "dry_run"}
    assert client.post(f"/imports/{run_id}", data=form).status_code == 302
    run = run_of(db_session, run_id)
    assert (run.created, run.failed) == (1, 5)
    by_row = {error["row"]: (error["column"], error["message"]) for error in run.errors}
    assert by_row[3][0] == "Name" and by_row[4][0] == "Email"
    assert by_row[5][0] == "Status" and "converting" in by_row[5][1]
    assert by_row[6][0] == "Owner" and "nobody@else.example" in by_row[6][1]
    assert by_row[7][0] == "Status"
    assert leads(app, company) == []


def test_duplicates_by_email_are_skipped_and_a_repeat_in_the_file_too(app, client, company, admin, db_session):
    add_lead(app, company, "Existing", email="Known@Example.com", source="fair")
    content = csv_bytes([["Name", "Email", "Source"], ["Again", "known@example.COM", "web"],
                         ["New one", "new@example.com", "web"], ["New twice", "NEW@example.com", "web"]])
    run_id = import_file(client, "sales.leads", content, key="email")
    run = run_of(db_session, run_id)
    assert (run.created, run.skipped) == (1, 2)
    assert sorted((lead.name, lead.source) for lead in leads(app, company)) == [("Existing", "fair"),
                                                                             ("New one", "web")]


def test_update_mode_finds_a_lead_by_its_phone_and_changes_only_the_mapped_fields(app, client, company, admin,
                                                                                   db_session):
    lead_id = add_lead(app, company, "Old Name", phone="+86 138 0013 8000", region="North", status="contacted",
                       owner_id=admin.id)
    content = csv_bytes([["Name", "Phone", "Organisation"], ["New Name", "+86 (138) 0013-8000", "Acme"]])
    run_id = import_file(client, "sales.leads", content, key="phone", mode="update")
    assert run_of(db_session, run_id).updated == 1
    (lead,) = leads(app, company)
    assert (lead.id, lead.name, lead.organisation, lead.region, lead.status, lead.owner_id) == (
        lead_id, "New Name", "Acme", "North", "contacted", admin.id)
    assert lead.phone_normalized == "+8613800138000" and "new name" in lead.search_text and "acme" in lead.search_text


def test_update_mode_keeps_the_owner_of_a_row_whose_owner_cell_is_blank(app, client, company, admin, db_session):
    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    kept = add_lead(app, company, "Kept", email="kept@example.com", owner_id=admin.id)
    moved = add_lead(app, company, "Moved", email="moved@example.com", owner_id=admin.id)
    content = csv_bytes([["Name", "Email", "Owner", "Source"], ["Kept", "kept@example.com", "", "fair"],
                         ["Moved", "moved@example.com", "rep@acme.test", "fair"]])
    run_id = import_file(client, "sales.leads", content, key="email", mode="update")
    assert run_of(db_session, run_id).updated == 2
    owners = {lead.id: (lead.owner_id, lead.source) for lead in leads(app, company)}
    assert owners == {kept: (admin.id, "fair"), moved: (rep.id, "fair")}


def test_importing_leads_needs_the_lead_write_permission(app, client, company, admin, login_as):
    viewer = make_member(app, company, "viewer@acme.test", "Viewer", template=None)
    login_as(viewer)
    assert client.get("/imports/new?target=sales.leads").status_code == 403


def test_the_lead_list_links_to_the_lead_import(app, client, company, admin):
    assert 'href="/imports/new?target=sales.leads"' in client.get("/sales/leads/").text


def test_rows_without_an_owner_go_to_the_assignment_rules_and_imported_leads_are_scored(app, client, company,
                                                                                        admin):
    from tests.plugins.sales.test_assignment import add_rule
    from tests.plugins.sales.test_scoring import add_rule as add_scoring_rule

    rep = make_member(app, company, "rep@acme.test", "Rita Rep")
    add_rule(app, company, "Fair leads to Rita", source="fair", user_id=rep.id)
    add_scoring_rule(app, company, kind="field", field="source", operator="equals", value="fair", points=20)
    content = csv_bytes([["Name", "Email", "Source", "Owner"], ["From the fair", "f@example.com", "fair", ""],
                         ["Elsewhere", "e@example.com", "web", ""], ["Mine", "m@example.com", "fair", admin.email]])
    import_file(client, "sales.leads", content, key="email")
    fair, elsewhere, mine = leads(app, company)
    assert (fair.owner_id, fair.score) == (rep.id, 20)
    assert (elsewhere.owner_id, elsewhere.score) == (None, 0)  # no rule fits: the customer pool
    assert (mine.owner_id, mine.score) == (admin.id, 20)  # an owner given in the file wins
