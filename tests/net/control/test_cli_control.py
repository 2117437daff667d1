"""`ayiq control serve` as a process: refuses to start without a token, serves, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson

from ayiq.net.control.client import ControlClient

CODE = "from ayiq.cli.main import main; main()"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_control_serve_help_renders() -> None:
    done = subprocess.run([sys.executable, "-c", CODE, "control", "serve", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "--udp-port" in done.stdout, done.stderr[-500:]


def test_control_serve_needs_a_token(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CODE, "control", "serve", "--listen", "127.0.0.1:9"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--token-file is required" in done.stderr
    short = tmp_path / "short.txt"
    short.write_text("abc\n")
    done = subprocess.run([sys.executable, "-c", CODE, "control", "serve", "--token-file", str(short)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "at least 16 characters" in done.stderr


def test_control_serve_answers_and_stops(tmp_path: Path) -> None:
    import asyncio

    token = subprocess.run([sys.executable, "-c", CODE, "control", "token"], capture_output=True, text=True,
                           timeout=60).stdout.strip()
    assert len(token) >= 32
    tf = tmp_path / "token.txt"
    tf.write_text(token + "\n")
    port, uport = _free_port(), _free_port()
    proc = subprocess.Popen([sys.executable, "-c", CODE, "control", "serve", "--listen", f"127.0.0.1:{port}",
                             "--token-file", str(tf), "--allow-private", "--udp-port", str(uport)],
                            stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        lines: list[str] = []
        while time.monotonic() < deadline and not any("voice relay" in ln for ln in lines):
            lines.append(proc.stderr.readline())
        assert any(f"http://127.0.0.1:{port}/api/v1/web_connectivity" in ln for ln in lines), lines
        answer, failure = asyncio.run(ControlClient(f"http://127.0.0.1:{port}/api/v1/web_connectivity", token,
                                                    timeout=30).query({"http_request": "http://127.0.0.1:9/"}))
        assert failure is None and answer is not None
        assert answer["tcp_connect"]["127.0.0.1:9"]["failure"] == "connection_refused"
        orjson.dumps(answer)
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "served 1 measurements" in err
