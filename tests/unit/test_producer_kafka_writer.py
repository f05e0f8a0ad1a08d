"""The Kafka writer's own logic (backlog, backpressure, delivery counting) against a stand-in
for confluent_kafka.Producer; the real broker is exercised in tests/integration."""

from __future__ import annotations

import asyncio

import pytest

from producer import kafka_writer
from producer.kafka_writer import KafkaWriter, producer_config
from producer.stats import Stats


class FakeMessage:
    def __init__(self, topic, key, value):
        self._topic, self._key, self._value = topic, key, value

    def topic(self):
        return self._topic

    def key(self):
        return self._key

    def value(self):
        return self._value


class FakeProducer:
    """Holds at most ``room`` undelivered records; poll() delivers them all."""

    def __init__(self, config):
        self.config = config
        self.on_delivery = config["on_delivery"]
        self.room = 3
        self.queue: list[tuple] = []
        self.delivered: list[tuple] = []
        self.fail_with = None

    def __len__(self):
        return len(self.queue)

    def produce(self, topic, value, key):
        if len(self.queue) >= self.room:
            raise BufferError("Local: Queue full")
        self.queue.append((topic, key, value, self.on_delivery))

    def poll(self, timeout=0):
        queue, self.queue = self.queue, []
        for topic, key, value, callback in queue:  # reports failures only, as configured
            if self.fail_with is None:
                self.delivered.append((topic, key, value))
            else:
                callback(self.fail_with, FakeMessage(topic, key, value))
        return len(queue)


@pytest.fixture
def writer(monkeypatch):
    monkeypatch.setattr(kafka_writer, "Producer", FakeProducer)
    return KafkaWriter("localhost:1", "trades", "trades.dlq", Stats())


def test_configuration_is_idempotent_acks_all_compressed_and_batched():
    config = producer_config("broker:9092", {"linger.ms": 5})
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["compression.type"] in ("lz4", "zstd")
    assert config["linger.ms"] == 5 and config["batch.size"] > 16_384
    assert config["bootstrap.servers"] == "broker:9092"
    assert config["delivery.report.only.error"] is True


def test_deliveries_are_counted_from_the_queue_length(writer):
    writer.send_trade("BTC-USD", "t0")
    writer.send_trade("BTC-USD", "t1")
    writer.poll()
    assert writer.stats.delivered == 2
    writer.send_trade("BTC-USD", "t2")
    writer._count_delivered()  # t2 still queued: not counted yet
    assert writer.stats.delivered == 2


def test_a_full_queue_backlogs_in_order_and_drain_delivers_everything(writer):
    for n in range(10):
        writer.send_trade("BTC-USD", f"t{n}")
    writer.send_dead_letter(None, "d0")
    assert writer.backlogged and writer.stats.backpressure == 1
    assert writer.pending() == 11
    asyncio.run(writer.flush())
    producer = writer._producer
    assert [v for _, _, v in producer.delivered] == [f"t{n}" for n in range(10)] + ["d0"]
    assert producer.delivered[-1][0] == "trades.dlq"
    assert not writer.backlogged and writer.pending() == 0
    assert (writer.stats.delivered, writer.stats.dead_letters_delivered) == (10, 1)


def test_delivery_failures_are_counted_and_logged_with_the_record(writer, caplog):
    writer._producer.fail_with = "Local: Message timed out"
    writer.send_trade("BTC-USD", '{"trade_id":"1"}')
    writer.send_dead_letter("BTC-USD", '{"reason":"x"}')
    writer.poll()
    writer.poll()
    assert writer.stats.delivery_errors == 2
    assert writer.stats.delivered == writer.stats.dead_letters_delivered == 0
    assert '{"trade_id":"1"}' in caplog.text and "Message timed out" in caplog.text
