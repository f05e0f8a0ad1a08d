"""The Kafka writer's own logic (backlog, backpressure, delivery counting) against a stand-in
for confluent_kafka.Producer; the real broker is exercised in tests/integration."""

from __future__ import annotations

import asyncio

import pytest
from confluent_kafka import KafkaError

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
    """Holds at most ``room`` undelivered records; poll() delivers them all. Like librdkafka,
    ``produce_batch`` refuses every record after the first that finds the queue full, and
    refuses records whose value is in ``too_large`` on their own."""

    def __init__(self, config):
        self.config = config
        self.on_delivery = config["on_delivery"]
        self.room = 3
        self.queue: list[tuple] = []
        self.delivered: list[tuple] = []
        self.fail_with = None
        self.too_large: set[str] = set()
        self.batches: list[int] = []

    def __len__(self):
        return len(self.queue)

    def produce(self, topic, value, key):
        if len(self.queue) >= self.room:
            raise BufferError("Local: Queue full")
        self.queue.append((topic, key, value, self.on_delivery))

    def produce_batch(self, topic, messages):
        self.batches.append(len(messages))
        queued, full = 0, False
        for message in messages:
            full = full or len(self.queue) >= self.room
            if full:
                message["_error"] = KafkaError(KafkaError._QUEUE_FULL)
            elif message["value"] in self.too_large:
                message["_error"] = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
            else:
                self.queue.append((topic, message["key"], message["value"], self.on_delivery))
                queued += 1
        return queued

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


def test_trades_wait_for_submit_or_a_full_batch(writer, monkeypatch):
    monkeypatch.setattr(kafka_writer, "BATCH", 2)
    writer._producer.room = 100
    writer.send_trade("BTC-USD", "t0")
    assert writer._producer.queue == [] and writer.pending() == 1
    writer.send_trade("BTC-USD", "t1")
    writer.send_trade("BTC-USD", "t2")
    assert writer._producer.batches == [2]
    writer.submit()
    writer.submit()  # nothing left: no empty batch
    assert writer._producer.batches == [2, 1]
    assert [v for _, _, v, _ in writer._producer.queue] == ["t0", "t1", "t2"]


def test_a_full_queue_backlogs_in_order_and_drain_delivers_everything(writer):
    for n in range(10):
        writer.send_trade("BTC-USD", f"t{n}")
    writer.submit()  # 3 fit, the 7 others wait in order
    writer.send_trade("BTC-USD", "t10")
    writer.submit()  # behind the backlog, not past it
    writer.send_dead_letter(None, "d0")
    assert writer.backlogged and writer.stats.backpressure == 1
    assert writer.pending() == 12
    asyncio.run(writer.flush())
    producer = writer._producer
    assert [v for _, _, v in producer.delivered] == [f"t{n}" for n in range(11)] + ["d0"]
    assert producer.delivered[-1][0] == "trades.dlq"
    assert not writer.backlogged and writer.pending() == 0
    assert (writer.stats.delivered, writer.stats.dead_letters_delivered) == (11, 1)


def test_delivery_failures_are_counted_and_logged_with_the_record(writer, caplog):
    writer._producer.fail_with = "Local: Message timed out"
    writer.send_trade("BTC-USD", '{"trade_id":"1"}')
    writer.send_dead_letter("BTC-USD", '{"reason":"x"}')
    writer.poll()
    writer.poll()
    assert writer.stats.delivery_errors == 2
    assert writer.stats.delivered == writer.stats.dead_letters_delivered == 0
    assert '{"trade_id":"1"}' in caplog.text and "Message timed out" in caplog.text


def test_a_record_refused_for_another_reason_is_a_counted_failure_not_a_stall(writer, caplog):
    writer._producer.room = 100
    writer._producer.too_large = {"huge"}
    for value in ("t0", "huge", "t2"):
        writer.send_trade("BTC-USD", value)
    writer.submit()
    assert not writer.backlogged
    asyncio.run(writer.flush())
    assert [v for _, _, v in writer._producer.delivered] == ["t0", "t2"]
    assert (writer.stats.delivered, writer.stats.delivery_errors) == (2, 1)
    assert "huge" in caplog.text and "too large" in caplog.text.lower()
