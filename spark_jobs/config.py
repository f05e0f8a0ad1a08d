"""Configuration of the streaming job, in one place: command-line flags over environment variables
over the shared topology (runtime.topology.load()).

Kafka client security (SASL_SSL) comes from the environment through runtime.kafka_security,
as the `kafka.`-prefixed options of Spark's Kafka source.

Every flag has an environment variable (listed in `--help`); the ClickHouse password is taken
from the environment only (CLICKHOUSE_PASSWORD), never from a flag, so it stays out of process
listings and shell history.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runtime import topology
from runtime.kafka_security import java_client_config

OUTPUT_MODES = ("append", "update")
# The streaming query's name: the progress table's query_name (runtime.health_gate reads it).
WINDOWS_QUERY = "trade_windows"
# The observed metric that carries each batch's rejected records
# (transformations.observe_rejected; the dashboard reads its count from the progress table).
REJECTED_METRIC = "rejected_records"
STARTING_OFFSETS = ("earliest", "latest")
# State partitions: one per core the job gets (spark.cores.max defaults to 2).
DEFAULT_SHUFFLE_PARTITIONS = 2
_DURATION = re.compile(
    r"^\d+ (millisecond|second|minute|hour|day)s?$",
)


@dataclass(frozen=True)
class JobConfig:
    bootstrap_servers: str
    topic: str
    window: str
    watermark: str
    trigger_interval: str
    output_mode: str
    clickhouse_url: str
    clickhouse_database: str
    clickhouse_user: str
    windows_table: str
    rejected_table: str
    progress_table: str
    checkpoint_location: str
    s3_endpoint: str
    s3_region: str
    available_now: bool
    starting_offsets: str
    max_offsets_per_trigger: int | None
    shuffle_partitions: int
    clickhouse_retry_seconds: float
    clickhouse_password: str = field(default="", repr=False)
    # Spark Kafka source options (kafka.security.protocol, kafka.sasl.jaas.config, ...)
    kafka_options: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def windows_checkpoint(self) -> str:
        return f"{self.checkpoint_location.rstrip('/')}/windows"

    @property
    def checkpoint_on_s3(self) -> bool:
        return self.checkpoint_location.startswith("s3a://")


def _duration(text: str) -> str:
    """A Spark interval such as '30 seconds'; rejected early with a clear message."""
    normalized = " ".join(text.split())
    if not _DURATION.match(normalized):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration like '30 seconds', '500 milliseconds' or '1 minute'"
        )
    return normalized


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return value


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (true/false)")


def build_parser(env: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    topo = topology.load()
    default_checkpoint = f"s3a://{topo.checkpoint_bucket}/stream_to_clickhouse"
    parser = argparse.ArgumentParser(
        prog="stream_to_clickhouse",
        description="Kafka trades -> parse, dedupe, event-time windows -> ClickHouse.",
        epilog="Kafka client security: KAFKA_SECURITY_PROTOCOL (PLAINTEXT | SASL_SSL), "
        "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CA_FILE "
        "(environment only; see runtime/kafka_security.py).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )

    def option(flag: str, env_name: str, default, help_text: str, **kwargs):
        parser.add_argument(
            flag,
            default=env.get(env_name, default),
            help=f"{help_text} [env {env_name}]",
            **kwargs,
        )

    option("--bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS", topo.kafka_bootstrap, "Kafka brokers")
    option("--topic", "KAFKA_TOPIC", topo.trades_topic, "topic of normalized trades")
    option("--window", "STREAM_WINDOW", "30 seconds", "tumbling window length", type=_duration)
    option(
        "--watermark", "STREAM_WATERMARK", "10 seconds", "allowed event-time lateness",
        type=_duration,
    )
    option(
        "--trigger-interval", "STREAM_TRIGGER_INTERVAL", "2 seconds",
        "micro-batch interval (ignored with --available-now)", type=_duration,
    )
    option(
        "--output-mode", "STREAM_OUTPUT_MODE", "append",
        "append: final windows once the watermark passes; update: live partial windows",
        choices=OUTPUT_MODES,
    )
    option("--clickhouse-url", "CLICKHOUSE_URL", topo.clickhouse_url, "ClickHouse HTTP URL")
    option("--clickhouse-database", "CLICKHOUSE_DATABASE", topo.clickhouse_database, "database")
    option("--clickhouse-user", "CLICKHOUSE_USER", topo.clickhouse_user, "user (password: env)")
    option(
        "--clickhouse-retry-seconds", "CLICKHOUSE_RETRY_SECONDS", 300.0,
        "how long one write retries transient ClickHouse errors before the batch fails",
        type=float,
    )
    option(
        "--checkpoint-location", "STREAM_CHECKPOINT_LOCATION", default_checkpoint,
        "checkpoint root (s3a://bucket/path, or a local path / file:// URL)",
    )
    option("--s3-endpoint", "S3_ENDPOINT_URL", topo.s3_endpoint, "S3 endpoint (path-style)")
    option("--s3-region", "AWS_REGION", topo.s3_region, "S3 region")
    option(
        "--available-now", "STREAM_AVAILABLE_NOW", False,
        "process everything in Kafka now, then stop (backfills, verification)",
        type=_bool, nargs="?", const=True,
    )
    option(
        "--starting-offsets", "STREAM_STARTING_OFFSETS", "earliest",
        "where a new checkpoint starts reading (an existing checkpoint wins)",
        choices=STARTING_OFFSETS,
    )
    option(
        "--max-offsets-per-trigger", "STREAM_MAX_OFFSETS_PER_TRIGGER", None,
        "cap on Kafka records per micro-batch (default: no cap)", type=_positive_int,
    )
    option(
        "--shuffle-partitions", "STREAM_SHUFFLE_PARTITIONS", DEFAULT_SHUFFLE_PARTITIONS,
        "state partitions, one per core the job gets (spark.cores.max); fixed once a "
        "checkpoint exists", type=_positive_int,
    )
    return parser


def parse_args(
    argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ
) -> JobConfig:
    parser = build_parser(env)
    args = parser.parse_args(argv)
    # argparse converts string defaults (from the environment) with `type`, but checks
    # `choices` only on the command line: check the environment's values here.
    for name, allowed in (("output_mode", OUTPUT_MODES), ("starting_offsets", STARTING_OFFSETS)):
        if getattr(args, name) not in allowed:
            parser.error(f"{name} {getattr(args, name)!r} is not one of {', '.join(allowed)}")
    try:
        kafka_options = {f"kafka.{key}": value for key, value in java_client_config(env).items()}
    except ValueError as error:
        parser.error(str(error))
    topo = topology.load()
    return JobConfig(
        bootstrap_servers=args.bootstrap_servers,
        topic=args.topic,
        window=args.window,
        watermark=args.watermark,
        trigger_interval=args.trigger_interval,
        output_mode=args.output_mode,
        clickhouse_url=args.clickhouse_url,
        clickhouse_database=args.clickhouse_database,
        clickhouse_user=args.clickhouse_user,
        windows_table=topo.windows_table,
        rejected_table=topo.rejected_table,
        progress_table=topo.progress_table,
        checkpoint_location=args.checkpoint_location,
        s3_endpoint=args.s3_endpoint,
        s3_region=args.s3_region,
        available_now=args.available_now,
        starting_offsets=args.starting_offsets,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
        shuffle_partitions=args.shuffle_partitions,
        clickhouse_retry_seconds=args.clickhouse_retry_seconds,
        clickhouse_password=env.get("CLICKHOUSE_PASSWORD", ""),
        kafka_options=kafka_options,
    )
