"""A seeded synthetic verdict history with known truth, in a real DuckDB store, shared by the trends tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ayiq.store import Store, open_store
from ayiq.trends.bins import Hourly, hourly_counts
from ayiq.trends.synth import HistorySpec, Truth, write_history

SPEC = HistorySpec(seed=7, targets=30, days=60)


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Truth]]:
    path = tmp_path_factory.mktemp("history") / "history.duckdb"
    with open_store(path) as st:
        truth = write_history(st, SPEC)
    yield path, truth


@pytest.fixture(scope="session")
def history_hourly(history: tuple[Path, Truth]) -> Hourly:
    with open_store(history[0], read_only=True) as st:
        return hourly_counts(st)


@pytest.fixture()
def history_store(history: tuple[Path, Truth]) -> Iterator[Store]:
    with open_store(history[0], read_only=True) as st:
        yield st
