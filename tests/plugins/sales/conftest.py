import pytest


@pytest.fixture
def crm_plugins():
    """The sales plugin's tests run with only its dependencies (customers)."""
    return ["customers", "sales"]


@pytest.fixture
def admin(client, company, login_as):
    """The company's administrator, signed in, with the sales plugin (and customers) enabled."""
    company.enable("sales")
    login_as(company.admin)
    return company.admin
