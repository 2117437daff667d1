"""The dashboard served by a real uvicorn on loopback over a store with hostile content; a headless browser."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
import ayiq_browser  # noqa: E402  (fixtures shared with tests/report)

browser = ayiq_browser.browser
hostile_history = ayiq_browser.hostile_history


@pytest.fixture(scope="module")
def server(hostile_history: tuple[Path, object, str]) -> Iterator[str]:
    import uvicorn

    from ayiq.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(hostile_history[0]), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
