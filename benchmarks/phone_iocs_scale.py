"""Indicator scale: load N generated STIX 2 indicators and match N hosts/URLs against them, N = 10k, 100k.

Prints seconds per step and the 100k/10k ratio (10 = linear). Loading is timed cold (the bundle parsed and
the parsed-indicator cache written, in a temporary AYIQ_CACHE) and warm (read back from that cache). With --mvt, also times MVT's loader and
URL matcher on the same files in MVT's own venv (see phone_vs_mvt.py for how that venv is made);
MVT's 100k load takes minutes, so --mvt-max limits the sizes it is given.

    .venv/bin/python benchmarks/phone_iocs_scale.py [--mvt] [--mvt-max 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.iocs.synth import synthetic_bundle, synthetic_observations

MVT_SNIPPET = r"""
import json, sys, time
from mvt.common.indicators import Indicators
path, obs_path, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
ind = Indicators()
ind.parse_stix2(path)
t1 = time.perf_counter()
obs = json.load(open(obs_path))[:limit]
hits = sum(1 for o in obs if ind.check_url(o if "://" in o else "http://" + o))
t2 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "match": t2 - t1, "matched": len(obs), "hits": hits}))
"""


def ayiq_run(stix: Path, obs: list[str]) -> dict[str, float]:
    t0 = time.perf_counter()
    idx = IocIndex.from_paths([stix])
    t1 = time.perf_counter()
    warm = IocIndex.from_paths([stix])
    tw = time.perf_counter()
    assert len(warm) == len(idx)
    del warm
    t1w = time.perf_counter()
    hits = sum(1 for o in obs if idx.match_url(o))
    t2 = time.perf_counter()
    return {"load": t1 - t0, "load_warm": tw - t1, "match": t2 - t1w, "hits": hits, "indicators": len(idx)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--mvt", action="store_true", help="also run MVT (needs its venv, see phone_vs_mvt.py)")
    ap.add_argument("--mvt-max", type=int, default=10_000, help="largest N given to MVT")
    ap.add_argument("--mvt-match-limit", type=int, default=2_000, help="URLs MVT matches (it is O(N*U))")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = {}
    with tempfile.TemporaryDirectory() as d:
        os.environ["AYIQ_CACHE"] = str(Path(d) / "cache")  # never the user's cache dir
        for n in sizes:
            stix = Path(d) / f"synth{n}.stix2"
            stix.write_bytes(orjson.dumps(synthetic_bundle(n)))
            obs = synthetic_observations(n)
            r = ayiq_run(stix, obs)
            rows[n] = r
            print(f"ayiq  N={n:>7}: load {r['load']:7.3f} s (warm, from the cache {r['load_warm']:6.3f} s)   "
                  f"match {n} URLs {r['match']:7.3f} s   hits {r['hits']}", flush=True)
            if args.mvt and n <= args.mvt_max:
                from phone_vs_mvt import mvt_venv

                plain = Path(d) / f"plain{n}.stix2"  # MVT crashes on URL values holding "=": give it plain ones
                plain.write_bytes(orjson.dumps(synthetic_bundle(n, plain=True)))
                crash = subprocess.run([str(mvt_venv() / "bin" / "python"), "-c", MVT_SNIPPET, str(stix), "/dev/null", "0"],
                                       capture_output=True, text=True)
                if crash.returncode and "ValueError" in crash.stderr and "load" not in crash.stdout:
                    print(f"mvt   N={n:>7}: crashes on the bundle with '=' in URL values: "
                          f"{crash.stderr.strip().splitlines()[-1]}", flush=True)
                obs_path = Path(d) / "obs.json"
                obs_path.write_text(json.dumps(obs))
                py = mvt_venv() / "bin" / "python"
                out = subprocess.run([str(py), "-c", MVT_SNIPPET, str(plain), str(obs_path), str(args.mvt_match_limit)],
                                     capture_output=True, text=True, check=True)
                m = json.loads(out.stdout.strip().splitlines()[-1])
                per_url_mvt = m["match"] / max(m["matched"], 1)
                per_url_ayiq = r["match"] / n
                print(f"mvt   N={n:>7}: load {m['load']:7.3f} s   match {m['matched']} URLs {m['match']:7.3f} s "
                      f"({per_url_mvt * 1e3:.2f} ms/URL vs ayiq {per_url_ayiq * 1e6:.1f} us/URL); "
                      f"load ratio mvt/ayiq {m['load'] / r['load']:.0f}x", flush=True)
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        k = b / a
        print(f"growth {a}->{b} (x{k:.0f}): load x{rows[b]['load'] / rows[a]['load']:.1f}, "
              f"warm load x{rows[b]['load_warm'] / rows[a]['load_warm']:.1f}, "
              f"match x{rows[b]['match'] / rows[a]['match']:.1f}  (x{k:.0f} = linear)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
