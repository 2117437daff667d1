"""The store's tables, defined once as Arrow schemas; DuckDB DDL and Parquet files are derived from them.

docs/formats/store.md documents every column. Bump SCHEMA_VERSION when a column changes meaning.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1

MEASUREMENTS = pa.schema(
    [
        pa.field("measurement_uid", pa.string(), nullable=False),
        pa.field("report_id", pa.string()),
        pa.field("test_name", pa.string()),
        pa.field("test_version", pa.string()),
        pa.field("software_name", pa.string()),
        pa.field("software_version", pa.string()),
        pa.field("probe_cc", pa.string()),
        pa.field("probe_asn", pa.string()),
        pa.field("input", pa.string()),
        pa.field("measurement_start_time", pa.timestamp("us", tz="UTC")),
        pa.field("month", pa.string()),
        pa.field("source", pa.string()),
        pa.field("content_sha256", pa.string()),
        pa.field("parse_error", pa.string()),
        pa.field("raw_segment", pa.string()),
        pa.field("raw_offset", pa.int64()),
        pa.field("raw_length", pa.int64()),
        pa.field("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)

VERDICTS = pa.schema(
    [
        pa.field("measurement_uid", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("method", pa.string()),
        pa.field("confidence", pa.float64()),
        pa.field("evidence", pa.list_(pa.string())),
        pa.field("blockpage_fingerprint", pa.string()),
        pa.field("anomaly", pa.bool_()),
        pa.field("confirmed", pa.bool_()),
        pa.field("failure", pa.bool_()),
        pa.field("judge", pa.string()),
        pa.field("judge_version", pa.string()),
        pa.field("month", pa.string()),
        pa.field("judged_at", pa.timestamp("us", tz="UTC")),
    ]
)

# The joined view every query reads: verdict fields plus the measurement's envelope.
VERDICT_VIEW_COLUMNS = (
    "measurement_uid",
    "input",
    "probe_cc",
    "probe_asn",
    "test_name",
    "test_version",
    "measurement_start_time",
    "status",
    "method",
    "confidence",
    "evidence",
    "blockpage_fingerprint",
    "anomaly",
    "confirmed",
    "failure",
    "judge",
    "judge_version",
    "report_id",
    "source",
)

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.binary(): "BLOB",
    pa.float64(): "DOUBLE",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
    pa.list_(pa.string()): "VARCHAR[]",
}


def duckdb_ddl(table: str, schema: pa.Schema, primary_key: str | None = None) -> str:
    cols = []
    for f in schema:
        col = f"{f.name} {_DUCK_TYPES[f.type]}"
        if f.name == primary_key:
            col += " PRIMARY KEY"
        elif not f.nullable:
            col += " NOT NULL"
        cols.append(col)
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})"


def verdict_view_sql(measurements: str, verdicts: str) -> str:
    m_cols = {"input", "probe_cc", "probe_asn", "test_name", "test_version", "measurement_start_time",
              "report_id", "source"}
    select = ", ".join(
        f"m.{c}" if c in m_cols else f"v.{c}" for c in VERDICT_VIEW_COLUMNS
    )
    return f"SELECT {select} FROM {verdicts} v JOIN {measurements} m USING (measurement_uid)"
