"""One-shot set-up of a containerised pipeline, run before the producer and the job start:

  1. the Kafka topics (trades, dead letters) with the cluster's replication and min.insync.replicas
  2. the checkpoint bucket on the S3 endpoint
  3. the ClickHouse migrations (clickhouse.migrate)

Idempotent: what exists is left alone. Configuration from the environment, defaults from
topology.yaml (stack.topology):
  KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_DLQ_TOPIC, KAFKA_PARTITIONS
  KAFKA_REPLICATION_FACTOR (1), KAFKA_MIN_INSYNC_REPLICAS (1)
  S3_ENDPOINT_URL, AWS_REGION, CHECKPOINT_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
  CLICKHOUSE_URL, CLICKHOUSE_DATABASE, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD
  BOOTSTRAP_TIMEOUT (seconds each step retries while its service is not ready, default 120)
"""

from __future__ import annotations

import logging
import os
import sys

import boto3
from confluent_kafka.admin import AdminClient, NewTopic
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from clickhouse import migrate
from stack.s3_snapshot import ensure_bucket
from stack.topology import Topology, load

log = logging.getLogger("bootstrap")
TIMEOUT_S = float(os.environ.get("BOOTSTRAP_TIMEOUT", "120"))


class NotReady(Exception):
    """A service answered but is not ready yet (e.g. fewer brokers than the replication)."""


def patiently(step):
    return retry(
        retry=retry_if_exception_type(Exception),
        stop=stop_after_delay(TIMEOUT_S),
        wait=wait_fixed(2),
        reraise=True,
        before_sleep=lambda state: log.info(
            "%s: not ready yet (%s); retrying", step.__name__, state.outcome.exception()
        ),
    )(step)


def topic_specs(topo: Topology, env=os.environ) -> list[NewTopic]:
    replication = int(env.get("KAFKA_REPLICATION_FACTOR", "1"))
    min_insync = env.get("KAFKA_MIN_INSYNC_REPLICAS", "1")
    if int(min_insync) > replication:
        raise ValueError(
            f"KAFKA_MIN_INSYNC_REPLICAS={min_insync} exceeds KAFKA_REPLICATION_FACTOR={replication}"
        )
    config = {"min.insync.replicas": min_insync}
    return [
        NewTopic(name, topo.kafka_partitions, replication, config=config)
        for name in (topo.trades_topic, topo.dead_letter_topic)
    ]


@patiently
def create_topics(topo: Topology) -> None:
    admin = AdminClient({"bootstrap.servers": topo.kafka_bootstrap, "log_level": 3})
    metadata = admin.list_topics(timeout=10)
    wanted = topic_specs(topo)
    if len(metadata.brokers) < max(spec.replication_factor for spec in wanted):
        raise NotReady(f"{len(metadata.brokers)} broker(s) registered")
    new = [spec for spec in wanted if spec.topic not in metadata.topics]
    for topic, future in (admin.create_topics(new).items() if new else []):
        future.result(timeout=30)
        log.info("created topic %s", topic)
    log.info("topics ready: %s", ", ".join(spec.topic for spec in wanted))


@patiently
def create_bucket(topo: Topology) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=topo.s3_endpoint,
        region_name=topo.s3_region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
    )
    ensure_bucket(s3, topo.checkpoint_bucket)
    log.info("bucket ready: %s", topo.checkpoint_bucket)


@patiently
def run_migrations(_topo: Topology) -> None:
    if migrate.main([]) != 0:
        raise SystemExit("ClickHouse migrations failed (see the log above)")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    topo = load()
    create_topics(topo)
    create_bucket(topo)
    run_migrations(topo)
    log.info("bootstrap done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
