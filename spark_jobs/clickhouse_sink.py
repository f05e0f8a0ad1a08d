"""The foreachBatch writer: each micro-batch's windows and rejected records into ClickHouse,
with an exactly-once effect.

How a batch is written exactly once:
- Every insert carries insert_deduplication_token = "<query identity>:<table>:<batch id>" (the
  identity is a hash of the query's checkpoint location, stable across restarts). ClickHouse
  (tables with non_replicated_deduplication_window) drops an insert whose token it has seen, so
  a batch Spark replays after a crash, or a retried insert whose first attempt did land, adds
  nothing.
- Window rows carry version = batch id; the windows table is ReplacingMergeTree(version), so in
  update mode a window re-emitted by a later batch replaces its earlier version, and the read
  path (<windows table>_final) shows one row per window whatever the merge state.
- Rejected rows carry batch_id; their table is a ReplacingMergeTree keyed by the record's Kafka
  identity, read through <rejected table>_final (one row per rejected record, even if a second
  job with a fresh checkpoint re-reads the topic).

ClickHouse unavailable: a write retries transient errors (network, timeouts, too many parts,
HTTP 5xx) with exponential backoff for up to `retry_seconds` (default 300 s, --clickhouse-retry-
seconds). Past that the batch raises, the streaming query fails and the job exits non-zero
without committing the batch: restarted on the same checkpoint, Spark re-runs that batch and the
tokens make the re-run idempotent. Nothing is lost either way; the retry only spares a restart
for short outages. Non-transient errors (bad SQL, missing table) fail at once.

Rows travel as Arrow (clickhouse-connect insert_arrow): Decimal(38,18) values go as decimal128,
timestamps as UTC microseconds; no float or string round trip.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Callable

import pyarrow as pa
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from spark_jobs.transformations import REJECTED_COLUMNS, REJECTED_METRIC, WINDOW_COLUMNS

log = logging.getLogger("spark_jobs.clickhouse_sink")

# ClickHouse error codes that go away by themselves: timeouts, overload, network, readonly
# replicas, an insert whose outcome is unknown (the token makes retrying it safe).
TRANSIENT_CODES = frozenset({
    159,  # TIMEOUT_EXCEEDED
    164,  # READONLY (e.g. server starting)
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    252,  # TOO_MANY_PARTS
    319,  # UNKNOWN_STATUS_OF_INSERT
    425,  # SYSTEM_ERROR
    999,  # KEEPER_EXCEPTION
    1000,  # POCO_EXCEPTION
})
_HTTP_5XX = re.compile(r"HTTP status 5\d\d")


def is_transient(error: BaseException) -> bool:
    if isinstance(error, OperationalError | ConnectionError | TimeoutError):
        return True
    if isinstance(error, DatabaseError):
        code = getattr(error, "code", None)
        if code is not None:
            return int(code) in TRANSIENT_CODES
        return bool(_HTTP_5XX.search(str(error)))
    return False


def query_identity(checkpoint_location: str) -> str:
    return hashlib.sha256(checkpoint_location.encode()).hexdigest()[:16]


def dedup_token(identity: str, table: str, batch_id: int) -> str:
    return f"{identity}:{table}:{batch_id}"


class ClickHouseWriter:
    """Inserts Arrow tables with a deduplication token, retrying transient failures.

    `connect` opens a client; it is called lazily and again after a failure, so a job can
    start, or keep running, while ClickHouse is down.
    """

    def __init__(self, connect: Callable[[], object], retry_seconds: float,
                 max_wait_seconds: float = 10.0):
        self._connect = connect
        self._client = None
        self._retry_seconds = retry_seconds
        self._max_wait_seconds = max_wait_seconds

    def insert(self, table: str, rows: pa.Table, token: str) -> int:
        if rows.num_rows == 0:
            return 0
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_delay(self._retry_seconds),
            wait=wait_exponential(multiplier=0.5, max=self._max_wait_seconds),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self._insert_once(table, rows, token)
        return rows.num_rows

    def _insert_once(self, table: str, rows: pa.Table, token: str) -> None:
        try:
            if self._client is None:
                self._client = self._connect()
            self._client.insert_arrow(
                table, rows, settings={"insert_deduplication_token": token}
            )
        except Exception:
            self._drop_client()
            raise

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # a broken client may fail to close; it is discarded anyway
                log.debug("closing a failed ClickHouse client", exc_info=True)

    def close(self) -> None:
        self._drop_client()


def window_rows(batch: pa.Table, batch_id: int) -> pa.Table:
    """The windows of one batch as inserted: sorted by key, version = batch id."""
    ordered = batch.select(list(WINDOW_COLUMNS)).sort_by(
        [("exchange", "ascending"), ("product_id", "ascending"), ("window_start", "ascending")]
    )
    return ordered.append_column("version", pa.array([batch_id] * ordered.num_rows, pa.uint64()))


REJECTED_SCHEMA = pa.schema([
    ("received_at", pa.timestamp("us", tz="UTC")),
    ("reason", pa.string()),
    ("raw_value", pa.binary()),
    ("raw_key", pa.binary()),
    ("topic", pa.string()),
    ("partition", pa.int32()),
    ("offset", pa.int64()),
])


def decode_rejected(rows_json: str | None) -> pa.Table:
    """The observed metric's JSON array (transformations.observe_rejected) -> REJECTED_SCHEMA.

    Spark's to_json leaves out null fields (a record without a key has no raw_key).
    """
    records = json.loads(rows_json) if rows_json else []
    for record in records:
        for name in ("raw_value", "raw_key"):
            if record.get(name) is not None:
                record[name] = base64.b64decode(record[name])
    return pa.Table.from_pylist(records, schema=REJECTED_SCHEMA)


def rejected_rows(batch: pa.Table, batch_id: int) -> pa.Table:
    ordered = batch.select(list(REJECTED_COLUMNS)).sort_by(
        [("topic", "ascending"), ("partition", "ascending"), ("offset", "ascending")]
    )
    return ordered.append_column("batch_id", pa.array([batch_id] * ordered.num_rows, pa.uint64()))


class PipelineBatchWriter:
    """The foreachBatch function of the job's one query: the batch's windows into the windows
    table and the records it rejected into the rejected table, each insert with its own token.

    The rejected records come from the observed metric transformations.REJECTED_METRIC of the
    batch being written. `observed(name)` returns that metric's row (rows, count) for the
    current batch once the batch's plan has run, or None; the job passes one reading it from
    the running query (stream_to_clickhouse.RunningBatchMetrics).
    """

    def __init__(self, writer: ClickHouseWriter, windows_table: str, rejected_table: str,
                 checkpoint_location: str, observed: Callable[[str], tuple | None]):
        self.writer = writer
        self.windows_table = windows_table
        self.rejected_table = rejected_table
        self.identity = query_identity(checkpoint_location)
        self.observed = observed

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        # Running the plan (toArrow) is what fills the observed metric: read it after.
        windows = df.select(*(F.col(name) for name in WINDOW_COLUMNS)).toArrow()
        metric = self.observed(REJECTED_METRIC)
        if metric is None:
            raise RuntimeError(f"batch {batch_id}: the observed metric {REJECTED_METRIC} is "
                               "missing, so its rejected records cannot be written")
        rows_json, count = metric
        rejected = decode_rejected(rows_json)
        if rejected.num_rows != count:
            raise RuntimeError(f"batch {batch_id}: {count} rejected record(s) counted but "
                               f"{rejected.num_rows} collected")
        self._insert(self.rejected_table, rejected_rows(rejected, batch_id), batch_id)
        self._insert(self.windows_table, window_rows(windows, batch_id), batch_id)

    def _insert(self, table: str, rows: pa.Table, batch_id: int) -> None:
        written = self.writer.insert(table, rows, dedup_token(self.identity, table, batch_id))
        log.info("batch %d: %d row(s) -> %s", batch_id, written, table)
