"""core.textsearch: substring search served by an index (SQLite FTS5 trigram, PostgreSQL pg_trgm),
on the fx_textsearch fixture plugin, whose migration indexes ``fx_textsearch_doc.search_text``,
and its keyset list /docs/ declared with ``Listing(search_text=...)``."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import delete, insert, select, text, update

from core import migrate
from core.db import get_database, get_session
from core.listing import Column, Listing
from core.scoping import company_scope
from core.testing import counting_queries, make_company
from core.textsearch import (
    index_name,
    is_text_index_object,
    text_contains,
    text_matches,
)

PLUGIN = "fx_textsearch"
HTMX = {"HX-Request": "true", "HX-Target": "docs"}


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": [PLUGIN]}


@pytest.fixture
def crm_plugins():
    return [PLUGIN]


@pytest.fixture
def signed_in(client, company, login_as):
    company.enable(PLUGIN)
    login_as(company.admin)
    return company


def doc_table():
    from fx_textsearch.models import Doc

    return Doc.__table__


def add_docs(app, company, *titles: str, kind: str = "plain") -> list[int]:
    """Documents written with a Core insert (as imports write rows), search text = title."""
    with app.app_context():
        session = get_session()
        ids = []
        for title in titles:
            ids.append(session.execute(insert(doc_table()).values(
                company_id=company.id, title=title, kind=kind, search_text=title.lower())).inserted_primary_key[0])
        session.commit()
        return ids


def titles(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [html.unescape(re.findall(r"<td>([^<]*)</td>", row)[0]) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def found(client, q: str, **params: str) -> list[str]:
    response = client.get("/docs/", query_string={"q": q, **params}, headers=HTMX)
    assert response.status_code == 200, (q, response.status_code)
    return sorted(titles(response.text))


# -- migrations ---------------------------------------------------------------------------------------


def test_the_migration_gives_exactly_the_models_schema_without_reporting_the_index(app):
    # (Only this plugin's differences: the core's own migrations are tested by test_migrations.py.)
    assert [difference for difference in migrate.schema_differences(app) if "fx_textsearch" in repr(difference)] == []
    engine = get_database(app).engine
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            names = set(connection.scalars(text("SELECT name FROM sqlite_master")))
            assert index_name("fx_textsearch_doc", "search_text") in names  # the index is there, only not reported
        else:
            names = set(connection.scalars(text("SELECT indexname FROM pg_indexes")))
            assert "ix_fx_textsearch_doc_search_text_textsearch" in names


def test_downgrade_removes_the_table_and_every_index_object_and_upgrade_restores_them(
        tmp_path, fresh_database_url, fixture_plugins_path):
    from core import create_app

    app = create_app({"CRM_ENV": "testing", "CRM_INSTANCE_PATH": str(tmp_path), "CRM_DATABASE_URL": fresh_database_url,
                      "CRM_PLUGINS": [PLUGIN], "CRM_PLUGIN_MODULES": [PLUGIN], "SECRET_KEY": "test",
                      "CRM_CHECK_SCHEMA": False})
    migrate.upgrade(app)
    engine = get_database(app).engine
    with engine.connect() as connection:
        assert _index_objects(connection)
    migrate.downgrade(app, f"{PLUGIN}@base")
    with engine.connect() as connection:
        assert _index_objects(connection) == set()
    migrate.upgrade(app)
    with engine.connect() as connection:
        assert _index_objects(connection)
    assert [difference for difference in migrate.schema_differences(app) if "fx_textsearch" in repr(difference)] == []
    get_database(app).dispose()


def test_creating_the_index_fills_it_from_the_rows_already_there(app, company):
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from core.textsearch import create_text_index, drop_text_index

    engine = get_database(app).engine
    with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        drop_text_index("fx_textsearch_doc", "search_text")
    add_docs(app, company, "Written before the index")
    with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        create_text_index("fx_textsearch_doc", "search_text")
    with app.app_context():
        session = get_session()
        condition = text_contains(doc_table().c.search_text, "before the")
        assert session.scalars(select(doc_table().c.title).where(condition)).all() == ["Written before the index"]


def _index_objects(connection) -> set[str]:
    """The index's tables, triggers and indexes in the database."""
    if connection.dialect.name == "sqlite":
        names = connection.scalars(text("SELECT name FROM sqlite_master"))
    else:
        names = connection.scalars(text("SELECT indexname FROM pg_indexes"))
    return {name for name in names if "_search_text_textsearch" in name}


def test_the_index_objects_are_recognised_by_name_and_ordinary_tables_are_not():
    fts = index_name("customers_account", "search_text")
    for name in (fts, fts + "_data", fts + "_idx", fts + "_config", fts + "_docsize", fts + "_content", fts + "_vocab",
                 "ix_" + fts):
        assert is_text_index_object(name), name
    for name in ("customers_account", "ix_customers_account_name", "notes_textsearch_log", "", None):
        assert not is_text_index_object(name), name
    with pytest.raises(ValueError):
        index_name("bad name; drop table x", "search_text")


# -- finding rows --------------------------------------------------------------------------------------


def test_a_fragment_is_found_inside_a_word_whatever_its_case(app, client, signed_in):
    add_docs(app, signed_in, "Abracadabra Ltd", "Cadence Inc", "Other")
    assert found(client, "BRACAD") == ["Abracadabra Ltd"]
    assert found(client, "cad") == ["Abracadabra Ltd", "Cadence Inc"]
    assert found(client, "zzz") == []


def test_every_word_of_the_search_must_be_contained(app, client, signed_in):
    add_docs(app, signed_in, "Red drill press", "Blue drill", "Red saw")
    assert found(client, "dri red") == ["Red drill press"]
    assert found(client, "drill") == ["Blue drill", "Red drill press"]


def test_chinese_fragments_of_any_length_are_found(app, client, signed_in):
    add_docs(app, signed_in, "阿里巴巴集团", "张伟", "王伟国际贸易", "李娜")
    assert found(client, "里巴巴") == ["阿里巴巴集团"]  # three characters: through the index
    assert found(client, "张伟") == ["张伟"]  # two: the LIKE fallback
    assert found(client, "伟") == ["张伟", "王伟国际贸易"]  # one
    assert found(client, "国际 王伟") == ["王伟国际贸易"]  # a short word sifts what the index found


def test_one_and_two_character_words_are_found_anywhere_in_the_text(app, client, signed_in):
    add_docs(app, signed_in, "ab", "xaby", "yyab", "ab zz", "b a", "c")  # (a page shows 5 rows)
    assert found(client, "ab") == ["ab", "ab zz", "xaby", "yyab"]  # the whole text, inside, at its end, its start
    assert found(client, "a") == ["ab", "ab zz", "b a", "xaby", "yyab"]
    assert found(client, "c") == ["c"]
    assert found(client, "ab a") == ["ab", "ab zz", "xaby", "yyab"]  # a one-character word sifts what "ab" found
    assert found(client, "b a") == ["ab", "ab zz", "b a", "xaby", "yyab"]  # one-character words only: every one
    assert found(client, "zq") == []  # no trigram begins with it
    assert found(client, "q") == []


def test_a_two_character_word_is_not_found_across_the_end_of_the_text(app, client, signed_in):
    add_docs(app, signed_in, "end a", "begins the text")
    assert found(client, "a ") == ["end a"]  # the search is stripped: "a"
    assert found(client, "ab") == []  # "a" at the end, then the padding: no "ab"
    assert found(client, "xa") == []


@pytest.mark.parametrize("term", ['"', '""', 'a"b', "*", "ab*", "-x", "x-y", "NEAR", "NEAR(abc def)", "^abc",
                                  "abc OR", "AND", "NOT", "'", "%", "_", "\\", "(", ")", "col:abc", "{abc}",
                                  "+", "a:b:c", "[abc]", "?"])
def test_query_syntax_in_a_search_is_plain_text_and_never_fails(app, client, signed_in, term):
    add_docs(app, signed_in, f"holds {term} literally", "plain words")
    assert found(client, term) == [f"holds {term} literally"]


def test_rows_written_updated_and_deleted_with_core_statements_follow_the_index(app, client, signed_in):
    first, second = add_docs(app, signed_in, "Original wording", "Stays gone")
    assert found(client, "wording") == ["Original wording"]
    with app.app_context():
        session = get_session()
        table = doc_table()
        session.execute(update(table).where(table.c.id == first).values(title="Renamed", search_text="renamed text"))
        session.execute(update(table).where(table.c.id == second).values(kind="fancy"))  # the text unchanged
        session.commit()
    assert found(client, "wording") == []
    assert [found(client, word) for word in ("amed tex", "ex", "x", "or")] == [["Renamed"], ["Renamed"], ["Renamed"], []]
    assert [found(client, word) for word in ("stays", "ys", "y")] == [["Stays gone"]] * 3
    with app.app_context():
        session = get_session()
        table = doc_table()
        session.execute(update(table).where(table.c.id == second).values(id=second + 100))  # even a new id
        session.commit()
        assert session.scalars(select(table.c.id).where(text_contains(table.c.search_text, "ys"))).all() == [second + 100]
        session.execute(delete(table).where(table.c.id == second + 100))
        session.commit()
    assert [found(client, word) for word in ("stays", "ys", "y")] == [[], [], []]
    if get_database(app).engine.dialect.name == "sqlite":
        with get_database(app).engine.connect() as connection:  # the copy holds the rows' text and no other
            copy = connection.execute(text(f"SELECT rowid, search_text FROM {index_name('fx_textsearch_doc', 'search_text')}"))
            assert copy.all() == [(first, "renamed text ")]


def test_rows_written_through_the_orm_are_found(app, client, signed_in):
    from fx_textsearch.models import Doc

    with app.app_context():
        session = get_session()
        with company_scope(session, signed_in.id):
            doc = Doc(title="Through the ORM", search_text="through the orm")
            session.add(doc)
            session.commit()
            doc.search_text = "changed by the orm"
            session.commit()
    assert found(client, "through") == []
    assert found(client, "anged by") == ["Through the ORM"]


def test_a_variant_of_the_whole_search_also_matches(app, client, signed_in):
    add_docs(app, signed_in, "ann +86 138-0013-8000 +8613800138000", "bob")
    assert found(client, "138 0013 8000") == ["ann +86 138-0013-8000 +8613800138000"]  # every word
    assert found(client, "(138)0013.8000") == ["ann +86 138-0013-8000 +8613800138000"]  # the digits variant
    assert found(client, "139 0013") == []


def test_another_companys_rows_are_not_found(app, client, signed_in):
    other = make_company(app, "Other", "other")
    add_docs(app, other, "Secret matching text")
    add_docs(app, signed_in, "Own matching text")
    assert found(client, "matching") == ["Own matching text"]


def test_the_search_combines_with_filters_and_keyset_pages_and_the_capped_count(app, client, signed_in):
    add_docs(app, signed_in, *(f"needle {n:02d}" for n in range(12)), kind="fancy")
    add_docs(app, signed_in, *(f"needle plain {n}" for n in range(3)))
    first = client.get("/docs/?q=eedl&kind=fancy", headers=HTMX).text
    assert titles(first) == [f"needle {n:02d}" for n in range(5)]
    assert "10+" in first or "More than 10" in first  # the count stops at the limit
    after = re.search(r'after=([^"&]+)', first).group(1)
    second = client.get(f"/docs/?q=eedl&kind=fancy&after={after}", headers=HTMX).text
    assert titles(second) == [f"needle {n:02d}" for n in range(5, 10)]


def test_a_searched_page_runs_the_same_queries_whatever_the_row_count_and_uses_the_index(app, client, signed_in):
    add_docs(app, signed_in, "needle one", "hay")
    client.get("/docs/?q=needle")  # warm caches that are not per request
    with counting_queries(app) as few:
        assert titles(client.get("/docs/?q=needle").text) == ["needle one"]
    add_docs(app, signed_in, *(f"needle {n}" for n in range(40)), *(f"hay {n}" for n in range(40)))
    with counting_queries(app) as many:
        assert len(titles(client.get("/docs/?q=needle").text)) == 5
    assert len(many) == len(few)
    searches = [s for s in many if "fx_textsearch_doc" in s and "LIMIT" in s.upper()]
    assert len(searches) == 2  # the rows and the capped count
    if get_database(app).engine.dialect.name == "sqlite":
        assert all("MATCH" in s for s in searches)


def test_the_database_looks_the_fragment_up_in_the_index_rather_than_scanning(app, signed_in):
    with app.app_context():
        session = get_session()
        statement = select(doc_table().c.id).where(text_contains(doc_table().c.search_text, "needle"))
        compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        if session.get_bind().dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
            assert "SEARCH fx_textsearch_doc USING INTEGER PRIMARY KEY (rowid=?)" in plan  # by id, from the index
            assert "VIRTUAL TABLE INDEX" in plan and not re.search(r"SCAN fx_textsearch_doc\b(?!_)", plan)
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table would be read whole anyway
            plan = " ".join(session.scalars(text(f"EXPLAIN {compiled}")))
            assert "ix_fx_textsearch_doc_search_text_textsearch" in plan


def _sqlite_plan(session, condition) -> str:
    statement = select(doc_table().c.id).where(condition)
    compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    return " | ".join(str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


def test_a_short_word_is_looked_up_in_the_index_not_in_the_rows_of_the_table(app, signed_in):
    if get_database(app).engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL answers short words with ILIKE, as before")
    fts = index_name("fx_textsearch_doc", "search_text")
    column = doc_table().c.search_text
    with app.app_context():
        session = get_session()
        pair = _sqlite_plan(session, text_contains(column, "明达"))
        # The trigrams beginning with it, from the vocabulary by a range of terms, then MATCH.
        assert f"SCAN {fts}_vocab VIRTUAL TABLE INDEX 6:" in pair  # term >= ? AND term <= ?: not a scan of it
        assert re.search(rf"SCAN {fts} VIRTUAL TABLE INDEX 0:M", pair)
        assert "SEARCH fx_textsearch_doc USING INTEGER PRIMARY KEY (rowid=?)" in pair
        assert not re.search(r"SCAN fx_textsearch_doc\b(?!_)", pair)
        single = _sqlite_plan(session, text_contains(column, "明"))
        # Alone, a one-character word reads the index's copy of the text, not the table's rows.
        assert f"SCAN {fts} VIRTUAL TABLE" in single and not re.search(r"SCAN fx_textsearch_doc\b(?!_)", single)
        sifted = _sqlite_plan(session, text_matches(column, ["明", "明达"]))
        assert f"{fts}_vocab" in sifted and not re.search(r"SCAN fx_textsearch_doc\b(?!_)", sifted)


# -- the helpers on their own --------------------------------------------------------------------------


def test_text_matches_any_alternative_and_nothing_without_one(app, company):
    add_docs(app, company, "alpha beta", "gamma", "delta")
    column = doc_table().c.search_text
    with app.app_context():
        session = get_session()

        def titles_where(condition) -> list[str]:
            return sorted(session.scalars(select(doc_table().c.title).where(condition)))

        assert titles_where(text_matches(column, ["alp", "eta"], ["gamma"])) == ["alpha beta", "gamma"]
        assert titles_where(text_matches(column, ["de"], ["amm"])) == ["delta", "gamma"]  # short and long mixed
        assert titles_where(text_matches(column)) == []
        assert titles_where(text_matches(column, [])) == ["alpha beta", "delta", "gamma"]


def test_a_listing_searches_either_expressions_or_one_indexed_column(fixture_plugins_path):
    from fx_textsearch.models import Doc

    with pytest.raises(ValueError, match="search_text"):
        Listing(Doc, columns=[Column("title", "Title")], search=[Doc.title], search_text=Doc.search_text,
                id="fx-textsearch-both")
    with pytest.raises(ValueError, match="search_variants"):
        Listing(Doc, columns=[Column("title", "Title")], search_variants=lambda q: [q], id="fx-textsearch-variants")


def test_an_index_whose_table_sqlite_copied_in_a_batch_migration_gets_its_triggers_back(app, client, signed_in):
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from core.textsearch import repair_text_indexes

    engine = get_database(app).engine
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite copies a table to alter it")
    add_docs(app, signed_in, "Before the copy")
    with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)) as operations:
        with operations.batch_alter_table("fx_textsearch_doc", recreate="always"):
            pass
        assert not {name for name in _index_objects(connection) if name.endswith(("_insert", "_update", "_delete"))}
        assert repair_text_indexes(connection) == [index_name("fx_textsearch_doc", "search_text")]
        assert repair_text_indexes(connection) == []  # nothing more to do
    add_docs(app, signed_in, "After the copy")
    assert found(client, "the copy") == ["After the copy", "Before the copy"]
    assert found(client, "py") == ["After the copy", "Before the copy"]


def test_an_index_of_another_shape_is_remade_after_a_migration_run(app, client, signed_in):
    """An index made by an earlier version of core.textsearch (the base table as its external
    content, no copy, no vocabulary) is remade as create_text_index makes it today."""
    from core.textsearch import repair_text_indexes, sqlite_drop_statements

    engine = get_database(app).engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    add_docs(app, signed_in, "Made before 明达")
    fts = index_name("fx_textsearch_doc", "search_text")
    with engine.begin() as connection:
        for statement in sqlite_drop_statements("fx_textsearch_doc", "search_text"):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql(f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, content='fx_textsearch_doc', "
                                   "tokenize='trigram', columnsize=0)")
        assert repair_text_indexes(connection) == [fts]
        assert repair_text_indexes(connection) == []
    assert found(client, "明达") == ["Made before 明达"]  # at the very end of the text
    assert found(client, "before") == ["Made before 明达"]


def test_distinct_values_steps_from_the_last_value_not_from_a_lower_bound_of_the_filter(app, company):
    """(core.listing, found with the customers benchmark: with ``column > ''`` among the
    conditions, SQLite ranged the index from '' at every step, a scan per distinct value.)"""
    from core.listing import distinct_values

    add_docs(app, company, "a", "b", kind="fancy")
    add_docs(app, company, "c", kind="")
    add_docs(app, company, "d", kind="plain")
    table = doc_table()
    with app.app_context():
        with counting_queries(app) as statements:
            values = distinct_values(table.c.kind, table.c.company_id == company.id, table.c.kind > "")
        assert values == ["fancy", "plain"]
        assert len(statements) == 1
        # The first probe has the bound, each step only "kind > present.value".
        assert statements[0].count("fx_textsearch_doc.kind >") == 2
