"""Importing accounts, contacts and interactions from files, end to end: upload, mapping,
dry run, import; duplicates by normalised phone and by name and region; updates; re-runs."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from core.db import get_session
from core.scoping import company_scope
from plugins.customers.models import Account, AccountTag, Contact, ContactPoint, Interaction, Tag
from tests.plugins.customers.test_accounts import add_account, admin, make_member  # noqa: F401  (fixture)


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def import_file(client, target: str, content: bytes, *, filename: str = "data.csv", mode: str = "skip",
                key: str = "", mapping: list[str] | None = None, dry_run_first: bool = True) -> int:
    """Upload, keep (or set) the mapping, dry run, import; the run id."""
    uploaded = client.post("/imports/new", data={"target": target, "file": (io.BytesIO(content), filename)},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 302, uploaded.get_data(as_text=True)
    run_id = int(uploaded.headers["Location"].rstrip("/").split("/")[-1])
    page = client.get(f"/imports/{run_id}").get_data(as_text=True)
    if mapping is None:  # keep the suggestions the page shows
        import re

        mapping = []
        for position in range(len(re.findall(r'name="column-\d+"', page))):
            select_html = page.split(f'name="column-{position}"', 1)[1].split("</select>", 1)[0]
            chosen = re.search(r'<option value="([^"]*)" selected>', select_html)
            mapping.append(chosen.group(1) if chosen else "")
    form = {f"column-{position}": name for position, name in enumerate(mapping)}
    form.update(mode=mode, key=key)
    if dry_run_first:
        checked = client.post(f"/imports/{run_id}", data={**form, "action": "dry_run"})
        assert checked.status_code == 302, checked.get_data(as_text=True)
    done = client.post(f"/imports/{run_id}", data={**form, "action": "import", "_confirmed": "yes"})
    assert done.status_code == 302, done.get_data(as_text=True)
    return run_id


def run_of(db_session, run_id: int):
    from core.imports import ImportRun

    db_session.expire_all()
    return db_session.execute(select(ImportRun).where(ImportRun.id == run_id)
                              .execution_options(crm_unscoped=True)).scalar_one()


def accounts(app, company) -> list[Account]:
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            found = list(session.scalars(select(Account).order_by(Account.id)))
            session.expunge_all()
            return found


def test_accounts_import_from_a_gbk_file_with_chinese_headings(app, client, company, admin, db_session):
    content = csv_bytes([["名称", "电话", "邮箱", "地区", "行业", "标签", "状态"],
                         ["北京星辰科技有限公司", "+86 138-0013-8000; 010 6552 9988", "info@xc.cn", "华北", "软件",
                          "重点, 合作伙伴", "active"],
                         ["上海明月贸易", "021 5555 1234", "bad-email", "华东", "", "", ""]], encoding="gbk")
    run_id = import_file(client, "customers.accounts", content, key="email")
    run = run_of(db_session, run_id)
    assert (run.status, run.created, run.failed) == ("done", 1, 1)
    assert run.errors == [{"row": 3, "column": "邮箱", "message": run.errors[0]["message"]}]
    [account] = accounts(app, company)
    assert (account.name, account.region, account.status, account.owner_id) == \
        ("北京星辰科技有限公司", "华北", "active", company.admin.id)
    assert account.phone == "+86 138-0013-8000" and account.other_phones == "010 6552 9988"
    assert account.phone_normalized == "+8613800138000" and account.name_key == "北京星辰科技"
    assert "01065529988" in account.search_text and "info@xc.cn" in account.search_text
    points = db_session.execute(select(ContactPoint.kind, ContactPoint.normalized, ContactPoint.position)
                                .where(ContactPoint.account_id == account.id).order_by(ContactPoint.id)).all()
    assert [tuple(p) for p in points] == [("phone", "+8613800138000", 0), ("phone", "01065529988", 1),
                                          ("email", "info@xc.cn", 0)]
    tags = db_session.scalars(select(Tag.name).join(AccountTag, AccountTag.tag_id == Tag.id)
                              .where(AccountTag.account_id == account.id).order_by(Tag.name)).all()
    assert sorted(tags) == sorted(["重点", "合作伙伴"])


def test_a_phone_typed_differently_is_the_same_account(app, client, company, admin, db_session):
    add_account(app, company, "Acme", phone="+86 138 0013 8000", other_phones="010-1234-5678")
    content = csv_bytes([["Name", "Phone"], ["ACME Ltd", "0086 13800138000"], ["Other", "(010) 1234 5678"],
                         ["New One", "+1 555 0100"]])
    run_id = import_file(client, "customers.accounts", content, key="phone")
    run = run_of(db_session, run_id)
    assert (run.created, run.skipped) == (1, 2)
    assert [a.name for a in accounts(app, company)] == ["Acme", "New One"]


def test_name_and_region_recognise_an_account_and_update_mode_changes_its_fields(app, client, company, admin,
                                                                                 db_session):
    first = add_account(app, company, "Acme Trading Co., Ltd.", region="North", industry="Retail", tier="B")
    add_account(app, company, "Acme Trading", region="South", industry="Retail")
    content = csv_bytes([["Company name", "Region", "Industry"], ["ACME trading", "north", "Wholesale"]])
    run_id = import_file(client, "customers.accounts", content, key="name_region", mode="update")
    assert run_of(db_session, run_id).updated == 1
    found = {a.id: a for a in accounts(app, company)}
    assert found[first].industry == "Wholesale" and found[first].tier == "B"  # unmapped fields stay
    assert found[first].name == "ACME trading"
    assert len(found) == 2


def test_reimporting_the_same_accounts_file_creates_nothing_new(app, client, company, admin, db_session):
    content = csv_bytes([["Name", "Email"]] + [[f"Firm {n}", f"firm{n}@x.example"] for n in range(5)])
    import_file(client, "customers.accounts", content, key="email")
    second = import_file(client, "customers.accounts", content, key="email")
    assert (run_of(db_session, second).created, run_of(db_session, second).skipped) == (0, 5)
    assert len(accounts(app, company)) == 5


def test_an_owner_email_makes_that_member_the_owner(app, client, company, admin, db_session):
    rep = make_member(app, company, "rep@acme.test", "Rep")
    content = csv_bytes([["Name", "Owner"], ["Owned", "REP@acme.test"], ["Unknown", "who@x.example"]])
    run_id = import_file(client, "customers.accounts", content, mode="create")
    assert [(a.name, a.owner_id) for a in accounts(app, company)] == [("Owned", rep.id)]
    assert "who@x.example" in run_of(db_session, run_id).errors[0]["message"]


def test_contacts_are_matched_to_their_account_by_name_and_recognised_by_email(app, client, company, admin,
                                                                                db_session):
    account_id = add_account(app, company, "上海星辰科技有限公司")
    content = csv_bytes([["姓名", "公司", "邮箱", "手机", "邮件许可"],
                         ["张三", "上海星辰科技", "zhang@xc.cn", "13900001111", "是"],
                         ["李四", "不存在公司", "li@xc.cn", "", ""],
                         ["Zhang San", "", "ZHANG@xc.cn", "", "no"]], encoding="gb18030")
    run_id = import_file(client, "customers.contacts", content, key="email")
    run = run_of(db_session, run_id)
    assert (run.created, run.skipped, run.failed) == (1, 1, 1)
    assert run.errors[0]["row"] == 3 and run.errors[0]["column"] == "公司"
    contact = db_session.scalar(select(Contact))
    assert (contact.name, contact.account_id, contact.consent_email) == ("张三", account_id, True)
    assert contact.consent_changed_at is not None and contact.phone_normalized == "13900001111"


def test_interactions_link_to_an_account_by_name_or_id_with_a_valid_kind(app, client, company, admin, db_session):
    acme = add_account(app, company, "Acme")
    other = add_account(app, company, "Other")
    content = csv_bytes([["Account", "Kind", "Date", "Summary"],
                         ["acme", "Call", "2024-05-31 14:30", "Talked"],
                         [f"#{other}", "visit", "2024/06/01", ""],
                         ["Acme", "telepathy", "2024-06-02", "?"],
                         ["Nobody", "call", "2024-06-02", ""]])
    run_id = import_file(client, "customers.interactions", content, key="account_kind_time")
    run = run_of(db_session, run_id)
    assert (run.created, run.failed) == (2, 2)
    assert {(e["row"], e["column"]) for e in run.errors} == {(4, "Kind"), (5, "Account")}
    rows = db_session.execute(select(Interaction.account_id, Interaction.kind, Interaction.subject_id)
                              .order_by(Interaction.id)).all()
    assert [tuple(r) for r in rows] == [(acme, "call", str(acme)), (other, "visit", str(other))]
    assert db_session.get(Account, acme).last_follow_up_at is not None
    again = import_file(client, "customers.interactions", content, key="account_kind_time")
    assert run_of(db_session, again).created == 0
    assert db_session.scalar(select(Interaction.id).offset(2)) is None


def test_an_xlsx_file_of_accounts_with_numeric_phones(app, client, company, admin, db_session):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["Name", "Phone", "Size"])
    workbook.active.append(["Numbers Inc", 13800138000, "11-50"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    import_file(client, "customers.accounts", buffer.getvalue(), filename="accounts.xlsx", key="phone")
    [account] = accounts(app, company)
    assert (account.phone, account.size) == ("13800138000", "11-50")


def test_the_lists_offer_an_import_button_only_with_the_permission(app, client, company, admin, login_as):
    assert 'href="/imports/new?target=customers.accounts"' in client.get("/customers/accounts/").get_data(as_text=True)
    assert 'href="/imports/new?target=customers.contacts"' in client.get("/customers/contacts/").get_data(as_text=True)
    reader = make_member(app, company, "reader@acme.test", "Reader", template=None)
    login_as(reader)
    assert client.get("/imports/new?target=customers.accounts").status_code == 403
