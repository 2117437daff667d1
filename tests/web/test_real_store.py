"""The dashboard over real OONI measurements: the measurement page shows the stored record, as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ayiq.net.ingest import ingest
from ayiq.store import open_store
from ayiq.web.app import create_app


@pytest.mark.shared_data
def test_measurement_page_over_real_data(shared_data: Path, tmp_path: Path) -> None:
    store = tmp_path / "real.duckdb"
    ingest([shared_data / "ooni" / "real" / "spec_examples"], store=store, executor="serial")
    with open_store(store, read_only=True) as st:
        uid = st.con.execute("SELECT measurement_uid FROM v_verdicts WHERE test_name = 'web_connectivity' "
                             "LIMIT 1").fetchone()[0]  # type: ignore[index]
    client = TestClient(create_app(store))
    page = client.get(f"/m/{uid}")
    assert page.status_code == 200
    assert 'id="raw"' in page.text and "&#34;test_keys&#34;" in page.text
    assert client.get("/").status_code == 200
    assert isinstance(client.get("/api/changes").json(), list)
    assert client.get("/", params={"until": "not-a-day"}).status_code == 400
