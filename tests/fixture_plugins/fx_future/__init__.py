"""Fixture: needs a core version that does not exist yet."""
