import pytest


@pytest.fixture
def crm_plugins():
    """The customers plugin's tests run with only its dependencies (none)."""
    return ["customers"]
