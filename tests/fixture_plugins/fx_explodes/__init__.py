"""Fixture: fails while being imported."""
raise RuntimeError("fx_explodes blew up at import")
