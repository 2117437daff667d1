"""Run experiments over many targets with bounded concurrency, appending each measurement as it completes.

Each finished measurement is one JSON line, written and flushed at once: an interrupted run (Ctrl-C, a
crash, a pulled cable) keeps everything measured so far. Throttle tests never run two at a time.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import orjson

from ayiq.core.errors import InputError
from ayiq.net.tests.config import ProbeConfig, new_report_id
from ayiq.net.tests.localize import TEST_NAME as LOCALIZE_NAME
from ayiq.net.tests.localize import localize
from ayiq.net.tests.messaging import APPS, MessagingEndpoints, messaging
from ayiq.net.tests.sni import TEST_NAME as SNI_NAME
from ayiq.net.tests.sni import sni_blocking
from ayiq.net.tests.throttle import TEST_NAME as THROTTLE_NAME
from ayiq.net.tests.throttle import throttle
from ayiq.net.tests.voice import TEST_NAME as VOICE_NAME
from ayiq.net.tests.voice import voice
from ayiq.net.tests.web import TEST_NAME as WEB_NAME
from ayiq.net.tests.web import web_connectivity

AVAILABLE_TESTS = ("web", "sni", "messaging", "voice", "throttle", "localize")
PLANNED_TESTS: tuple[str, ...] = ()
PER_RUN_TESTS = ("messaging", "voice")  # measured once per run, not per target


def read_test_list(path: Path) -> list[str]:
    """URLs from a Citizen Lab test list (CSV with a ``url`` column; category_code etc. are kept out)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "url" not in [f.strip().lower() for f in reader.fieldnames]:
                raise InputError(path, "not a Citizen Lab test list: no 'url' column in the header")
            key = next(f for f in reader.fieldnames if f.strip().lower() == "url")
            urls = [row[key].strip() for row in reader if row.get(key) and row[key].strip()]
    except OSError as exc:
        raise InputError(path, f"cannot read the test list: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"not a readable CSV test list: {exc}") from exc
    return urls


def dedupe(targets: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in targets if t.strip()))


@dataclass
class RunOptions:
    tests: tuple[str, ...] = ("web",)
    concurrency: int = 16
    sni_decoy: tuple[str, int] | None = None
    control_sni: str = "example.org"
    # voice: one measurement per run (input "voice"), not per target
    voice_signalling: list[tuple[str, int, str | None]] = field(default_factory=list)
    voice_relays: dict[str, tuple[str, int] | tuple[str, int, int]] = field(default_factory=dict)
    relay_tag: bytes = b""
    localize_kind: str = "http"
    # messaging: one measurement per app and run
    messaging_apps: tuple[str, ...] = APPS
    messaging_endpoints: MessagingEndpoints | None = None
    # throttle: per target host, against our own TLS server (the control's /api/v1/bytes/N)
    throttle_server: tuple[str, int] | None = None
    throttle_bytes: int = 50 << 20
    throttle_duration: float = 10.0
    throttle_headers: list[tuple[str, str]] = field(default_factory=list)
    throttle_max_rate_bps: float | None = None  # read no faster (keeps a fast link's CPU noise out)


@dataclass
class RunSummary:
    written: int = 0
    by_test: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False


Job = Callable[[], Awaitable[dict[str, Any]]]


async def run(targets: list[str], cfg: ProbeConfig, opts: RunOptions, out: IO[bytes],
              on_done: Callable[[dict[str, Any]], None] | None = None) -> RunSummary:
    """Measure every target with every test; append each measurement to ``out`` as soon as it is done."""
    start = datetime.now(UTC)
    report_ids = {name: new_report_id(name, cfg, start)
                  for name in (WEB_NAME, SNI_NAME, VOICE_NAME, THROTTLE_NAME, LOCALIZE_NAME)}
    summary = RunSummary()
    slots = asyncio.Semaphore(max(1, opts.concurrency))
    jobs: list[Job] = []
    for target in targets:
        for test in opts.tests:
            if test == "web":
                jobs.append(partial(web_connectivity, target, cfg, report_id=report_ids[WEB_NAME],
                                    test_start_time=start))
            elif test == "sni":
                jobs.append(partial(sni_blocking, target, cfg, decoy=opts.sni_decoy, control_sni=opts.control_sni,
                                    report_id=report_ids[SNI_NAME], test_start_time=start))
            elif test == "throttle":
                if opts.throttle_server is None:
                    raise ValueError("the throttle test needs a throttle server")
                host = urlsplit(target if "://" in target else f"https://{target}").hostname or target
                jobs.append(partial(throttle, target, cfg, server=opts.throttle_server,
                                    path=f"/api/v1/bytes/{opts.throttle_bytes}", target_sni=host,
                                    control_sni=opts.control_sni, headers=opts.throttle_headers,
                                    duration=opts.throttle_duration, max_bytes=opts.throttle_bytes,
                                    max_rate_bps=opts.throttle_max_rate_bps,
                                    report_id=report_ids[THROTTLE_NAME], test_start_time=start))
            elif test == "localize":
                jobs.append(partial(localize, target, cfg, kind=opts.localize_kind, control_name=opts.control_sni,
                                    report_id=report_ids[LOCALIZE_NAME], test_start_time=start))
            elif test not in PER_RUN_TESTS:
                raise ValueError(f"unknown test {test!r}")
    if "messaging" in opts.tests:
        for app in opts.messaging_apps:
            jobs.append(partial(messaging, app, cfg, opts.messaging_endpoints,
                                report_id=new_report_id(app, cfg, start), test_start_time=start))
    if "voice" in opts.tests:
        if not opts.voice_relays:
            raise ValueError("the voice test needs at least one relay")
        jobs.append(partial(voice, "voice", cfg, signalling=opts.voice_signalling, relays=opts.voice_relays,
                            tag=opts.relay_tag, report_id=report_ids[VOICE_NAME], test_start_time=start))

    async def one(job: Job) -> None:
        async with slots:
            m = await job()
        out.write(orjson.dumps(m) + b"\n")
        out.flush()
        summary.written += 1
        summary.by_test[m["test_name"]] = summary.by_test.get(m["test_name"], 0) + 1
        if on_done is not None:
            on_done(m)

    tasks = [asyncio.create_task(one(j)) for j in jobs]
    try:
        await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        summary.interrupted = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return summary
