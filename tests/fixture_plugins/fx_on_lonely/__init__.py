"""Fixture: depends on fx_lonely, whose dependency is missing."""
