"""The probe's side of the control API: one POST, bounded in time and size, failures as OONI strings."""

from __future__ import annotations

import asyncio
import random
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11
import orjson

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.dns import system_resolve
from ayiq.net.probe.http import host_header
from ayiq.net.probe.tcp import tcp_connect
from ayiq.net.probe.tls import client_context, tls_handshake

MAX_RESPONSE = 4 << 20


@dataclass(frozen=True, slots=True)
class ControlClient:
    url: str  # e.g. https://control.example.org:8443/api/v1/web_connectivity
    token: str
    timeout: float = 60.0
    ca_file: str | None = None

    async def query(self, payload: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """POST ``payload``; returns (control answer, None) or (None, failure string).

        A control that says "rate limited" (429) or "busy" (503) is asked again after the delay it names,
        until ``timeout`` runs out: a long test list slows down instead of losing its comparisons.
        """
        try:
            return await asyncio.wait_for(self._with_retries(payload), self.timeout)
        except (OSError, TimeoutError, EOFError, ssl.SSLError) as exc:
            return None, F.classify(exc)
        except h11.ProtocolError as exc:
            return None, F.unknown(f"control answered malformed HTTP: {exc}")

    async def _with_retries(self, payload: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        attempt = 0
        while True:
            answer, failure, retry_after = await self._query(payload)
            if retry_after is None:
                return answer, failure
            attempt += 1
            await asyncio.sleep(min(30.0, retry_after) * (1 + random.random() * 0.5) + 0.05 * attempt)

    async def _query(self, payload: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None, float | None]:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        clock = Clock()
        try:
            import ipaddress

            ipaddress.ip_address(host)
            addrs = [host]
        except ValueError:
            addrs = (await system_resolve(host, clock, timeout=10)).addresses
        if not addrs:
            return None, F.DNS_NXDOMAIN, None
        tcp, stream = await tcp_connect(addrs[0], port, clock, timeout=10)
        if stream is None:
            return None, tcp["status"]["failure"], None
        try:
            if parts.scheme == "https":
                tls = await tls_handshake(stream, host, clock, ctx=client_context(ca_file=self.ca_file), timeout=10)
                if tls["failure"]:
                    return None, tls["failure"], None
            body = orjson.dumps(payload)
            conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
            await stream.write(conn.send(h11.Request(method="POST", target=parts.path or "/", headers=[
                ("Host", host_header(self.url)), ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))), ("Authorization", f"Bearer {self.token}"),
                ("User-Agent", "ayiq-probe"), ("Connection", "close")])))
            await stream.write(conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
            status = 0
            buf = bytearray()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.read())
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    buf.extend(event.data)
                    if len(buf) > MAX_RESPONSE:
                        return None, F.unknown("control answer too large"), None
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
        finally:
            await stream.close()
        try:
            answer = orjson.loads(buf)
        except orjson.JSONDecodeError:
            return None, F.JSON_PARSE_ERROR, None
        if status in (429, 503) and isinstance(answer, dict):
            wait = answer.get("retry_after")
            return None, None, float(wait) if isinstance(wait, int | float) and wait >= 0 else 1.0
        if status != 200 or not isinstance(answer, dict):
            msg = answer.get("error", "") if isinstance(answer, dict) else ""
            return None, F.unknown(f"control answered HTTP {status}: {msg}"), None
        return answer, None, None
