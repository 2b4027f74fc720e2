"""Stands in for the built-in plugins package in discovery tests."""
