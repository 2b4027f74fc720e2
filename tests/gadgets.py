"""Set-up shared by the tests that use the fx_gadgets fixture plugin (a model with every
core mixin). Its table is created here: fixture plugins carry no migrations."""

from __future__ import annotations

from typing import Any

import pytest

from core.db import get_database, get_session
from core.scoping import company_scope

GADGETS = "fx_gadgets"


# Test modules import these two fixtures to run with the fx_gadgets plugin loaded.
@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": [GADGETS]}


@pytest.fixture
def crm_plugins():
    return [GADGETS]


def create_gadget_table(app: Any) -> None:
    from fx_gadgets.models import Gadget

    Gadget.__table__.create(get_database(app).engine, checkfirst=True)


def add_gadgets(app: Any, company: Any, *names: str, owner_id: int | None = None) -> list[int]:
    """Create gadgets in ``company``; return their ids."""
    from fx_gadgets.models import Gadget

    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            gadgets = [Gadget(name=name, secret=f"secret of {name}", owner_id=owner_id) for name in names]
            session.add_all(gadgets)
            session.commit()
            return [gadget.id for gadget in gadgets]
