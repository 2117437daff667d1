"""Broken input never makes the judge raise: random and mutated measurements give a Verdict."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ayiq.core.verdict import Verdict
from ayiq.net.judge import JUDGES, Judge, load_fingerprints

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
KEYS = ["queries", "tcp_connect", "tls_handshakes", "requests", "control", "answers", "status", "response", "body",
        "headers", "failure", "tags", "ip", "port", "code", "addrs", "dns", "http_request", "tcp_connect",
        "tls_handshake", "ip_info", "targets", "lookups", "data", "format", "blocking", "body_proportion"]

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_JUDGE = Judge()


@SETTINGS
@given(test_name=st.sampled_from(sorted(JUDGES) + ["nope"]), tk=json_values, inp=json_values)
def test_random_measurements(test_name: str, tk: Any, inp: Any) -> None:
    v = _JUDGE({"test_name": test_name, "test_keys": tk, "input": inp, "probe_cc": "IT"})
    assert isinstance(v, Verdict)


@SETTINGS
@given(obj=json_values)
def test_random_top_level(obj: Any) -> None:
    assert isinstance(_JUDGE(obj), Verdict)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for n, v in enumerate(obj[:6]):
            out += _paths(v, prefix + (n,))
    return out


def _seed_measurements() -> list[dict[str, Any]]:
    root = Path(__file__).resolve().parents[4] / "shared" / "data" / "ooni"
    out: list[dict[str, Any]] = []
    for p in sorted(root.glob("synthetic/netem_webconnectivity_qa/*.measurement.json"))[:12]:
        out.append(json.loads(p.read_text(encoding="utf-8")))
    for p in sorted(root.glob("real/*/*.json")):
        if ".analysis" not in p.name:
            out.append(json.loads(p.read_text(encoding="utf-8")))
    if not out:  # no shared data: a small hand-made web_connectivity measurement still exercises the paths
        out.append({"test_name": "web_connectivity", "input": "http://example.org/", "test_keys": {
            "queries": [{"answers": [{"ipv4": "1.2.3.4", "asn": 1}], "hostname": "example.org"}],
            "tcp_connect": [{"ip": "1.2.3.4", "port": 80, "status": {"success": True, "failure": None}}],
            "requests": [{"request": {"url": "http://example.org/"},
                          "response": {"code": 200, "body": {"format": "base64", "data": "aGk="}, "headers": {}}}],
            "control": {"dns": {"addrs": ["1.2.3.4"]}, "http_request": {"status_code": 200, "body_length": 2}}}})
    return out


SEEDS = _seed_measurements()
_FPS = Path(__file__).resolve().parents[4] / "shared" / "data" / "ooni" / "fingerprints"
_FP_JUDGE = Judge(load_fingerprints(_FPS)) if _FPS.is_dir() else Judge()
REPLACEMENTS = st.sampled_from([None, 0, -1, 1e308, "", "x" * 50, [], {}, [None], {"format": "base64", "data": "%%%"},
                                {"format": "base64", "data": 3}, True, "999.999.1.1", "dns_nxdomain_error",
                                "unknown_failure: boom", "depth=x", ["depth=99", "classic"]])


@SETTINGS
@given(seed=st.sampled_from(range(len(SEEDS))), picks=st.lists(st.integers(min_value=0), min_size=1, max_size=4),
       values=st.lists(REPLACEMENTS, min_size=4, max_size=4), key=st.sampled_from(KEYS))
def test_mutated_real_measurements(seed: int, picks: list[int], values: list[Any], key: str) -> None:
    m = copy.deepcopy(SEEDS[seed])
    for n, pick in enumerate(picks):
        paths = _paths(m)  # recomputed: an earlier mutation may have replaced a subtree
        path = paths[pick % len(paths)]
        if not path:
            continue
        parent: Any = m
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = copy.deepcopy(values[n])
        if isinstance(parent, dict):
            parent[key] = copy.deepcopy(values[(n + 1) % 4])
    v = _FP_JUDGE(m)
    assert isinstance(v, Verdict)
    assert v.evidence
