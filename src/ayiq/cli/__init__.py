"""Thin Typer command groups, one module per instrument."""
