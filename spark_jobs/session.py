"""SparkSession construction shared by the job, the tests and the benchmarks.

Connector jars (Kafka source, S3A) come from the local cache that `make jars` fills, so a
session needs no network; S3A points at LocalStack unless S3_ENDPOINT_URL says otherwise.
"""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from stack.paths import CACHE_DIR

CLASSPATH_FILE = CACHE_DIR / "jvm" / "spark.classpath"


def connector_jars() -> list[str]:
    if not CLASSPATH_FILE.exists():
        raise FileNotFoundError(
            f"{CLASSPATH_FILE} is missing: run `make jars` to resolve the Kafka and S3A jars"
        )
    return CLASSPATH_FILE.read_text().strip().split(":")


def s3a_settings(endpoint: str, region: str, access_key: str, secret_key: str) -> dict[str, str]:
    prefix = "spark.hadoop.fs.s3a."
    settings = {
        "endpoint": endpoint,
        "endpoint.region": region,
        "path.style.access": "true",
        "connection.ssl.enabled": str(endpoint.startswith("https")).lower(),
        "access.key": access_key,
        "secret.key": secret_key,
        "aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
    }
    return {prefix + key: value for key, value in settings.items()}


def build_session(
    app_name: str, master: str, s3: dict[str, str] | None = None, conf: dict[str, str] | None = None
) -> SparkSession:
    """A session on `master` with the connector jars; `s3` from s3a_settings()."""
    host = os.environ.get("SPARK_DRIVER_HOST", "127.0.0.1")
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.jars", ",".join(connector_jars()))
        .config("spark.driver.host", host)
        .config("spark.driver.bindAddress", host)
        .config("spark.pyspark.python", sys.executable)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "4"))
        .config("spark.executor.memory", os.environ.get("SPARK_EXECUTOR_MEMORY", "1g"))
        .config("spark.cores.max", os.environ.get("SPARK_CORES_MAX", "2"))
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in {**(s3 or {}), **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
