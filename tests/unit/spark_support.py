"""Helpers for the streaming job's tests: a local Spark session, Kafka-shaped input, chDB."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import clickhouse_connect
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

KAFKA_JSON_SCHEMA = (
    "key string, value string, topic string, partition int, offset long, timestamp timestamp"
)
KAFKA_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def local_spark() -> SparkSession:
    """One local session per test process (getOrCreate); small shuffles keep tests fast."""
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("cryptostream-unit")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def at(seconds: float) -> str:
    """An ISO-8601 UTC instant `seconds` after 2024-01-01T00:00:00Z, microsecond precision."""
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def instant(seconds: float) -> datetime:
    """The naive UTC datetime Spark returns for at(seconds) in a UTC session."""
    return (EPOCH + timedelta(seconds=seconds)).replace(tzinfo=None)


def trade(trade_id, seconds: float, price="100.5", size="1", side="buy",
          product_id="BTC-USD", exchange="coinbase", **overrides) -> dict:
    record = {
        "v": 1, "exchange": exchange, "product_id": product_id, "trade_id": str(trade_id),
        "price": price, "size": size, "side": side, "event_time": at(seconds),
        "sequence": 1, "received_at": at(seconds),
    }
    record.update(overrides)
    return {name: value for name, value in record.items() if value is not None}


def encode(record) -> bytes | None:
    if record is None or isinstance(record, bytes):
        return record
    if isinstance(record, str):
        return record.encode()
    return json.dumps(record).encode()


def kafka_rows(records, topic="raw_crypto_trades", partition=0, first_offset=0) -> list[tuple]:
    rows = []
    for offset, record in enumerate(records, start=first_offset):
        key = record.get("product_id", "").encode() if isinstance(record, dict) else None
        rows.append((key, encode(record), topic, partition, offset, instant(offset / 1000)))
    return rows


def kafka_frame(spark: SparkSession, records, **kwargs) -> DataFrame:
    """A static DataFrame shaped like the Kafka source's output, one record per element."""
    return spark.createDataFrame(kafka_rows(records, **kwargs), KAFKA_SCHEMA)


def kafka_json_lines(records, **kwargs) -> str:
    """Kafka-shaped rows as JSON lines (bytes as latin-1 text) for a streaming file source."""
    lines = []
    for key, value, topic, partition, offset, timestamp in kafka_rows(records, **kwargs):
        lines.append(json.dumps({
            "key": key.decode() if key else None, "value": value.decode() if value else None,
            "topic": topic, "partition": partition, "offset": offset,
            "timestamp": timestamp.isoformat() + "Z",
        }))
    return "\n".join(lines) + "\n"


def open_chdb(path) -> clickhouse_connect.driver.client.Client:
    """An embedded chDB engine (one data path per process at a time: close it after use)."""
    return clickhouse_connect.get_client(dsn=f"chdb://{path}")


class Batches:
    """A source folder where each written file becomes one micro-batch, in write order."""

    def __init__(self, root: Path):
        self.root = root
        self.source = root / "source"
        self.source.mkdir()
        self.offset = 0

    def add(self, *records):
        path = self.source / f"batch-{self.offset:06d}.json"
        path.write_text(kafka_json_lines(records, first_offset=self.offset))
        mtime = 1_700_000_000 + self.offset  # the file source orders files by modification time
        os.utime(path, (mtime, mtime))
        self.offset += len(records)

    def raw(self, spark):
        stream = (spark.readStream.schema(KAFKA_JSON_SCHEMA).option("maxFilesPerTrigger", 1)
                  .json(str(self.source)))
        return stream.select(F.col("key").cast("binary").alias("key"),
                             F.col("value").cast("binary").alias("value"),
                             "topic", "partition", "offset", "timestamp")
