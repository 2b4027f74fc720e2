"""Built-in plugins: one package per plugin, each with a manifest.toml."""
