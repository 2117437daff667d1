"""Print a Markdown table of our verdicts on OONI's netem QA scenarios (the docs/judge.md table).

Usage: python -m ayiq.net.judge.qa_table SCENARIO_DIR [FINGERPRINTS_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ayiq.net.judge import Judge, load_fingerprints


def first_sentence(evidence: tuple[str, ...]) -> str:
    """The sentence that decided the verdict: the last one (earlier ones are context such as 'DNS agrees')."""
    if not evidence:
        return ""
    return evidence[-1] if len(evidence) > 1 and evidence[0].startswith("DNS answers for") else evidence[0]


def table(scenario_dir: Path, fingerprints: Path | None = None) -> str:
    judge = Judge(load_fingerprints(fingerprints) if fingerprints else None)
    rows = ["| scenario | our status | our method | evidence (deciding sentence) |", "|---|---|---|---|"]
    for p in sorted(scenario_dir.glob("*.measurement.json")):
        v = judge(json.loads(p.read_text(encoding="utf-8")))
        name = p.name.removesuffix(".measurement.json")
        ev = first_sentence(v.evidence).replace("|", "\\|")
        rows.append(f"| {name} | {v.status.value} | {v.method.value if v.method else ''} | {ev} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.write(table(Path(args[0]), Path(args[1]) if len(args) > 1 else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
