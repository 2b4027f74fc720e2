"""Fixture: depends on fx_absent, which does not exist."""
