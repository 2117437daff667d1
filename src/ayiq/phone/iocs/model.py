"""Indicator values as Ayiq keeps them: one kind, one normalised value, the family and file it came from."""

from __future__ import annotations

from dataclasses import dataclass

# Our kinds, and the STIX object paths that feed each one (after stix2.normalise_path).
STIX_PATH_KIND: dict[str, str] = {
    "domain-name:value": "domain",
    "ipv4-addr:value": "ip",
    "ipv6-addr:value": "ip",
    "url:value": "url",
    "process:name": "process",
    "email-addr:value": "email",
    "file:path": "file_path",
    "file:name": "file_name",
    "app:id": "app_id",
    "configuration-profile:id": "profile_id",
    "android-property:name": "android_property",
}
KINDS = (
    "domain", "ip", "url", "process", "email", "file_path", "file_name", "app_id",
    "file_hash", "cert_hash", "profile_id", "android_property",
)


def kind_of(stix_path: str) -> str | None:
    """Our kind for a normalised STIX object path, or None when no phone artefact can show it."""
    if stix_path.startswith("file:hashes."):
        return "file_hash"
    if stix_path.startswith("app:cert."):
        return "cert_hash"
    return STIX_PATH_KIND.get(stix_path)


@dataclass(slots=True)  # not frozen: frozen __init__ is twice as slow, and 100k are made per load
class Indicator:
    """One indicator of compromise: what to look for and where the claim comes from."""

    kind: str
    value: str  # normalised (see normalise_value)
    family: str  # malware family named by the STIX file ("Pegasus", "Predator", ...)
    source: str  # the STIX file it was read from
    stix_id: str = ""

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value, "family": self.family, "source": self.source,
                "stix_id": self.stix_id}


@dataclass(frozen=True, slots=True)
class Match:
    """An observed value that matched an indicator, and how (exact, parent domain, truncated name...)."""

    indicator: Indicator
    observed: str
    how: str

    def describe(self) -> str:
        ind = self.indicator
        extra = "" if self.how == "exact" else f" ({self.how})"
        return f"{ind.kind.replace('_', ' ')} {self.observed!r} matches {ind.family} indicator {ind.value!r}{extra}"


def normalise_domain(value: str) -> str:
    v = value.strip().lower().replace("[.]", ".").replace("(.)", ".")
    if v.startswith("*."):
        v = v[2:]
    v = v.rstrip(".")
    if not v.isascii():
        try:
            v = v.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return v


def normalise_path_value(value: str) -> str:
    """Paths compare without a leading `/private` (iOS symlinks /var -> /private/var) or trailing slash."""
    v = value.strip()
    if v.startswith("/private/"):
        v = v[len("/private") :]
    if len(v) > 1:
        v = v.rstrip("/")
    return v


def normalise_value(kind: str, value: str) -> str:
    if kind in ("domain", "ip"):
        return normalise_domain(value)
    if kind in ("email", "file_hash", "cert_hash"):
        return value.strip().lower().replace(":", "") if kind == "cert_hash" else value.strip().lower()
    if kind == "profile_id":
        return value.strip().upper()
    if kind == "file_path":
        return normalise_path_value(value)
    if kind == "url":
        return normalise_url(value)
    return value.strip()


def normalise_url(value: str) -> str:
    """Lower-case scheme and host, drop a default trailing slash; the path keeps its case."""
    v = value.strip().replace("[.]", ".")
    scheme, sep, rest = v.partition("://")
    if not sep:
        scheme, rest = "http", v
    host, slash, tail = rest.partition("/")
    out = f"{scheme.lower()}://{host.lower()}"
    if slash and tail:
        out += "/" + tail
    return out
