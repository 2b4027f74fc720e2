"""The opportunities board in a real browser: a card dragged to another column moves there
and both columns' counts follow; a drop on the lost column asks for the lost reason; the
"Move to…" menu (the phone's way) moves a card too; Undo puts it back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from core.db import get_session
from core.scoping import company_scope
from core.testing import TEST_PASSWORD
from plugins.sales.models import LostReason
from plugins.sales.opportunities import create_opportunity
from plugins.sales.services import default_pipeline


@pytest.fixture
def crm_plugins():
    return ["customers", "sales"]


@pytest.fixture
def deals(app, company):
    """Two deals in the first stage; the stages' ids by name."""
    company.enable("sales")
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            pipeline = default_pipeline(session, company.id)
            session.add(LostReason(company_id=company.id, name="Too expensive"))
            for name in ("Dragged deal", "Menu deal"):
                create_opportunity(session, company.id, {"name": name, "amount": Decimal("1000")}, company.admin.id)
            from plugins.sales.board import pipeline_stages
            stages = {stage.name: stage.id for stage in pipeline_stages(session, pipeline.id)}
            session.commit()
    return stages


def sign_in(page, live_server):
    page.goto(f"{live_server}/login")
    page.get_by_label("Email address").fill("admin@acme.test")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")


def count(page, stage_id):
    return page.locator(f"#board-column-{stage_id}-header .board-count")


def drag(page, card, target):
    """A drag with the mouse, in small steps, as SortableJS expects."""
    start, end = card.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + 20, start["y"] + 10)
    page.mouse.down()
    for step in range(1, 16):
        page.mouse.move(start["x"] + 20 + (end["x"] + 40 - start["x"] - 20) * step / 15,
                        start["y"] + 10 + (end["y"] + 30 - start["y"] - 10) * step / 15)
        page.wait_for_timeout(20)
    page.mouse.up()


def test_dragging_a_card_to_another_column_moves_it_and_updates_the_counts(page, live_server, deals):
    sign_in(page, live_server)
    page.goto(f"{live_server}/sales/opportunities/board")
    qualification, proposal = deals["Qualification"], deals["Proposal"]
    expect(count(page, qualification)).to_have_text("2")
    card = page.locator(".board-card", has_text="Dragged deal")
    drag(page, card, page.locator(f"#board-column-{proposal} .board-cards"))
    expect(count(page, proposal)).to_have_text("1")
    expect(count(page, qualification)).to_have_text("1")
    expect(page.locator(f"#board-column-{proposal}")).to_contain_text("Dragged deal")
    # Undo puts it back.
    page.locator(".board-toast").get_by_role("button", name="Undo").click()
    expect(count(page, qualification)).to_have_text("2")
    expect(count(page, proposal)).to_have_text("0")


def move_with_menu(page, name, stage):
    card = page.locator(".board-card", has_text=name)
    card.get_by_role("button", name="Move to…").click()
    card.get_by_role("button", name=stage).click()


def test_a_move_to_the_lost_column_asks_for_the_reason(page, live_server, deals):
    # The lost column is off screen on a 1280 px desktop: the "Move to…" menu takes the same
    # path as a drop (the script sends the move, the server asks for the reason).
    sign_in(page, live_server)
    page.goto(f"{live_server}/sales/opportunities/board")
    lost, qualification = deals["Lost"], deals["Qualification"]
    move_with_menu(page, "Dragged deal", "Lost")
    dialog = page.locator("#board-lost-dialog")
    expect(dialog).to_be_visible()
    # Cancelled: the deal stays where it was.
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#board-column-{qualification}")).to_contain_text("Dragged deal")
    expect(count(page, lost)).to_have_text("0")
    move_with_menu(page, "Dragged deal", "Lost")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Lost reason").select_option(label="Too expensive")
    dialog.get_by_role("button", name="Mark as lost").click()
    expect(count(page, lost)).to_have_text("1")
    expect(count(page, qualification)).to_have_text("1")


def test_the_move_to_menu_moves_a_card_on_a_phone(browser, live_server, deals):
    from tests.browser.support import PHONE

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, live_server)
        page.goto(f"{live_server}/sales/opportunities/board")
        move_with_menu(page, "Menu deal", "Negotiation")
        expect(count(page, deals["Negotiation"])).to_have_text("1")
        expect(page.locator(f"#board-column-{deals['Negotiation']}")).to_contain_text("Menu deal")
    finally:
        context.close()
