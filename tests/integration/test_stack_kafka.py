"""Kafka on the local stack: keyed produce/consume, and data kept across a broker restart."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer

from runtime.kafka_topics import create_topics
from stack import control
from tests.support import wait_until


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    create_topics(bootstrap, [name], partitions)


def produce(bootstrap: str, topic: str, records: list[tuple[str, str]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0, "messages left undelivered"


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list:
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"{topic}-reader",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    seen = []
    try:

        def drained():
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                seen.append((message.key().decode(), message.value().decode(), message.partition()))
            return len(seen) >= expected

        wait_until(drained, timeout, interval=0, message=f"{expected} messages on {topic}")
    finally:
        consumer.close()
    return seen


def test_keyed_messages_round_trip_and_keep_per_key_partition(stack, unique_name):
    create_topic(stack.kafka_bootstrap, unique_name, 3)
    records = [(f"P{i % 4}", f"value-{i}") for i in range(200)]
    produce(stack.kafka_bootstrap, unique_name, records)

    seen = consume_all(stack.kafka_bootstrap, unique_name, len(records))

    assert sorted((k, v) for k, v, _ in seen) == sorted(records)
    partitions_per_key = {}
    for key, _, partition in seen:
        partitions_per_key.setdefault(key, set()).add(partition)
    assert all(len(parts) == 1 for parts in partitions_per_key.values())
    for key in partitions_per_key:  # per-key order is production order
        values = [v for k, v, _ in seen if k == key]
        assert values == [v for k, v in records if k == key]


def test_messages_survive_a_broker_restart(stack, unique_name):
    create_topic(stack.kafka_bootstrap, unique_name, 1)
    records = [("K", f"durable-{i}") for i in range(50)]
    produce(stack.kafka_bootstrap, unique_name, records)

    control.stop("kafka")
    control.start("kafka")

    seen = consume_all(stack.kafka_bootstrap, unique_name, len(records))
    assert [v for _, v, _ in seen] == [v for _, v in records]
