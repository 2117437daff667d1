"""Shared by the report and dashboard tests: a small history whose most-watched target has a hostile name and
evidence, and a real headless browser (Debian chromium + chromium-driver)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ayiq.store import open_store
from ayiq.trends.synth import HistorySpec, Truth, generate_history

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>&amp;'
HOSTILE_EVIDENCE = "<script>window.__pwned=3</script><b>bold?</b>"


@pytest.fixture(scope="session")
def hostile_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth, str]:
    spec = HistorySpec(seed=5, targets=6, days=35, networks=(("AZ", "AS29049"), ("AZ", "AS28787")))
    m, v, truth = generate_history(spec)
    victim = truth.changes[0].target
    hit = pc.equal(m.column("input"), victim)
    m = m.set_column(m.schema.get_field_index("input"), "input", pc.if_else(hit, HOSTILE, m.column("input")))
    ev = pa.array([[HOSTILE_EVIDENCE]] * m.num_rows, pa.list_(pa.string()))
    v = v.set_column(v.schema.get_field_index("evidence"), "evidence", pc.if_else(hit, ev, v.column("evidence")))
    path = tmp_path_factory.mktemp("hostile") / "h.duckdb"
    with open_store(path) as st:
        st.append(m, v, "hostile", "test")
    return path, truth, victim


def screenshots_dir() -> Path:
    """Where browser tests save their screenshots (kept after the run)."""
    root = Path(os.environ.get("AYIQ_SCREENSHOTS", Path(__file__).resolve().parents[2] / "build" / "screenshots"))
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Any]:
    """Debian's chromium through chromium-driver: headless, no background traffic, a fresh profile."""
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("chromium and chromium-driver are not installed (make system-deps installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def wait_for_charts(drv: Any, timeout: float = 30) -> dict[str, Any]:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(drv, timeout).until(
        lambda d: d.execute_script(
            "return window.ayiqCharts && (window.ayiqCharts.rendered + window.ayiqCharts.errors.length)"
            " >= window.ayiqCharts.expected"))
    state: dict[str, Any] = drv.execute_script("return window.ayiqCharts")
    return state


def console_errors(drv: Any) -> list[str]:
    return [e["message"] for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
