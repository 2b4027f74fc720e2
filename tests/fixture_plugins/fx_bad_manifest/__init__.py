"""Fixture: its manifest is invalid (never imported)."""
