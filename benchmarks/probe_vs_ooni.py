"""Ayiq's probe side by side with OONI Probe (miniooni) in the censorship lab.

Run as root: `make bench-probe` (or `.venv/bin/python benchmarks/probe_vs_ooni.py [--limit N] [--extra]`).
Brings up the lab with the `ooni-bench` scenario, starts OONI's oohelperd and a probe-services stub on the lab's
control host and Ayiq's control and throttle servers beside them, then:

* web: miniooni `web_connectivity` (v0.4) and `web_connectivity@v0.5` on every web target, then
  `ayiq net probe --tests web,sni` on the same URLs (timed at the probe's default concurrency and at the bench's);
* throttling: Ayiq's `throttle` test on the throttled targets and one clean control (OONI's answer for those
  targets is its web_connectivity row: there is no OONI throttling test);
* voice/UDP: miniooni `stunreachability` on each relay's STUN port, and Ayiq's `voice` test (signalling, then STUN
  and a media-like stream to the domestic and the international relay).

miniooni only ever runs inside the lab's client namespace, after checking it has no route out. Prints one table
(ground truth, OONI's answer, ours, who was right), then targets/minute on the web targets for each tool, measured
in the same run, and the throttle/voice timings apart (they are not comparable). `--limit N` measures only the
first N web targets and skips throttling and voice unless `--extra` is given. OONI's binaries are run from
/work/shared/anchors/ooni-probe (read-only), with a temp home.
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
from typing import Any

from ayiq.lab import Lab, load_scenario

ANCHOR = Path("/work/shared/anchors/ooni-probe")
SCENARIO = Path(__file__).resolve().parents[1] / "src/ayiq/lab/scenarios/ooni-bench.toml"
TOKEN = "bench-control-token-0123456789"
CLI = "from ayiq.cli.main import main; main()"
PROBE = "import typer; from ayiq.cli.net_probe import probe; typer.run(probe)"
TIMEOUT = 3.0  # Ayiq's per-step timeout (connect, handshake), and its control server's
DEFAULT_CONCURRENCY = 16  # `ayiq net probe`'s default
# The bench's concurrency: every web + sni job at once (2 per target, 70 for the 35 web targets; the CLI allows up
# to 256). The targets are independent and a blocked one costs its timeout whatever runs beside it, so the run
# lasts about as long as its slowest target (0.5 s late-DNS window + the 3 s timeout) plus the process start.
MAX_CONCURRENCY = 256
THROTTLE_ARGS = ["--throttle-mb", "200", "--throttle-seconds", "3",
                 # a 40 Mbit/s read cap: the lab's veths run at whatever the 2 shared cores allow (300-400 Mbit/s,
                 # +-30 % between connections); the 2 Mbit/s throttles stay far below it
                 "--throttle-max-mbit", "40"]


def truth_of(t: Any) -> tuple[str, object]:
    """(technique label, expected answer) from a scenario target: web_connectivity's `blocking` for the
    techniques it knows, "throttling" for a throttled target (no web_connectivity value means it)."""
    if t.dns:
        return f"dns:{t.dns}", "dns"
    if t.ip:
        return "ip:blackhole", "tcp_ip"
    if t.tls:
        return f"sni:{t.tls}", "http-failure"
    if t.http:
        return f"http:{t.http}", "http-diff" if t.http == "blockpage" else "http-failure"
    if t.throttle_bps:
        return f"throttle:{t.throttle_mode}", "throttling"
    return "none", False


def url_of(t: Any, technique: str) -> str:
    """HTTP URLs for HTTP-layer techniques (that is where they act), HTTPS for everything else."""
    scheme = "http" if technique.startswith("http:") else "https"
    return f"{scheme}://{t.name}/"


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
    """Stop every process this bench started, by its own handle."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def run_miniooni(lab: Lab, tmp: Path, tag: str, test: str, inputs: list[str],
                 ps_url: str) -> tuple[dict[str, dict[str, Any]], float] | str:
    """OONI's measurements by input and the run's seconds, or why miniooni failed."""
    check_no_route_out(lab)
    home = tmp / f"ooni-home-{tag}"
    home.mkdir()
    lst = tmp / f"inputs-{tag}.txt"
    lst.write_text("\n".join(inputs) + "\n")
    out = tmp / f"ooni-{tag}.jsonl"
    t = time.monotonic()
    done = lab.exec([str(ANCHOR / "bin/lab/miniooni"), "--home", str(home), "--yes", "-n", "--probe-services",
                     ps_url, "-o", str(out), test, "-f", str(lst)],
                    env={"HOME": str(home), "OONI_EXTRA_CA_FILE": str(lab.ca_path)}, timeout=60 + 15 * len(inputs))
    elapsed = time.monotonic() - t
    if done.returncode != 0 or not out.exists():
        err = done.stderr
        if "dns_bogon_error" in err and "lookupLocationOrPanic" in err:
            return (f"miniooni {test} exits {done.returncode} before measuring: its geolocation step rejects every "
                    "lab address as a bogon (198.18.0.0/15, RFC 2544, is in OONI's bogon list)")
        return f"miniooni {test} failed (exit {done.returncode}): {err.strip().splitlines()[:1]}"
    ms = {m["input"]: m for m in map(json.loads, out.read_text().splitlines())}
    return ms, elapsed


def run_ayiq(lab: Lab, out: Path, args: list[str], timeout: float) -> float:
    """`ayiq net probe ARGS` on the lab's client, writing ``out``; returns its wall-clock seconds."""
    t0 = time.monotonic()
    done = lab.exec([sys.executable, "-c", PROBE, "--resolver", lab.host_addresses["resolver"],
                     "--no-system-resolver", "--ca-file", str(lab.ca_path), "--output", str(out), "--no-store",
                     "--timeout", str(TIMEOUT), "--probe-cc", "ZZ", "--probe-asn", "AS0", *args], timeout=timeout)
    secs = time.monotonic() - t0
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"ayiq net probe {' '.join(args[:2])} failed (exit {done.returncode})")
    return secs


def judged(m: dict[str, Any]) -> tuple[str, str | None]:
    """Our judge's (status, method) for one measurement."""
    from ayiq.net.judge import Judge

    v = Judge()(m)
    status = str(getattr(v.status, "value", v.status))
    return status, None if status == "ok" else str(getattr(v.method, "value", v.method))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N web targets (0: all)")
    ap.add_argument("--extra", action="store_true", help="with --limit: still run the throttle and voice parts")
    args = ap.parse_args()
    extra = not args.limit or args.extra
    with tempfile.TemporaryDirectory(prefix="ayiq-bench-ooni-") as tmpd, Lab.up(load_scenario(SCENARIO)) as lab:
        tmp = Path(tmpd)
        tmp.chmod(0o755)
        web = [t for t in lab.scenario.targets if t.kind == "web" and t.name.endswith(".lab")]
        chosen = web[: args.limit or None]
        if extra:  # the throttle rows need their targets' web_connectivity answers too
            chosen += [t for t in web if t.throttle_bps and t not in chosen]
        rows: list[dict[str, Any]] = []
        for t in chosen:
            tech, want = truth_of(t)
            rows.append({"name": t.name, "tech": tech, "want": want, "url": url_of(t, tech),
                         "throttled": bool(t.throttle_bps)})
        relays = [t for t in lab.scenario.targets if t.kind == "relay" and t.name.endswith(".lab")] if extra else []
        urls = [r["url"] for r in rows]
        ctl = lab.host_addresses["control"]
        ca = str(lab.ca_path)
        tf = tmp / "token.txt"
        tf.write_text(TOKEN)
        procs: list[subprocess.Popen[bytes]] = []
        res: dict[str, Any] = {}
        try:
            env_th = ["env", "OOHELPERD_RESOLVER=system", f"OONI_EXTRA_CA_FILE={ca}"]
            procs.append(subprocess.Popen(lab.command([*env_th, str(ANCHOR / "bin/lab/oohelperd"), "-api-endpoint",
                                                       f"{ctl}:8090", "-pprof-endpoint", "127.0.0.1:6062"],
                                                      host="control"),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            procs.append(subprocess.Popen(lab.command([sys.executable, str(ANCHOR / "tools/backend_stub.py"), ctl,
                                                       "8091", f"http://{ctl}:8090/"], host="control"),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            serve = [sys.executable, "-c", CLI, "control", "serve", "--token-file", str(tf), "--allow-private",
                     "--resolver", lab.host_addresses["resolver"], "--ca-file", ca, "--timeout", str(TIMEOUT)]
            procs.append(subprocess.Popen(lab.command([*serve, "--listen", f"{ctl}:8080"], host="control"),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            ports = [8090, 8091, 8080]
            if extra:
                # the throttle server: HTTPS on 443 (the censor, like DPI boxes, inspects ports 80 and 443)
                from ayiq.net.probe.loopback import make_certs

                certs = make_certs(tmp / "throttle-certs", ["control.lab"])
                procs.append(subprocess.Popen(lab.command([*serve, "--listen", f"{ctl}:443", "--tls-cert",
                                                           certs.cert_file, "--tls-key", certs.key_file],
                                                          host="control"),
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                ports.append(443)
            for port in ports:
                wait_port(lab, "client", ctl, port)
            ps_url = f"http://{ctl}:8091"
            ooni: dict[str, tuple[dict[str, dict[str, Any]], float]] = {}
            for v, test in (("v0.4", "web_connectivity"), ("v0.5", "web_connectivity@v0.5")):
                got = run_miniooni(lab, tmp, v, test, urls, ps_url)
                if isinstance(got, str):
                    print(f"OONI {v}: {got}", file=sys.stderr)
                    got = ({}, 0.0)
                ooni[v] = got
            res["ooni"] = ooni
            if relays:
                got = run_miniooni(lab, tmp, "stun", "stunreachability",
                                   [f"stun://{t.address}:3478" for t in relays], ps_url)
                if isinstance(got, str):
                    print(f"OONI stunreachability: {got}", file=sys.stderr)
                    got = ({}, 0.0)
                res["stun"] = got
            # Ayiq web + sni on the same URLs, with our control: at the default concurrency, then the bench's
            web_args = ["--tests", "web,sni", "--control", f"http://{ctl}:8080/api/v1/web_connectivity",
                        "--control-token-file", str(tf), *urls]
            res["ayiq_default_s"] = run_ayiq(lab, tmp / "ayiq-default.jsonl",
                                             ["--concurrency", str(DEFAULT_CONCURRENCY), *web_args],
                                             60 + 10 * len(urls))
            res["concurrency"] = min(MAX_CONCURRENCY, 2 * len(urls))
            res["ayiq_s"] = run_ayiq(lab, tmp / "ayiq.jsonl", ["--concurrency", str(res["concurrency"]), *web_args],
                                     60 + 10 * len(urls))
            if extra:
                thr = [r["name"] for r in rows if r["throttled"]] + [r["name"] for r in rows if r["want"] is False][:1]
                res["thr_names"] = thr
                before = lab.throttle_stats()
                res["thr_s"] = run_ayiq(lab, tmp / "ayiq-throttle.jsonl",
                                        ["--tests", "throttle", "--control-token-file", str(tf), "--throttle-server",
                                         f"{ctl}:443", "--control-sni", "control.lab", *THROTTLE_ARGS,
                                         *(f"https://{n}/" for n in thr)], 60 + 60 * len(thr))
                # ground truth from the censor's own queues: what went through each throttle class meanwhile
                after = lab.throttle_stats()
                res["queues"] = {n: {k: after[n][k] - before[n][k] for k in after[n]} for n in after}
                by_region = {t.region: t for t in relays}
                msg = lab.scenario.target("messenger.lab")
                res["voice_s"] = run_ayiq(lab, tmp / "ayiq-voice.jsonl",
                                          ["--tests", "voice", "--relay-token-file", str(tf),
                                           "--voice-signalling", f"{msg.address}:443,{msg.name}",
                                           *(x for region, t in sorted(by_region.items())
                                             for x in ("--voice-relay", f"{region}={t.address}:3478/3479"))], 120)
        finally:
            stop(procs)
        ours: dict[str, dict[str, Any]] = {}
        for m in map(json.loads, (tmp / "ayiq.jsonl").read_text().splitlines()):
            ours.setdefault(m["input"], {})[m["test_name"]] = m
        if extra:
            for m in map(json.loads, (tmp / "ayiq-throttle.jsonl").read_text().splitlines()):
                ours.setdefault(m["input"], {})[m["test_name"]] = m
            res["voice"] = [json.loads(x) for x in (tmp / "ayiq-voice.jsonl").read_text().splitlines()]
        # the default-concurrency run must agree with the bench's (same verdicts, only faster)
        dflt = {(m["input"], m["test_name"]): m["test_keys"].get("blocking", m["test_keys"].get("x_classification"))
                for m in map(json.loads, (tmp / "ayiq-default.jsonl").read_text().splitlines())}
        res["agree"] = sum(dflt.get((i, n)) == m["test_keys"].get("blocking", m["test_keys"].get("x_classification"))
                           for i, ms in ours.items() for n, m in ms.items() if n in ("web_connectivity",
                                                                                     "sni_blocking"))
        res["agree_of"] = len(dflt)
        res["ours_by_url"] = ours
        print_table(rows, relays, res)
        namespaces = list(lab.namespaces)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    present = {line.split()[0] for line in listed.splitlines() if line.strip()}
    left = [ns for ns in namespaces if ns in present]
    print(f"lab namespaces removed: {'all ' + str(len(namespaces)) if not left else 'NOT ' + ', '.join(left)}")
    if left:
        raise SystemExit(1)


def _ooni_cell(ms: dict[str, dict[str, Any]], url: str) -> tuple[str, object]:
    tk = (ms.get(url) or {}).get("test_keys") or {}
    return f"{tk.get('blocking')!s}/{tk.get('accessible')!s}", tk.get("blocking")


def print_table(rows: list[dict[str, Any]], relays: list[Any], res: dict[str, Any]) -> None:
    ooni = res["ooni"]
    hdr = (f"{'target':<24} {'truth':<17} {'want':<13} {'OONI v0.4':<20} {'OONI v0.5':<20} "
           f"{'Ayiq web / sni (/ throttle)':<52} right")
    print(hdr)
    print("-" * len(hdr))
    web_rows = [r for r in rows if not r["throttled"]]
    score = {"v0.4": 0, "v0.5": 0, "ayiq": 0}
    tscore = {"v0.4": 0, "v0.5": 0, "ayiq": 0}
    ours = res.get("ours_by_url") or {}
    for r in rows:
        cells, right = [], []
        for v in ("v0.4", "v0.5"):
            if not ooni[v][0]:
                cells.append("not run")
                continue
            cell, b = _ooni_cell(ooni[v][0], r["url"])
            cells.append(cell)
            if b == r["want"]:  # a throttled target: no web_connectivity value is right
                (tscore if r["throttled"] else score)[v] += 1
                right.append(v)
        m = ours.get(r["url"], {})
        wk = (m.get("web_connectivity") or {}).get("test_keys") or {}
        sk = (m.get("sni_blocking") or {}).get("test_keys") or {}
        cell = f"{wk.get('blocking')!s} / {sk.get('x_classification', '-')}"
        got: object = wk.get("blocking")
        if "ayiq_throttle" in m:
            tm = m["ayiq_throttle"]
            status, method = judged(tm)
            tk = tm["test_keys"]
            plateau = (tk.get("target_stats") or {}).get("plateau_bps")
            cell += f" / {method or status} ({plateau / 1e6:.1f} Mbit/s, x{tk.get('ratio')})" if plateau else \
                f" / {method or status}"
            if r["throttled"]:
                got = method if status == "blocked" else False
        if got == r["want"]:
            (tscore if r["throttled"] else score)["ayiq"] += 1
            right.append("ayiq")
        print(f"{r['name']:<24} {r['tech']:<17} {r['want']!s:<13} {cells[0]:<20} {cells[1]:<20} {cell:<52} "
              f"{','.join(right) or 'none'}")
    vscore = {"ooni": 0, "ayiq": 0}
    if relays:
        stun_ms = res["stun"][0]
        (vm,) = res["voice"] or [{}]
        vtk = vm.get("test_keys") or {}
        for t in relays:
            want = "udp blocked" if t.udp == "block" else "reachable"
            sm = (stun_ms.get(f"stun://{t.address}:3478") or {}).get("test_keys")
            right = []
            if sm is None:
                ocell = "stunreachability: not run"
            else:
                ocell = f"stunreachability: {sm.get('failure') or 'ok'}"
                if (sm.get("failure") is not None) == (t.udp == "block"):
                    vscore["ooni"] += 1
                    right.append("ooni")
            rel = (vtk.get("relays") or {}).get(t.region) or {}
            state = (vtk.get("voice_state") or {}).get(t.region)
            loss = (rel.get("stream") or {}).get("loss")
            acell = f"voice: {state} (stun {(rel.get('stun') or {}).get('failure') or 'ok'}, loss {loss})"
            if (state == "blocked") == (t.udp == "block") and state is not None:
                vscore["ayiq"] += 1
                right.append("ayiq")
            truth = f"udp:{t.udp or 'open'} {'dom' if t.region == 'domestic' else 'intl'}"
            print(f"{t.name:<24} {truth:<17} {want:<13} {ocell:<41} "
                  f"{acell:<52} {','.join(right) or 'none'}")
        if vm:
            status, method = judged(vm)
            print(f"{'':<24} Ayiq voice: {vtk.get('summary')!r} -> {status}/{method}")
    n, nt = len(web_rows), len(rows) - len(web_rows)
    print()
    got = [f"OONI {v} {score[v]}/{n}" if ooni[v][0] else f"OONI {v} not run" for v in ("v0.4", "v0.5")]
    print(f"correct: {', '.join(got)}, Ayiq {score['ayiq']}/{n}")
    if nt:
        print(f"throttling ({nt} targets): OONI v0.4 {tscore['v0.4']}/{nt}, OONI v0.5 {tscore['v0.5']}/{nt} "
              f"(web_connectivity has no throttling verdict), Ayiq throttle {tscore['ayiq']}/{nt}")
    if res.get("queues"):
        print("censor's throttle queues during Ayiq's throttle test: " + "; ".join(
            f"{n} {q['bytes'] / 1e6:.1f} MB, {q['drops']} drops" for n, q in res["queues"].items()))
    if relays:
        print(f"voice/UDP ({len(relays)} relays): OONI stunreachability {vscore['ooni']}/{len(relays)}, "
              f"Ayiq voice {vscore['ayiq']}/{len(relays)}")
    # throughput: the same web targets (every row of the table above but the relays) for every tool
    nw = len(rows)
    parts = []
    for v in ("v0.4", "v0.5"):
        ms, secs = ooni[v]
        parts.append(f"OONI {v} {len(ms) / secs * 60:.0f} ({secs:.1f} s)" if ms else f"OONI {v} n/a (did not run)")
    tpm = nw / res["ayiq_s"] * 60
    tpm_default = nw / res["ayiq_default_s"] * 60
    line = (f"targets/minute ({nw} web targets): {', '.join(parts)}, Ayiq web+sni {tpm:.0f} ({res['ayiq_s']:.1f} s, "
            f"--concurrency {res['concurrency']}), {tpm_default:.0f} ({res['ayiq_default_s']:.1f} s, default "
            f"--concurrency {DEFAULT_CONCURRENCY})")
    if ooni["v0.5"][0]:
        v05 = len(ooni["v0.5"][0]) / ooni["v0.5"][1] * 60
        line += f"; Ayiq/v0.5 = {tpm / v05:.1f}x (default concurrency {tpm_default / v05:.1f}x)"
    print(line)
    print(f"Ayiq runs agree (web blocking, sni classification, default vs bench concurrency): "
          f"{res['agree']}/{res['agree_of']}")
    if relays or "thr_s" in res:
        extra = []
        if "thr_s" in res:
            extra.append(f"Ayiq throttle {len(res['thr_names'])} targets {res['thr_s']:.1f} s (two {3} s transfers "
                         "per round, never two targets at once)")
        if relays:
            extra.append(f"Ayiq voice 1 run ({len(relays)} relays) {res['voice_s']:.1f} s; OONI stunreachability "
                         f"{len(relays)} inputs {res['stun'][1]:.1f} s")
        print("not comparable, apart: " + "; ".join(extra))


if __name__ == "__main__":
    main()
