"""Fixture: depends on fx_explodes, which fails to import."""
