"""The topology (hosts, ports, topic and table names), read once from topology.yaml.

Every component takes its defaults from here; each value may be overridden by the
environment variable named next to it, so the same code runs on a laptop, in Docker
and in the cloud with only configuration changing. topology.yaml is package data next to this
module (so an install from a wheel finds it); CRYPTOSTREAM_TOPOLOGY names another file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

TOPOLOGY_FILE = Path(
    os.environ.get("CRYPTOSTREAM_TOPOLOGY", Path(__file__).resolve().with_name("topology.yaml"))
)


@dataclass(frozen=True)
class Topology:
    host: str
    kafka_port: int
    kafka_controller_port: int
    kafka_partitions: int
    kafka_replication_factor: int
    kafka_min_insync_replicas: int
    trades_topic: str
    dead_letter_topic: str
    spark_master_port: int
    spark_master_ui_port: int
    spark_worker_ui_port: int
    clickhouse_http_port: int
    clickhouse_database: str
    clickhouse_user: str
    windows_table: str
    rejected_table: str
    progress_table: str
    producer_stats_table: str
    legacy_view: str
    dashboard_port: int
    s3_port: int
    s3_region: str
    checkpoint_bucket: str

    @property
    def kafka_bootstrap(self) -> str:
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", f"{self.host}:{self.kafka_port}")

    @property
    def spark_master_url(self) -> str:
        return os.environ.get("SPARK_MASTER_URL", f"spark://{self.host}:{self.spark_master_port}")

    @property
    def clickhouse_url(self) -> str:
        return os.environ.get("CLICKHOUSE_URL", f"http://{self.host}:{self.clickhouse_http_port}")

    @property
    def s3_endpoint(self) -> str:
        return os.environ.get("S3_ENDPOINT_URL", f"http://{self.host}:{self.s3_port}")


def _env(name: str, default):
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return type(default)(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected {type(default).__name__}") from None


@cache
def load(path: Path = TOPOLOGY_FILE) -> Topology:
    raw = yaml.safe_load(Path(path).read_text())
    kafka, spark = raw["kafka"], raw["spark"]
    ch, s3 = raw["clickhouse"], raw["object_storage"]
    return Topology(
        host=_env("CRYPTOSTREAM_HOST", raw["host"]),
        kafka_port=_env("KAFKA_PORT", kafka["port"]),
        kafka_controller_port=_env("KAFKA_CONTROLLER_PORT", kafka["controller_port"]),
        kafka_partitions=_env("KAFKA_PARTITIONS", kafka["partitions"]),
        kafka_replication_factor=_env("KAFKA_REPLICATION_FACTOR", kafka["replication_factor"]),
        kafka_min_insync_replicas=_env("KAFKA_MIN_INSYNC_REPLICAS", kafka["min_insync_replicas"]),
        trades_topic=_env("KAFKA_TOPIC", kafka["topics"]["trades"]),
        dead_letter_topic=_env("KAFKA_DLQ_TOPIC", kafka["topics"]["dead_letter"]),
        spark_master_port=_env("SPARK_MASTER_PORT", spark["master_port"]),
        spark_master_ui_port=_env("SPARK_MASTER_UI_PORT", spark["master_ui_port"]),
        spark_worker_ui_port=_env("SPARK_WORKER_UI_PORT", spark["worker_ui_port"]),
        clickhouse_http_port=_env("CLICKHOUSE_HTTP_PORT", ch["http_port"]),
        clickhouse_database=_env("CLICKHOUSE_DATABASE", ch["database"]),
        clickhouse_user=_env("CLICKHOUSE_USER", ch["user"]),
        windows_table=ch["tables"]["windows"],
        rejected_table=ch["tables"]["rejected"],
        progress_table=ch["tables"]["progress"],
        producer_stats_table=ch["tables"]["producer_stats"],
        legacy_view=ch["tables"]["legacy_view"],
        dashboard_port=_env("DASHBOARD_PORT", raw["dashboard"]["port"]),
        s3_port=_env("S3_PORT", s3["port"]),
        s3_region=_env("AWS_REGION", s3["region"]),
        checkpoint_bucket=_env("CHECKPOINT_BUCKET", s3["checkpoint_bucket"]),
    )
