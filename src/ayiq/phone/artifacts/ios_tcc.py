"""Privacy permissions (TCC.db): which apps and processes may use the microphone, camera, location..."""

from __future__ import annotations

from collections.abc import Sequence

from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Record, TimelineEvent, ioc_alert
from ayiq.phone.readers import open_sqlite, select_present
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_unix

AUTH = {0: "denied", 1: "unknown", 2: "allowed", 3: "limited"}


class Tcc(Artifact):
    name = "tcc"
    title = "Privacy permissions (TCC)"
    backup_files = (("HomeDomain", "Library/TCC/TCC.db"),)
    fs_files = ("private/var/mobile/Library/TCC/TCC.db",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            out: list[Record] = []
            for r in select_present(conn, "access", ("service", "client", "client_type", "auth_value", "allowed",
                                                     "auth_reason", "prompt_count", "last_modified")):
                if "auth_value" in r:
                    r["auth"] = AUTH.get(r["auth_value"], str(r["auth_value"])) if isinstance(r["auth_value"], int) \
                        else str(r["auth_value"])
                elif "allowed" in r:
                    r["auth"] = "allowed" if r["allowed"] else "denied"
                r["isodate"] = from_unix(r.get("last_modified"))
                r["source_file"] = f.device_path
                out.append(r)
            return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            client = rec.get("client")
            if not isinstance(client, str):
                continue
            matches = iocs.match_app_id(client) or iocs.match_process(client)
            if matches:
                out.append(ioc_alert(self.name, matches[0], f"permission {rec.get('service')} "
                                     f"({rec.get('auth')}) was given to", rec["isodate"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["isodate"], "access", f"{rec.get('client')}: {rec.get('service')} "
                              f"{rec.get('auth')}")
        return out
