"""Fixture: manifest name fx_dup, as in fx_dup_one."""
