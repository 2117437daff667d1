"""Lab tests use the fixtures of ayiq.lab.pytest_plugin (lab_support, lab_home, lab, make_lab) and a helper
that runs the plain clients of clients.py on a lab host."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ayiq.lab import Lab, pytest_plugin

# The lab fixtures, shared with other test folders through ayiq.lab.pytest_plugin.
lab_support = pytest_plugin.lab_support
lab_home = pytest_plugin.lab_home
lab = pytest_plugin.lab
make_lab = pytest_plugin.make_lab

CLIENTS = Path(__file__).with_name("clients.py")
Client = Callable[..., dict[str, Any]]


def make_client(lab: Lab) -> Client:
    def run(op: str, *, on: str = "client", exec_timeout: float = 60, **request: Any) -> dict[str, Any]:
        done = lab.exec([sys.executable, str(CLIENTS), json.dumps({"op": op, **request})], host=on,
                        timeout=exec_timeout)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    return run


@pytest.fixture()
def client(lab: Lab) -> Client:
    """Run one of tests/lab/clients.py's plain clients on a lab host (`on=`, the client by default)."""
    return make_client(lab)


@pytest.fixture()
def client_for() -> Callable[[Lab], Client]:
    """The same helper for a lab made with make_lab."""
    return make_client
