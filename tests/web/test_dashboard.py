"""The dashboard: JSON API with OpenAPI, read-only, escaped; checked in a real headless browser on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from ayiq_browser import HOSTILE, HOSTILE_EVIDENCE, console_errors, screenshots_dir, wait_for_charts


def test_api_and_openapi(server: str, hostile_history: tuple[Path, Any, str]) -> None:
    with httpx.Client(base_url=server, timeout=60) as c:
        spec = c.get("/openapi.json").json()
        assert {"/api/changes", "/api/schedules", "/api/measurements/{uid}"} <= set(spec["paths"])
        assert c.get("/docs").status_code == 200
        rows = c.get("/api/changes", params={"asn": "AS28787"}).json()
        assert rows and all(r["schema"] == "ayiq.trends.change" and r["probe_asn"] == "AS28787" for r in rows)
        uid = rows[0]["evidence"][0]["measurement_uid"]
        m = c.get(f"/api/measurements/{uid}").json()
        assert m["schema"] == "ayiq.verdict" and m["measurement_uid"] == uid
        assert c.get("/api/measurements/nope").status_code == 404
        assert c.get("/api/changes", params={"since": "soon"}).status_code == 400
        assert c.post("/api/changes").status_code == 405  # read-only
        sched = c.get("/api/schedules", params={"all": "true"}).json()
        assert sched and all(r["schema"] == "ayiq.trends.schedule" for r in sched)
        resp = c.get("/")
        assert "default-src 'none'" in resp.headers["content-security-policy"]
        page = resp.text
        assert HOSTILE not in page and "&lt;img src=x onerror=" in page
        hostile_uid = next(r for r in c.get("/api/changes").json() if r["target"] == HOSTILE)["evidence"][0]
        mpage = c.get(f"/m/{hostile_uid['measurement_uid']}").text
        assert HOSTILE_EVIDENCE not in mpage and "&lt;script&gt;window.__pwned=3" in mpage


@pytest.mark.slow
def test_dashboard_in_headless_browser(server: str, browser: Any) -> None:
    browser.get(server + "/")
    state = wait_for_charts(browser, timeout=60)
    browser.save_screenshot(str(screenshots_dir() / "dashboard.png"))
    assert state["errors"] == [] and state["rendered"] == state["expected"] >= 2
    assert browser.find_elements("css selector", "#chart-grid svg")
    all_rows = browser.find_elements("css selector", "#changes-table tr.change")
    networks = {r.find_elements("css selector", "td")[1].text for r in all_rows}
    assert networks == {"AS29049", "AS28787"}
    assert browser.execute_script("return window.__pwned") is None
    # The filters change what is shown.
    box = browser.find_element("id", "f-asn")
    box.clear()
    box.send_keys("AS28787")
    browser.find_element("id", "apply").click()
    state = wait_for_charts(browser, timeout=60)
    browser.save_screenshot(str(screenshots_dir() / "dashboard-filtered.png"))
    assert "asn=AS28787" in browser.current_url
    rows = browser.find_elements("css selector", "#changes-table tr.change")
    assert 0 < len(rows) < len(all_rows)
    assert {r.find_elements("css selector", "td")[1].text for r in rows} == {"AS28787"}
    # A measurement whose fields hold HTML and script is shown as text.
    browser.get(server + "/")
    wait_for_charts(browser, timeout=60)
    link = next(r for r in browser.find_elements("css selector", "#changes-table tr.change")
                if r.find_elements("css selector", "td")[0].text.startswith("<img"))
    link.find_element("css selector", "a").click()
    assert browser.find_element("css selector", ".field-input").text == HOSTILE
    assert browser.find_element("css selector", "#evidence li").text == HOSTILE_EVIDENCE
    browser.save_screenshot(str(screenshots_dir() / "measurement.png"))
    assert browser.execute_script("return window.__pwned") is None
    assert console_errors(browser) == []
