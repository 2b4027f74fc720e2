"""Fixture: depends on fx_future, which needs core >=9."""
