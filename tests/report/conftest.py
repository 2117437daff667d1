"""Fixtures for the report tests (defined in ayiq_browser.py, shared with tests/web)."""

from __future__ import annotations

from ayiq_browser import browser, hostile_history

__all__ = ["browser", "hostile_history"]
