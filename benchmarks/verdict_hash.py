"""A stable hash over every verdict an ingest produces, to prove a speed change leaves verdicts byte-identical.

Ingests the given files/folders into a fresh temporary DuckDB store (judged with the given fingerprints, OONI's
under ../shared/data/ooni/fingerprints by default when present) and hashes every verdict row, ordered by
measurement uid, over all judged columns except `judged_at` (the wall clock). Also hashes the stored raw bytes
and measurement facts, so a change to the raw-segment writer or the Arrow build is checked too.
Prints one JSON line: {"records": N, "verdicts": sha256, "facts": sha256, "raw": sha256}.
Usage: python benchmarks/verdict_hash.py PATH [PATH...] [--fingerprints DIR] [--workers N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import orjson

from ayiq.net.ingest import ingest
from ayiq.store import open_store

ROOT = Path(__file__).resolve().parents[1]
VERDICT_COLUMNS = ("measurement_uid", "status", "method", "confidence", "evidence", "blockpage_fingerprint",
                   "anomaly", "confirmed", "failure", "judge", "judge_version", "month")
FACT_COLUMNS = ("measurement_uid", "report_id", "test_name", "test_version", "software_name", "software_version",
                "probe_cc", "probe_asn", "input", "measurement_start_time", "month", "content_sha256",
                "parse_error")


def _digest(rows: list[tuple[object, ...]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(orjson.dumps(list(row), default=str, option=orjson.OPT_NON_STR_KEYS))
        h.update(b"\n")
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("paths", nargs="+", type=Path)
    default_fps = ROOT.parent / "shared" / "data" / "ooni" / "fingerprints"
    ap.add_argument("--fingerprints", type=Path, default=default_fps if default_fps.is_dir() else None)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ayiq-vhash-") as tmp:
        store_path = Path(tmp) / "store.duckdb"
        rep = ingest(args.paths, store=store_path, workers=args.workers, fingerprints=args.fingerprints)
        with open_store(store_path, read_only=True) as st:
            verdicts = st.query(f"SELECT {', '.join(VERDICT_COLUMNS)} FROM verdicts ORDER BY measurement_uid, "
                                "judge, status")
            facts = st.query(f"SELECT {', '.join(FACT_COLUMNS)} FROM measurements ORDER BY measurement_uid")
            segs = st.query("SELECT measurement_uid, raw_segment, raw_offset, raw_length FROM measurements "
                            "ORDER BY measurement_uid")
            raw = hashlib.sha256()
            for uid, seg, off, length in segs:
                raw.update(str(uid).encode() + b"\0")
                if seg is not None:
                    raw.update(st.read_raw(seg, off, length))
        print(json.dumps({"records": rep.records, "errors": len(rep.errors), "verdicts": _digest(verdicts),
                          "facts": _digest(facts), "raw": raw.hexdigest()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
