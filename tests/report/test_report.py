"""The report: one self-contained HTML file; checked in a real headless browser (file://, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ayiq_browser import HOSTILE, console_errors, screenshots_dir, wait_for_charts
from typer.testing import CliRunner

from ayiq.cli.main import app
from ayiq.store import open_store
from ayiq.store.queries import VerdictFilter
from ayiq.trends.synth import Truth

runner = CliRunner()


def test_report_is_self_contained_and_escapes(tmp_path: Path, hostile_history: tuple[Path, Truth, str]) -> None:
    path, truth, _ = hostile_history
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["report", "--store", str(path), "--country", "AZ", "--output", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert HOSTILE not in html  # the hostile name only appears escaped
    assert "&lt;img src=x onerror=" in html
    # Nothing is fetched from elsewhere: no external script, style or image.
    for needle in ('src="http', "src='http", 'href="http://', "@import", "cdn."):
        assert needle not in html.replace("https://explorer.ooni.org/m/", "")
    assert 'id="summary-list"' in html and "Method and limits" in html


@pytest.mark.slow
def test_report_renders_in_headless_browser(tmp_path: Path, browser: Any,
                                            hostile_history: tuple[Path, Truth, str]) -> None:
    from ayiq.report.build import build_report

    path, truth, _ = hostile_history
    out = tmp_path / "report.html"
    with open_store(path, read_only=True) as st:
        build_report(st, VerdictFilter(country="AZ"), out)
    browser.get(out.as_uri())
    state = wait_for_charts(browser)
    browser.save_screenshot(str(screenshots_dir() / "report.png"))
    assert state["errors"] == [] and state["rendered"] == state["expected"] >= 3
    assert len(browser.find_elements("css selector", "#chart-grid svg")) == 1
    assert len(browser.find_elements("css selector", ".week svg")) >= 1
    assert browser.execute_script("return window.__pwned") is None
    text = browser.find_element("css selector", "#summary-list").text
    assert '<img src=x onerror="window.__pwned=1">' in text  # shown as text
    assert console_errors(browser) == []
