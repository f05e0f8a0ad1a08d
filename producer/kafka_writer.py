"""The Kafka sink: idempotent, acks=all, compressed, batched; never drops a record.

``send_trade`` collects trades and hands them to librdkafka's local queue ``BATCH`` at a time
with one ``produce_batch`` call, or whatever is collected when ``submit()`` is called (the
client does after every WebSocket message, so a live trade never waits for a batch to fill);
dead letters go one by one with ``produce``. When the queue is full the records that did not
fit go, in order, to an in-process backlog, ``backlogged`` turns true, and the reader awaits
``drain()``, which serves delivery reports and retries the backlog in order until it is empty:
reading stops, so the WebSocket's TCP window applies the backpressure upstream. librdkafka
refuses every message after the first that finds the queue full, so what did not fit is always
the tail of a batch and order is kept.

Delivery reports are requested for failures only (``delivery.report.only.error``): a Python
callback per delivered record would cost more than the rest of the hot path's Kafka share.
Successes are counted as records accepted minus records still queued minus failures, which is
exact whenever the queue is empty (after ``flush()``) and a lower bound while records are in
flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from confluent_kafka import KafkaError, Message, Producer

from producer.stats import Stats
from runtime.kafka_security import librdkafka_config

log = logging.getLogger(__name__)

POLL_EVERY = 500  # serve delivery reports every this many records
BATCH = 1000  # trades per produce_batch call; fewer when submit() comes first


def producer_config(bootstrap_servers: str, overrides: dict | None = None) -> dict:
    """Our settings, then the environment's security settings (runtime.kafka_security), then
    `overrides` (KAFKA_PRODUCER_CONFIG), which win."""
    config = {
        "bootstrap.servers": bootstrap_servers,
        "client.id": "cryptostream-producer",
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 200_000,
        "queue.buffering.max.kbytes": 262_144,
        # Keep retrying through broker outages for up to 10 minutes before a delivery fails.
        "message.timeout.ms": 600_000,
        "delivery.report.only.error": True,
        **librdkafka_config(),
    }
    config.update(overrides or {})
    return config


class KafkaWriter:
    def __init__(self, bootstrap_servers: str, topic: str, dlq_topic: str, stats: Stats,
                 overrides: dict | None = None):
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.stats = stats
        config = producer_config(bootstrap_servers, overrides)
        config["error_cb"] = self._on_error
        config["on_delivery"] = self._on_delivery  # once for all records: no per-call argument
        self._producer = Producer(config)
        self._batch: list[dict] = []
        self._backlog: deque[tuple[str, str | None, str]] = deque()
        self._since_poll = 0
        self._accepted = {topic: 0, dlq_topic: 0}
        self._failed = {topic: 0, dlq_topic: 0}
        self.fatal: KafkaError | None = None

    @property
    def backlogged(self) -> bool:
        return bool(self._backlog)

    def pending(self) -> int:
        """Records not yet acknowledged (in librdkafka's queue or in the backlog)."""
        return len(self._producer) + len(self._backlog) + len(self._batch)

    def send_trade(self, key: str, value: str) -> None:
        batch = self._batch
        batch.append({"key": key, "value": value})
        if len(batch) >= BATCH:
            self.submit()

    def submit(self) -> None:
        """Hand the collected trades to librdkafka (or to the backlog, behind what waits)."""
        batch, topic = self._batch, self.topic
        if not batch:
            return
        self._batch = []
        if self._backlog:
            self._backlog.extend((topic, record["key"], record["value"]) for record in batch)
            return
        queued = self._producer.produce_batch(topic, batch)
        if queued < len(batch):
            self._refused(batch)
        self._queued(topic, queued)

    def _refused(self, batch: list[dict]) -> None:
        """Records produce_batch did not queue: the queue-full tail waits in the backlog; any
        other refusal (a record too large, say) is a delivery failure, counted and logged."""
        for record in batch:
            err = record.get("_error")
            if err is None:
                continue
            if err.code() == KafkaError._QUEUE_FULL:
                if not self._backlog:
                    self.stats.backpressure += 1
                self._backlog.append((self.topic, record["key"], record["value"]))
            else:
                self.stats.delivery_errors += 1
                log.error("delivery failed to %s (key %s): %s; record: %s", self.topic,
                          record["key"], err, record["value"])

    def send_dead_letter(self, key: str | None, value: str) -> None:
        self._produce(self.dlq_topic, key, value)

    def _produce(self, topic: str, key: str | None, value: str) -> None:
        if self._backlog:
            self._backlog.append((topic, key, value))
            return
        try:
            self._producer.produce(topic, value, key)
        except BufferError:
            self.stats.backpressure += 1
            self._backlog.append((topic, key, value))
            return
        self._queued(topic, 1)

    def _queued(self, topic: str, count: int) -> None:
        """``count`` records librdkafka took: counted, and delivery reports served now and then."""
        self._accepted[topic] += count
        self._since_poll += count
        if self._since_poll >= POLL_EVERY:
            self._since_poll = 0
            self._producer.poll(0)

    def poll(self) -> None:
        self.submit()
        self._producer.poll(0)
        self._count_delivered()

    def _count_delivered(self) -> None:
        """Records acknowledged so far; in-flight records are assumed to be trades."""
        in_flight = len(self._producer)
        trades = self._accepted[self.topic] - self._failed[self.topic]
        dead = self._accepted[self.dlq_topic] - self._failed[self.dlq_topic]
        self.stats.delivered = max(0, trades - in_flight)
        self.stats.dead_letters_delivered = trades + dead - in_flight - self.stats.delivered

    async def drain(self) -> None:
        """Retry the backlog, in order, until librdkafka has taken all of it."""
        self.submit()
        while self._backlog:
            topic, key, value = self._backlog[0]
            try:
                self._producer.produce(topic, value, key)
            except BufferError:
                self._producer.poll(0)
                await asyncio.sleep(0.005)
                continue
            self._backlog.popleft()
            self._accepted[topic] += 1

    async def flush(self) -> None:
        """Wait until every record is acknowledged; yields to the loop so signals still work."""
        await self.drain()
        while len(self._producer) > 0:
            self._producer.poll(0.05)
            self._count_delivered()
            await asyncio.sleep(0)
        self._count_delivered()

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:  # only with delivery.report.only.error switched off
            return
        self._failed[msg.topic()] += 1
        self.stats.delivery_errors += 1
        log.error("delivery failed to %s (key %s): %s; record: %s", msg.topic(), msg.key(), err,
                  msg.value())

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal = err
            log.error("fatal Kafka producer error: %s", err)
        else:
            log.warning("Kafka: %s", err)
