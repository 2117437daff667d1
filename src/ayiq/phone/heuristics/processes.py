"""Processes with no bundle id whose binary is nowhere in the filesystem dump.

Legitimate iOS processes without a bundle id are system daemons whose binaries ship with the system;
a process that used the network but has neither is what Pegasus-style implants looked like (MVT's
"extended search"). Needs a filesystem dump: a backup holds no binaries, so it is not run there."""

from __future__ import annotations

from collections.abc import Iterable

from ayiq.phone.model import Alert, Level, ModuleResult, Record

SOURCE_MODULES = ("datausage", "netusage")


def processes_without_binary(results: Iterable[ModuleResult], file_names: set[str]) -> ModuleResult:
    """`file_names`: base names of every file in the dump."""
    out = ModuleResult("process_binaries", "Processes with no app and no binary (filesystem dumps)")
    records: list[Record] = []
    out.records = records
    seen: set[str] = set()
    for res in results:
        if res.name not in SOURCE_MODULES:
            continue
        out.files += res.files
        for rec in res.records:
            name = rec.get("proc_name")
            if rec.get("deleted") or rec.get("bundle_id") or not isinstance(name, str):
                continue
            base = name.rsplit("/", 1)[-1]
            if not base or base in seen:
                continue
            seen.add(base)
            record: Record = {"proc_name": name, "module": res.name, "first_isodate": rec.get("first_isodate")}
            records.append(record)
            if base in file_names:
                continue
            note = (" (the database keeps 15-16 characters of a name, so it may be truncated)"
                    if len(base) in (15, 16) else "")
            out.alerts.append(Alert(Level.MEDIUM, out.name, f"process {base!r} used the network but has no app "
                                    f"(bundle id) and its binary is not in the dump{note}",
                                    rec.get("first_isodate"), record))
    return out
