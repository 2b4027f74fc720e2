"""core.listing: a list page's search, sort, pages, CSV export and htmx partial, on the
fx_gadgets fixture plugin's /gadgets/list, in a bounded number of queries."""

from __future__ import annotations

import csv
import io
import re

import pytest

from core.testing import counting_queries, make_company
from tests.gadgets import (  # noqa: F401  (fixtures: fx_gadgets loaded)
    GADGETS,
    add_gadgets,
    app_config,
    create_gadget_table,
    crm_plugins,
)

HTMX = {"HX-Request": "true", "HX-Target": "gadgets"}


@pytest.fixture
def signed_in(app, client, company, login_as):
    create_gadget_table(app)
    company.enable(GADGETS)
    login_as(company.admin)
    return company


def names(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr>\s*<td>([^<]*)</td>", body)


def test_rows_are_sorted_by_the_default_sort_then_either_way_on_a_sortable_column(app, client, signed_in):
    add_gadgets(app, signed_in, "Bolt", "anvil", "Crane")
    default = names(client.get("/gadgets/list").text)
    assert sorted(default) == ["Bolt", "Crane", "anvil"]
    assert default == names(client.get("/gadgets/list?sort=name").text)  # the database's collation
    assert names(client.get("/gadgets/list?sort=-name").text) == default[::-1]
    ascending = client.get("/gadgets/list?sort=added").text
    assert names(ascending) == ["Bolt", "anvil", "Crane"]
    assert 'aria-sort="ascending"' in ascending
    assert 'href="/gadgets/list?sort=-added"' in ascending  # a second click sorts the other way
    descending = client.get("/gadgets/list?sort=-added").text
    assert names(descending) == ["Crane", "anvil", "Bolt"] and 'aria-sort="descending"' in descending


def test_an_unknown_or_unsortable_sort_falls_back_to_the_default(app, client, signed_in):
    add_gadgets(app, signed_in, "b", "a", "c")
    for sort in ("nonsense", "owner", "-", "--name", "secret"):
        response = client.get(f"/gadgets/list?sort={sort}")
        assert response.status_code == 200 and names(response.text) == ["a", "b", "c"]


def test_search_is_case_insensitive_contains_with_every_word(app, client, signed_in):
    add_gadgets(app, signed_in, "Red Drill", "blue drill", "Red saw", "100% cotton", "under_score")
    assert sorted(names(client.get("/gadgets/list?q=DRILL").text)) == ["Red Drill", "blue drill"]
    assert names(client.get("/gadgets/list?q=red+drill").text) == ["Red Drill"]
    assert names(client.get("/gadgets/list?q=%25").text) == ["100% cotton"]  # wildcards are literal
    assert names(client.get("/gadgets/list?q=e_d").text) == []  # "blue drill" would match e?d
    empty = client.get("/gadgets/list?q=zzz").text
    assert "Nothing matches “zzz”" in empty and "No gadgets yet" not in empty


def test_an_empty_list_says_so_differently_from_an_empty_search(client, signed_in):
    page = client.get("/gadgets/list").text
    assert "No gadgets yet" in page and "Nothing matches" not in page and "<table" not in page


def test_pages_hold_the_page_size_and_out_of_range_pages_fall_back(app, client, signed_in):
    add_gadgets(app, signed_in, *(f"g{n:02d}" for n in range(23)))
    first = client.get("/gadgets/list").text
    assert names(first) == [f"g{n:02d}" for n in range(10)]
    assert "Page 1 of 3 (23 items)" in first and 'href="/gadgets/list?sort=name&amp;page=2"' in first
    assert "Previous" not in first
    last = client.get("/gadgets/list?page=3").text
    assert names(last) == ["g20", "g21", "g22"] and "Previous" in last and ">Next<" not in last
    assert names(client.get("/gadgets/list?page=99").text) == ["g20", "g21", "g22"]  # the last page
    for bad in ("0", "-4", "abc", "1.5", ""):
        response = client.get(f"/gadgets/list?page={bad}")
        assert response.status_code == 200 and names(response.text)[0] == "g00"


def test_search_and_sort_are_kept_across_pages(app, client, signed_in):
    add_gadgets(app, signed_in, *(f"drill {n:02d}" for n in range(12)), "saw")
    page = client.get("/gadgets/list?q=drill&sort=-name").text
    assert names(page)[0] == "drill 11" and "(12 items)" in page
    assert 'href="/gadgets/list?q=drill&amp;sort=-name&amp;page=2"' in page


def test_only_the_company_s_live_rows_are_listed(app, client, signed_in):
    from fx_gadgets.models import Gadget

    from core.db import get_session
    from core.scoping import company_scope

    beta = make_company(app, "Beta", "beta")
    add_gadgets(app, beta, "Beta gadget")
    add_gadgets(app, signed_in, "Kept", "Binned")
    with app.app_context():
        session = get_session()
        with company_scope(session, signed_in.id):
            from core.trash import soft_delete
            soft_delete(session.query(Gadget).filter_by(name="Binned").one(), None)
            session.commit()
    page = client.get("/gadgets/list").text
    assert names(page) == ["Kept"] and "(1 item)" in page
    assert client.get("/gadgets/list.csv").text.splitlines()[1:] == [line for line in
                                                                      client.get("/gadgets/list.csv").text.splitlines()[1:]
                                                                      if line.startswith("Kept")]


def test_csv_export_has_every_row_of_the_search_in_the_sort_order(app, client, signed_in):
    add_gadgets(app, signed_in, *(f"drill {n:03d}" for n in range(120)), "saw", "=HYPERLINK(\"x\") drill",
                owner_id=None)
    response = client.get("/gadgets/list.csv?q=drill&sort=-name&page=2")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="gadgets.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["Name", "Added", "Owner"]
    assert len(rows) == 1 + 121  # every page, not the page asked for
    assert [row[0] for row in rows[1:3]] == ["drill 119", "drill 118"]
    assert rows[-1][0] == "'=HYPERLINK(\"x\") drill"  # never run as a formula by a spreadsheet
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[1][1]) and rows[1][2] == ""


def test_the_list_page_links_to_the_export_with_its_search_and_sort(app, client, signed_in):
    add_gadgets(app, signed_in, "drill")
    page = client.get("/gadgets/list?q=drill&sort=-added").text
    assert 'href="/gadgets/list.csv?q=drill&amp;sort=-added"' in page


def test_htmx_gets_the_results_region_and_a_browser_the_whole_page(app, client, signed_in):
    add_gadgets(app, signed_in, "drill", "saw")
    full = client.get("/gadgets/list?q=saw")
    assert "<html" in full.text and 'hx-get="/gadgets/list"' in full.text
    assert 'hx-trigger="input changed delay:300ms, search"' in full.text and 'hx-push-url="true"' in full.text
    assert 'hx-target="#gadgets"' in full.text and 'method="get"' in full.text
    partial = client.get("/gadgets/list?q=saw", headers=HTMX)
    assert partial.status_code == 200 and "<html" not in partial.text and "<h1>" not in partial.text
    assert partial.text.lstrip().startswith('<div id="gadgets"') and names(partial.text) == ["saw"]
    assert "HX-Request" in partial.headers["Vary"] and "HX-Request" in full.headers["Vary"]
    restore = client.get("/gadgets/list?q=saw", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text  # htmx restoring history needs the whole page


def test_the_list_needs_the_read_permission(app, client, company, db_session):
    from core.models import Membership, User

    create_gadget_table(app)
    company.enable(GADGETS)
    user = User(email="guest@acme.test", name="Guest")
    user.set_password("long enough")
    user.memberships.append(Membership(company_id=company.id))
    db_session.add(user)
    db_session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
    assert client.get("/gadgets/list").status_code == 403
    assert client.get("/gadgets/list.csv").status_code == 403



def test_a_list_page_runs_the_same_number_of_queries_whatever_the_row_count(app, client, signed_in):
    add_gadgets(app, signed_in, "a", "b", "c")
    client.get("/gadgets/list")  # warm caches that are not per request
    with counting_queries(app) as few:
        assert len(names(client.get("/gadgets/list?sort=-added").text)) == 3
    add_gadgets(app, signed_in, *(f"more {n}" for n in range(57)))
    with counting_queries(app) as many:
        assert len(names(client.get("/gadgets/list?sort=-added").text)) == 10
    assert len(few) == len(many)
    listing_queries = [s for s in many if "fx_gadgets_gadget" in s]
    assert len(listing_queries) == 2  # the count and the page
    rows_query = next(s for s in listing_queries if "LIMIT" in s.upper())
    assert "secret" not in rows_query  # only the columns the list shows


def test_a_listing_declaration_is_checked(app):
    from fx_gadgets.models import Gadget

    from core.listing import Column, Listing

    with pytest.raises(ValueError, match="default_sort"):
        Listing(Gadget, columns=[Column("name", "Name")], default_sort="name")
    with pytest.raises(ValueError, match="expression"):
        Listing(Gadget, columns=[Column("nope", "Nope")])
    assert Listing(Gadget, columns=[Column("name", "Name")], page_size=1000).page_size == 100
    assert Listing(Gadget, columns=[Column("name", "Name")]).page_size == 25
