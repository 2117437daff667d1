"""Where Ayiq keeps its files by default (the user's data dir), overridable by env vars."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "ayiq"


def data_dir() -> Path:
    env = os.environ.get("AYIQ_HOME")
    base = Path(env) if env else Path(platformdirs.user_data_dir(APP))
    base.mkdir(parents=True, exist_ok=True)
    return base


def default_store() -> Path:
    """The store path: ``AYIQ_STORE`` if set, else ``<data dir>/ayiq.duckdb``."""
    env = os.environ.get("AYIQ_STORE")
    return Path(env) if env else data_dir() / "ayiq.duckdb"
