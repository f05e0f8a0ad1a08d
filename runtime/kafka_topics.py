"""Kafka topic chores shared by the bootstrap, the benchmarks and the tests: create, delete,
read. Every client gets the security settings of runtime.kafka_security (from the environment).
The pipeline's own topics are made by runtime.bootstrap (replication, min.insync.replicas,
growing partitions); create_topics here is for throwaway topics."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from runtime.kafka_security import librdkafka_config

ADMIN_TIMEOUT_S = 30


def client_config(bootstrap: str, extra: Mapping | None = None,
                  env: Mapping[str, str] = os.environ) -> dict:
    """bootstrap.servers, the security settings of `env`, then `extra`."""
    return {"bootstrap.servers": bootstrap, **librdkafka_config(env), **(extra or {})}


def admin_client(bootstrap: str, extra: Mapping | None = None,
                 env: Mapping[str, str] = os.environ) -> AdminClient:
    return AdminClient(client_config(bootstrap, extra, env))


def create_topics(bootstrap: str, names: list[str], partitions: int,
                  replication: int = 1) -> None:
    """Create new topics and wait until the broker confirms each (an existing one fails)."""
    admin = admin_client(bootstrap)
    new = [NewTopic(name, partitions, replication) for name in names]
    for future in admin.create_topics(new).values():
        future.result(timeout=ADMIN_TIMEOUT_S)


def delete_topics(bootstrap: str, names: list[str]) -> None:
    """Delete and wait: unawaited, the request may never leave the client (which must stay
    referenced until then, or librdkafka destroys it with the request in flight)."""
    admin = admin_client(bootstrap)
    for future in admin.delete_topics(names).values():
        future.result(timeout=ADMIN_TIMEOUT_S)


def read_topic(bootstrap: str, topic: str, idle_timeout: float = 60) -> list[tuple]:
    """Every record now in `topic`, from the beginning to the current end, as
    (partition, key, value) bytes in partition-offset order. Fails after `idle_timeout`
    seconds without progress."""
    consumer = Consumer(client_config(bootstrap, {"group.id": f"{topic}-reader",
                                                  "enable.auto.commit": False}))
    try:
        partitions = consumer.list_topics(topic, timeout=ADMIN_TIMEOUT_S).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                  timeout=ADMIN_TIMEOUT_S)[1]
                for p in partitions}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        pending = {p for p, end in ends.items() if end > 0}
        records, last_progress = [], time.monotonic()
        while pending:
            batch = consumer.consume(10_000, timeout=1)
            if not batch and time.monotonic() - last_progress > idle_timeout:
                raise TimeoutError(f"{topic}: nothing read for {idle_timeout} s, "
                                   f"{len(records)} of {sum(ends.values())} records")
            for message in batch:
                if message.error():
                    raise RuntimeError(f"{topic}: {message.error()}")
                records.append((message.partition(), message.key(), message.value()))
                if message.offset() + 1 >= ends[message.partition()]:
                    pending.discard(message.partition())
                last_progress = time.monotonic()
        return records
    finally:
        consumer.close()
