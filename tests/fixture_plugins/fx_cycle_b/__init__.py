"""Fixture: depends on fx_cycle_a, which depends on it."""
