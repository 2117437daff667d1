"""HTTP rules: body length, status, uncommon headers and title against the control; pages that are not censorship.

Bodies stay as stored (string or base64) until a rule needs their text: lengths of base64 bodies are computed
from the encoded size, and decoding happens at most once per body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ayiq.net.judge.base import JSON, d, f, i, lst, s, text

# Headers every server sends; OONI compares only the uncommon ones.
COMMON_HEADERS = frozenset(
    h.lower()
    for h in (
        "date content-type server cache-control vary set-cookie location expires x-powered-by content-encoding "
        "last-modified accept-ranges pragma x-frame-options etag x-content-type-options age via p3p "
        "x-xss-protection content-language cf-ray strict-transport-security link x-varnish content-length "
        "connection transfer-encoding keep-alive alt-svc"
    ).split()
)
_TITLE = re.compile(r"<title[^>]*>([^<]{0,512})", re.IGNORECASE)
_CHALLENGE_MARKERS = (
    "cf-challenge",
    "challenge-platform",
    "Checking your browser before accessing",
    "Just a moment...",
    "Attention Required! | Cloudflare",
    "cf_chl_",
    "g-recaptcha",
    "h-captcha",
    "hcaptcha.com",
    "DDoS protection by",
)
_GEO_MARKERS = (
    "not available in your country",
    "not available in your region",
    "not available in your location",
    "unavailable in your country",
    "is not available in your area",
    "geo-restricted",
    "geoblocked",
)


class CorruptBody(ValueError):
    """A stored body that cannot be decoded (e.g. truncated base64)."""


@dataclass(slots=True)
class Response:
    """One HTTP round trip as recorded by the probe, with its body decoded on first use."""

    url: str
    failure: str | None
    code: int | None
    headers: dict[str, str]
    truncated: bool
    depth: int
    raw_body: Any = None
    _text: str | None = field(default=None, repr=False)
    _decoded: bool = False
    _length: int | None = field(default=None, repr=False)
    _length_known: bool = False

    @property
    def has_response(self) -> bool:
        return self.code is not None and self.code > 0

    def body_length(self) -> int | None:
        """Length in bytes without decoding (base64 length arithmetic); computed once."""
        if self._length_known:
            return self._length
        self._length_known = True
        raw = self.raw_body
        if isinstance(raw, str):
            self._length = len(raw) if raw.isascii() else len(raw.encode("utf-8", "surrogatepass"))
        elif isinstance(raw, dict):
            data = raw.get("data")
            if isinstance(data, str):
                self._length = len(data.rstrip("=")) * 3 // 4
        return self._length

    def body(self) -> str | None:
        """The body text, decoded once; raises CorruptBody for undecodable base64."""
        if not self._decoded:
            self._decoded = True
            try:
                self._text = text(self.raw_body)
            except ValueError as exc:
                raise CorruptBody(str(exc)) from exc
        return self._text

    def corrupt(self) -> str | None:
        """Why the stored body cannot be a whole body, found without decoding it (None if it looks sound)."""
        raw = self.raw_body
        if raw is None or isinstance(raw, str):
            return None
        if not isinstance(raw, dict) or raw.get("format") != "base64":
            return f"a body stored as {type(raw).__name__} without a known format"
        data = raw.get("data")
        if not isinstance(data, str):
            return "a base64 body without data"
        if len(data) % 4:
            return f"a truncated base64 body ({len(data)} characters, not a multiple of 4)"
        return None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def parse_response(entry: dict[str, Any], depth: int) -> Response:
    req = d(entry.get("request"))
    resp = entry.get("response")
    resp_d = d(resp)
    headers: dict[str, str] = {}
    hd = resp_d.get("headers")
    if isinstance(hd, dict) and hd:
        try:  # the common case, every name and value a string, in one comprehension
            headers = {k.lower(): v for k, v in hd.items() if v.__class__ is str}
        except AttributeError:  # a name that is not a string: a damaged record
            headers = {}
        if len(headers) != len(hd):
            headers = {}
            for k, v in hd.items():
                hv = v if isinstance(v, str) else _header_value(v)
                if hv is not None and isinstance(k, str):
                    headers[k.lower()] = hv
    else:  # only some versions have headers_list; it repeats the headers map
        for pair in lst(resp_d.get("headers_list")):
            if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str):
                pv = _header_value(pair[1])
                if pv is not None:
                    headers.setdefault(pair[0].lower(), pv)
    code = i(resp_d.get("code")) if isinstance(resp, dict) else None
    return Response(
        url=s(req.get("url")) or "",
        failure=s(entry.get("failure")),
        code=code,
        headers=headers,
        truncated=resp_d.get("body_is_truncated") is True,
        depth=depth,
        raw_body=resp_d.get("body"),
    )


def _header_value(v: object) -> str | None:
    if isinstance(v, list):  # some versions store a list of values
        v = v[0] if v else None
    try:
        return text(v)
    except ValueError:
        return None


def title_of(body: str) -> str | None:
    m = _TITLE.search(body)
    return m.group(1).strip() if m else None


def titles_match(probe_title: str | None, control_title: str | None) -> bool | None:
    """OONI's rule: every word of 5+ letters in the control's title appears in the probe's title."""
    if not control_title:
        return None
    words = [w for w in control_title.split() if len(w) >= 5]
    if not words:
        return None
    if probe_title is None:
        return False
    have = set(probe_title.lower().split())
    return all(w.lower() in have for w in words)


def headers_match(probe: dict[str, str], control: dict[str, Any]) -> bool | None:
    """Uncommon header names: the responses match when they share one (None when neither has any)."""
    if not control:
        return None
    p = {k for k in probe if k not in COMMON_HEADERS}
    c = {k.lower() for k in control if isinstance(k, str)} - COMMON_HEADERS
    if not p and not c:
        return None  # nothing uncommon on either side: no information
    return bool(p & c)


def is_challenge(resp: Response) -> str | None:
    """A CDN bot check or captcha page: the site's own protection, not the network's. Returns a description."""
    server = (resp.header("server") or "").lower()
    cf = "cloudflare" in server or resp.header("cf-ray") is not None or resp.header("cf-mitigated") is not None
    body = None
    if resp.code in (403, 429, 503) or cf:
        try:
            body = resp.body()
        except CorruptBody:
            body = None
    if body is not None:
        for marker in _CHALLENGE_MARKERS:
            if marker in body:
                who = "Cloudflare" if cf or "Cloudflare" in marker or "cf" in marker[:3] else "the site's CDN"
                return f"{who} challenge page (HTTP {resp.code}, marker {marker!r})"
    if resp.header("cf-mitigated") == "challenge":
        return f"Cloudflare challenge page (HTTP {resp.code}, cf-mitigated: challenge)"
    return None


def is_geoblock(resp: Response) -> str | None:
    """The site refusing the probe's country (HTTP 451 or a 'not available in your country' page)."""
    if resp.code == 451:
        return "HTTP 451 (Unavailable For Legal Reasons)"
    if resp.code in (403, 200):
        try:
            body = resp.body()
        except CorruptBody:
            return None
        if body and len(body) < 200_000:
            low = body.lower()
            for marker in _GEO_MARKERS:
                if marker in low:
                    return f"HTTP {resp.code} page saying {marker!r}"
    return None


def control_headers(ctrl_http: dict[str, Any]) -> dict[str, Any]:
    return d(ctrl_http.get("headers"))


def compare_with_control(final: Response, c_http: JSON, c_code: int | None,
                  tk_body_proportion: object = None) -> tuple[bool, list[str]]:
    """OONI's rule: same status and (body length ratio > 0.7, or shared uncommon headers, or same title)."""
    code = final.code
    status_ok = code == c_code
    out: list[str] = []
    plen = final.body_length()
    clen = i(c_http.get("body_length"))
    body_ok: bool | None = None
    if plen is not None and clen is not None and clen > 0 and not final.truncated:
        prop = min(plen, clen) / max(plen, clen) if max(plen, clen) else 1.0
        body_ok = prop > 0.7
        probe_prop = f(tk_body_proportion)
        if not body_ok and probe_prop is not None and 0.7 < probe_prop <= 1.0:
            # The probe measured the whole body; stored bodies are sometimes trimmed after the fact.
            body_ok = True
            plen = int(probe_prop * clen)
    hdr_ok = headers_match(final.headers, control_headers(c_http))
    ptitle: str | None = None
    title_ok: bool | None = None
    ctitle = s(c_http.get("title"))
    if not body_ok and ctitle:
        try:
            body = final.body()
        except CorruptBody:
            body = None
        ptitle = title_of(body) if body else None
        title_ok = titles_match(ptitle, ctitle)
    checks = (body_ok, hdr_ok, title_ok)
    same = status_ok and (any(c is True for c in checks) or all(c is None for c in checks))
    size = f"{plen} bytes" if plen is not None else "a body"
    if final.truncated:
        size += " (truncated by the probe)"
    if same:
        out.append(f"The page matches the control's (HTTP {code}, {size} vs {clen} bytes)")
    else:
        bits = [f"HTTP {code} vs the control's {c_code}" if not status_ok else f"HTTP {code} like the control"]
        if body_ok is False:
            bits.append(f"body {plen} bytes vs {clen}")
        if hdr_ok is False:
            bits.append("no uncommon header in common")
        if title_ok is False:
            bits.append(f"title {ptitle!r} vs {ctitle!r}" if ptitle else f"no title where the control has {ctitle!r}")
        out.append("The page differs from the control's: " + ", ".join(bits))
    return same, out
