"""An import in a real browser: a GBK file from a Chinese spreadsheet, its columns mapped from
the Chinese headings, a dry run listing the bad rows, then the import and its outcome."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from core.testing import TEST_PASSWORD

ROWS = ("客户名称,电话,邮箱,地区\n"
        "深圳明达科技有限公司,0755-8888 1234,info@mingda.example,华南\n"
        "北京华彩传媒,+86 10 6552 9988,not-an-address,华北\n")


@pytest.fixture
def crm_plugins():
    return ["customers"]


@pytest.fixture
def acme(company):
    company.enable("customers")
    return company


def test_a_gbk_file_is_mapped_checked_and_imported(page, live_server, acme, tmp_path):
    upload = tmp_path / "客户.csv"
    upload.write_bytes(ROWS.encode("gbk"))
    page.goto(f"{live_server}/login")
    page.get_by_label("Email address").fill("admin@acme.test")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server}/customers/accounts/")
    page.get_by_role("link", name="Import").click()
    page.locator("input[type=file]").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_text("read as gb18030")).to_be_visible()
    expect(page.locator("#column-0")).to_have_value("name")
    expect(page.locator("#column-1")).to_have_value("phone")
    expect(page.locator("#preview").get_by_role("cell", name="深圳明达科技有限公司")).to_be_visible()

    page.get_by_role("button", name="Dry run").click()
    expect(page.get_by_role("heading", name="Dry run: nothing was written")).to_be_visible()
    errors = page.get_by_role("row", name=re.compile("not a valid email", re.IGNORECASE))
    expect(errors).to_contain_text("3")  # the spreadsheet's row number
    expect(page.get_by_role("link", name="Download errors (CSV)")).to_be_visible()

    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()

    page.goto(f"{live_server}/customers/accounts/?q=明达")
    expect(page.get_by_role("link", name="深圳明达科技有限公司")).to_be_visible()
    expect(page.get_by_role("link", name="北京华彩传媒")).to_have_count(0)
