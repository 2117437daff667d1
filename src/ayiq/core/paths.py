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


def cache_dir() -> Path:
    """Rebuildable caches: ``AYIQ_CACHE`` if set, else ``<AYIQ_HOME>/cache`` if ``AYIQ_HOME`` is set, else the
    user's cache dir. Not created here: a cache that cannot be written is skipped, never an error."""
    env = os.environ.get("AYIQ_CACHE")
    if env:
        return Path(env)
    home = os.environ.get("AYIQ_HOME")
    return Path(home) / "cache" if home else Path(platformdirs.user_cache_dir(APP))
