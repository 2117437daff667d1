"""`ayiq control serve` on a lab's control host, for the lab probe tests (imported: pytest puts this folder on
sys.path). The server runs outside the censor's path; the probe on the client reaches it through the censor."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ayiq.lab import ADDRESSES, Lab

TOKEN = "lab-control-token-0123456789"
CLI = "from ayiq.cli.main import main; main()"


@contextmanager
def control_in_lab(lab: Lab, tmp: Path, port: int, *args: str, tls: bool = False) -> Iterator[tuple[str, Path]]:
    """Start the control server on the control host and yield ``(host:port, token file)``; stop it by SIGINT.

    ``tls`` serves HTTPS with a certificate for control.lab (the throttle server must sit on 443: the lab's
    censor, like real DPI boxes, inspects ports 80 and 443)."""
    from ayiq.net.probe.loopback import make_certs

    tmp.mkdir(parents=True, exist_ok=True)
    tf = tmp / "token.txt"
    tf.write_text(TOKEN)
    listen = f"{ADDRESSES['control']}:{port}"
    extra = list(args)
    if tls:
        certs = make_certs(tmp / "certs", ["control.lab"])
        extra += ["--tls-cert", certs.cert_file, "--tls-key", certs.key_file]
    proc = subprocess.Popen(lab.command([sys.executable, "-c", CLI, "control", "serve", "--listen", listen,
                                         "--token-file", str(tf), *extra], host="control"),
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "control server on" not in proc.stderr.readline():
        if proc.poll() is not None:
            raise RuntimeError(f"control server exited with {proc.returncode}: {proc.stderr.read()}")
    try:
        yield listen, tf
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
