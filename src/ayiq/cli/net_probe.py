"""`ayiq net probe`: measure targets from inside the network, write OONI-format JSONL, keep it in the store."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ayiq.cli.common import StoreOpt
from ayiq.core.errors import AyiqError, InputError
from ayiq.core.paths import data_dir
from ayiq.net.control.client import ControlClient
from ayiq.net.probe.udp import relay_tag
from ayiq.net.tests.config import ProbeConfig
from ayiq.net.tests.messaging import APPS, MessagingEndpoints
from ayiq.net.tests.runner import (
    AVAILABLE_TESTS,
    PER_RUN_TESTS,
    PLANNED_TESTS,
    RunOptions,
    dedupe,
    read_test_list,
    run,
)

TOKEN_ENV = "AYIQ_CONTROL_TOKEN"


def parse_hostport(value: str, default_port: int, what: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:53``, ``[::1]:53`` -> (ip, port)."""
    import ipaddress

    v = value.strip()
    host, port = v, default_port
    if v.startswith("["):
        host, _, rest = v[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:]) if rest[1:].isdigit() else -1
    elif v.count(":") == 1:
        host, p = v.split(":")
        port = int(p) if p.isdigit() else -1
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise AyiqError(f"{what} {value!r}: give an IP address, optionally with :PORT") from None
    if not 0 < port < 65536:
        raise AyiqError(f"{what} {value!r}: bad port")
    return host, port


def system_nameserver() -> tuple[str, int] | None:
    """The first nameserver the system is configured with (resolv.conf), for the DNS-over-UDP step."""
    try:
        import dns.resolver

        ns = dns.resolver.Resolver(configure=True).nameservers
    except Exception:  # noqa: BLE001 - no resolv.conf: the UDP step is skipped, the system resolver stays
        return None
    for n in ns:
        try:
            return parse_hostport(str(n), 53, "nameserver")
        except AyiqError:
            continue
    return None


def _token(token_file: Path | None) -> str:
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(token_file, f"cannot read the control token: {exc.strerror or exc}") from exc
        if not token:
            raise InputError(token_file, "the control token file is empty")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise AyiqError(f"--control needs a token: --control-token-file FILE or the {TOKEN_ENV} variable")
    return token


def probe(
    urls: Annotated[list[str] | None, typer.Argument(help="URLs to measure (in addition to --list).")] = None,
    list_file: Annotated[Path | None, typer.Option("--list", help="Citizen Lab test list (CSV with a url column).")] = None,
    tests: Annotated[str, typer.Option("--tests", help=f"Comma-separated: {', '.join(AVAILABLE_TESTS)}.")] = "web",
    control: Annotated[str | None, typer.Option("--control", help="Control server URL, e.g. https://ctl.example.org:8443/api/v1/web_connectivity")] = None,
    control_token_file: Annotated[Path | None, typer.Option("--control-token-file", help=f"File with the control token (or set {TOKEN_ENV}).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSONL file to append measurements to.")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, help="Targets measured at once.")] = 16,
    no_store: Annotated[bool, typer.Option("--no-store", help="Only write the JSONL; do not ingest into the store.")] = False,
    store: StoreOpt = None,
    resolver: Annotated[str | None, typer.Option("--resolver", help="DNS-over-UDP resolver: IP or IP:PORT (default: the system's first nameserver).")] = None,
    no_system_resolver: Annotated[bool, typer.Option("--no-system-resolver", help="Skip getaddrinfo; use only --resolver.")] = False,
    ca_file: Annotated[Path | None, typer.Option("--ca-file", help="Extra trusted CA certificates (PEM), e.g. for a lab.")] = None,
    probe_asn: Annotated[str, typer.Option("--probe-asn", help="Your network, e.g. AS29049 (recorded; never looked up).")] = "AS0",
    probe_cc: Annotated[str, typer.Option("--probe-cc", help="Your country code, e.g. AZ.")] = "ZZ",
    sni_decoy: Annotated[str | None, typer.Option("--sni-decoy", help="IP or IP:PORT of a TLS server that does not host the targets (sni test).")] = None,
    control_sni: Annotated[str, typer.Option("--control-sni", help="A harmless name for the sni test's control handshakes.")] = "example.org",
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per connect/handshake step.")] = 10.0,
    voice_relay: Annotated[list[str] | None, typer.Option("--voice-relay", help="NAME=IP:PORT (or NAME=IP:PORT/STREAMPORT) of a UDP relay (`ayiq control serve --udp-port`); use domestic= and international=.")] = None,
    voice_signalling: Annotated[list[str] | None, typer.Option("--voice-signalling", help="IP:PORT (or IP:PORT,SNI) of the messenger's signalling (TCP/TLS) endpoint.")] = None,
    relay_token_file: Annotated[Path | None, typer.Option("--relay-token-file", help="The relays' token (default: the control token).")] = None,
    throttle_server: Annotated[str | None, typer.Option("--throttle-server", help="IP:PORT of an HTTPS `ayiq control serve` for the throttle test.")] = None,
    throttle_mb: Annotated[int, typer.Option("--throttle-mb", min=1, max=200, help="Size of the object transferred (MB).")] = 50,
    throttle_seconds: Annotated[float, typer.Option("--throttle-seconds", min=1, max=60, help="Length of each transfer.")] = 10.0,
    throttle_max_mbit: Annotated[float, typer.Option("--throttle-max-mbit", min=0, help="Read each transfer no faster than this (Mbit/s; 0: no cap). A cap keeps a fast link's CPU noise out; throttling above it is not seen.")] = 0.0,
    localize_kind: Annotated[str, typer.Option("--localize-kind", help="localize trigger: http (Host header) or tls (SNI).")] = "http",
    messaging_apps: Annotated[str, typer.Option("--messaging-apps", help="Comma-separated: whatsapp, telegram, signal, facebook_messenger.")] = ",".join(APPS),
    messaging_endpoints: Annotated[Path | None, typer.Option("--messaging-endpoints", help="YAML overriding the apps' endpoints (docs/formats/probe-messaging.md).")] = None,
) -> None:
    """Measure every target, append one OONI-format measurement per target and test, and keep them in the store."""
    err = Console(stderr=True)
    chosen = tuple(dict.fromkeys(t.strip() for t in tests.split(",") if t.strip()))
    for t in chosen:
        if t in PLANNED_TESTS:
            raise AyiqError(f"test {t!r} is not available yet in this version; available: {', '.join(AVAILABLE_TESTS)}")
        if t not in AVAILABLE_TESTS:
            raise AyiqError(f"unknown test {t!r}; available: {', '.join(AVAILABLE_TESTS)}")
    if not chosen:
        raise AyiqError("--tests is empty")
    targets = dedupe(([*read_test_list(list_file)] if list_file else []) + list(urls or []))
    if not targets and any(t not in PER_RUN_TESTS for t in chosen):
        raise AyiqError("nothing to measure: give URLs or --list FILE")
    client = ControlClient(control, _token(control_token_file), ca_file=str(ca_file) if ca_file else None) if control else None
    if client is None and "web" in chosen:
        err.print("[yellow]warning:[/] no --control: web measurements cannot be compared (control_failure set)")
    cfg = ProbeConfig(
        resolver=parse_hostport(resolver, 53, "--resolver") if resolver else system_nameserver(),
        system_resolver=not no_system_resolver, control=client, ca_file=str(ca_file) if ca_file else None,
        connect_timeout=timeout, http_timeout=timeout * 1.5,
        probe_asn=probe_asn if probe_asn.upper().startswith("AS") else f"AS{probe_asn}",
        probe_cc=probe_cc.upper(),
    )
    if cfg.resolver is None and no_system_resolver:
        raise AyiqError("--no-system-resolver needs --resolver (no nameserver found in the system configuration)")
    opts = RunOptions(tests=chosen, concurrency=concurrency,
                      sni_decoy=parse_hostport(sni_decoy, 443, "--sni-decoy") if sni_decoy else None,
                      control_sni=control_sni)
    if localize_kind not in ("http", "tls"):
        raise AyiqError(f"--localize-kind {localize_kind!r}: use http or tls")
    opts.localize_kind = localize_kind
    if "messaging" in chosen:
        apps = tuple(dict.fromkeys(a.strip() for a in messaging_apps.split(",") if a.strip()))
        unknown_apps = [a for a in apps if a not in APPS]
        if unknown_apps or not apps:
            raise AyiqError(f"--messaging-apps {messaging_apps!r}: choose from {', '.join(APPS)}")
        opts.messaging_apps = apps
        opts.messaging_endpoints = MessagingEndpoints.load(messaging_endpoints) if messaging_endpoints else None
    if "voice" in chosen:
        for item in voice_relay or []:
            name, sep, addr = item.partition("=")
            if not sep or not name:
                raise AyiqError(f"--voice-relay {item!r}: use NAME=IP:PORT, e.g. international=203.0.113.5:3478")
            addr, _, stream = addr.partition("/")
            ip, port = parse_hostport(addr, 3478, "--voice-relay")
            if stream and not (stream.isdigit() and 0 < int(stream) < 65536):
                raise AyiqError(f"--voice-relay {item!r}: the stream port after / must be a port number")
            opts.voice_relays[name.strip()] = (ip, port, int(stream)) if stream else (ip, port)
        if not opts.voice_relays:
            raise AyiqError("the voice test needs --voice-relay domestic=IP:PORT and/or international=IP:PORT")
        for item in voice_signalling or []:
            addr, _, sni = item.partition(",")
            ip, port = parse_hostport(addr, 443, "--voice-signalling")
            opts.voice_signalling.append((ip, port, sni.strip() or None))
        secret = _token(relay_token_file) if relay_token_file or not control_token_file else _token(control_token_file)
        opts.relay_tag = relay_tag(secret)
    if "throttle" in chosen:
        if not throttle_server:
            raise AyiqError("the throttle test needs --throttle-server IP:PORT (an `ayiq control serve --tls-cert ...`)")
        opts.throttle_server = parse_hostport(throttle_server, 443, "--throttle-server")
        opts.throttle_bytes = throttle_mb * 1_000_000
        opts.throttle_duration = throttle_seconds
        opts.throttle_max_rate_bps = throttle_max_mbit * 1e6 or None
        opts.throttle_headers = [("Authorization", f"Bearer {_token(control_token_file)}")]
    out_path = output or data_dir() / "probe" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.jsonl"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    total = (len(targets) * len([t for t in chosen if t not in PER_RUN_TESTS]) + (1 if "voice" in chosen else 0)
             + (len(opts.messaging_apps) if "messaging" in chosen else 0))
    show = sys.stderr.isatty()
    with out_path.open("ab") as fh, Progress(
        TextColumn("[bold]probing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}"), console=err, disable=not show, transient=True,
    ) as progress:
        task = progress.add_task("", total=total)

        def done(m: dict[str, Any]) -> None:
            progress.update(task, advance=1, description=str(m.get("input") or "")[:50])

        try:
            summary = asyncio.run(run(targets, cfg, opts, fh, on_done=done))
        except KeyboardInterrupt:  # a second Ctrl-C while cleaning up
            summary = None
        fh.flush()
        os.fsync(fh.fileno())
    written = summary.written if summary else None
    interrupted = summary is None or summary.interrupted
    msg = f"{'interrupted: ' if interrupted else ''}wrote {written if written is not None else 'the finished'} " \
          f"of {total} measurements to {out_path}"
    err.print(msg, highlight=False)
    if not no_store and (written or written is None):
        from ayiq.net.ingest import ingest

        rep = ingest([out_path], store=store, executor="serial")
        err.print(f"stored {rep.new_records} new measurements"
                  + (f" ({sum(rep.statuses.values())} judged: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(rep.statuses.items())) + ")" if rep.statuses else ""),
                  highlight=False)
    if interrupted:
        raise typer.Exit(130)
