"""pytest fixtures for tests that need the lab. Enable them in the top conftest with
``pytest_plugins = ["ayiq.lab.pytest_plugin"]``, or import them into a conftest by name.

Tests using them skip only when the machine cannot run a lab at all (not root, no network namespaces); a
missing tool is an error, so CI (root) always runs them. Every lab is brought down even if the test fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ayiq.lab.lab import Lab, LabUnavailable, check_support
from ayiq.lab.scenario import Scenario


@pytest.fixture(scope="session")
def lab_support() -> None:
    """Skip (with the reason) when this machine cannot run a lab; raise when something is not installed."""
    try:
        check_support()
    except LabUnavailable as exc:
        pytest.skip(f"lab unavailable: {exc}")


@pytest.fixture(scope="session")
def lab_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private AYIQ_HOME for the session, so lab state never mixes with a user's."""
    home = tmp_path_factory.mktemp("ayiq-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("AYIQ_HOME", str(home))
    yield home
    mp.undo()


@pytest.fixture(scope="session")
def lab(lab_support: None, lab_home: Path) -> Iterator[Lab]:
    """One running lab with the all-techniques scenario, shared by the session."""
    running = Lab.up("all-techniques")
    try:
        yield running
    finally:
        running.down()


@pytest.fixture()
def make_lab(lab_support: None, lab_home: Path) -> Iterator[Callable[..., Lab]]:
    """``make_lab(scenario, clock=..., clock_offset=...)``: a lab of your own, brought down after the test."""
    made: list[Lab] = []

    def make(scenario: Scenario | str | Path = "baseline", *, clock: dt.datetime | None = None,
             clock_offset: float | None = None) -> Lab:
        lab = Lab.up(scenario, clock=clock, clock_offset=clock_offset)
        made.append(lab)
        return lab

    try:
        yield make
    finally:
        for lab in made:
            lab.down()
