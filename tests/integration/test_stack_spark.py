"""Spark on the local stack: a batch job on the standalone cluster, and a streaming query that
reads Kafka through the cached connector jars and checkpoints to s3a:// on LocalStack."""

from __future__ import annotations

import pytest

from spark_jobs.session import build_session, s3a_settings
from stack.services import s3_client
from tests.integration.test_stack_kafka import create_topic, produce


@pytest.fixture(scope="module")
def spark(stack, credentials):
    s3 = s3a_settings(
        stack.s3_endpoint, stack.s3_region,
        credentials["AWS_ACCESS_KEY_ID"], credentials["AWS_SECRET_ACCESS_KEY"],
    )
    session = build_session("stack-tests", stack.spark_master_url, s3=s3)
    yield session
    session.stop()


def test_a_job_runs_on_the_standalone_cluster(spark, stack):
    assert spark.sparkContext.master == stack.spark_master_url
    total = spark.range(1, 100_001, numPartitions=4).selectExpr("sum(id) AS s").first()["s"]
    assert total == 100_000 * 100_001 // 2
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()
    assert executors >= 2, "expected the driver plus at least one executor on the worker"


def test_streaming_query_reads_kafka_and_checkpoints_on_s3(spark, stack, credentials, unique_name):
    create_topic(stack.kafka_bootstrap, unique_name, 2)
    records = [(f"K{i % 3}", f'{{"n": {i}}}') for i in range(300)]
    produce(stack.kafka_bootstrap, unique_name, records)
    prefix = f"tests/{unique_name}"
    checkpoint = f"s3a://{stack.checkpoint_bucket}/{prefix}"

    stream = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", stack.kafka_bootstrap)
        .option("subscribe", unique_name)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value")
    )
    query = (
        stream.writeStream.format("memory").queryName(unique_name)
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(300)
    assert query.exception() is None

    rows = {(r.key, r.value) for r in spark.table(unique_name).collect()}
    assert rows == set(records)
    s3 = s3_client(stack, credentials)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.checkpoint_bucket, Prefix=prefix)
            .get("Contents", [])]
    assert f"{prefix}/metadata" in keys
    assert any(k.startswith(f"{prefix}/offsets/") for k in keys)
    assert any(k.startswith(f"{prefix}/commits/") for k in keys)
