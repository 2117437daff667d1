"""`ayiq phone iocs update`: the only phone code that goes online. It reads MVT's public indicator index
(indicators.yaml) and downloads each listed STIX file into the user's collection. `--from-dir` installs
from a local mirror of the index instead (offline machines, tests)."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ayiq.core.errors import AyiqError, InputError
from ayiq.phone.iocs.collection import collection_dir, safe_name
from ayiq.phone.iocs.loader import parse_bundle

INDEX_URL = "https://raw.githubusercontent.com/mvt-project/mvt-indicators/main/indicators.yaml"
MAX_DOWNLOAD = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class IndexEntry:
    name: str
    owner: str
    repo: str
    branch: str
    path: str

    @property
    def url(self) -> str:
        return f"https://raw.githubusercontent.com/{self.owner}/{self.repo}/{self.branch}/{self.path}"

    @property
    def file_name(self) -> str:
        return safe_name(f"{self.owner}_{self.repo}_{self.path.replace('/', '_')}")


def parse_index(text: str, label: str) -> list[IndexEntry]:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(label, f"not a YAML indicator index ({exc})") from exc
    items = data.get("indicators") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputError(label, "no 'indicators' list")
    out = []
    for it in items:
        gh = it.get("github") if isinstance(it, dict) else None
        if isinstance(gh, dict) and all(isinstance(gh.get(k), str) for k in ("owner", "repo", "path")):
            out.append(IndexEntry(str(it.get("name", gh["path"])), gh["owner"], gh["repo"],
                                  str(gh.get("branch", "main")), gh["path"]))
    return out


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - fixed https URLs
            data = bytes(resp.read(MAX_DOWNLOAD + 1))
    except OSError as exc:
        raise AyiqError(f"cannot download {url} ({exc}); are you online?") from exc
    if len(data) > MAX_DOWNLOAD:
        raise AyiqError(f"{url}: larger than {MAX_DOWNLOAD} bytes, refused")
    return data


def update(from_dir: Path | None = None) -> list[tuple[IndexEntry, str]]:
    """Install every indexed STIX file; returns (entry, outcome) for each."""
    if from_dir is not None:
        idx_path = from_dir / "indicators.yaml"
        if not idx_path.is_file():
            raise InputError(from_dir, "no indicators.yaml in this folder")
        entries = parse_index(idx_path.read_text(encoding="utf-8"), str(idx_path))
    else:
        entries = parse_index(_fetch(INDEX_URL).decode("utf-8", "replace"), INDEX_URL)
    dest = collection_dir()
    results = []
    for e in entries:
        try:
            if from_dir is not None:
                want = Path(e.path)
                cands = [p for p in from_dir.parent.rglob(want.name) if p.is_file()]
                # mirrors may keep dated copies: "stalkerware.2023-05-31.stix2" for "stalkerware.stix2"
                cands += sorted((p for p in from_dir.parent.rglob(f"{want.stem}.*{want.suffix}") if p.is_file()),
                                reverse=True)
                if not cands:
                    results.append((e, "not in the local mirror"))
                    continue
                data = cands[0].read_bytes()
            else:
                data = _fetch(e.url)
            import orjson

            loaded = parse_bundle(orjson.loads(data), e.url)
            (dest / e.file_name).write_bytes(data)
            results.append((e, f"{len(loaded.indicators)} indicators"))
        except (AyiqError, ValueError) as exc:
            results.append((e, f"failed: {exc}"))
    return results
