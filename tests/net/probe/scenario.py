"""A loopback scenario for experiment tests: the probe's resolver, the control's resolver, sites, a control.

Imported by the tests in this folder (pytest puts the folder on sys.path).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ayiq.net.control.client import ControlClient
from ayiq.net.control.measure import ControlConfig
from ayiq.net.control.server import ControlServer
from ayiq.net.probe.loopback import (
    LOOPBACK,
    CertFiles,
    DNSZone,
    Handler,
    make_certs,
    page,
    start_dns,
    start_tcp,
    web_handler,
)
from ayiq.net.tests.config import ProbeConfig

TOKEN = "scenario-token-0123456789"


@dataclass
class Lab:
    certs: CertFiles
    probe_zone: DNSZone
    control_zone: DNSZone
    port: int = 0  # the HTTPS site's port
    http_port: int = 0  # the plain HTTP site's port
    probe_dns: int = 0
    control_url: str = ""
    servers: list[Any] = field(default_factory=list)

    def config(self, **kw: Any) -> ProbeConfig:
        base: dict[str, Any] = dict(resolver=(LOOPBACK, self.probe_dns), system_resolver=False,
                                    control=ControlClient(self.control_url, TOKEN, timeout=20),
                                    ca_file=self.certs.ca_file, dns_timeout=1.0, late_window=0.3,
                                    connect_timeout=1.5, http_timeout=3.0, probe_asn="AS64500", probe_cc="ZZ")
        base.update(kw)
        return ProbeConfig(**base)

    async def add_server(self, handler: Handler, tls: bool = False) -> int:
        server, port = await start_tcp(handler, self.certs.server_context() if tls else None)
        self.servers.append(server)
        return port


@asynccontextmanager
async def lab(tmp: Path, names: list[str]) -> AsyncIterator[Lab]:
    """Sites ``names`` all served (HTTPS and HTTP) by one loopback web server pair; zones start identical."""
    certs = make_certs(tmp, names)
    zone = {n: [LOOPBACK] for n in names}
    lb = Lab(certs=certs, probe_zone=DNSZone(a=dict(zone)), control_zone=DNSZone(a=dict(zone)))
    pages = {"/": page("Welcome to the site", "news " * 200)}
    lb.port = await lb.add_server(web_handler(pages), tls=True)
    lb.http_port = await lb.add_server(web_handler(pages))
    ptr, _pp, lb.probe_dns = await start_dns(lb.probe_zone)
    ctr, _cp, control_dns = await start_dns(lb.control_zone)
    control = ControlServer(TOKEN, ControlConfig(resolver=(LOOPBACK, control_dns), allow_private=True,
                                                 ca_file=certs.ca_file, timeout=5.0))
    cport = await control.start(LOOPBACK, 0)
    lb.control_url = f"http://{LOOPBACK}:{cport}/api/v1/web_connectivity"
    try:
        yield lb
    finally:
        await control.close()
        for s in lb.servers:
            s.close()
        ptr.close()
        ctr.close()
        await asyncio.sleep(0)
