"""core.listing's filters, column picker, bulk actions and XLSX export, on the fx_listing
fixture plugin's /items/ page."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timezone

import pytest

from core.db import get_database, get_session
from core.scoping import company_scope
from core.testing import counting_queries, make_company

PLUGIN = "fx_listing"
HTMX = {"HX-Request": "true", "HX-Target": "items"}


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": [PLUGIN]}


@pytest.fixture
def crm_plugins():
    return [PLUGIN]


def create_item_table(app) -> None:
    from fx_listing.models import Item

    Item.__table__.create(get_database(app).engine, checkfirst=True)


def add_items(app, company, *rows: dict) -> list[int]:
    """Create items in ``company`` (each a dict of Item fields, or a name); return their ids."""
    from fx_listing.models import Item

    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            items = [Item(**({"name": row} if isinstance(row, str) else row)) for row in rows]
            session.add_all(items)
            session.commit()
            return [item.id for item in items]


@pytest.fixture
def signed_in(app, client, company, login_as):
    create_item_table(app)
    company.enable(PLUGIN)
    login_as(company.admin)
    return company


def names(html: str) -> list[str]:
    """The first text cell of each row of the results table."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [re.findall(r"<td>([^<]*)</td>", row)[0] for row in rows]


def headers(html: str) -> list[str]:
    head = html.split("<thead>", 1)[1].split("</thead>", 1)[0] if "<thead>" in html else ""
    return [re.sub(r"<[^>]+>|[▲▼]", "", cell).strip() for cell in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)
            if "checkbox" not in cell]


def rows_query(statements: list[str]) -> str:
    return next(s for s in statements if "fx_listing_item" in s and "LIMIT" in s.upper())


# -- filters --------------------------------------------------------------------------------------


def test_a_choice_filter_keeps_the_matching_rows_and_ignores_an_unknown_value(app, client, signed_in):
    add_items(app, signed_in, {"name": "a", "kind": "fancy"}, {"name": "b"}, {"name": "c", "kind": "fancy"})
    page = client.get("/items/?kind=fancy").text
    assert names(page) == ["a", "c"]
    assert '<option value="fancy" selected>Fancy</option>' in page
    assert "Filtered by:" in page and "Kind: Fancy" in page
    ignored = client.get("/items/?kind=bogus")
    assert ignored.status_code == 200 and names(ignored.text) == ["a", "b", "c"]
    assert "is-invalid" in ignored.text and "“bogus” is not a valid value: ignored." in ignored.text
    assert 'aria-describedby="items-f-kind-error"' in ignored.text
    assert "kind=bogus" not in ignored.text.split('<div id="items"', 1)[1]  # links drop the ignored value


def test_a_boolean_filter_reads_yes_and_no_and_ignores_anything_else(app, client, signed_in):
    add_items(app, signed_in, {"name": "on"}, {"name": "off", "active": False})
    assert names(client.get("/items/?active=yes").text) == ["on"]
    assert names(client.get("/items/?active=no").text) == ["off"]
    assert names(client.get("/items/?active=0").text) == ["off"]
    maybe = client.get("/items/?active=maybe")
    assert maybe.status_code == 200 and names(maybe.text) == ["off", "on"]
    assert "“maybe” is not a valid value: ignored." in maybe.text


def test_a_date_range_filter_includes_both_ends_and_ignores_a_bad_date(app, client, signed_in):
    add_items(app, signed_in, {"name": "jan", "due": date(2024, 1, 31)}, {"name": "feb", "due": date(2024, 2, 1)},
              {"name": "mar", "due": date(2024, 3, 1)}, {"name": "none"})
    assert names(client.get("/items/?due_from=2024-01-31&due_to=2024-02-01").text) == ["feb", "jan"]
    assert names(client.get("/items/?due_from=2024-02-01").text) == ["feb", "mar"]
    assert names(client.get("/items/?due_to=2024-01-31").text) == ["jan"]
    bad = client.get("/items/?due_from=2024-13-01&due_to=2024-02-01")
    assert bad.status_code == 200 and names(bad.text) == ["feb", "jan"]  # the valid end still applies
    assert "“2024-13-01” is not a date (YYYY-MM-DD): ignored." in bad.text
    assert 'id="items-f-due_from" type="date" name="due_from" value=""' in bad.text


def test_a_date_range_on_a_timestamp_covers_whole_days(app, client, signed_in):
    utc = timezone.utc
    add_items(app, signed_in, {"name": "late", "created_at": datetime(2024, 5, 1, 23, 59, 59, tzinfo=utc)},
              {"name": "next", "created_at": datetime(2024, 5, 2, 0, 0, 0, tzinfo=utc)},
              {"name": "early", "created_at": datetime(2024, 5, 1, 0, 0, 0, tzinfo=utc)})
    assert names(client.get("/items/?added_from=2024-05-01&added_to=2024-05-01").text) == ["early", "late"]
    assert names(client.get("/items/?added_from=2024-05-02").text) == ["next"]


def test_choices_can_come_from_a_query_and_a_value_outside_them_is_ignored(app, client, signed_in):
    add_items(app, signed_in, {"name": "three", "score": 3}, {"name": "five", "score": 5}, {"name": "blank"})
    page = client.get("/items/?score=3").text
    assert names(page) == ["three"]
    assert '<option value="5">Score 5</option>' in page and '<option value="3" selected>Score 3</option>' in page
    ignored = client.get("/items/?score=99")
    assert names(ignored.text) == ["blank", "five", "three"] and "“99” is not a valid value" in ignored.text


def test_a_free_text_filter_coerces_its_value_and_ignores_what_does_not_convert(app, client, signed_in):
    add_items(app, signed_in, {"name": "three", "score": 3}, {"name": "five", "score": 5})
    assert names(client.get("/items/?score_is=5").text) == ["five"]
    bad = client.get("/items/?score_is=five")
    assert bad.status_code == 200 and names(bad.text) == ["five", "three"] and "is-invalid" in bad.text


def test_filters_search_sort_and_columns_are_kept_in_every_link(app, client, signed_in):
    add_items(app, signed_in, *({"name": f"drill {n}", "kind": "fancy"} for n in range(7)), "drill plain")
    page = client.get("/items/?q=drill&kind=fancy&sort=-name&cols=memo").text
    state = "q=drill&amp;sort=-name"
    assert f'href="/items/?{state}&amp;page=2&amp;kind=fancy&amp;cols=memo"' in page  # next page
    assert 'href="/items/?q=drill&amp;sort=name&amp;kind=fancy&amp;cols=memo"' in page  # a sort header
    assert f'href="/items/export?{state}&amp;kind=fancy&amp;cols=memo"' in page  # CSV
    assert f'href="/items/export?{state}&amp;kind=fancy&amp;cols=memo&amp;format=xlsx"' in page  # XLSX
    assert 'href="/items/?q=drill&amp;sort=-name&amp;cols=memo">Clear filters' in page
    # Without JavaScript each form carries the others' state; with it, htmx includes their live values.
    search_form = page.split('id="items-search"', 1)[1].split("</form>", 1)[0]
    assert '<noscript><input type="hidden" name="kind" value="fancy"><input type="hidden" name="cols" value="memo"></noscript>' in search_form
    assert 'hx-include="closest form, #items-filters"' in search_form
    filter_form = page.split('id="items-filters"', 1)[1].split("</form>", 1)[0]
    assert '<input type="hidden" name="q" value="drill">' in filter_form and 'hx-include="#items-q"' in filter_form


def test_filters_refresh_the_results_region_for_htmx(app, client, signed_in):
    add_items(app, signed_in, {"name": "a", "kind": "fancy"}, "b")
    partial = client.get("/items/?kind=fancy", headers=HTMX)
    assert partial.text.lstrip().startswith('<div id="items"') and names(partial.text) == ["a"]
    full = client.get("/items/").text
    assert 'hx-trigger="change, submit"' in full and '<button type="submit" class="btn btn-sm' in full


def test_no_match_for_the_filters_has_its_own_empty_state(app, client, signed_in):
    add_items(app, signed_in, "plain one")
    filtered = client.get("/items/?kind=fancy").text
    assert "Nothing matches these filters" in filtered and "No items yet" not in filtered
    assert 'href="/items/?sort=name">Clear filters' in filtered
    both = client.get("/items/?kind=fancy&q=one").text
    assert "Nothing matches “one” with these filters" in both
    assert "Nothing matches “zzz”" in client.get("/items/?q=zzz").text


def test_a_filter_declaration_is_checked(app):
    from fx_listing.models import Item

    from core.listing import Column, Filter, Listing

    with pytest.raises(ValueError, match="reserved"):
        Listing(Item, columns=[Column("name", "Name")], filters=[Filter("page", "Page", Item.name)])
    with pytest.raises(ValueError, match="pagination"):
        Listing(Item, columns=[Column("name", "Name")], pagination="cursor")


# -- columns --------------------------------------------------------------------------------------


def test_picked_columns_are_shown_remembered_and_the_only_ones_selected(app, client, signed_in):
    add_items(app, signed_in, {"name": "a", "memo": "MEMO-TEXT", "score": 4})
    with counting_queries(app) as default:
        page = client.get("/items/").text
    assert headers(page) == ["Name", "Kind", "Due", "Score"] and "MEMO-TEXT" not in page
    assert "memo" not in rows_query(default) and "score" in rows_query(default)
    with counting_queries(app) as picked:
        page = client.get("/items/?cols=memo&cols=none&cols=bogus").text  # the picker's form
    assert headers(page) == ["Name", "Kind", "Memo"] and "MEMO-TEXT" in page
    assert "memo" in rows_query(picked) and "score" not in rows_query(picked) and "due" not in rows_query(picked)
    later = client.get("/items/?sort=-name").text  # another visit: the choice sticks
    assert headers(later) == ["Name", "Kind", "Memo"]
    assert 'href="/items/?sort=name&amp;cols=memo"' in later
    assert '<input class="form-check-input" type="checkbox" name="cols" value="memo" id="items-col-memo" checked>' in later
    other_list = client.get("/items/keyset").text  # remembered per list
    assert headers(other_list) == ["Name", "Kind", "Due", "Score"]
    reset = client.get("/items/?cols=default").text
    assert headers(reset) == ["Name", "Kind", "Due", "Score"]
    assert headers(client.get("/items/").text) == ["Name", "Kind", "Due", "Score"]


def test_unticking_every_optional_column_keeps_the_required_ones(app, client, signed_in):
    add_items(app, signed_in, "a")
    assert headers(client.get("/items/?cols=none").text) == ["Name", "Kind"]
    assert headers(client.get("/items/?cols=nonsense").text) == ["Name", "Kind"]  # unknown names are ignored
    assert headers(client.get("/items/").text) == ["Name", "Kind"]


def test_the_remembered_columns_belong_to_the_signed_in_person(app, client, signed_in, login_as, db_session):
    from core.models import Membership, User

    add_items(app, signed_in, "a")
    client.get("/items/?cols=memo")
    other = User(email="other@acme.test", name="Other")
    other.set_password("long enough")
    other.memberships.append(Membership(company_id=signed_in.id, is_admin=True))
    db_session.add(other)
    db_session.commit()
    login_as(other)
    assert headers(client.get("/items/").text) == ["Name", "Kind", "Due", "Score"]


# -- bulk actions ---------------------------------------------------------------------------------


def post_action(client, action: str, ids: list, **extra):
    return client.post(f"/items/{action}", data={"ids": [str(i) for i in ids], "action": action,
                                                   "next": "/items/?kind=fancy", **extra})


def test_rows_get_checkboxes_and_the_bar_posts_them_with_the_csrf_token(app, client, signed_in):
    ids = add_items(app, signed_in, "a", "b")
    page = client.get("/items/").text
    assert 'aria-label="Select all on this page"' in page
    assert f'name="ids" value="{ids[0]}" form="items-bulk"' in page and 'aria-label="Select “a”"' in page
    bar = page.split('<form id="items-bulk"', 1)[1].split("</form>", 1)[0]
    assert 'method="post"' in bar and 'name="csrf_token"' in bar
    assert 'formaction="/items/archive"' in bar and 'formaction="/items/delete"' in bar
    assert 'data-confirm="Delete the selected items?"' in bar and "btn-outline-danger" in bar


def test_a_bulk_action_gets_only_the_visible_rows_of_the_company(app, client, signed_in):
    from fx_listing.views import LAST_SELECTED

    mine = add_items(app, signed_in, "a", "b", {"name": "archived", "archived": True})
    beta = make_company(app, "Beta", "beta")
    theirs = add_items(app, beta, "theirs")
    response = post_action(client, "archive", [*mine, *theirs, 999999])
    assert response.status_code == 302 and response.headers["Location"] == "/items/?kind=fancy"
    assert LAST_SELECTED[-1] == mine[:2]  # other company's, archived and unknown ids dropped
    assert names(client.get("/items/").text) == []


@pytest.mark.parametrize("ids, message", [
    ([], "Select at least one record."),
    (["abc"], "“abc” is not a record id."),
    (["1", "1.5"], "“1.5” is not a record id."),
    (["99999999999999999999999"], "is not a record id."),
    ([str(n) for n in range(1001)], "Select at most 1000 records at a time."),
])
def test_bad_ids_are_refused_with_a_400_naming_the_problem(app, client, signed_in, ids, message):
    add_items(app, signed_in, "a")
    response = post_action(client, "archive", ids)
    assert response.status_code == 400 and message in response.text


def test_a_danger_action_needs_confirmation_even_without_javascript(app, client, signed_in):
    from fx_listing.views import LAST_SELECTED

    ids = add_items(app, signed_in, "a", "b")
    before = len(LAST_SELECTED)
    asked = post_action(client, "delete", ids)
    assert asked.status_code == 200 and len(LAST_SELECTED) == before  # nothing done yet
    assert "Delete the selected items? 2 records selected." in asked.text
    assert '<input type="hidden" name="_confirmed" value="yes">' in asked.text
    assert f'<input type="hidden" name="ids" value="{ids[1]}">' in asked.text
    assert 'href="/items/?kind=fancy">Cancel' in asked.text
    assert names(client.get("/items/").text) == ["a", "b"]
    done = post_action(client, "delete", ids, _confirmed="yes")
    assert done.status_code == 302 and LAST_SELECTED[-1] == ids
    assert names(client.get("/items/").text) == []


def test_an_action_the_reader_may_not_use_is_neither_shown_nor_accepted(app, client, company, login_as, db_session):
    from core.models import Membership, Role, RolePermission, User

    create_item_table(app)
    company.enable(PLUGIN)
    role = Role(company_id=company.id, name="Reader", permissions=[RolePermission(code="fx_listing.item.read")])
    reader = User(email="reader@acme.test", name="Reader")
    reader.set_password("long enough")
    reader.memberships.append(Membership(company_id=company.id, role=role))
    db_session.add_all([role, reader])
    db_session.commit()
    ids = add_items(app, company, "a")
    login_as(reader)
    page = client.get("/items/").text
    assert 'formaction="/items/archive"' in page and 'formaction="/items/delete"' not in page
    assert post_action(client, "delete", ids, _confirmed="yes").status_code == 403
    assert names(client.get("/items/").text) == ["a"]


# -- XLSX export ----------------------------------------------------------------------------------


def read_xlsx(response) -> list[list]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(response.data), read_only=True)
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


def test_the_xlsx_export_has_every_filtered_row_with_real_dates_and_numbers(app, client, signed_in):
    from core import listing

    add_items(app, signed_in, *({"name": f"fancy {n:03d}", "kind": "fancy", "score": n, "due": date(2024, 1, 2)}
                                for n in range(12)),
              {"name": "=HYPERLINK(\"http://x\")", "kind": "fancy"}, {"name": "plain one"},
              {"name": "added", "kind": "fancy", "created_at": datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)})
    listing_batch = listing.EXPORT_BATCH_SIZE
    listing.EXPORT_BATCH_SIZE = 5  # several batches
    try:
        response = client.get("/items/export?format=xlsx&kind=fancy&sort=-name&cols=score,added&page=2")
    finally:
        listing.EXPORT_BATCH_SIZE = listing_batch
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="items.xlsx"' in response.headers["Content-Disposition"]
    rows = read_xlsx(response)
    assert rows[0] == ["Name", "Kind", "Score", "Added"]  # the columns shown
    assert len(rows) == 1 + 14 and "plain one" not in [row[0] for row in rows]  # every page, filtered
    assert rows[1][:3] == ["fancy 011", "fancy", 11] and isinstance(rows[1][3], datetime)
    assert rows[-2] == ["added", "fancy", None, datetime(2024, 5, 1, 12, 30)]
    assert rows[-1][0] == "'=HYPERLINK(\"http://x\")"  # text, never a formula


def test_the_xlsx_export_writes_dates_as_dates(app, client, signed_in):
    from openpyxl import load_workbook

    add_items(app, signed_in, {"name": "a", "due": date(2024, 1, 2), "score": 7})
    response = client.get("/items/export?format=xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["C2"].is_date and sheet["C2"].value == datetime(2024, 1, 2)
    assert sheet["D2"].data_type == "n" and sheet["D2"].value == 7


def test_export_picks_csv_by_default_and_refuses_an_unknown_format(app, client, signed_in):
    add_items(app, signed_in, {"name": "a", "kind": "fancy"}, "b")
    csv_response = client.get("/items/export?kind=fancy")
    assert csv_response.mimetype == "text/csv" and 'filename="items.csv"' in csv_response.headers["Content-Disposition"]
    assert csv_response.text.splitlines() == ["Name,Kind,Due,Score", "a,fancy,,"]
    bad = client.get("/items/export?format=pdf")
    assert bad.status_code == 400 and "Unknown export format “pdf”" in bad.text


def test_the_export_uses_the_remembered_columns(app, client, signed_in):
    add_items(app, signed_in, {"name": "a", "memo": "hello"})
    client.get("/items/?cols=memo")
    assert client.get("/items/export").text.splitlines() == ["Name,Kind,Memo", "a,plain,hello"]


# -- queries --------------------------------------------------------------------------------------


def test_a_filtered_page_runs_the_same_number_of_queries_whatever_the_row_count(app, client, signed_in):
    add_items(app, signed_in, *({"name": f"a{n}", "kind": "fancy", "score": n} for n in range(3)))
    url = "/items/?kind=fancy&active=yes&added_from=2020-01-01&score_is=1&q=a"
    client.get(url)
    with counting_queries(app) as few:
        client.get(url)
    add_items(app, signed_in, *({"name": f"b{n}", "kind": "fancy", "score": n} for n in range(40)))
    with counting_queries(app) as many:
        client.get(url)
    assert len(few) == len(many)
    # the count, the page, and the choices of the score filter (a query of its own)
    assert len([s for s in many if "fx_listing_item" in s]) == 3


def test_distinct_values_reads_each_value_once_in_order_among_the_matching_rows(app, signed_in):
    from sqlalchemy import Column as SqlColumn
    from sqlalchemy import Integer, MetaData, String, Table, insert

    from core.db import get_session
    from core.listing import distinct_values

    table = Table("tmp_distinct", MetaData(), SqlColumn("id", Integer, primary_key=True),
                  SqlColumn("owner", Integer), SqlColumn("colour", String(20)))
    with app.app_context():
        session = get_session()
        table.create(session.connection())
        session.execute(insert(table), [
            {"owner": 1, "colour": "red"}, {"owner": 1, "colour": "blue"}, {"owner": 1, "colour": "red"},
            {"owner": 1, "colour": None}, {"owner": 2, "colour": "green"},
        ])
        assert distinct_values(table.c.colour, table.c.owner == 1) == ["blue", "red"]
        assert distinct_values(table.c.colour, table.c.owner == 3) == []
        session.rollback()
