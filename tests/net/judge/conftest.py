"""Fixtures for the judge tests: the OONI data folder, its fingerprints and a Judge using them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ayiq.net.judge import Fingerprints, Judge, load_fingerprints


@pytest.fixture(scope="session")
def ooni(shared_data: Path) -> Path:
    d = shared_data / "ooni"
    if not d.is_dir():
        pytest.skip(f"{d} not found: the OONI part of ../shared/data is missing")
    return d


@pytest.fixture(scope="session")
def fingerprints(ooni: Path) -> Fingerprints:
    return load_fingerprints(ooni / "fingerprints")


@pytest.fixture(scope="session")
def judge(fingerprints: Fingerprints) -> Judge:
    return Judge(fingerprints=fingerprints)


@pytest.fixture(scope="session")
def load() -> Any:
    """Read one measurement file as a dict."""

    def _load(path: Path) -> dict[str, Any]:
        obj = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(obj, dict)
        return obj

    return _load
