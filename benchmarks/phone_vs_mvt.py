"""Ayiq vs MVT, side by side in one run: the iOS backup check on MVT's test backup with every indicator
file, and on a copy whose Manifest.db is inflated to 200,000 rows. Prints wall time and peak memory
(max RSS of the child process) for each, and the ratios.

Ayiq runs twice per repeat: cold (its parsed-indicator cache, AYIQ_CACHE, is a fresh empty folder, so every
STIX bundle is decoded and the cache written) and warm (the cache filled by an earlier, untimed run).
MVT has no such cache: each of its runs parses the bundles.

MVT is installed from PyPI into its own venv (AYIQ_BENCH_MVT_VENV, default ~/.cache/ayiq-bench/mvt-venv),
created on first use. Both tools run offline (MVT with its update checks disabled).

    .venv/bin/python benchmarks/phone_vs_mvt.py [--shared ../shared/data] [--rows 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mvt_venv() -> Path:
    venv = Path(os.environ.get("AYIQ_BENCH_MVT_VENV", Path.home() / ".cache" / "ayiq-bench" / "mvt-venv"))
    if not (venv / "bin" / "mvt-ios").exists():
        print(f"installing MVT from PyPI into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "mvt"], check=True)
    return venv


# Peak RSS is read with wait4() on the tool's process, through this small launcher. Why a launcher: Linux
# carries the peak RSS of the process that forks/vforks a child over into that child's ru_maxrss, so
# launching straight from this script (which holds the 200k-row inflation in memory) would give every tool
# this script's peak as a floor (the earlier version of this benchmark reported 73 MiB for both tools on
# the small backup for that reason). The launcher is a bare `python -S` whose own peak is printed as the
# floor; it stays below either tool's peak (both are Python programs), and ru_maxrss is a max, not a sum.
LAUNCHER = """
import os, sys, time
t0 = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ,
                     file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open("/proc/self/status") as f:  # this process's own peak (its ru_maxrss carries its parent's)
    floor = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
sys.stdout.write(f"{wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {floor}")
"""


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS in MiB (the tool's process and its waited-for children), exit code, and the
    launcher's own peak RSS in MiB (the lowest peak this can report)."""
    p = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *cmd], env=env, capture_output=True, check=False)
    err = p.stderr.decode(errors="replace")
    try:
        wall_s, rss_kib, code_s, floor_kib = p.stdout.decode().split()
    except ValueError:
        raise SystemExit(f"launcher failed for {cmd[0]}: {err[-500:]}") from None
    code = int(code_s)
    if code not in (0, 1):
        print(f"  ! {cmd[0]} exited {code}: {err[-500:]}", flush=True)
    return float(wall_s), int(rss_kib) / 1024, code, int(floor_kib) / 1024


def inflate_manifest(src: Path, dest: Path, rows: int) -> None:
    """A copy of the backup whose Manifest.db holds `rows` rows: real rows repeated under new ids/paths."""
    shutil.copytree(src, dest)
    for suffix in ("-wal", "-shm"):
        (dest / f"Manifest.db{suffix}").unlink(missing_ok=True)
    con = sqlite3.connect(dest / "Manifest.db")
    con.execute("PRAGMA journal_mode=DELETE")
    base = con.execute("SELECT domain, relativePath, flags, file FROM Files WHERE file IS NOT NULL").fetchall()
    have = con.execute("SELECT count(*) FROM Files").fetchone()[0]
    batch = []
    for i in range(rows - have):
        dom, rel, flags, blob = base[i % len(base)]
        batch.append((f"{i:040x}", dom, f"{rel}.bench{i}", flags, blob))
    con.executemany("INSERT INTO Files (fileID, domain, relativePath, flags, file) VALUES (?,?,?,?,?)", batch)
    con.commit()
    con.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--rows", type=int, default=200_000, help="rows of the inflated Manifest.db (0: skip that case)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    backup = args.shared / "mvt-artifacts" / "ios_backup"
    stix = sorted((args.shared / "iocs").rglob("*.stix2")) + [args.shared / "mvt-artifacts" / "test.stix2"]
    venv = mvt_venv()
    ayiq_bin = Path(sys.executable).parent / "ayiq"
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = {**os.environ, "HOME": str(tmp / "home"), "AYIQ_HOME": str(tmp / "ayiq-home"),
               "MVT_STIX2": ""}
        iocs_args = [a for s in stix for a in ("--iocs", str(s))]
        cases = [(f"iOS backup, {len(stix)} IOC files", backup)]
        if args.rows:
            big = tmp / "backup-big"
            inflate_manifest(backup, big, args.rows)
            cases.append((f"Manifest.db {args.rows:,} rows", big))
        warm_cache = tmp / "cache-warm"
        _, _, code, _ = measure([str(ayiq_bin), "phone", "check-backup", str(backup), "--output", str(tmp / "fill"),
                                 *iocs_args], {**env, "AYIQ_CACHE": str(warm_cache)})
        entries = sorted((warm_cache / "phone" / "iocs").glob("*.json"))
        if code not in (0, 1) or len(entries) != len(stix):
            raise SystemExit(f"filling the warm cache failed (exit {code}, {len(entries)} entries)")
        print(f"warm cache: {len(entries)} entries, {sum(e.stat().st_size for e in entries) / 1e6:.1f} MB "
              f"(the {len(stix)} STIX files: {sum(s.stat().st_size for s in stix) / 1e6:.1f} MB)")
        # what any Python CLI built on the installed typer costs before its own code runs
        floors = [("python, nothing imported", "pass"), ("python + import typer", "import typer"),
                  ("python + a typer command, 1 param", "import typer\ndef f(x: str) -> None: pass\ntyper.run(f)")]
        for what, code_s in floors:
            got = [measure([sys.executable, "-c", code_s, "x"], env) for _ in range(args.repeat)]
            print(f"floor: {what:36} {statistics.median(g[0] for g in got):5.2f} s "
                  f"{max(g[1] for g in got):5.0f} MiB")
        print(f"{'case':34} {'tool':10} {'time s':>8} {'peak MiB':>9}")
        summary = []
        floor = 0.0
        for label, path in cases:
            res: dict[str, list[tuple[float, float]]] = {}
            for r in range(args.repeat):
                mvt_cmd = [str(venv / "bin" / "mvt-ios"), "--disable-update-check", "--disable-indicator-update-check",
                           "check-backup", "--output", str(tmp / f"mvt-{r}-{path.name}")]
                for s in stix:
                    mvt_cmd += ["--iocs", str(s)]
                mvt_cmd.append(str(path))
                runs = [("mvt", mvt_cmd, env)]
                for mode, cache in (("cold", tmp / f"cache-cold-{r}-{path.name}"), ("warm", warm_cache)):
                    cmd = [str(ayiq_bin), "phone", "check-backup", str(path), "--output",
                           str(tmp / f"ay-{mode}-{r}-{path.name}"), *iocs_args]
                    runs.append((f"ayiq-{mode}", cmd, {**env, "AYIQ_CACHE": str(cache)}))
                for tool, cmd, tool_env in runs:
                    wall, rss, _, low = measure(cmd, tool_env)
                    floor = max(floor, low)
                    res.setdefault(tool, []).append((wall, rss))
            row = {}
            for tool in res:
                wall = statistics.median(w for w, _ in res[tool])
                rss = max(m for _, m in res[tool])
                row[tool] = (wall, rss)
                print(f"{label:34} {tool:10} {wall:8.2f} {rss:9.0f}", flush=True)
            for tool in ("ayiq-cold", "ayiq-warm"):
                summary.append((label, tool, row["mvt"][0] / row[tool][0], row[tool][1] / row["mvt"][1]))
        print(f"\n(peak memory is the max RSS of each tool's process tree via wait4; measurement floor "
              f"{floor:.0f} MiB; wall time is the median of {args.repeat} runs, memory the max)")
        for label, tool, speed, mem in summary:
            print(f"{label} [{tool}]: {speed:.1f}x faster than MVT (target >= 5x); "
                  f"peak memory {tool}/MVT = {mem:.2f} (target <= 0.33)")

if __name__ == "__main__":
    main()
