"""Fast indicator matching: every check is a handful of dict look-ups, whatever the indicator count.

Domains match the host itself or any parent (a.sub.bad.org matches sub.bad.org), with or without a
port; URLs match exactly, by path prefix, or through their host; process names also match when the
phone truncated them (iOS keeps 15-16 characters); paths match themselves, any parent folder, and
their file name.
"""

from __future__ import annotations

import gc
import ipaddress
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from ayiq.phone.iocs.loader import IocFile, find_stix_files, load_stix_file
from ayiq.phone.iocs.model import (
    KINDS,
    Indicator,
    Match,
    normalise_domain,
    normalise_path_value,
    normalise_url,
)

# Link shorteners: a shortened link hides its destination; offline we cannot (and never try to) resolve it.
SHORTENERS = frozenset("""
bit.ly bitly.com goo.gl t.co tinyurl.com ow.ly is.gd buff.ly adf.ly bit.do cutt.ly rebrand.ly shorturl.at
tiny.cc lnkd.in rb.gy t.ly s.id v.gd qr.ae trib.al db.tt 1url.com tr.im cli.gs short.to po.st
shorte.st clck.ru u.to x.co fb.me youtu.be amzn.to wp.me surl.li shorturl.com t.me/s
""".split())

_TRUNCATIONS = (15, 16)


_AUTHORITY_END = re.compile(r"[/?#\\]")
_CUTS = re.compile(r"[/?#&]")


def _host_of(value: str) -> str:
    """The host part of a URL or `host:port` string ('' when there is none). Hand-written rather than
    urlsplit: five times faster, and it never raises on the malformed links hostile messages hold."""
    v = value.strip()
    i = v.find("://")
    if i >= 0:
        v = v[i + 3 :]
    elif v[:7].lower() in ("mailto:",):
        return ""
    m = _AUTHORITY_END.search(v)
    if m:
        v = v[: m.start()]
    v = v.rsplit("@", 1)[-1]
    if v.startswith("["):  # [IPv6]:port
        end = v.find("]")
        v = v[1:end] if end > 0 else v[1:]
    elif v.count(":") == 1:
        v = v.split(":", 1)[0]
    return normalise_domain(v)


def is_shortener(url: str) -> bool:
    host = _host_of(url)
    return host in SHORTENERS or host.removeprefix("www.") in SHORTENERS


class IocIndex:
    """All loaded indicators, indexed per kind for constant-time look-ups."""

    def __init__(self, indicators: Iterable[Indicator] = (), files: Iterable[IocFile] = ()) -> None:
        self._by: dict[str, dict[str, list[Indicator]]] = {k: defaultdict(list) for k in KINDS}
        # process indicators longer than a truncation length, keyed by their truncated prefix
        self._proc_prefix: dict[int, dict[str, list[Indicator]]] = {n: defaultdict(list) for n in _TRUNCATIONS}
        self.files: list[IocFile] = list(files)
        self.count = 0
        for ind in indicators:
            self.add(ind)
        for f in self.files:
            for ind in f.indicators:
                self.add(ind)

    @classmethod
    def from_paths(cls, paths: Iterable[Path]) -> IocIndex:
        files = [load_stix_file(p) for path in paths for p in find_stix_files(path)]
        enabled = gc.isenabled()
        gc.disable()  # see loader.parse_bundle: no cycles are made, and GC passes dominate at 100k+
        try:
            return cls(files=files)
        finally:
            if enabled:
                gc.enable()

    def add(self, ind: Indicator) -> None:
        bucket = self._by[ind.kind][ind.value]
        if bucket:
            for b in bucket:
                if b.family == ind.family:
                    return
        bucket.append(ind)
        self.count += 1
        if ind.kind == "process":
            for n in _TRUNCATIONS:
                if len(ind.value) > n:
                    self._proc_prefix[n][ind.value[:n]].append(ind)

    def __len__(self) -> int:
        return self.count

    def kinds(self) -> Counter[str]:
        return Counter({k: sum(len(v) for v in d.values()) for k, d in self._by.items() if d})

    def families(self) -> list[str]:
        return sorted({i.family for d in self._by.values() for lst in d.values() for i in lst})

    def _get(self, kind: str, key: str) -> list[Indicator]:
        d = self._by[kind]
        return d.get(key, [])

    # --- domains and URLs -------------------------------------------------------------------------

    def match_domain(self, value: str) -> list[Match]:
        """A host, `host:port` or URL; matches the host and every parent domain."""
        return self.match_host(_host_of(value))

    def match_host(self, host: str) -> list[Match]:
        """A bare, already lower-case host name; matches it and every parent domain."""
        if not host:
            return []
        out = [Match(i, host, "exact") for i in self._get("domain", host)]
        out += [Match(i, host, "exact") for i in self._get("ip", host)]
        if out:
            return out
        if _is_ip(host):
            return out
        dot = host.find(".")
        while dot >= 0:
            parent = host[dot + 1 :]
            if "." not in parent and not self._get("domain", parent):
                break
            for i in self._get("domain", parent):
                out.append(Match(i, host, f"subdomain of {parent}"))
            if out:
                return out
            dot = host.find(".", dot + 1)
        return out

    def match_url(self, url: str) -> list[Match]:
        """URL indicators (exact or as a path prefix), then the URL's host as a domain."""
        if not url:
            return []
        norm = normalise_url(url)
        out = [Match(i, url, "exact") for i in self._get("url", norm)]
        if not out and self._by["url"]:
            # prefix at path boundaries: http://h/a/b?x -> http://h/a/b, http://h/a, http://h
            base = norm.find("/", norm.find("://") + 3)
            if base >= 0:
                for m in reversed(list(_CUTS.finditer(norm, base))):
                    prefix = norm[: m.start()]
                    out = [Match(i, url, f"starts with {prefix}") for i in self._get("url", prefix)]
                    if out:
                        break
        if out:
            return out
        return [Match(m.indicator, url, m.how if m.how != "exact" else f"host {m.observed}")
                for m in self.match_domain(url)]

    # --- everything else -------------------------------------------------------------------------

    def match_process(self, name: str) -> list[Match]:
        if not name:
            return []
        base = name.rsplit("/", 1)[-1] if "/" in name else name
        out = [Match(i, name, "exact") for i in self._get("process", base)]
        if not out and len(base) in self._proc_prefix:
            out = [Match(i, name, f"name truncated to {len(base)} characters")
                   for i in self._proc_prefix[len(base)].get(base, [])]
        return out

    def match_email(self, value: str) -> list[Match]:
        v = value.strip().lower().removeprefix("mailto:")
        return [Match(i, value, "exact") for i in self._get("email", v)] if v else []

    def match_file_path(self, path: str) -> list[Match]:
        """A full path: the path, any parent folder, and its file name."""
        if not path:
            return []
        p = normalise_path_value(path)
        out = [Match(i, path, "exact") for i in self._get("file_path", p)]
        if not out and self._by["file_path"]:
            cut = p.rfind("/")
            while cut > 0 and not out:
                out = [Match(i, path, f"inside {p[:cut]}") for i in self._get("file_path", p[:cut])]
                cut = p.rfind("/", 0, cut)
        if not out:
            out = self.match_file_name(p.rsplit("/", 1)[-1])
            out = [Match(m.indicator, path, "file name") for m in out]
        if not out:
            # some feeds put paths in file:name (MVT's own test file does)
            out = [Match(i, path, "exact") for i in self._get("file_name", p)]
        return out

    def match_file_name(self, name: str) -> list[Match]:
        return [Match(i, name, "exact") for i in self._get("file_name", name)] if name else []

    def match_app_id(self, app_id: str) -> list[Match]:
        return [Match(i, app_id, "exact") for i in self._get("app_id", app_id.strip())] if app_id else []

    def match_hash(self, digest: str) -> list[Match]:
        return [Match(i, digest, "exact") for i in self._get("file_hash", digest.strip().lower())] if digest else []

    def match_cert(self, digest: str) -> list[Match]:
        d = digest.strip().lower().replace(":", "")
        return [Match(i, digest, "exact") for i in self._get("cert_hash", d)] if d else []

    def match_profile_id(self, uuid: str) -> list[Match]:
        return [Match(i, uuid, "exact") for i in self._get("profile_id", uuid.strip().upper())] if uuid else []

    def match_android_property(self, name: str) -> list[Match]:
        return [Match(i, name, "exact") for i in self._get("android_property", name.strip())] if name else []


def _is_ip(host: str) -> bool:
    if not (host[-1:].isdigit() or ":" in host):
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
