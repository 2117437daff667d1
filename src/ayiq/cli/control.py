"""`ayiq control`: run the control server (test helper) outside the censored network."""

from __future__ import annotations

import asyncio
import secrets
import signal
import ssl
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ayiq.cli.net_probe import parse_hostport
from ayiq.core.errors import AyiqError, InputError
from ayiq.net.control.measure import ControlConfig
from ayiq.net.control.relay import start_relay
from ayiq.net.control.server import ControlServer, ServerLimits
from ayiq.net.probe.udp import relay_tag

app = typer.Typer(help="The control server the probe compares its view with.", no_args_is_help=True)


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InputError(path, f"cannot read the token: {exc.strerror or exc}") from exc
    if len(token) < 16:
        raise InputError(path, "the token must be at least 16 characters (try: ayiq control token > FILE)")
    return token


@app.command("token")
def token_cmd() -> None:
    """Print a new random token (give the same file to the server and to the probe)."""
    typer.echo(secrets.token_urlsafe(32))


@app.command("serve")
def serve(
    listen: Annotated[str, typer.Option("--listen", help="IP:PORT to listen on, e.g. 0.0.0.0:8443.")] = "127.0.0.1:8080",
    token_file: Annotated[Path | None, typer.Option("--token-file", help="File holding the token clients must send.")] = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this certificate chain (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="Private key for --tls-cert.")] = None,
    resolver: Annotated[str | None, typer.Option("--resolver", help="DNS-over-UDP resolver: IP or IP:PORT (default: system resolver).")] = None,
    max_inflight: Annotated[int, typer.Option(min=1, max=1024, help="Measurements running at once.")] = 64,
    max_waiting: Annotated[int, typer.Option(min=0, help="Requests queued beyond that (then 503).")] = 1024,
    rate: Annotated[float, typer.Option(min=0.01, help="Requests per second per client address.")] = 5.0,
    burst: Annotated[float, typer.Option(min=1, help="Burst size per client address.")] = 60.0,
    allow_private: Annotated[bool, typer.Option("--allow-private", help="Also measure private/loopback addresses (labs only).")] = False,
    ca_file: Annotated[Path | None, typer.Option("--ca-file", help="Extra trusted CA (labs).")] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per network step.")] = 10.0,
    udp_port: Annotated[int | None, typer.Option("--udp-port", min=1, max=65535, help="Also run the voice test's UDP relay (STUN + echo) on this port.")] = None,
) -> None:
    """Serve the control API (docs/formats/control-api.md) until Ctrl-C. Requires a token: never an open proxy."""
    err = Console(stderr=True)
    if token_file is None:
        raise AyiqError("--token-file is required (create one with: ayiq control token > token.txt)")
    token = _read_token(token_file)
    host, port = parse_hostport(listen, 8080, "--listen")
    ssl_ctx = None
    if tls_cert or tls_key:
        if not (tls_cert and tls_key):
            raise AyiqError("--tls-cert and --tls-key go together")
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ssl_ctx.load_cert_chain(str(tls_cert), str(tls_key))
        except (OSError, ssl.SSLError) as exc:
            raise InputError(tls_cert, f"cannot load the certificate/key: {exc}") from exc
    cfg = ControlConfig(resolver=parse_hostport(resolver, 53, "--resolver") if resolver else None,
                        allow_private=allow_private, ca_file=str(ca_file) if ca_file else None, timeout=timeout)
    limits = ServerLimits(max_inflight=max_inflight, max_waiting=max_waiting, rate=rate, burst=burst)

    async def main() -> None:
        server = ControlServer(token, cfg, limits)
        bound = await server.start(host, port, ssl_ctx)
        scheme = "https" if ssl_ctx else "http"
        err.print(f"control server on {scheme}://{host}:{bound}/api/v1/web_connectivity "
                  f"(token required; {'private addresses allowed' if allow_private else 'public addresses only'})",
                  highlight=False)
        if ssl_ctx is None and not ipaddress_is_loopback(host):
            err.print("[yellow]warning:[/] serving plain HTTP: the token crosses the network in clear; use --tls-cert",
                      highlight=False)
        relay = None
        if udp_port is not None:
            relay, _proto, uport = await start_relay(host, udp_port, relay_tag(token))
            err.print(f"voice relay (STUN binding + tagged echo) on udp://{host}:{uport}", highlight=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        if relay is not None:
            relay.close()
        await server.close()
        err.print(f"served {server.stats.served} measurements; refused {dict(server.stats.refused)}", highlight=False)

    try:
        asyncio.run(main())
    except OSError as exc:
        raise AyiqError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc


def ipaddress_is_loopback(host: str) -> bool:
    import ipaddress

    return ipaddress.ip_address(host).is_loopback
