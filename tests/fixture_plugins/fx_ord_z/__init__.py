"""Fixture for load order: no dependency."""
