"""STIX 2 loading and matching: real indicator files, tricky patterns, and linear scaling."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ayiq.core.errors import InputError
from ayiq.phone.iocs.index import IocIndex, is_shortener
from ayiq.phone.iocs.loader import load_stix_file, parse_bundle
from ayiq.phone.iocs.stix2 import PatternError, parse_pattern
from ayiq.phone.iocs.synth import synthetic_bundle, synthetic_observations


def _bundle(*patterns: str, family: str = "Fam") -> dict:
    objs: list[dict] = [{"type": "malware", "id": "malware--1", "name": family}]
    for n, p in enumerate(patterns):
        objs.append({"type": "indicator", "id": f"indicator--{n}", "pattern": p, "pattern_type": "stix"})
    return {"type": "bundle", "objects": objs}


def _index(*patterns: str) -> IocIndex:
    return IocIndex(files=[parse_bundle(_bundle(*patterns), "mem.stix2")])


def test_patterns_with_equals_and_quotes() -> None:
    assert parse_pattern("[url:value='http://x.example/?a=1&b=2']")[0].value == "http://x.example/?a=1&b=2"
    assert parse_pattern(r"[url:value = 'http://x.example/it\'s']")[0].value == "http://x.example/it's"
    c = parse_pattern("[file:hashes.'SHA-256'='AB']")[0]
    assert (c.path, c.value) == ("file:hashes.sha256", "AB")
    two = parse_pattern("[domain-name:value='a.example' OR domain-name:value='b=c.example']")
    assert [x.value for x in two] == ["a.example", "b=c.example"]
    with pytest.raises(PatternError):
        parse_pattern("[domain-name:value LIKE 'a%']")
    with pytest.raises(PatternError):
        parse_pattern("[domain-name:value='unterminated]")


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_pattern_values_round_trip(value: str) -> None:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    assert parse_pattern(f"[url:value='{escaped}']")[0].value == value


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_pattern_parser_never_crashes(text: str) -> None:
    try:
        parse_pattern(text)
    except PatternError:
        pass


def test_all_shared_indicator_files_load(shared_data: Path) -> None:
    idx = IocIndex.from_paths([shared_data / "iocs"])
    assert len(idx.files) == 17
    assert all(not f.skipped for f in idx.files)
    by_name = {Path(f.path).name: f for f in idx.files}
    assert len(by_name["pegasus.stix2"].indicators) == 1549
    assert by_name["pegasus.stix2"].families == {"Pegasus": 1549}
    assert len(by_name["stalkerware.2023-05-31.stix2"].families) > 100
    assert by_name["coruna.stix2"].kinds["file_hash"] == 20
    # MVT counts 10,590 unique indicators with its per-collection de-duplication; ours de-duplicates
    # per family across files (cytrox and predator are both "Predator")
    assert 10_000 < len(idx) < 10_600
    assert idx.match_process("roleaccountd")[0].indicator.family == "Pegasus"


def test_mvt_indicator_test_expectations(shared_data: Path) -> None:
    cytrox = load_stix_file(shared_data / "mvt-artifacts/stix2/cytrox.stix2")
    assert len(cytrox.indicators) == 343
    assert (cytrox.kinds["domain"], cytrox.kinds["file_path"], cytrox.kinds["profile_id"]) == (336, 6, 1)
    otx = load_stix_file(shared_data / "mvt-artifacts/stix2/638cd3ee5e5f019f84f9e0ea.json")
    assert len(otx.indicators) == 69
    assert (otx.kinds["domain"], otx.kinds["url"]) == (15, 54)
    assert set(otx.families) == {next(o["name"] for o in orjson.loads(
        (shared_data / "mvt-artifacts/stix2/638cd3ee5e5f019f84f9e0ea.json").read_bytes())["objects"]
        if o["type"] == "report")}


def test_domain_matching_parents_ports_and_urls() -> None:
    idx = _index("[domain-name:value='sub.bad.example']", "[ipv4-addr:value='198.51.100.1']")
    assert idx.match_domain("sub.bad.example")[0].how == "exact"
    assert idx.match_domain("a.sub.bad.example")[0].how == "subdomain of sub.bad.example"
    assert idx.match_domain("A.Sub.Bad.Example.")
    assert idx.match_domain("sub.bad.example:8443")
    assert idx.match_domain("https://user@x.sub.bad.example:443/p?q=1")
    assert not idx.match_domain("bad.example")
    assert not idx.match_domain("notsub.bad.example")
    assert not idx.match_domain("sub.bad.example.evil.example")
    assert idx.match_url("http://198.51.100.1/x")
    assert not idx.match_domain("")


def test_url_matching() -> None:
    idx = _index("[url:value='http://example.com/thisisbad']")
    assert idx.match_url("http://example.com/thisisbad")[0].how == "exact"
    assert idx.match_url("HTTP://EXAMPLE.COM/thisisbad/more?x=1")
    assert not idx.match_url("http://example.com/thisisgood")
    assert not idx.match_url("http://example.com/")
    assert is_shortener("https://bit.ly/3abc") and not is_shortener("https://bitly.example/")


def test_process_truncation_emails_paths_hashes_apps_profiles() -> None:
    idx = _index(
        "[process:name='com.apple.averylongprocessname']", "[process:name='bh']",
        "[email-addr:value='Foo@Example.org']", "[file:path='/private/var/db/com.apple.xpc.roleaccountd.staging']",
        "[file:name='evil.plist']", "[app:id='com.bad.app']", "[file:hashes.sha256='AA11']",
        "[app:cert.sha1='F9:18']", "[configuration-profile:id='76dab334-7e17']", "[android-property:name='sys.x']",
    )
    assert idx.match_process("com.apple.avery")[0].how == "name truncated to 15 characters"
    assert idx.match_process("com.apple.averyl")
    assert not idx.match_process("com.apple.aver")
    assert idx.match_process("/usr/libexec/bh")
    assert idx.match_email("foo@example.org")
    assert idx.match_file_path("/var/db/com.apple.xpc.roleaccountd.staging/x/y")[0].how.startswith("inside")
    assert idx.match_file_path("/tmp/evil.plist")[0].how == "file name"
    assert idx.match_app_id("com.bad.app") and not idx.match_app_id("com.bad")
    assert idx.match_hash("aa11") and idx.match_cert("f918")
    assert idx.match_profile_id("76DAB334-7E17") and idx.match_android_property("sys.x")


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.stix2"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.stix2"):
        load_stix_file(bad)
    bad.write_text('{"objects": 3}')
    with pytest.raises(InputError, match="not a STIX 2 bundle"):
        load_stix_file(bad)
    odd = parse_bundle(_bundle("[domain-name:value LIKE 'x']", "[x509-certificate:hashes.md5='a']"), "m")
    assert len(odd.skipped) == 2 and not odd.indicators


def _load_and_match(tmp_path: Path, n: int) -> tuple[float, float, int]:
    f = tmp_path / f"synth{n}.stix2"
    f.write_bytes(orjson.dumps(synthetic_bundle(n)))
    obs = synthetic_observations(n)
    t0 = time.perf_counter()
    idx = IocIndex.from_paths([f])
    t1 = time.perf_counter()
    hits = sum(1 for o in obs if idx.match_url(o))
    t2 = time.perf_counter()
    assert len(idx) == n
    return t1 - t0, t2 - t1, hits


def test_scale_is_linear(tmp_path: Path) -> None:
    load10, match10, hits10 = _load_and_match(tmp_path, 10_000)
    load100, match100, hits100 = _load_and_match(tmp_path, 100_000)
    print(f"\nload 10k {load10:.3f}s 100k {load100:.3f}s; match 10k {match10:.3f}s 100k {match100:.3f}s")
    assert hits10 == 1_000 and hits100 == 10_000
    assert load100 < 10 and match100 < 10
    # linear: ten times the work must not cost much more than ten times the time (generous for CI noise)
    assert load100 < 25 * max(load10, 0.01)
    assert match100 < 25 * max(match10, 0.01)
