"""A built-in fixture plugin whose manifest name differs from its folder."""
