"""progress_record: Spark's per-batch progress report -> one row of the progress table."""

import json
from datetime import UTC, datetime

from spark_jobs.progress import ProgressListener, describe, progress_record
from spark_jobs.transformations import REJECTED_METRIC

PROGRESS = {
    "id": "6f1c", "runId": "9a2b", "name": "trade_windows", "timestamp": "2024-01-01T00:01:02.345Z",
    "batchId": 7, "batchDuration": 1234, "numInputRows": 500,
    "inputRowsPerSecond": 250.0, "processedRowsPerSecond": 405.2,
    "durationMs": {"triggerExecution": 1234},
    "eventTime": {"max": "2024-01-01T00:01:00.000Z", "watermark": "2024-01-01T00:00:50.000Z"},
    "stateOperators": [
        {"operatorName": "dedupeWithinWatermark", "numRowsTotal": 40,
         "numRowsDroppedByWatermark": 3},
        {"operatorName": "stateStoreSave", "numRowsTotal": 6, "numRowsDroppedByWatermark": 1},
    ],
    "sources": [], "sink": {},
}


def test_a_batch_becomes_one_row():
    record = progress_record(PROGRESS)
    assert {name: value for name, value in record.items() if name != "progress_json"} == {
        "query_id": "6f1c", "run_id": "9a2b", "query_name": "trade_windows", "batch_id": 7,
        "timestamp": datetime(2024, 1, 1, 0, 1, 2, 345000, tzinfo=UTC),
        "input_rows": 500, "input_rows_per_second": 250.0, "processed_rows_per_second": 405.2,
        "batch_duration_ms": 1234,
        "watermark": datetime(2024, 1, 1, 0, 0, 50, tzinfo=UTC),
        "late_rows_dropped": 4, "state_rows": 46, "rejected": 0,
    }
    assert json.loads(record["progress_json"]) == PROGRESS


def test_rejected_records_are_counted_and_kept_out_of_the_stored_report():
    rows = json.dumps([{"reason": "bad JSON", "raw_value": "e25vdA==", "offset": 3}])
    observed = {REJECTED_METRIC: {"rows": rows, "count": 1}, "other": {"x": 1}}
    record = progress_record({**PROGRESS, "observedMetrics": observed})
    assert record["rejected"] == 1
    assert "1 rejected" in describe(record)
    stored = json.loads(record["progress_json"])
    assert stored["observedMetrics"] == {REJECTED_METRIC: {"count": 1}, "other": {"x": 1}}
    assert stored["batchId"] == 7


def test_first_batch_without_watermark_or_rates():
    first = {**PROGRESS, "eventTime": {"watermark": "1970-01-01T00:00:00.000Z"},
             "inputRowsPerSecond": float("nan"), "processedRowsPerSecond": None,
             "stateOperators": [], "batchDuration": None, "name": None}
    record = progress_record(first)
    assert record["watermark"] is None
    assert record["input_rows_per_second"] == record["processed_rows_per_second"] == 0.0
    assert record["late_rows_dropped"] == 0
    assert record["batch_duration_ms"] == 1234  # from durationMs.triggerExecution
    assert "batch 7: 500 rows in" in describe(record)


def test_a_failing_write_is_logged_not_raised(caplog):
    def broken(record):
        raise ConnectionError("ClickHouse is down")

    ProgressListener(broken).record(PROGRESS)
    assert "could not write progress of batch 7" in caplog.text
