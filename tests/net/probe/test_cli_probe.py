"""`ayiq net probe` end to end on loopback: CSV lists, JSONL output, store ingest, Ctrl-C keeps results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import orjson
import pytest
import typer
from scenario import TOKEN, Lab, lab
from typer.testing import CliRunner

from ayiq.cli.net_probe import probe
from ayiq.core.errors import AyiqError
from ayiq.net.probe.loopback import LOOPBACK, LoopThread, silent_handler

app = typer.Typer()
app.command()(probe)


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[tuple[Lab, LoopThread]]:
    with LoopThread() as lt:
        stack = AsyncExitStack()
        lb = lt.run(stack.enter_async_context(lab(tmp_path / "lab", ["ok.test", "also.test", "slow.test"])))
        slow_port = lt.run(lb.add_server(silent_handler))
        lb.probe_zone.a["slow.test"] = [LOOPBACK]
        lb.slow_port = slow_port  # type: ignore[attr-defined]
        try:
            yield lb, lt
        finally:
            lt.run(stack.aclose())


def _args(lb: Lab, out: Path) -> list[str]:
    return ["--control", lb.control_url, "--resolver", f"{LOOPBACK}:{lb.probe_dns}", "--no-system-resolver",
            "--ca-file", lb.certs.ca_file, "--output", str(out), "--timeout", "1", "--probe-asn", "AS64500",
            "--probe-cc", "zz"]


def test_probe_cli_csv_list_jsonl_and_no_store(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lb, _lt = env
    csv = tmp_path / "zz.csv"
    csv.write_text("url,category_code,category_description,date_added,source,notes\n"
                   f"https://ok.test:{lb.port}/,NEWS,News Media,2017-04-12,,\n"
                   f"https://also.test:{lb.port}/,HUMR,Human Rights Issues,2017-04-12,,\n", encoding="utf-8")
    out = tmp_path / "m.jsonl"
    res = CliRunner().invoke(app, [*_args(lb, out), "--list", str(csv), "--tests", "web,sni", "--no-store",
                                   f"https://ok.test:{lb.port}/"], env={"AYIQ_CONTROL_TOKEN": TOKEN})
    assert res.exit_code == 0, res.output
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert sorted((m["test_name"], m["input"]) for m in lines) == sorted(
        (t, f"https://{h}.test:{lb.port}/") for t in ("web_connectivity", "sni_blocking") for h in ("ok", "also"))
    web = [m for m in lines if m["test_name"] == "web_connectivity"]
    assert all(m["test_keys"]["blocking"] is False and m["probe_cc"] == "ZZ" for m in web)
    assert len({m["report_id"] for m in web}) == 1  # one report per test and run, as OONI
    assert "wrote 4 of 4 measurements" in res.output


def test_probe_cli_ingests_into_the_store(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lb, _lt = env
    out, store = tmp_path / "m.jsonl", tmp_path / "store.duckdb"
    res = CliRunner().invoke(app, [*_args(lb, out), "--store", str(store), f"https://ok.test:{lb.port}/"],
                             env={"AYIQ_CONTROL_TOKEN": TOKEN})
    assert res.exit_code == 0, res.output
    assert "stored 1 new measurements" in res.output
    from ayiq.store import open_store

    with open_store(store, read_only=True) as st:
        n = st.con.execute("SELECT count(*) FROM v_verdicts WHERE input = ?", [f"https://ok.test:{lb.port}/"]).fetchone()
    assert n is not None and n[0] == 1


def test_probe_cli_refuses_bad_input(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lb, _lt = env
    runner = CliRunner()
    for extra, message in ((["--tests", "bogus"], "unknown test"),
                           (["--tests", "voice"], "needs --voice-relay"),
                           (["--tests", "throttle"], "needs --throttle-server"),
                           (["--list", str(tmp_path / "missing.csv")], "cannot read the test list")):
        res = runner.invoke(app, [*_args(lb, tmp_path / "x.jsonl"), *extra, "https://ok.test/"],
                            env={"AYIQ_CONTROL_TOKEN": TOKEN})
        assert isinstance(res.exception, AyiqError) and message in str(res.exception)
    notcsv = tmp_path / "list.csv"
    notcsv.write_text("hello,world\n1,2\n")
    res = runner.invoke(app, [*_args(lb, tmp_path / "x.jsonl"), "--list", str(notcsv)], env={"AYIQ_CONTROL_TOKEN": TOKEN})
    assert isinstance(res.exception, AyiqError) and "no 'url' column" in str(res.exception)
    res = runner.invoke(app, [*_args(lb, tmp_path / "x.jsonl"), "https://ok.test/"], env={"AYIQ_CONTROL_TOKEN": ""})
    assert isinstance(res.exception, AyiqError) and "needs a token" in str(res.exception)


def test_probe_cli_ctrl_c_keeps_what_was_measured(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lb, _lt = env
    out = tmp_path / "m.jsonl"
    fast = [f"https://ok.test:{lb.port}/?n={i}" for i in range(3)]
    slow = [f"https://slow.test:{lb.slow_port}/?n={i}" for i in range(3)]
    args = [*_args(lb, out), "--timeout", "30", "--no-store", *fast, *slow]
    code = "import typer; from ayiq.cli.net_probe import probe; typer.run(probe)"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "AYIQ_CONTROL_TOKEN": TOKEN})
    deadline = time.monotonic() + 60  # generous: CI machines can be loaded
    while time.monotonic() < deadline and (not out.exists() or len(out.read_bytes().splitlines()) < 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    try:
        _stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _stdout, stderr = proc.communicate()
        raise AssertionError(f"the probe did not stop within 60 s of Ctrl-C: {stderr.decode()[-2000:]}") from None
    assert proc.returncode == 130, stderr.decode()
    kept = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert sorted(m["input"] for m in kept) == sorted(fast)
    assert b"interrupted: wrote 3 of 6" in stderr


def test_probe_cli_voice_throttle_and_messaging(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Voice against a relay and a UDP blackhole; throttle against an HTTPS control serving bytes."""
    lb, lt = env

    async def start():  # type: ignore[no-untyped-def]
        from ayiq.net.control.measure import ControlConfig
        from ayiq.net.control.relay import start_relay
        from ayiq.net.control.server import ControlServer
        from ayiq.net.probe.loopback import start_udp_dropper
        from ayiq.net.probe.udp import relay_tag

        srv = ControlServer(TOKEN, ControlConfig(allow_private=True))
        tls_port = await srv.start(LOOPBACK, 0, lb.certs.server_context())
        tr, _relay, uport = await start_relay(LOOPBACK, 0, relay_tag(TOKEN))
        hole, hole_port = await start_udp_dropper((LOOPBACK, uport), lambda d, n: True)
        return srv, tr, hole, tls_port, uport, hole_port

    srv, tr, hole, tls_port, uport, hole_port = lt.run(start())
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text(f"telegram_datacenters: [127.0.0.77]\ntelegram_ports: [{lb.http_port}]\n"
                         f"telegram_web: https://ok.test:{lb.port}/\n"
                         f"signal_urls: ['https://also.test:{lb.port}/']\nsignal_ca_file: {lb.certs.ca_file}\n")
    try:
        out = tmp_path / "m.jsonl"
        res = CliRunner().invoke(app, [
            *_args(lb, out), "--no-store", f"https://ok.test:{lb.port}/",
            "--voice-relay", f"domestic={LOOPBACK}:{uport}", "--voice-relay", f"international={LOOPBACK}:{hole_port}",
            "--voice-signalling", f"{LOOPBACK}:{lb.port},ok.test", "--throttle-server", f"{LOOPBACK}:{tls_port}",
            "--throttle-mb", "5", "--throttle-seconds", "1", "--tests", "voice,throttle,messaging",
            "--messaging-apps", "telegram,signal", "--messaging-endpoints", str(endpoints)],
            env={"AYIQ_CONTROL_TOKEN": TOKEN})
    finally:
        async def stop() -> None:
            hole.close()
            tr.close()
            await srv.close()

        lt.run(stop())
    assert res.exit_code == 0, res.output
    ms = {m["test_name"]: m for m in map(orjson.loads, out.read_bytes().splitlines())}
    assert set(ms) == {"ayiq_voice", "ayiq_throttle", "telegram", "signal"}
    assert ms["telegram"]["test_keys"]["telegram_tcp_blocking"] is True
    assert ms["telegram"]["test_keys"]["telegram_web_status"] == "ok"
    assert ms["signal"]["test_keys"]["signal_backend_status"] == "ok"
    v = ms["ayiq_voice"]["test_keys"]
    assert v["result"] == "international_voice_blocked" and v["signalling_ok"] is True
    assert v["summary"] == "text works, international voice calls blocked, domestic calls work"
    t = ms["ayiq_throttle"]["test_keys"]
    assert t["target"]["sni"] == "ok.test" and t["control"]["sni"] == "example.org"
    assert t["target"]["status_code"] == 200 and t["target"]["bytes"] > 0 and t["throttled"] is not True


def test_help_pages_render() -> None:
    res = CliRunner().invoke(app, ["--help"])
    assert res.exit_code == 0 and "--voice-relay" in res.output and "--throttle-server" in res.output
