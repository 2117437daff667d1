"""One store, two shapes: a DuckDB file (default) or a partitioned Parquet dataset (for scale).

Both expose the same DuckDB views (`measurements`, `verdicts`, `v_verdicts`), so every query is written once.
"""

from __future__ import annotations

from ayiq.store.base import Store, open_store

__all__ = ["Store", "open_store"]
