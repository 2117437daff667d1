"""Types, errors and paths shared by every instrument."""
