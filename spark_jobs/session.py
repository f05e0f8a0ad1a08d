"""Spark settings shared by the job's submission, the tests and the benchmarks.

Connector jars (Kafka source, S3A) come from the local cache that `make jars` fills, so a
session needs no network; S3A points at LocalStack unless S3_ENDPOINT_URL says otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from runtime.paths import CACHE_DIR
from spark_jobs.config import DEFAULT_SHUFFLE_PARTITIONS

CLASSPATH_FILE = CACHE_DIR / "jvm" / "spark.classpath"


def spark_home() -> Path:
    """The pyspark package: its wheel carries Spark's jars and bin/spark-class."""
    return Path(importlib.util.find_spec("pyspark").origin).parent


def connector_jars() -> list[str]:
    if not CLASSPATH_FILE.exists():
        raise FileNotFoundError(
            f"{CLASSPATH_FILE} is missing: run `make jars` to resolve the Kafka and S3A jars"
        )
    return CLASSPATH_FILE.read_text().strip().split(":")


def connector_settings(env=None) -> dict[str, str]:
    """How the driver and the executors get the connector jars.

    By default the driver ships them (spark.jars) and every executor copies them into its work
    directory when it starts: ~570 MB, nearly all of it the AWS SDK bundle S3A needs. When the
    workers read the same jar cache at the same paths (the local stack; `python -m stack run`
    sets SPARK_WORKERS_SHARE_CONNECTORS=true), both put the jars on their class path instead
    and nothing is copied.
    """
    env = os.environ if env is None else env
    jars = connector_jars()
    if env.get("SPARK_WORKERS_SHARE_CONNECTORS", "").strip().lower() in ("1", "true", "yes"):
        classpath = ":".join(jars)
        return {"spark.driver.extraClassPath": classpath,
                "spark.executor.extraClassPath": classpath}
    return {"spark.jars": ",".join(jars)}


def s3a_settings(endpoint: str, region: str, access_key: str, secret_key: str) -> dict[str, str]:
    """Hadoop S3A settings for an S3-compatible endpoint, path-style (LocalStack, MinIO, AWS)."""
    prefix = "spark.hadoop.fs.s3a."
    settings = {
        "endpoint": endpoint,
        "endpoint.region": region,
        "path.style.access": "true",
        "connection.ssl.enabled": str(endpoint.startswith("https")).lower(),
        "impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
    }
    if access_key and secret_key:  # else the default AWS chain (instance roles in the cloud)
        settings.update({
            "access.key": access_key,
            "secret.key": secret_key,
            "aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        })
    return {prefix + key: value for key, value in settings.items()}


def cluster_settings() -> dict[str, str]:
    """Settings for a driver on this host submitting to the standalone cluster."""
    host = os.environ.get("SPARK_DRIVER_HOST", "127.0.0.1")
    return {
        **connector_settings(),
        "spark.driver.host": host,
        "spark.driver.bindAddress": host,
        "spark.pyspark.python": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": os.environ.get(
            "SPARK_SHUFFLE_PARTITIONS", str(DEFAULT_SHUFFLE_PARTITIONS)),
        # The dedupe state lives on the heap, twice while a batch commits (the HDFS-backed
        # store copies the previous version's map): a backlog batch of 1M trades in 1g spent
        # 4.9 s of its 13 s in GC, in 2g 9 s in all (make bench-pipeline). The local stack's
        # worker offers 4g; nodes and compose set their own.
        "spark.executor.memory": os.environ.get("SPARK_EXECUTOR_MEMORY", "2g"),
        "spark.cores.max": os.environ.get("SPARK_CORES_MAX", "2"),
        # The throughput collector: ~5% more trades/s than G1 in make bench-pipeline (which
        # prints the executor's GC time per batch).
        "spark.executor.extraJavaOptions": os.environ.get(
            "SPARK_EXECUTOR_JAVA_OPTIONS", "-XX:+UseParallelGC"),
        "spark.ui.showConsoleProgress": "false",
    }


def build_session(app_name: str, master: str, s3: dict[str, str] | None = None,
                  conf: dict[str, str] | None = None):
    """A SparkSession on `master` with the connector jars; `s3` from s3a_settings()."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name).master(master)
    for key, value in {**cluster_settings(), **(s3 or {}), **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
