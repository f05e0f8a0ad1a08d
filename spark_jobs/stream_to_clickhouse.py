"""spark-submit entry: Kafka trades -> parse -> dedupe -> event-time windows -> ClickHouse.

    spark-submit --packages/--jars <kafka source, hadoop-aws> spark_jobs/stream_to_clickhouse.py \
        [--available-now] [--output-mode update] ...      (python -m ... --help lists all flags)

One streaming query, trade_windows, reads each Kafka record once per trigger and parses it
once: good trades -> dedupe within the watermark -> windows -> windows table, and the records
that fail parsing -> rejected table (reason + raw bytes), both written by one foreachBatch
(the rejected rows travel with the batch as an observed metric: transformations.
observe_rejected). Its checkpoint is <--checkpoint-location>/windows; every insert carries a
batch-id deduplication token (spark_jobs.clickhouse_sink), so a crash at any point and a
restart on the same checkpoint leave ClickHouse as an uninterrupted run would.

Append mode emits a window once the watermark passes its end, so with --available-now the
newest windows (within window + watermark of the latest trade) stay open in the checkpoint
until later trades arrive; --output-mode update writes them as partial windows instead.

SIGTERM / SIGINT stop the query and exit 0; a batch interrupted half-way is re-run from the
checkpoint on the next start. A failed query exits 1.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file by spark-submit: make the repo's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql.streaming import StreamingQuery  # noqa: E402

from clickhouse.client import connect  # noqa: E402
from spark_jobs.clickhouse_sink import ClickHouseWriter, PipelineBatchWriter  # noqa: E402
from spark_jobs.config import WINDOWS_QUERY, JobConfig, parse_args  # noqa: E402
from spark_jobs.progress import ProgressListener, ProgressTableWriter  # noqa: E402
from spark_jobs.session import s3a_settings  # noqa: E402
from spark_jobs.transformations import (  # noqa: E402
    dedupe_trades,
    good_trades,
    observe_rejected,
    parse_records,
    window_aggregates,
)

log = logging.getLogger("spark_jobs.stream_to_clickhouse")

PROGRESS_RETRY_SECONDS = 10.0
POLL_SECONDS = 1.0
STOP_GRACE_SECONDS = 30.0


def build_session(config: JobConfig, builder: SparkSession.Builder | None = None) -> SparkSession:
    builder = (builder or SparkSession.builder).appName("stream_to_clickhouse")
    builder = (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(config.shuffle_partitions))
        .config("spark.ui.showConsoleProgress", "false")  # the listener logs each batch
    )
    for key, value in checkpoint_s3a_settings(config).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def checkpoint_s3a_settings(config: JobConfig, env=None) -> dict[str, str]:
    """Hadoop S3A settings for an s3a:// checkpoint (none for a local one).

    Passed through the Hadoop configuration so executors (state store files) get them too;
    Spark redacts *access.key / *secret* values in its UI and logs.
    """
    if not config.checkpoint_on_s3:
        return {}
    env = os.environ if env is None else env
    return s3a_settings(config.s3_endpoint, config.s3_region,
                        env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", ""))


def read_kafka(spark: SparkSession, config: JobConfig) -> DataFrame:
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", config.bootstrap_servers)
        .option("subscribe", config.topic)
        .option("startingOffsets", config.starting_offsets)
        .options(**config.kafka_options)
    )
    if config.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(config.max_offsets_per_trigger))
    return reader.load()


def _table(config: JobConfig, name: str) -> str:
    return f"{config.clickhouse_database}.{name}"


def clickhouse_writer(config: JobConfig, retry_seconds: float) -> ClickHouseWriter:
    def open_client():
        return connect(config.clickhouse_url, config.clickhouse_user, config.clickhouse_password,
                       config.clickhouse_database)

    return ClickHouseWriter(open_client, retry_seconds)


class RunningBatchMetrics:
    """The observed metrics of the batch a streaming query is running, for its foreachBatch.

    No public API hands a batch's observed metrics over before the batch commits (the progress
    event comes after the commit, too late for rows that must be written within the batch), so
    this reads them from the running batch's execution (StreamExecution.lastExecution, a public
    member of Spark's JVM class). bind() the query once started; a batch that starts before
    that waits for it.
    """

    def __init__(self, bind_timeout_seconds: float = 60.0):
        self._query: StreamingQuery | None = None
        self._bound = threading.Event()
        self._timeout = bind_timeout_seconds

    def bind(self, query: StreamingQuery) -> None:
        self._query = query
        self._bound.set()

    def __call__(self, name: str) -> tuple | None:
        if not self._bound.wait(self._timeout):
            raise RuntimeError("the streaming query was never bound to its batch writer")
        execution = self._query._jsq.streamingQuery().lastExecution()
        found = execution.observedMetrics().get(name)
        if found.isEmpty():
            return None
        row = found.get()
        return tuple(row.get(index) for index in range(row.length()))


def windows_and_rejected(raw: DataFrame, config: JobConfig) -> DataFrame:
    """The streaming plan: windows of the good trades, the rejected records observed on the way."""
    records = observe_rejected(parse_records(raw))
    return window_aggregates(dedupe_trades(good_trades(records), config.watermark), config.window)


def start_query(config: JobConfig, raw: DataFrame, writer: ClickHouseWriter) -> StreamingQuery:
    trigger = (
        {"availableNow": True} if config.available_now
        else {"processingTime": config.trigger_interval}
    )
    metrics = RunningBatchMetrics()
    batch_writer = PipelineBatchWriter(
        writer, _table(config, config.windows_table), _table(config, config.rejected_table),
        config.windows_checkpoint, metrics)
    query = (
        windows_and_rejected(raw, config).writeStream.queryName(WINDOWS_QUERY)
        .outputMode(config.output_mode)
        .option("checkpointLocation", config.windows_checkpoint)
        .foreachBatch(batch_writer)
        .trigger(**trigger)
        .start()
    )
    metrics.bind(query)
    return query


def wait_for(query: StreamingQuery, stop_requested: threading.Event) -> None:
    """Block until the query has ended or a stop is requested; raise if the query failed."""
    while not stop_requested.is_set() and query.isActive:
        query.awaitTermination(POLL_SECONDS)  # raises StreamingQueryException on failure
    if query.exception() is not None:
        raise RuntimeError(f"query {query.name} failed: {query.exception()}")


def stop_gracefully(query: StreamingQuery, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
    """Stop the query, first letting a batch in flight finish (for up to grace_seconds).

    Stopping mid-batch is safe (the batch is re-run from the checkpoint on the next start) but
    wasteful and noisy, so a stop waits for the gap between two triggers when it can.
    """
    deadline = time.monotonic() + grace_seconds
    while query.isActive and query.status["isTriggerActive"] and time.monotonic() < deadline:
        query.awaitTermination(0.2)
    if query.isActive:
        log.info("stopping query %s", query.name)
        query.stop()


def run(config: JobConfig, stop_requested: threading.Event) -> int:
    spark = build_session(config)
    writer = clickhouse_writer(config, config.clickhouse_retry_seconds)
    progress_writer = clickhouse_writer(config, PROGRESS_RETRY_SECONDS)
    spark.streams.addListener(ProgressListener(
        ProgressTableWriter(progress_writer, _table(config, config.progress_table))))
    query = start_query(config, read_kafka(spark, config), writer)
    log.info("started: %s", config)
    try:
        wait_for(query, stop_requested)
    except Exception:
        log.exception("streaming failed; the checkpoint keeps every uncommitted batch")
        return 1
    finally:
        stop_gracefully(query)
        writer.close()
        progress_writer.close()
        spark.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # a line per callback otherwise
    config = parse_args(argv)
    stop_requested = threading.Event()

    def request_stop(signum, _frame):
        log.info("signal %d: stopping after the current poll", signum)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return run(config, stop_requested)


if __name__ == "__main__":
    sys.exit(main())
