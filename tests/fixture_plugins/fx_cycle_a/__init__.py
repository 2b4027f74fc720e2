"""Fixture: depends on fx_cycle_b, which depends on it."""
