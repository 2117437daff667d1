"""TLS handshake step with a chosen SNI (or none), recording where it failed.

A censor that filters by SNI lets the TCP connection through and then drops or resets it after it sees the
ClientHello; ``x_bytes_read == 0`` with a timeout after the ClientHello is that signature.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import ssl
from collections.abc import Sequence
from typing import Any

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.tcp import Stream


def client_context(*, verify: bool = True, ca_file: str | None = None,
                   alpn: Sequence[str] = ("http/1.1",)) -> ssl.SSLContext:
    """A browser-like client context: system CAs (plus ``ca_file``), TLS >= 1.2, ALPN.

    Built once per setting (and per version of ``ca_file``) and shared: loading the system CAs costs about 30 ms
    of CPU, which, paid by every measurement of a concurrent run, held the event loop and pushed every timeout
    back. Shared contexts are never modified after they are built; sessions are never resumed across connections
    (that needs an explicit ``session=``), so each handshake is a full one, as before.
    """
    stamp: tuple[int, int] | None = None
    if verify and ca_file:
        try:
            st = os.stat(ca_file)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None  # _build raises the same error create_default_context always did
    return _build(verify, ca_file if verify else None, stamp, tuple(alpn))


@functools.lru_cache(maxsize=32)
def _build(verify: bool, ca_file: str | None, _stamp: tuple[int, int] | None,
           alpn: tuple[str, ...]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_file) if verify else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file and verify:
        ctx.load_default_certs()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


async def tls_handshake(
    stream: Stream, sni: str | None, clock: Clock, *, ctx: ssl.SSLContext, timeout: float = 10.0,
    transaction_id: int | None = None, tags: Sequence[str] = (),
) -> dict[str, Any]:
    """Handshake on ``stream`` sending ``sni`` (None: no SNI extension); OONI's tls_handshakes entry."""
    tid = transaction_id if transaction_id is not None else clock.transaction_id()
    verify = ctx.verify_mode != ssl.CERT_NONE
    if sni is None and verify:
        raise ValueError("a handshake without SNI cannot verify the hostname: pass a context with verify=False")
    entry: dict[str, Any] = {
        "network": "tcp", "address": stream.address, "server_name": sni or "", "cipher_suite": "",
        "failure": None, "negotiated_protocol": "", "no_tls_verify": not verify, "peer_certificates": None,
        "tls_version": "", "t0": clock.now(), "t": None, "tags": list(tags), "transaction_id": tid,
        "x_bytes_written": 0, "x_bytes_read": 0,
    }
    read0, written0 = stream.bytes_read, stream.bytes_written
    try:
        await asyncio.wait_for(stream.start_tls(ctx, sni), timeout)
    except (OSError, TimeoutError, EOFError, ssl.SSLError) as exc:
        entry["failure"] = F.classify(exc)
    else:
        assert stream.tls is not None
        cipher = stream.tls.cipher()
        entry["cipher_suite"] = cipher[0] if cipher else ""
        entry["negotiated_protocol"] = stream.tls.selected_alpn_protocol() or ""
        entry["tls_version"] = stream.tls.version() or ""
        der = stream.tls.getpeercert(binary_form=True)
        if der:
            entry["peer_certificates"] = [{"data": base64.b64encode(der).decode(), "format": "base64"}]
    entry["t"] = clock.now()
    entry["x_bytes_written"] = stream.bytes_written - written0
    entry["x_bytes_read"] = stream.bytes_read - read0
    return entry
