"""Reading OONI files: every shape seen in the wild, and clear errors for what is not a measurement."""

from __future__ import annotations

import contextlib
import gzip
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ayiq.core.errors import InputError
from ayiq.net.formats.ooni import LegacyYAMLError, envelope_uid, parse_time, read_records

M = {"test_name": "web_connectivity", "measurement_start_time": "2024-01-02 03:04:05", "test_keys": {}, "id": "u1"}


def test_single_json_and_pretty_printed(tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    p.write_text(orjson.dumps(M, option=orjson.OPT_INDENT_2).decode())
    (rec,) = list(read_records(p))
    assert rec.obj == M and rec.error is None and envelope_uid(rec) == "u1"


def test_jsonl_gz_with_a_broken_line_keeps_the_others(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl.gz"
    lines = [orjson.dumps({**M, "id": f"u{i}"}) for i in range(3)]
    lines.insert(1, b'{"test_name": "web_connectivity", "test_keys": {"x"')
    p.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    recs = list(read_records(p))
    assert len(recs) == 4
    assert [r.error is None for r in recs] == [True, False, True, True]
    assert "line 2" in (recs[1].error or "")
    assert envelope_uid(recs[1]).startswith("sha256:")


@pytest.mark.parametrize("as_string", [True, False])
def test_api_raw_measurement_wrapper(tmp_path: Path, as_string: bool) -> None:
    inner = orjson.dumps(M).decode() if as_string else M
    p = tmp_path / "w.json"
    p.write_bytes(orjson.dumps({"measurement_uid": "20240102030405.000000_IT_webconnectivity_abc", "raw_measurement": inner}))
    (rec,) = list(read_records(p))
    assert rec.obj == M
    assert envelope_uid(rec) == "20240102030405.000000_IT_webconnectivity_abc"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n....", "not JSON"),
        (b'{"hello": "world"}', "envelope"),
        (b"[1, 2, 3]", "not an OONI measurement"),
        (b'{"a": 1}\n{"b": 2}\n', "neither"),
    ],
)
def test_not_a_measurement_names_the_file(tmp_path: Path, content: bytes, needle: str) -> None:
    p = tmp_path / "thing.json"
    p.write_bytes(content)
    with pytest.raises(InputError) as err:
        list(read_records(p))
    assert str(p) in str(err.value) and needle in str(err.value)


def test_legacy_yaml_is_refused_clearly(tmp_path: Path) -> None:
    p = tmp_path / "report.yaml"
    p.write_text("---\ntest_name: http_requests\n")
    with pytest.raises(LegacyYAMLError, match="legacy ooniprobe YAML"):
        list(read_records(p))


def test_truncated_gzip_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl.gz"
    p.write_bytes(gzip.compress(orjson.dumps(M) * 50)[:40])
    with pytest.raises(InputError):
        list(read_records(p))


def test_byte_range_reads_only_its_lines(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    lines = [orjson.dumps({**M, "id": f"u{i}"}) + b"\n" for i in range(4)]
    p.write_bytes(b"".join(lines))
    cut = len(lines[0]) + len(lines[1])
    assert [r.obj["id"] for r in read_records(p, 0, cut) if r.obj] == ["u0", "u1"]
    assert [r.obj["id"] for r in read_records(p, cut, None) if r.obj] == ["u2", "u3"]


def test_parse_time_variants() -> None:
    assert parse_time("2024-01-02 03:04:05").isoformat() == "2024-01-02T03:04:05+00:00"  # type: ignore[union-attr]
    assert parse_time("2024-01-02T03:04:05Z").isoformat() == "2024-01-02T03:04:05+00:00"  # type: ignore[union-attr]
    assert parse_time("2024-01-02T05:04:05+02:00").isoformat() == "2024-01-02T03:04:05+00:00"  # type: ignore[union-attr]
    assert parse_time(None) is None and parse_time("yesterday") is None and parse_time(5) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_reader_raises_only_input_errors(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    p = tmp_path_factory.mktemp("fz") / "f.jsonl"
    p.write_bytes(data)
    try:
        for rec in read_records(p):
            envelope_uid(rec)
    except InputError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=20))
def test_fuzz_wrapped_json_values(tmp_path_factory: pytest.TempPathFactory, value: object) -> None:
    p = tmp_path_factory.mktemp("fz") / "f.json"
    p.write_bytes(orjson.dumps({"test_name": "x", "raw_measurement": value}))
    with contextlib.suppress(InputError):
        list(read_records(p))


def test_gzip_bomb_and_overlong_lines_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ayiq.net.formats import ooni

    monkeypatch.setattr(ooni, "MAX_DOC_BYTES", 64 * 1024)
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b"[" + b" " * (10 * 2**20) + b"]"))
    with pytest.raises(InputError, match="larger than"):
        list(read_records(bomb))
    lines = tmp_path / "long.jsonl.gz"
    lines.write_bytes(gzip.compress(orjson.dumps(M) + b"\n" + b'{"x": "' + b"a" * 200_000 + b'"}\n' + orjson.dumps(M)))
    recs = list(read_records(lines))
    assert [r.error is None for r in recs] == [True, False, True]
    assert "longer than" in (recs[1].error or "")
