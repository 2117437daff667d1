"""Fixtures shared by every test: the one way to reach ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]


def _find_shared_data() -> Path | None:
    env = os.environ.get("AYIQ_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [_ROOT.parent / "shared" / "data", _ROOT / ".." / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real public material, read-only); skips with a clear message when absent."""
    found = _find_shared_data()
    if found is None:
        pytest.skip("../shared/data not found next to the repository (set AYIQ_SHARED_DATA to its path)")
    return found
