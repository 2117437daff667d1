"""Ayiq's probe side by side with OONI Probe's web_connectivity (v0.4 and v0.5) in the censorship lab.

Run as root: `make bench-probe` (or `.venv/bin/python benchmarks/probe_vs_ooni.py [--limit N]`).
Brings up the lab with the `ooni-bench` scenario, starts OONI's oohelperd and a probe-services stub on the lab's
control host and Ayiq's control server beside them, runs miniooni (only inside the lab's client namespace, after
checking that it has no route out) and then `ayiq net probe --tests web,sni` on the same targets, and prints one
table: ground truth, OONI's blocking/accessible per version, our status/method, who was right; then targets/minute.
OONI's binaries are run from /work/shared/anchors/ooni-probe (read-only), with a temp home.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ayiq.lab import Lab

ANCHOR = Path("/work/shared/anchors/ooni-probe")
SCENARIO = Path(__file__).resolve().parents[1] / "src/ayiq/lab/scenarios/ooni-bench.toml"
TOKEN = "bench-control-token-0123456789"
CLI = "from ayiq.cli.main import main; main()"
PROBE = "import typer; from ayiq.cli.net_probe import probe; typer.run(probe)"
# ground truth per technique -> the web_connectivity `blocking` value a correct probe reports
TRUTH = {"dns": "dns", "ip": "tcp_ip", "tls": "http-failure", "http_rst": "http-failure",
         "http_blockpage": "http-diff", None: False}


def truth_of(t: object) -> tuple[str, object]:
    """(technique label, expected blocking) from a scenario target."""
    if getattr(t, "dns", None):
        return f"dns:{t.dns}", "dns"  # type: ignore[attr-defined]
    if getattr(t, "ip", None):
        return "ip:blackhole", "tcp_ip"
    if getattr(t, "tls", None):
        return f"sni:{t.tls}", "http-failure"  # type: ignore[attr-defined]
    if getattr(t, "http", None):
        http = t.http  # type: ignore[attr-defined]
        return f"http:{http}", "http-diff" if http == "blockpage" else "http-failure"
    return "none", False


def url_of(t: object, technique: str) -> str:
    """HTTP URLs for HTTP-layer techniques (that is where they act), HTTPS for everything else."""
    scheme = "http" if technique.startswith("http:") else "https"
    return f"{scheme}://{t.name}/"  # type: ignore[attr-defined]


def check_no_route_out(lab: Lab) -> None:
    """Abort unless the client namespace has no default route and a send to 192.0.2.1 fails at once."""
    routes = lab.exec(["ip", "route", "show"], check=True).stdout + lab.exec(["ip", "-6", "route", "show"]).stdout
    if any(line.startswith("default") for line in routes.splitlines()):
        raise SystemExit(f"ABORT: the client namespace has a default route:\n{routes}")
    probe = ("import socket,errno,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
             "try:\n s.sendto(b'x',('192.0.2.1',53))\nexcept OSError as e:\n sys.exit(0 if e.errno==errno.ENETUNREACH else 3)\n"
             "sys.exit(4)")
    done = lab.exec([sys.executable, "-c", probe])
    if done.returncode != 0:
        raise SystemExit(f"ABORT: a send to 192.0.2.1 from the client namespace did not fail with ENETUNREACH "
                         f"(exit {done.returncode})")


def wait_port(lab: Lab, host: str, addr: str, port: int, timeout: float = 20) -> None:
    code = f"import socket; socket.create_connection(('{addr}', {port}), timeout=1).close()"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.exec([sys.executable, "-c", code], host=host).returncode == 0:
            return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on {addr}:{port} after {timeout} s")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT if p.args[-1:] != ["ooni"] else signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def run_ooni(lab: Lab, tmp: Path, version: str, urls: list[str],
             ps_url: str) -> tuple[dict[str, dict], float] | str:
    """OONI's measurements by input and the run's seconds, or why miniooni failed."""
    check_no_route_out(lab)
    home = tmp / f"ooni-home-{version}"
    home.mkdir()
    lst = tmp / "urls.txt"
    lst.write_text("\n".join(urls) + "\n")
    out = tmp / f"ooni-{version}.jsonl"
    name = "web_connectivity" if version == "v0.4" else "web_connectivity@v0.5"
    t = time.monotonic()
    done = lab.exec([str(ANCHOR / "bin/lab/miniooni"), "--home", str(home), "--yes", "-n", "--probe-services",
                     ps_url, "-o", str(out), name, "-f", str(lst)],
                    env={"HOME": str(home), "OONI_EXTRA_CA_FILE": str(lab.ca_path)}, timeout=60 + 5 * len(urls))
    elapsed = time.monotonic() - t
    if done.returncode != 0 or not out.exists():
        err = done.stderr
        if "dns_bogon_error" in err and "lookupLocationOrPanic" in err:
            return (f"miniooni {name} exits {done.returncode} before measuring: its geolocation step rejects every "
                    "lab address as a bogon (198.18.0.0/15, RFC 2544, is in OONI's bogon list)")
        return f"miniooni {name} failed (exit {done.returncode}): {err.strip().splitlines()[:1]}"
    ms = {m["input"]: m for m in map(json.loads, out.read_text().splitlines())}
    return ms, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N targets (0: all)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ayiq-bench-ooni-") as tmpd, Lab.up(SCENARIO) as lab:
        tmp = Path(tmpd)
        tmp.chmod(0o755)
        targets = [t for t in lab.scenario.targets if t.name.endswith(".lab")][: args.limit or None]
        rows = []
        for t in targets:
            tech, want = truth_of(t)
            rows.append({"name": t.name, "tech": tech, "want": want, "url": url_of(t, tech)})
        urls = [r["url"] for r in rows]
        ctl = lab.host_addresses["control"]
        procs: list[subprocess.Popen[bytes]] = []
        try:
            ca = str(lab.ca_path)
            env_th = ["env", "OOHELPERD_RESOLVER=system", f"OONI_EXTRA_CA_FILE={ca}"]
            procs.append(subprocess.Popen(lab.command([*env_th, str(ANCHOR / "bin/lab/oohelperd"), "-api-endpoint",
                                                       f"{ctl}:8090", "-pprof-endpoint", "127.0.0.1:6062"],
                                                      host="control"),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            procs.append(subprocess.Popen(lab.command([sys.executable, str(ANCHOR / "tools/backend_stub.py"), ctl,
                                                       "8091", f"http://{ctl}:8090/"], host="control"),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            tf = tmp / "token.txt"
            tf.write_text(TOKEN)
            procs.append(subprocess.Popen(lab.command([sys.executable, "-c", CLI, "control", "serve", "--listen",
                                                       f"{ctl}:8080", "--token-file", str(tf), "--allow-private",
                                                       "--resolver", lab.host_addresses["resolver"], "--ca-file", ca,
                                                       "--timeout", "3"], host="control"),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for port in (8090, 8091, 8080):
                wait_port(lab, "client", ctl, port)
            ps_url = f"http://{ctl}:8091"
            ooni = {}
            for v in ("v0.4", "v0.5"):
                got = run_ooni(lab, tmp, v, urls, ps_url)
                if isinstance(got, str):
                    print(f"OONI {v}: {got}", file=sys.stderr)
                    got = ({}, 0.0)
                ooni[v] = got
            # Ayiq: web test (with our control) then sni test on the same targets
            out = tmp / "ayiq.jsonl"
            t0 = time.monotonic()
            done = lab.exec([sys.executable, "-c", PROBE, "--tests", "web,sni", "--control",
                             f"http://{ctl}:8080/api/v1/web_connectivity", "--control-token-file", str(tf),
                             "--resolver", lab.host_addresses["resolver"], "--no-system-resolver", "--ca-file", ca,
                             "--output", str(out), "--no-store", "--timeout", "3", "--probe-cc", "ZZ",
                             "--probe-asn", "AS0", *urls], timeout=60 + 10 * len(urls))
            ayiq_s = time.monotonic() - t0
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"ayiq net probe failed (exit {done.returncode})")
        finally:
            stop(procs)
        ours: dict[str, dict] = {}
        for m in map(json.loads, out.read_text().splitlines()):
            ours.setdefault(m["input"], {})[m["test_name"]] = m["test_keys"]
        print_table(rows, ooni, ours, ayiq_s)


def ok(got: object, want: object) -> bool:
    return got == want


def print_table(rows: list[dict], ooni: dict, ours: dict, ayiq_s: float) -> None:
    hdr = f"{'target':<14} {'truth':<14} {'want':<13} {'OONI v0.4':<20} {'OONI v0.5':<20} {'Ayiq web / sni':<40} right"
    print(hdr)
    print("-" * len(hdr))
    score = {"v0.4": 0, "v0.5": 0, "ayiq": 0}
    for r in rows:
        cells = []
        right = []
        for v in ("v0.4", "v0.5"):
            if not ooni[v][0]:
                cells.append("not run")
                continue
            tk = (ooni[v][0].get(r["url"]) or {}).get("test_keys") or {}
            b, a = tk.get("blocking"), tk.get("accessible")
            cells.append(f"{b!s}/{a!s}")
            if ok(b, r["want"]):
                score[v] += 1
                right.append(v)
        web = ours.get(r["url"], {})
        wk = next((k for n, k in web.items() if "web" in n), {})
        sk = next((k for n, k in web.items() if "sni" in n), {})
        b = wk.get("blocking")
        ours_cell = f"{b!s} / {sk.get('x_classification', '-')}"
        if ok(b, r["want"]):
            score["ayiq"] += 1
            right.append("ayiq")
        print(f"{r['name']:<14} {r['tech']:<14} {r['want']!s:<13} {cells[0]:<20} {cells[1]:<20} {ours_cell:<40} "
              f"{','.join(right) or 'none'}")
    n = len(rows)
    print()
    got = [f"OONI {v} {score[v]}/{n}" if ooni[v][0] else f"OONI {v} not run" for v in ("v0.4", "v0.5")]
    print(f"correct: {', '.join(got)}, Ayiq {score['ayiq']}/{n}")
    parts = []
    for v in ("v0.4", "v0.5"):
        ms, secs = ooni[v]
        parts.append(f"OONI {v} {len(ms) / secs * 60:.0f} ({secs:.1f} s)" if ms else f"OONI {v} n/a (did not run)")
    ours_tpm = n / ayiq_s * 60
    line = f"targets/minute: {', '.join(parts)}, Ayiq web+sni {ours_tpm:.0f} ({ayiq_s:.1f} s)"
    if ooni["v0.5"][0]:
        line += f"; Ayiq/v0.5 = {ours_tpm / (len(ooni['v0.5'][0]) / ooni['v0.5'][1] * 60):.1f}x"
    print(line)


if __name__ == "__main__":
    main()
