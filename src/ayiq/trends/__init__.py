"""Trends: when interference started and stopped, whether it follows a weekly schedule, and how it moves
around events, computed from the store's verdicts (aggregated in DuckDB, modelled per series in numpy)."""

from __future__ import annotations
