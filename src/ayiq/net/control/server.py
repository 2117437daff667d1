"""The control server's HTTP side: h11 framing, token check, per-client rate limit, bounded concurrency.

Every limit is a number in ServerLimits: connections held, request body size, measurements running at once,
requests waiting, time per request, rate per client. Past a limit the answer is an HTTP error the probe
records (401, 413, 429, 503), never an unbounded queue.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import ssl
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import h11
import orjson

from ayiq import __version__
from ayiq.core.streams import send_repeated
from ayiq.net.control.measure import ControlConfig, ControlRequest, RequestError, measure

SCHEMA = "ayiq.control.response"
SCHEMA_VERSION = 1
API_PATHS = ("/api/v1/web_connectivity", "/")  # "/" as OONI's test helper, for compatibility
BYTES_PREFIX = "/api/v1/bytes/"
MAX_BYTES = 200 << 20  # the largest object the throttle test may ask for
_BLOCK = bytes((i * 2654435761 >> 13) & 0xFF for i in range(65536))  # incompressible enough, fixed


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_connections: int = 512
    max_body: int = 64 * 1024
    max_inflight: int = 64  # measurements running at once
    max_waiting: int = 1024  # requests queued for a measurement slot; beyond: 503
    request_timeout: float = 45.0  # whole measurement
    read_timeout: float = 10.0  # to receive the request
    rate: float = 5.0  # requests per second per client address (token bucket refill)
    burst: float = 60.0  # bucket size
    max_clients_tracked: int = 10_000


class RateLimiter:
    """A token bucket per client address, in a bounded LRU (old clients are forgotten, never memory)."""

    def __init__(self, rate: float, burst: float, max_clients: int) -> None:
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` has a token again."""
        tokens, _last = self.buckets.get(client, (self.burst, 0.0))
        return max(0.0, (1.0 - tokens) / self.rate)

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self.buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        ok = tokens >= 1.0
        self.buckets[client] = (tokens - 1.0 if ok else tokens, now)
        while len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        return ok


@dataclass
class Stats:
    served: int = 0
    inflight: int = 0
    peak_inflight: int = 0
    waiting: int = 0
    peak_waiting: int = 0
    refused: dict[int, int] = field(default_factory=dict)


class ControlServer:
    def __init__(self, token: str, config: ControlConfig | None = None, limits: ServerLimits | None = None) -> None:
        if len(token) < 16:
            raise ValueError("the control token must be at least 16 characters")
        self.token = token.encode()
        self.config = config or ControlConfig()
        self.limits = limits or ServerLimits()
        self.rate = RateLimiter(self.limits.rate, self.limits.burst, self.limits.max_clients_tracked)
        self.slots = asyncio.Semaphore(self.limits.max_inflight)
        self.stats = Stats()
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int, ssl_ctx: ssl.SSLContext | None = None) -> int:
        self.server = await asyncio.start_server(self._connection, host, port, ssl=ssl_ctx,
                                                 limit=self.limits.max_body, backlog=1024)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    # --- one connection, one request ---

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else "?"
        self.connections += 1
        try:
            if self.connections > self.limits.max_connections:
                await self._send(writer, 503, {"error": "too many connections, retry later"})
                return
            try:
                req = await asyncio.wait_for(self._read_request(reader), self.limits.read_timeout)
            except _HTTPError as exc:
                await self._send(writer, exc.status, {"error": exc.message})
                return
            except h11.RemoteProtocolError:
                await self._send(writer, 400, {"error": "malformed HTTP request"})
                return
            except (TimeoutError, OSError, ssl.SSLError):
                return
            if req is None:
                return
            method, target = req[0], req[1]
            if method == "GET" and target.startswith(BYTES_PREFIX):
                await self._bytes(client, target, req[2], writer)
                return
            status, body = await self._handle(client, *req)
            await self._send(writer, status, body)
        finally:
            self.connections -= 1
            try:
                writer.close()
            except OSError:
                pass

    async def _read_request(self, reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16 * 1024)
        method = target = ""
        headers: dict[str, str] = {}
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                method, target = event.method.decode(), event.target.decode("latin-1")
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
                if int(headers.get("content-length", "0") or 0) > self.limits.max_body:
                    raise _HTTPError(413, f"request body over {self.limits.max_body} bytes")
            elif isinstance(event, h11.Data):
                body.extend(event.data)
                if len(body) > self.limits.max_body:
                    raise _HTTPError(413, f"request body over {self.limits.max_body} bytes")
            elif isinstance(event, h11.EndOfMessage):
                return method, target, headers, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                return None

    def _authorized(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token)

    async def _handle(self, client: str, method: str, target: str, headers: dict[str, str],
                      body: bytes) -> tuple[int, dict[str, Any]]:
        path = target.split("?", 1)[0]
        if path == "/api/v1/health" and method == "GET":
            return 200, {"status": "ok"}
        if path not in API_PATHS:
            return 404, {"error": f"no such endpoint {path!r}; see docs/formats/control-api.md"}
        if method != "POST":
            return 405, {"error": "use POST"}
        if not self._authorized(headers):
            return 401, {"error": "missing or wrong token (Authorization: Bearer <token>)"}
        if not self.rate.allow(client):
            return 429, {"error": "rate limit exceeded, retry later",
                         "retry_after": round(self.rate.retry_after(client) + 0.05, 2)}
        try:
            req = ControlRequest.parse(orjson.loads(body))
        except orjson.JSONDecodeError:
            return 400, {"error": "body is not JSON"}
        except RequestError as exc:
            return 400, {"error": str(exc)}
        if self.stats.waiting >= self.limits.max_waiting:
            return 503, {"error": "busy, retry later", "retry_after": 1.0}
        self.stats.waiting += 1
        self.stats.peak_waiting = max(self.stats.peak_waiting, self.stats.waiting)
        try:
            await self.slots.acquire()
        finally:
            self.stats.waiting -= 1
        self.stats.inflight += 1
        self.stats.peak_inflight = max(self.stats.peak_inflight, self.stats.inflight)
        try:
            result = await asyncio.wait_for(measure(req, self.config), self.limits.request_timeout)
        except TimeoutError:
            return 504, {"error": "measurement took too long"}
        finally:
            self.stats.inflight -= 1
            self.slots.release()
        self.stats.served += 1
        return 200, result

    async def _bytes(self, client: str, target: str, headers: dict[str, str], writer: asyncio.StreamWriter) -> None:
        """``GET /api/v1/bytes/N``: N bytes for the throttle test (token, rate limit, a measurement slot)."""
        if not self._authorized(headers):
            await self._send(writer, 401, {"error": "missing or wrong token (Authorization: Bearer <token>)"})
            return
        if not self.rate.allow(client):
            await self._send(writer, 429, {"error": "rate limit exceeded, retry later",
                                           "retry_after": round(self.rate.retry_after(client) + 0.05, 2)})
            return
        raw = target.split("?", 1)[0].removeprefix(BYTES_PREFIX)
        if not raw.isdigit() or not 0 < int(raw) <= MAX_BYTES:
            await self._send(writer, 400, {"error": f"ask for 1..{MAX_BYTES} bytes"})
            return
        n = int(raw)
        async with self.slots:
            self.stats.inflight += 1
            try:
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             f"Content-Length: {n}\r\nConnection: close\r\nServer: ayiq-control\r\n\r\n".encode())
                await send_repeated(writer, _BLOCK, n, self.limits.read_timeout)
                self.stats.served += 1
            except (OSError, TimeoutError):
                pass  # the client stopped reading: its measurement is over
            finally:
                self.stats.inflight -= 1

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: dict[str, Any]) -> None:
        if status != 200:
            self.stats.refused[status] = self.stats.refused.get(status, 0) + 1
        payload = orjson.dumps({"schema": SCHEMA, "version": SCHEMA_VERSION, "software_name": "ayiq",
                                "software_version": __version__, **body})
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # h11 needs a request before a response
        conn.next_event()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                   ("Connection", "close"), ("Server", "ayiq-control")]
        if "retry_after" in body:
            headers.append(("Retry-After", str(max(1, math.ceil(body["retry_after"])))))
        data = conn.send(h11.Response(status_code=status, headers=headers))
        data += conn.send(h11.Data(data=payload)) + conn.send(h11.EndOfMessage())
        try:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), self.limits.read_timeout)
        except (OSError, TimeoutError):
            pass


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message
