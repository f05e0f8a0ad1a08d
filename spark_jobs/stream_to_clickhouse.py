"""spark-submit entry: Kafka trades -> parse -> dedupe -> event-time windows -> ClickHouse.

    spark-submit --packages/--jars <kafka source, hadoop-aws> spark_jobs/stream_to_clickhouse.py \
        [--available-now] [--output-mode update] ...      (python -m ... --help lists all flags)

Two streaming queries share one Kafka source definition and one parse step:
  trade_windows     good trades -> dedupe within the watermark -> windows -> windows table
  rejected_records  records that fail parsing -> rejected table (reason + raw bytes)
Each has its own checkpoint under --checkpoint-location (windows/, rejected/) and writes with
batch-id deduplication tokens (spark_jobs.clickhouse_sink), so a crash at any point and a
restart on the same checkpoint leave ClickHouse as an uninterrupted run would.

Append mode emits a window once the watermark passes its end, so with --available-now the
newest windows (within window + watermark of the latest trade) stay open in the checkpoint
until later trades arrive; --output-mode update writes them as partial windows instead.

SIGTERM / SIGINT stop both queries and exit 0; a batch interrupted half-way is re-run from the
checkpoint on the next start. A failed query stops the other and exits 1.
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
from spark_jobs.clickhouse_sink import (  # noqa: E402
    ClickHouseWriter,
    RejectedBatchWriter,
    WindowsBatchWriter,
)
from spark_jobs.config import REJECTED_QUERY, WINDOWS_QUERY, JobConfig, parse_args  # noqa: E402
from spark_jobs.progress import ProgressListener, ProgressTableWriter  # noqa: E402
from spark_jobs.session import s3a_settings  # noqa: E402
from spark_jobs.transformations import dedupe_trades, parse_trades, window_aggregates  # noqa: E402

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


def start_queries(spark: SparkSession, config: JobConfig, raw: DataFrame,
                  writer: ClickHouseWriter) -> list[StreamingQuery]:
    trades, rejected = parse_trades(raw)
    windows = window_aggregates(dedupe_trades(trades, config.watermark), config.window)
    trigger = (
        {"availableNow": True} if config.available_now
        else {"processingTime": config.trigger_interval}
    )
    windows_query = (
        windows.writeStream.queryName(WINDOWS_QUERY)
        .outputMode(config.output_mode)
        .option("checkpointLocation", config.windows_checkpoint)
        .foreachBatch(WindowsBatchWriter(
            writer, _table(config, config.windows_table), config.windows_checkpoint))
        .trigger(**trigger)
        .start()
    )
    rejected_query = (
        rejected.writeStream.queryName(REJECTED_QUERY)
        .outputMode("append")
        .option("checkpointLocation", config.rejected_checkpoint)
        .foreachBatch(RejectedBatchWriter(
            writer, _table(config, config.rejected_table), config.rejected_checkpoint))
        .trigger(**trigger)
        .start()
    )
    return [windows_query, rejected_query]


def wait_for(queries: Sequence[StreamingQuery], stop_requested: threading.Event) -> None:
    """Block until every query has ended or a stop is requested; raise if a query failed."""
    while not stop_requested.is_set():
        active = [query for query in queries if query.isActive]
        if not active:
            break
        active[0].awaitTermination(POLL_SECONDS)  # raises StreamingQueryException on failure
    for query in queries:
        if query.exception() is not None:
            raise RuntimeError(f"query {query.name} failed: {query.exception()}")


def stop_all(queries: Sequence[StreamingQuery], grace_seconds: float = STOP_GRACE_SECONDS) -> None:
    """Stop each query, first letting a batch in flight finish (for up to grace_seconds).

    Stopping mid-batch is safe (the batch is re-run from the checkpoint on the next start) but
    wasteful and noisy, so a stop waits for the gap between two triggers when it can.
    """
    for query in queries:
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
    queries = start_queries(spark, config, read_kafka(spark, config), writer)
    log.info("started: %s", config)
    try:
        wait_for(queries, stop_requested)
    except Exception:
        log.exception("streaming failed; the checkpoint keeps every uncommitted batch")
        return 1
    finally:
        stop_all(queries)
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
