"""A built-in fixture plugin with no hooks."""
