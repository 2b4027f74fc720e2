"""A folder without a manifest: not a plugin."""
