"""Kafka topic chores shared by the stack, the benchmarks and the tests: create, delete, read."""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ADMIN_TIMEOUT_S = 30


def create_topics(bootstrap: str, names: list[str], partitions: int,
                  replication: int = 1, skip_existing: bool = False) -> None:
    """Create the topics and wait until the broker confirms each."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if skip_existing:
        existing = admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics
        names = [name for name in names if name not in existing]
    if not names:
        return
    new = [NewTopic(name, partitions, replication) for name in names]
    for future in admin.create_topics(new).values():
        future.result(timeout=ADMIN_TIMEOUT_S)


def delete_topics(bootstrap: str, names: list[str]) -> None:
    """Delete and wait: unawaited, the request may never leave the client (which must stay
    referenced until then, or librdkafka destroys it with the request in flight)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics(names).values():
        future.result(timeout=ADMIN_TIMEOUT_S)


def read_topic(bootstrap: str, topic: str, idle_timeout: float = 60) -> list[tuple]:
    """Every record now in `topic`, from the beginning to the current end, as
    (partition, key, value) bytes in partition-offset order. Fails after `idle_timeout`
    seconds without progress."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-reader",
                         "enable.auto.commit": False})
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
