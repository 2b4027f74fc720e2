"""core.listing's keyset pagination (no OFFSET, no count), on the fx_listing fixture plugin's
/items/keyset page (3 rows a page): walking forward and backward meets every row once, in
the database's order, whatever the sort, ties and NULLs."""

from __future__ import annotations

import base64
import html as html_lib
import json
import re
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, select

from core.db import get_database, get_session
from core.scoping import company_scope
from core.testing import counting_queries, make_company
from tests.core.test_listing_features import (  # noqa: F401
    add_items,
    app_config,
    crm_plugins,
    names,
    signed_in,
)

SORTS = ["name", "-name", "kind", "-kind", "due", "-due", "score", "-score", "added", "-added"]


def seed(app, company) -> None:
    """Eleven items with many equal kinds, dates and scores, and NULL dates and scores."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    add_items(app, company, *({
        "name": f"item {n:02d}",
        "kind": "fancy" if n % 3 == 0 else "plain",
        "due": None if n % 4 == 0 else date(2024, 1, 1 + n % 3),
        "score": None if n % 5 == 1 else n % 2,
        "created_at": start + timedelta(hours=n // 2),  # pairs share a timestamp
    } for n in (7, 3, 10, 0, 5, 1, 8, 2, 9, 4, 6)))


def expected(app, company, sort: str) -> list[str]:
    """The order the database itself gives: the sort, then the primary key the same way."""
    from fx_listing.models import Item

    columns = {"name": Item.name, "kind": Item.kind, "due": Item.due, "score": Item.score, "added": Item.created_at}
    column = columns[sort.lstrip("-")]
    descending = sort.startswith("-")
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            order = (column.desc(), Item.id.desc()) if descending else (column.asc(), Item.id.asc())
            return list(session.scalars(select(Item.name).order_by(*order)))


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', page)
    return html_lib.unescape(found.group(1)) if found else None


def walk(client, url: str, rel: str) -> tuple[list[list[str]], str]:
    """The pages met following ``rel`` links from ``url``, and the last page's URL."""
    pages = []
    for _ in range(20):
        page = client.get(url)
        assert page.status_code == 200
        pages.append(names(page.text))
        following = link(page.text, rel)
        if following is None:
            return pages, url
        url = following
    raise AssertionError("the walk does not end")


@pytest.mark.parametrize("sort", SORTS)
def test_walking_forward_then_back_meets_every_row_once_in_order(app, client, signed_in, sort):
    seed(app, signed_in)
    order = expected(app, signed_in, sort)
    forward, last_url = walk(client, f"/items/keyset?sort={sort}", "next")
    assert [name for page in forward for name in page] == order  # none skipped, none repeated
    assert [len(page) for page in forward] == [3, 3, 3, 2]
    backward, _first_url = walk(client, last_url, "prev")
    assert backward == forward[::-1]  # the same pages on the way back, to the first one


def test_a_hidden_sort_column_still_pages_and_filters_and_search_apply(app, client, signed_in):
    seed(app, signed_in)
    order = [name for name in expected(app, signed_in, "-score") if name in
             {"item 00", "item 03", "item 06", "item 09"}]
    forward, last_url = walk(client, "/items/keyset?sort=-score&kind=fancy&q=item&cols=none", "next")
    assert [name for page in forward for name in page] == order
    assert "kind=fancy" in last_url and "q=item" in last_url and "cols=none" in last_url
    assert walk(client, last_url, "prev")[0] == forward[::-1]


def test_a_keyset_page_runs_one_query_and_no_count(app, client, signed_in):
    seed(app, signed_in)
    client.get("/items/keyset")
    with recording(app) as first:
        page = client.get("/items/keyset?sort=-added").text
    with recording(app) as later:
        client.get(link(page, "next"))
    for statements in (first, later):
        # the rows; the other query reads the choices of the score filter
        mine = [(s, p) for s, p in statements if "fx_listing_item" in s and "DISTINCT" not in s]
        assert len(mine) == 1
        statement, parameters = mine[0]
        assert "count(" not in statement.lower()
        assert "OFFSET" not in statement.upper() or list(parameters)[-1] == 0  # SQLite writes OFFSET 0
    assert "3 items on this page" in page and "Page 1 of" not in page
    assert len(first) == len(later)


@contextmanager
def recording(app):
    statements: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, *_args):  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    engine = get_database(app).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_optional_capped_count_stops_at_its_limit(app, client, signed_in):
    add_items(app, signed_in, "a", "b", "c", "d")
    assert "4 items" in client.get("/items/counted").text
    add_items(app, signed_in, "e", "f", "g")
    with counting_queries(app) as statements:
        page = client.get("/items/counted").text
    assert "More than 5 items" in page
    count = next(s for s in statements if "count(" in s.lower() and "fx_listing_item" in s)
    assert "LIMIT" in count.upper()  # never counts the whole table


def cursor(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize("sort, token", [
    ("name", "garbage"), ("name", "!!!"), ("name", ""), ("name", "a" * 3000),
    ("name", cursor({"s": "name", "v": ["i", 5], "k": ["i", 1]})),  # a number for a text column
    ("name", cursor({"s": "name", "v": ["s", "item 05"], "k": ["s", "x"]})),  # text for the id
    ("name", cursor({"s": "-name", "v": ["s", "item 05"], "k": ["i", 1]})),  # made for another sort
    ("name", cursor({"s": "name", "v": ["s", "item 05"], "k": ["i", 10**30]})),  # out of range
    ("score", cursor({"s": "score", "v": ["f", float("nan")], "k": ["i", 1]})),
    ("name", cursor({"s": "name", "v": ["s", "a\u0000b"], "k": ["i", 1]})),
    ("due", cursor({"s": "due", "v": ["d", "2024-02-30"], "k": ["i", 1]})),
    ("due", cursor({"s": "due", "v": ["t", "2024-01-02T00:00:00"], "k": ["i", 1]})),  # a timestamp for a date
    ("-added", cursor({"s": "-added", "v": ["s", "yesterday"], "k": ["i", 1]})),
    ("name", cursor(["not", "a", "dict"])),
])
@pytest.mark.parametrize("direction", ["after", "before"])
def test_an_invalid_cursor_gives_the_first_page(app, client, signed_in, sort, token, direction):
    seed(app, signed_in)
    response = client.get(f"/items/keyset?sort={sort}&{direction}={token}")
    assert response.status_code == 200
    assert names(response.text) == expected(app, signed_in, sort)[:3]
    assert link(response.text, "prev") is None


def test_a_cursor_of_a_row_gone_since_still_pages_on(app, client, signed_in):
    from fx_listing.models import Item

    seed(app, signed_in)
    page = client.get("/items/keyset?sort=name").text
    following = link(page, "next")
    with app.app_context():
        session = get_session()
        with company_scope(session, signed_in.id):
            session.delete(session.scalars(select(Item).where(Item.name == "item 02")).one())
            session.commit()
    assert names(client.get(following).text) == ["item 03", "item 04", "item 05"]


def test_another_company_s_rows_are_never_paged_to(app, client, signed_in):
    seed(app, signed_in)
    beta = make_company(app, "Beta", "beta")
    add_items(app, beta, "item 05b", "item 99")
    forward, _last = walk(client, "/items/keyset?sort=name", "next")
    assert [name for page in forward for name in page] == expected(app, signed_in, "name")


def test_a_keyset_listing_needs_a_one_column_primary_key(app):
    from sqlalchemy import column, table

    from core.listing import Column, Listing

    with pytest.raises(ValueError, match="primary key"):
        Listing(select(table("t", column("a"))), columns=[Column("a", "A", column("a"))], pagination="keyset")
