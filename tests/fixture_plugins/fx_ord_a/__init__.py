"""Fixture for load order: depends on fx_ord_z."""
