"""The probe and the control server in the censorship lab (all-techniques scenario): each technique shows.

Root and network namespaces needed (the lab fixtures skip otherwise). The control runs on the lab's control
host, outside the censor's path; the probe runs on the client, behind it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from lab_control import control_in_lab

from ayiq.lab import ADDRESSES, Lab
from ayiq.lab.pytest_plugin import lab, lab_home, lab_support  # noqa: F401 - fixtures

pytestmark = [pytest.mark.root, pytest.mark.slow]
PROBE = "import typer; from ayiq.cli.net_probe import probe; typer.run(probe)"


@pytest.fixture()
def control(lab: Lab, tmp_path: Path) -> Iterator[tuple[str, Path]]:  # noqa: F811
    with control_in_lab(lab, tmp_path / "control", 8080, "--allow-private", "--resolver", ADDRESSES["resolver"],
                        "--ca-file", str(lab.ca_path), "--timeout", "3") as (listen, tf):
        yield f"http://{listen}/api/v1/web_connectivity", tf


def test_web_and_sni_tests_see_every_technique(lab: Lab, control: tuple[str, Path], tmp_path: Path) -> None:  # noqa: F811
    url, tf = control
    out = tmp_path / "lab.jsonl"
    targets = {
        "https://open.lab/": False, "https://dns-inject.lab/": "dns", "https://nxdomain.lab/": "dns",
        "https://bogon.lab/": "dns", "https://localhost.lab/": "dns", "https://blackholed.lab/": "tcp_ip",
        "https://sni-drop.lab/": "http-failure", "https://sni-rst.lab/": "http-failure",
        "http://blockpage.lab/": "http-diff", "http://http-rst.lab/": "http-failure",
    }
    t = time.monotonic()
    done = lab.exec([sys.executable, "-c", PROBE, "--tests", "web", "--control", url, "--control-token-file", str(tf),
                     "--resolver", ADDRESSES["resolver"], "--no-system-resolver", "--ca-file", str(lab.ca_path),
                     "--output", str(out), "--no-store", "--timeout", "3", "--probe-cc", "AZ", "--probe-asn",
                     "AS29049", *targets], timeout=180)
    elapsed = time.monotonic() - t
    assert done.returncode == 0, done.stderr
    ms = {m["input"]: m for m in map(orjson.loads, out.read_bytes().splitlines())}
    got = {u: ms[u]["test_keys"]["blocking"] for u in targets}
    assert got == targets, {u: (ms[u]["test_keys"]["http_experiment_failure"], ms[u]["test_keys"]["control_failure"])
                            for u in targets if got[u] != targets[u]}
    tk = {u: ms[u]["test_keys"] for u in targets}
    assert tk["https://sni-drop.lab/"]["tls_handshakes"][0]["failure"] == "generic_timeout_error"
    assert tk["https://sni-drop.lab/"]["tls_handshakes"][0]["x_bytes_read"] == 0
    assert tk["https://sni-rst.lab/"]["tls_handshakes"][0]["failure"] == "connection_reset"
    assert tk["http://http-rst.lab/"]["http_experiment_failure"] == "connection_reset"
    # the middlebox's fingerprint: injected packets leave it with TTL 48 (scenario), unlike the server's
    inj = tk["https://dns-inject.lab/"]
    assert inj["queries"][0]["x_ip_ttl"] == 48 and inj["queries"][0]["answers"][0]["ipv4"] == "10.10.34.36"
    rst = tk["http://http-rst.lab/"]["x_packet_traits"]
    assert rst["rst_ttl_mismatch"] is True
    assert {p["ttl"] for p in rst["packets"] if p["kind"] == "rst"} == {48}
    assert {p["ip_id"] for p in rst["packets"] if p["kind"] == "rst"} == {13330}
    print(f"\nlab: {len(targets)} web targets in {elapsed:.1f} s, all classified as the scenario says")


def test_sni_test_confirms_sni_filtering_in_the_lab(lab: Lab, tmp_path: Path) -> None:  # noqa: F811
    open_addr = next(t.address for t in lab.scenario.targets if t.name == "open.lab")
    out = tmp_path / "sni.jsonl"
    done = lab.exec([sys.executable, "-c", PROBE, "--tests", "sni", "--resolver", ADDRESSES["resolver"],
                     "--no-system-resolver", "--output", str(out), "--no-store", "--timeout", "3",
                     "--sni-decoy", f"{open_addr}:443", "--control-sni", "open.lab",
                     "https://sni-drop.lab/", "https://sni-rst.lab/", "https://blackholed.lab/", "https://open.lab/"],
                    timeout=120, env={"AYIQ_CONTROL_TOKEN": ""})
    assert done.returncode == 0, done.stderr
    ms = {m["input"]: m["test_keys"] for m in map(orjson.loads, out.read_bytes().splitlines())}
    assert ms["https://sni-drop.lab/"]["x_classification"] == "sni_filtering"
    assert ms["https://sni-rst.lab/"]["x_classification"] == "sni_filtering"
    assert ms["https://blackholed.lab/"]["x_classification"] == "ip_blocking"
    assert ms["https://open.lab/"]["x_classification"] == "accessible"


def _addr(running: Lab, name: str) -> str:
    return str(next(t.address for t in running.scenario.targets if t.name == name))


def test_voice_and_throttle_in_the_lab(lab: Lab, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "vt.jsonl"
    with control_in_lab(lab, tmp_path / "control", 443, tls=True) as (addr, tf):
        done = lab.exec([
            sys.executable, "-c", PROBE, "--tests", "voice,throttle", "--control-token-file", str(tf),
            "--resolver", ADDRESSES["resolver"], "--no-system-resolver", "--output", str(out), "--no-store",
            "--timeout", "3", "--voice-signalling", f"{_addr(lab, 'messenger.lab')}:443",
            "--voice-relay", f"domestic={_addr(lab, 'relay-domestic.lab')}:3478/3479",
            "--voice-relay", f"international={_addr(lab, 'relay-international.lab')}:3478/3479",
            "--throttle-server", addr, "--throttle-mb", "200", "--throttle-seconds", "4",
            "https://throttled.lab/", "https://policed.lab/", "https://open.lab/"], timeout=240)
    assert done.returncode == 0, done.stderr
    ms = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    voice = next(m["test_keys"] for m in ms if m["test_name"] == "ayiq_voice")
    assert voice["result"] == "international_voice_blocked", voice["voice_state"]
    assert voice["summary"] == "text works, international voice calls blocked, domestic calls work"
    thr = {m["input"]: m["test_keys"] for m in ms if m["test_name"] == "ayiq_throttle"}
    for name in ("https://throttled.lab/", "https://policed.lab/"):
        assert thr[name]["throttled"] is True and thr[name]["ratio"] < 0.5, thr[name]["target_stats"]
        assert 1.0e6 < thr[name]["target_stats"]["plateau_bps"] < 2.5e6  # the scenario's 2 Mbit/s
    assert thr["https://open.lab/"]["throttled"] is False
    print("\nlab throttle: " + "; ".join(
        f"{u}: ratio {t['ratio']}, plateau {t['target_stats']['plateau_bps'] / 1e6:.2f} Mbit/s, cv "
        f"{t['target_stats']['rate_cv']}, stalls {t['target_stats']['stall_fraction']}, pattern {t['pattern']}, "
        f"rtt inflation {t['rtt_inflation_ms']} ms"
        for u, t in thr.items()))
    d, i = voice["relays"]["domestic"]["stream"], voice["relays"]["international"]["stream"]
    print(f"lab voice: domestic loss {d['loss']}, rtt median {d['rtt_ms']['median']} ms, jitter {d['jitter_ms']} ms; "
          f"international loss {i['loss']}")


def test_localize_finds_the_isp_middlebox(lab: Lab, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "loc.jsonl"
    common = [sys.executable, "-c", PROBE, "--tests", "localize", "--resolver", ADDRESSES["resolver"],
              "--no-system-resolver", "--no-store", "--timeout", "2", "--control-sni", "open.lab"]
    for kind, url in (("http", "http://http-rst.lab/"), ("tls", "https://sni-rst.lab/")):
        done = lab.exec([*common, "--localize-kind", kind, "--output", str(out), url], timeout=120,
                        env={"AYIQ_CONTROL_TOKEN": ""})
        assert done.returncode == 0, done.stderr
    ms = {m["input"]: m["test_keys"] for m in map(orjson.loads, out.read_bytes().splitlines())}
    for url in ("http://http-rst.lab/", "https://sni-rst.lab/"):
        tk = ms[url]
        # client -> isp (the censor, forwarding) -> inet (the server): the reset appears where packets leave isp
        assert tk["interference_ttl"] == 2 and tk["interference"] == "reset", (tk["trigger"], tk["control"])
        assert tk["server_hop"] == 2 and tk["routers"] == {"1": ADDRESSES["isp_client_side"]}
        assert tk["last_router_before"] == ADDRESSES["isp_client_side"]
        assert {p["ttl"] for p in tk["x_packet_traits"]["packets"] if p["kind"] == "rst"} == {48}
