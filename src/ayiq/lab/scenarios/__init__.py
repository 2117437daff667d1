"""Built-in lab scenarios (TOML files, read as package data)."""
