"""The uniform artefact lifecycle: locate -> parse -> records -> check(iocs) -> alerts -> timeline.

Artefact classes hold no state: the runner calls them and keeps the results, so any module can be re-run
on stored records with newer indicators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from ayiq.phone.iocs.index import IocIndex, is_shortener
from ayiq.phone.model import Alert, Level, Record, TimelineEvent, ioc_alert
from ayiq.phone.sources.base import EvidenceFile

URL_RE = re.compile(r"""(?i)\b(?:https?://|www\.)[^\s<>"'`{}|\\^\[\]]+""")


def find_urls(text: object) -> list[str]:
    """Links in free text (messages, notes), trailing punctuation removed."""
    if not isinstance(text, str) or not text:
        return []
    return [u.rstrip(".,;:!?)»”'\"") for u in URL_RE.findall(text)]


class Artifact:
    """One artefact of one platform. Subclasses set the class attributes and override the steps."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    platform: ClassVar[str] = "ios"
    backup_files: ClassVar[tuple[tuple[str, str], ...]] = ()  # (domain glob, relative path glob)
    fs_files: ClassVar[tuple[str, ...]] = ()  # path globs from the filesystem root

    def locate(self, source: Any) -> list[EvidenceFile]:
        found: dict[str, EvidenceFile] = {}
        find, find_fs = getattr(source, "find", None), getattr(source, "find_fs", None)
        if find is not None:
            for dom, rel in self.backup_files:
                for f in find(dom, rel):
                    found.setdefault(str(f.local), f)
        if find_fs is not None:
            for g in self.fs_files:
                for f in find_fs(g):
                    found.setdefault(str(f.local), f)
        return list(found.values())

    def parse(self, f: EvidenceFile) -> list[Record]:
        raise NotImplementedError

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        return []

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        return []

    # helpers shared by modules ------------------------------------------------------------------

    def event(self, ts: object, event: str, data: str) -> list[TimelineEvent]:
        return [TimelineEvent(ts, self.name, event, data)] if isinstance(ts, str) and ts else []

    def check_urls(self, urls: Iterable[str], iocs: IocIndex, what: str, ts: str | None,
                   record: Record) -> list[Alert]:
        out: list[Alert] = []
        for url in urls:
            matches = iocs.match_url(url)
            if matches:
                out.append(ioc_alert(self.name, matches[0], what, ts, record))
            elif is_shortener(url):
                out.append(Alert(Level.LOW, self.name,
                                 f"{what} {url!r} is a shortened link; its destination was not resolved "
                                 "(Ayiq stays offline) and cannot be checked against indicators", ts, record))
        return out
