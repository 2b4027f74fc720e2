import pytest


@pytest.fixture
def crm_plugins():
    """Test the plugin alone: the fixtures of core.testing load only these plugins."""
    return ["notes"]
