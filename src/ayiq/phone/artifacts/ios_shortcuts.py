"""Shortcuts (Shortcuts.sqlite): automations can fetch URLs or run on their own; check the URLs they hold."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ayiq.phone.artifacts.base import Artifact, find_urls
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Record, TimelineEvent
from ayiq.phone.readers import open_sqlite, select_present, table_columns, tables
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_mac


class Shortcuts(Artifact):
    name = "shortcuts"
    title = "Shortcuts and automations"
    backup_files = (("HomeDomain", "Library/Shortcuts/Shortcuts.sqlite"),)
    fs_files = ("private/var/mobile/Library/Shortcuts/Shortcuts.sqlite",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            if "ZSHORTCUT" not in tables(conn):
                return []
            actions: dict[object, bytes] = {}
            if "ZSHORTCUTACTIONS" in tables(conn) and {"ZSHORTCUT", "ZDATA"} <= table_columns(conn, "ZSHORTCUTACTIONS"):
                for sid, data in conn.execute("SELECT ZSHORTCUT, ZDATA FROM ZSHORTCUTACTIONS"):
                    if isinstance(data, bytes):
                        actions[sid] = actions.get(sid, b"") + data
            out: list[Record] = []
            for r in select_present(conn, "ZSHORTCUT", ("Z_PK", "ZNAME", "ZCREATIONDATE", "ZMODIFICATIONDATE",
                                                        "ZACTIONSDESCRIPTION")):
                blob = actions.get(r.get("Z_PK"), b"")
                # action plists keep URLs as plain strings: pull them out without trusting the structure
                texts = re.findall(rb"https?://[\x21-\x7e]{3,2000}", blob)
                urls = sorted({t.decode("ascii", "replace") for t in texts})
                desc = r.get("ZACTIONSDESCRIPTION") if isinstance(r.get("ZACTIONSDESCRIPTION"), str) else ""
                out.append({"id": r.get("Z_PK"), "name": r.get("ZNAME"), "isodate": from_mac(r.get("ZCREATIONDATE")),
                            "modified_isodate": from_mac(r.get("ZMODIFICATIONDATE")), "description": desc,
                            "urls": sorted(set(urls) | set(find_urls(desc))), "source_file": f.device_path})
            return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            out += self.check_urls(rec["urls"], iocs, f"shortcut {rec['name']!r} uses the link", rec["isodate"], rec)
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["isodate"], "shortcut_created", f"{rec['name']} {rec['urls']}")
            out += self.event(rec["modified_isodate"], "shortcut_modified", f"{rec['name']}")
        return out
