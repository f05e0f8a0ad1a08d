"""Per-batch progress of the streaming queries: logged, and written to the progress table.

Late data: trades older than the watermark are dropped by Spark's stateful operators (the
dedupe, which comes first, drops them) and counted in the progress report as
stateOperators[].numRowsDroppedByWatermark. late_rows_dropped is the sum over the query's
operators, per batch. This is Spark's own count of exactly the rows it discarded, without a
second pass over the data. (Spark 3.4+ filters late rows against the previous batch's
watermark, so a row becomes "late" one batch after the watermark passes it.)
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime

import pyarrow as pa
from pyspark.sql.streaming import StreamingQueryListener

from spark_jobs.clickhouse_sink import ClickHouseWriter
from spark_jobs.transformations import REJECTED_METRIC

log = logging.getLogger("spark_jobs.progress")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

PROGRESS_SCHEMA = pa.schema([
    ("query_id", pa.string()),
    ("run_id", pa.string()),
    ("query_name", pa.string()),
    ("batch_id", pa.uint64()),
    ("timestamp", pa.timestamp("ms", tz="UTC")),
    ("input_rows", pa.uint64()),
    ("input_rows_per_second", pa.float64()),
    ("processed_rows_per_second", pa.float64()),
    ("batch_duration_ms", pa.uint64()),
    ("watermark", pa.timestamp("ms", tz="UTC")),
    ("late_rows_dropped", pa.uint64()),
    ("state_rows", pa.uint64()),
    ("progress_json", pa.string()),
])


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _rate(value) -> float:
    rate = float(value or 0.0)
    return 0.0 if math.isnan(rate) or math.isinf(rate) else rate


def progress_record(progress: dict) -> dict:
    """Spark's progress report (StreamingQueryProgress.json, parsed) -> one progress-table row."""
    operators = progress.get("stateOperators") or []
    watermark = _instant((progress.get("eventTime") or {}).get("watermark"))
    duration = progress.get("batchDuration")
    if duration is None:
        duration = (progress.get("durationMs") or {}).get("triggerExecution", 0)
    return {
        "query_id": progress["id"],
        "run_id": progress["runId"],
        "query_name": progress.get("name") or "",
        "batch_id": int(progress["batchId"]),
        "timestamp": _instant(progress["timestamp"]),
        "input_rows": int(progress.get("numInputRows") or 0),
        "input_rows_per_second": _rate(progress.get("inputRowsPerSecond")),
        "processed_rows_per_second": _rate(progress.get("processedRowsPerSecond")),
        "batch_duration_ms": int(duration),
        # Spark reports the epoch until the first watermark exists: that is "no watermark".
        "watermark": None if watermark == _EPOCH else watermark,
        "late_rows_dropped": sum(int(op.get("numRowsDroppedByWatermark", 0)) for op in operators),
        "state_rows": sum(int(op.get("numRowsTotal", 0)) for op in operators),
        "rejected": int(((progress.get("observedMetrics") or {}).get(REJECTED_METRIC) or {})
                        .get("count", 0)),
        "progress_json": json.dumps(_without_rejected_rows(progress), separators=(",", ":")),
    }


def _without_rejected_rows(progress: dict) -> dict:
    """The report without the rejected records themselves (they are in the rejected table):
    Spark includes every observed metric, and REJECTED_METRIC carries the records' bytes."""
    observed = progress.get("observedMetrics") or {}
    metric = observed.get(REJECTED_METRIC)
    if not isinstance(metric, dict) or "rows" not in metric:
        return progress
    slim = {name: value for name, value in metric.items() if name != "rows"}
    return {**progress, "observedMetrics": {**observed, REJECTED_METRIC: slim}}


def describe(record: dict) -> str:
    watermark = record["watermark"].isoformat() if record["watermark"] else "none"
    return (
        f"{record['query_name'] or record['query_id']} batch {record['batch_id']}: "
        f"{record['input_rows']} rows in, {record['processed_rows_per_second']:.0f} rows/s, "
        f"{record['batch_duration_ms']} ms, watermark {watermark}, "
        f"{record['late_rows_dropped']} late rows dropped, {record['rejected']} rejected"
    )


class ProgressTableWriter:
    """Writes progress rows; one token per (query run, batch) so a retried insert lands once."""

    def __init__(self, writer: ClickHouseWriter, table: str):
        self.writer = writer
        self.table = table

    def __call__(self, record: dict) -> None:
        rows = pa.Table.from_pylist([record], schema=PROGRESS_SCHEMA)
        token = f"progress:{record['run_id']}:{record['batch_id']}"
        self.writer.insert(self.table, rows, token)


class ProgressListener(StreamingQueryListener):
    """Logs every batch and hands its record to `write`.

    A failing write is logged, not raised: progress is telemetry, and the listener runs on
    Spark's event bus, which must not stall on it (give `write` a short retry budget).
    """

    def __init__(self, write: Callable[[dict], None]):
        self.write = write

    def onQueryStarted(self, event) -> None:
        log.info("query %s started (id %s, run %s)", event.name, event.id, event.runId)

    def onQueryProgress(self, event) -> None:
        self.record(json.loads(event.progress.json))

    def record(self, progress: dict) -> None:
        record = progress_record(progress)
        log.info("%s", describe(record))
        try:
            self.write(record)
        except Exception:
            log.exception("could not write progress of batch %d", record["batch_id"])

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        if event.exception:
            log.error("query %s failed: %s", event.id, event.exception)
        else:
            log.info("query %s stopped", event.id)
