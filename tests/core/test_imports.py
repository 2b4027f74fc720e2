"""core.imports: reading CSV and XLSX files, mapping suggestions, dry runs, duplicate handling,
batch commits and failures, on the fx_imports fixture plugin's "people" target."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from core.db import get_database, get_session
from core.scoping import company_scope
from tests.core.test_listing import counting_queries

PLUGIN = "fx_imports"
TARGET = "fx_imports.people"


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": [PLUGIN]}


@pytest.fixture
def crm_plugins():
    return [PLUGIN]


@pytest.fixture
def signed_in(app, client, company, login_as):
    from fx_imports.models import Person

    Person.__table__.create(get_database(app).engine, checkfirst=True)
    company.enable(PLUGIN)
    login_as(company.admin)
    return company


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def upload(client, content: bytes, filename: str = "people.csv", target: str = TARGET):
    return client.post("/imports/new", data={"target": target, "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def run_id_of(response) -> int:
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def submit(client, run_id: int, mapping: list[str], action: str, mode: str = "skip", key: str = "email", **extra):
    data = {f"column-{position}": name for position, name in enumerate(mapping)}
    return client.post(f"/imports/{run_id}", data={**data, "action": action, "mode": mode, "key": key, **extra})


def people(app, company) -> list[tuple]:
    from fx_imports.models import Person

    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            return [tuple(row) for row in session.execute(
                select(Person.name, Person.email, Person.region, Person.age).order_by(Person.id))]


def the_run(app, run_id: int):
    from core.imports import ImportRun

    with app.app_context():
        run = get_session().execute(select(ImportRun).where(ImportRun.id == run_id)
                                    .execution_options(crm_unscoped=True)).scalar_one()
        return SimpleNamespace(**{column.key: getattr(run, column.key) for column in ImportRun.__table__.columns})


HEADER = ["Name", "Email", "Region", "Age"]
MAPPING = ["name", "email", "region", "age"]


# -- reading files ------------------------------------------------------------------------------


def test_a_utf8_file_with_a_byte_order_mark_loses_the_mark():
    from core.imports import read_table

    table = read_table("\ufeff名称,邮箱\n张三,z@x.cn\n".encode(), "a.csv")
    assert table.encoding == "utf-8-sig" and table.headers == ["名称", "邮箱"]
    assert list(table.rows()) == [(2, ["张三", "z@x.cn"])]


def test_gbk_and_gb18030_files_from_chinese_spreadsheets_are_read_as_chinese():
    from core.imports import read_table

    gbk = read_table("名称,地区\n北京科技有限公司,华北\n".encode("gbk"), "gbk.csv")
    assert gbk.encoding == "gb18030" and list(gbk.rows()) == [(2, ["北京科技有限公司", "华北"])]
    # 𠀀 exists only in GB18030 (four bytes), not in GBK
    rare = read_table("名称\n𠀀记\n".encode("gb18030"), "rare.csv")
    assert list(rare.rows()) == [(2, ["𠀀记"])]


def test_a_western_file_falls_back_to_cp1252():
    from core.imports import read_table

    table = read_table("Name;City\nJosé;Zürich\n".encode("cp1252"), "w.csv")
    assert table.encoding == "cp1252" and table.delimiter == ";"
    assert list(table.rows()) == [(2, ["José", "Zürich"])]


def test_semicolons_and_tabs_are_sniffed_and_blank_rows_keep_the_spreadsheet_numbering():
    from core.imports import read_table

    tabbed = read_table(b"Name\tEmail\na\ta@x.io\n\t\nb\tb@x.io\n", "t.tsv")
    assert tabbed.delimiter == "\t"
    assert list(tabbed.rows()) == [(2, ["a", "a@x.io"]), (4, ["b", "b@x.io"])]


def test_an_xlsx_sheet_gives_numbers_and_dates_as_people_typed_them():
    from openpyxl import Workbook

    from core.imports import read_table

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["电话", "Birthday", "When", "Empty"])
    sheet.append([13800138000, datetime(1990, 5, 31), datetime(2024, 1, 2, 9, 30), None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = read_table(buffer.getvalue(), "book.xlsx")
    assert table.kind == "xlsx" and table.headers == ["电话", "Birthday", "When", "Empty"]
    assert list(table.rows()) == [(2, ["13800138000", "1990-05-31", "2024-01-02T09:30:00", ""])]


@pytest.mark.parametrize(("content", "filename", "message"), [
    (b"", "a.csv", "empty"),
    (b"%PDF-1.4 binary", "a.pdf", "CSV or Excel"),
    (b"\x00\x01\x02garbage", "a.csv", "not a text"),
    (b"PK\x03\x04 not really a zip", "a.xlsx", "Excel workbook"),
    (b"\n\nName\n", "a.csv", "headings"),
    (b"old", "a.xls", ".xls"),
])
def test_files_that_are_not_tables_are_refused_with_the_reason(content, filename, message):
    from core.imports import ImportFileError, read_table

    with pytest.raises(ImportFileError, match=message):
        read_table(content, filename)


# -- mapping suggestions ------------------------------------------------------------------------


def test_headings_suggest_fields_by_name_label_or_alias_whatever_the_case_spaces_or_width(app):
    from fx_imports.imports import PEOPLE

    from core.imports import suggest_mapping

    with app.test_request_context():
        assert suggest_mapping(["姓名", "E-Mail", "ＲＥＧＩＯＮ", "Notes", "age "], PEOPLE) == \
            ["name", "email", "region", "", "age"]
        # a field goes to the first column that matches, never to two
        assert suggest_mapping(["Name", "Full name", "邮箱"], PEOPLE) == ["name", "", "email"]


def test_the_mapping_page_is_prefilled_with_the_suggestions(client, signed_in):
    run_id = run_id_of(upload(client, csv_bytes([["名称", "邮箱", "备注"], ["张三", "z@x.cn", "hi"]])))
    page = client.get(f"/imports/{run_id}").text
    assert 'name="column-0"' in page and '<option value="name" selected>' in page
    assert '<option value="email" selected>' in page
    assert "张三" in page  # the preview


# -- dry run ------------------------------------------------------------------------------------


def test_a_dry_run_checks_every_row_lists_errors_by_row_and_column_and_writes_nothing(app, client, signed_in):
    content = csv_bytes([["Name", "Email", "Region", "=Age"],
                         ["Ann", "ann@x.io", "North", "30"],
                         ["", "bad-email", "South", "abc"],
                         ["Bob", "bob@x.io", "", "200"]])
    run_id = run_id_of(upload(client, content))
    response = submit(client, run_id, MAPPING, "dry_run")
    assert response.status_code == 302
    run = the_run(app, run_id)
    assert (run.status, run.dry_run, run.created, run.failed) == ("checked", True, 1, 2)
    assert {(e["row"], e["column"]) for e in run.errors} == {(3, "Name"), (3, "Email"), (3, "=Age"), (4, "=Age")}
    assert people(app, signed_in) == []
    page = client.get(f"/imports/{run_id}").text
    assert "Dry run: nothing was written" in page and "Download errors (CSV)" in page

    download = client.get(f"/imports/{run_id}/errors.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert rows[0] == ["Row", "Column", "Problem"]
    assert ["4", "'=Age"] == rows[-1][:2] or any(r[:2] == ["4", "'=Age"] for r in rows)  # no formula
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_the_mapping_must_cover_required_fields_and_the_key(app, client, signed_in):
    run_id = run_id_of(upload(client, csv_bytes([HEADER, ["Ann", "a@x.io", "N", "1"]])))
    response = submit(client, run_id, ["", "email", "region", "age"], "dry_run")
    assert response.status_code == 400 and "it is required" in response.text
    response = submit(client, run_id, ["name", "name", "", ""], "import")
    assert response.status_code == 400 and "more than one column" in response.text
    response = submit(client, run_id, ["name", "", "", ""], "import", key="email")
    assert response.status_code == 400 and "choose a column for “Email”" in response.text


# -- duplicates ---------------------------------------------------------------------------------


def test_skip_mode_leaves_existing_records_and_skips_repeats_within_the_file(app, client, signed_in):
    first = run_id_of(upload(client, csv_bytes([HEADER, ["Ann", "ann@x.io", "N", "30"]])))
    submit(client, first, MAPPING, "import")
    content = csv_bytes([HEADER, ["Ann B", "ANN@x.io", "S", "31"], ["Cy", "cy@x.io", "", ""],
                         ["Cy again", "cy@x.io", "", ""]])
    second = run_id_of(upload(client, content))
    submit(client, second, MAPPING, "import")
    run = the_run(app, second)
    assert (run.status, run.created, run.updated, run.skipped) == ("done", 1, 0, 2)
    assert people(app, signed_in) == [("Ann", "ann@x.io", "N", 30), ("Cy", "cy@x.io", "", None)]
    assert any(e["row"] == 4 and "same Email as row 3" in e["message"] for e in run.errors)


def test_update_mode_changes_only_the_mapped_fields_of_the_matching_record(app, client, signed_in):
    submit(client, run_id_of(upload(client, csv_bytes([HEADER, ["Ann", "ann@x.io", "N", "30"]]))), MAPPING, "import")
    second = run_id_of(upload(client, csv_bytes([["Email", "Age", "Name"], ["ann@x.io", "41", "Ann"]])))
    submit(client, second, ["email", "age", "name"], "import", mode="update")
    assert people(app, signed_in) == [("Ann", "ann@x.io", "N", 41)]  # the region was not in the file
    assert the_run(app, second).updated == 1


def test_name_and_region_recognise_a_record_without_an_email(app, client, signed_in):
    content = csv_bytes([HEADER, ["Ann", "", "North", "1"]])
    submit(client, run_id_of(upload(client, content)), MAPPING, "import", key="name_region")
    again = csv_bytes([HEADER, ["ANN", "", "north", "2"], ["Ann", "", "South", "3"]])
    run_id = run_id_of(upload(client, again))
    submit(client, run_id, MAPPING, "import", mode="update", key="name_region")
    # the first row matched "Ann"/"North" whatever the case, and took the file's spelling
    assert people(app, signed_in) == [("ANN", "", "north", 2), ("Ann", "", "South", 3)]


def test_create_mode_creates_every_row_and_asks_before_importing_the_same_file_twice(app, client, signed_in):
    content = csv_bytes([HEADER, ["Ann", "ann@x.io", "N", "30"], ["Ann", "ann@x.io", "N", "30"]])
    submit(client, run_id_of(upload(client, content)), MAPPING, "import", mode="create")
    assert len(people(app, signed_in)) == 2
    second = run_id_of(upload(client, content))
    asked = submit(client, second, MAPPING, "import", mode="create")
    assert asked.status_code == 200 and "already imported" in asked.text
    assert len(people(app, signed_in)) == 2
    submit(client, second, MAPPING, "import", mode="create", _confirmed="yes")
    assert len(people(app, signed_in)) == 4


def test_reimporting_the_same_file_duplicates_nothing(app, client, signed_in):
    content = csv_bytes([HEADER] + [[f"P{n}", f"p{n}@x.io", "", str(n)] for n in range(7)])
    for _ in range(2):
        submit(client, run_id_of(upload(client, content)), MAPPING, "import")
    assert len(people(app, signed_in)) == 7


# -- batches, failures, progress ------------------------------------------------------------------


def test_a_failed_write_keeps_the_rows_before_it_and_says_which_row_failed_and_why(
        app, client, signed_in, monkeypatch):
    import core.imports

    monkeypatch.setattr(core.imports, "BATCH_SIZE", 3)
    rows = [[f"P{n}", f"p{n}@x.io", "", ""] for n in range(2, 6)] + [["explode", "e@x.io", "", ""]] + \
           [[f"P{n}", f"p{n}@x.io", "", ""] for n in range(7, 10)]
    run_id = run_id_of(upload(client, csv_bytes([HEADER] + rows)))
    submit(client, run_id, MAPPING, "import")
    run = the_run(app, run_id)
    assert run.status == "failed" and run.last_row == 5 and run.created == 4
    assert "Rows 2–5 were imported" in run.message and "row 6 failed: the name “explode” is not allowed" in run.message
    assert [p[0] for p in people(app, signed_in)] == ["P2", "P3", "P4", "P5"]
    page = client.get(f"/imports/{run_id}").text
    assert "row 6 failed" in page and "Resume after row 5" in page


def test_each_batch_is_one_lookup_and_one_write_whatever_the_row_count(app, client, signed_in, monkeypatch):
    import core.imports
    from fx_imports.imports import WRITES

    monkeypatch.setattr(core.imports, "BATCH_SIZE", 10)
    content = csv_bytes([HEADER] + [[f"P{n}", f"p{n}@x.io", "", str(n % 100)] for n in range(45)])
    run_id = run_id_of(upload(client, content))
    WRITES.clear()
    with counting_queries(app) as statements:
        submit(client, run_id, MAPPING, "import")
    mine = [s for s in statements if "fx_imports_person" in s]
    assert WRITES == [(10, 0)] * 4 + [(5, 0)]
    assert len(mine) == 5 * 2  # per batch: the duplicate lookup and one INSERT
    assert len(people(app, signed_in)) == 45


def test_the_import_page_shows_the_core_progress_bar_while_the_job_runs(app, client, signed_in, db_session):
    from core.imports import ImportRun

    run_id = run_id_of(upload(client, csv_bytes([HEADER, ["Ann", "a@x.io", "", ""]])))
    with company_scope(db_session, signed_in.id):
        run = db_session.get(ImportRun, run_id)
        run.status, run.job_id = "importing", "abc123"
        db_session.commit()
    page = client.get(f"/imports/{run_id}").text
    assert "/jobs/abc123/progress" in page and 'name="action"' not in page
    assert submit(client, run_id, MAPPING, "import").status_code == 409


# -- access and bad input -----------------------------------------------------------------------


def test_a_member_without_the_permission_cannot_import(app, client, signed_in, db_session, login_as):
    from core.models import Membership, Role, User

    run_id = run_id_of(upload(client, csv_bytes([HEADER, ["Ann", "a@x.io", "", ""]])))
    role = Role(company_id=signed_in.id, name="Nobody", permissions=[])
    user = User(email="nobody@acme.test", name="Nobody")
    user.set_password("long enough")
    user.memberships.append(Membership(company_id=signed_in.id, role=role))
    db_session.add_all([role, user])
    db_session.commit()
    login_as(user)
    assert client.get(f"/imports/new?target={TARGET}").status_code == 403
    assert upload(client, csv_bytes([HEADER])).status_code == 403
    assert client.get(f"/imports/{run_id}").status_code == 403
    assert client.get(f"/imports/{run_id}/errors.csv").status_code == 403
    assert "fx_imports" not in client.get("/imports/").text


def test_a_disabled_plugin_offers_no_target_and_its_runs_are_not_found(app, client, signed_in):
    run_id = run_id_of(upload(client, csv_bytes([HEADER, ["Ann", "a@x.io", "", ""]])))
    signed_in.disable(PLUGIN)
    assert client.get(f"/imports/{run_id}").status_code == 404
    assert client.get("/imports/").status_code == 200


def test_bad_uploads_are_refused_with_a_clear_message(app, client, signed_in, monkeypatch):
    import core.imports_views

    wrong = upload(client, b"\x89PNG\r\n", "photo.png")
    assert wrong.status_code == 400 and "Choose a CSV or Excel (.xlsx) file." in wrong.text
    missing = client.post("/imports/new", data={"target": TARGET}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "Choose a file" in missing.text
    unknown = upload(client, csv_bytes([HEADER]), target="nope.nothing")
    assert unknown.status_code == 400 and "Choose what to import" in unknown.text
    monkeypatch.setattr(core.imports_views, "MAX_FILE_BYTES", 10)
    large = upload(client, csv_bytes([HEADER, ["Ann", "a@x.io", "", ""]]))
    assert large.status_code == 413 and "larger than" in large.text


def test_the_list_shows_the_company_runs_newest_first_with_their_status(app, client, signed_in):
    first = run_id_of(upload(client, csv_bytes([HEADER, ["Ann", "a@x.io", "", ""]]), "first.csv"))
    submit(client, first, MAPPING, "import")
    run_id_of(upload(client, csv_bytes([HEADER]), "second.csv"))
    page = client.get("/imports/").text
    assert page.index("second.csv") < page.index("first.csv") and "Imported" in page


def test_an_import_run_is_in_the_audit_trail_with_who_imported_which_file(app, client, signed_in, db_session):
    from core.models import AuditEntry

    run_id = run_id_of(upload(client, csv_bytes([HEADER, ["Ann", "a@x.io", "", ""]]), "who.csv"))
    submit(client, run_id, MAPPING, "import")
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.record_type == "core.import_run",
                                                          AuditEntry.record_id == str(run_id))).all()
    assert entries[0].action == "create" and entries[0].changes["filename"] == [None, "who.csv"]
    assert all(entry.user_id == signed_in.admin.id for entry in entries)
    assert "content" not in entries[0].changes
    assert any(entry.changes.get("status", [None, None])[1] == "done" for entry in entries)


# -- bulk_insert, for targets ---------------------------------------------------------------------


def test_bulk_insert_returns_the_new_ids_in_the_order_of_the_rows(app, signed_in):
    from fx_imports.models import Person

    from core.db import utcnow
    from core.imports import bulk_insert

    now = utcnow()
    rows = [{"company_id": signed_in.id, "name": f"P{n}", "email": "", "region": "", "age": n,
             "created_at": now, "updated_at": now} for n in range(2500)]
    with app.app_context():
        session = get_session()
        with company_scope(session, signed_in.id):
            bulk_insert(Person.__table__, rows[:3])  # ids taken before: the new ones do not start at 1
            ids = bulk_insert(Person.__table__, rows, return_ids=True)
            names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())
            session.commit()
    assert len(set(ids)) == 2500 and min(ids) > 3
    assert [names[person_id] for person_id in ids] == [row["name"] for row in rows]


def test_bulk_insert_sends_many_rows_per_statement_not_one_statement_per_row(app, signed_in):
    from fx_imports.models import Person

    from core.db import utcnow
    from core.imports import bulk_insert

    now = utcnow()
    rows = [{"company_id": signed_in.id, "name": f"P{n}", "email": "", "region": "", "age": None,
             "created_at": now, "updated_at": now} for n in range(2500)]
    with app.app_context(), counting_queries(app) as statements:
        session = get_session()
        with company_scope(session, signed_in.id):
            assert bulk_insert(Person.__table__, rows) == []
            assert bulk_insert(Person.__table__, []) == []
            session.commit()
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO FX_IMPORTS_PERSON")]
    assert len(inserts) == 3  # 1,000 + 1,000 + 500 rows (an executemany on SQLite is one per row)
    assert all(s.count("), (") >= 499 for s in inserts)
    assert len(people(app, signed_in)) == 2500
