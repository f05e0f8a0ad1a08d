"""The producer against the real local Kafka broker: simulator -> producer -> Kafka -> consumer.

Each test writes to its own freshly created topics (partitions from the topology).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from producer.bench import write_match_recording
from producer.config import parse
from producer.feeds.coinbase import CoinbaseExchangeFeed
from producer.pipeline import MemorySink, Pipeline
from producer.recording import read_header
from producer.runner import Run, replay
from producer.simulator import Misbehaviour, SimConfig, Simulator
from producer.stats import Stats
from runtime import kafka_topics
from stack import control
from tests.support import wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD"]


@pytest.fixture
def topics(stack, unique_name):
    """(trades topic, dead-letter topic), created for this test and deleted after it."""
    names = [unique_name, f"{unique_name}.dlq"]
    kafka_topics.create_topics(stack.kafka_bootstrap, names, stack.kafka_partitions)
    yield names
    kafka_topics.delete_topics(stack.kafka_bootstrap, names)


def read_topic(bootstrap: str, topic: str) -> list[tuple[int, str | None, str]]:
    """Every record now in ``topic``: (partition, key, value) as text, in partition-offset order."""
    return [(partition, key.decode() if key is not None else None, value.decode())
            for partition, key, value in kafka_topics.read_topic(bootstrap, topic)]


def settings(stack, topics, *args: str):
    return parse(["--bootstrap-servers", stack.kafka_bootstrap, "--topic", topics[0],
                  "--dlq-topic", topics[1], "--stats-interval", "2", *args])


async def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def trade_keys(records) -> list[tuple[str, int]]:
    return [(json.loads(v)["product_id"], int(json.loads(v)["trade_id"])) for _, _, v in records]


def assert_keyed_and_ordered(records) -> None:
    """Key = product id, one partition per product, trade ids ascending within a product."""
    partitions, ids = defaultdict(set), defaultdict(list)
    for partition, key, value in records:
        trade = json.loads(value)
        assert key == trade["product_id"]
        partitions[key].add(partition)
        ids[key].append(int(trade["trade_id"]))
    assert all(len(p) == 1 for p in partitions.values())
    assert all(v == sorted(v) for v in ids.values())


def test_every_simulated_trade_reaches_kafka_exactly_once_in_order(stack, topics):
    run = Run(settings(stack, topics, "--source", "simulator", "--sim-products", "3",
                       "--sim-rate", "1500", "--sim-seed", "21", "--max-trades", "3000"))
    assert asyncio.run(run.run()) == 0
    records = read_topic(stack.kafka_bootstrap, topics[0])
    generated = [(t.product_id, t.trade_id) for t in run.simulator.generated]
    assert Counter(trade_keys(records)) == Counter(generated)  # each exactly once
    assert_keyed_and_ordered(records)
    by_id = {(t.product_id, str(t.trade_id)): t for t in run.simulator.generated}
    for _, _, value in records:
        trade = json.loads(value)
        sim = by_id[(trade["product_id"], trade["trade_id"])]
        assert (trade["price"], trade["size"], trade["side"], trade["event_time"]) == (
            sim.price, sim.size, sim.taker_side, sim.time)
        assert trade["v"] == 1 and trade["exchange"] == "simulator"
    assert run.stats.delivered == 3000 and run.stats.delivery_errors == 0
    assert read_topic(stack.kafka_bootstrap, topics[1]) == []


async def run_against(sim: Simulator, run: Run, done, timeout: float = 120):
    """Run the producer until ``done()``; return its exit code."""
    task = asyncio.create_task(run.run())
    await until(lambda: done() or task.done(), timeout, "the scenario to complete")
    run.stop("test complete")
    return await task


def caught_up_with(sim: Simulator, run: Run):
    def done():
        if not sim.finished.is_set() or run.pipeline is None:
            return False
        last = {t.product_id: t.trade_id for t in sim.generated}
        seen = run.pipeline.gaps._last_trade
        return all(seen.get(p) == i for p, i in last.items())
    return done


def test_drops_duplicates_and_a_skipped_trade_yield_no_duplicate_and_a_reported_gap(
        stack, topics):
    bad = Misbehaviour(drop_after=400, max_drops=2, duplicate_every=13, skip_every=97,
                       malformed_every=151)

    async def scenario():
        async with Simulator(SimConfig(PRODUCTS, rate=800, seed=5, max_trades=2500),
                             bad) as sim:
            run = Run(settings(stack, topics, "--source", "coinbase", "--url", sim.url,
                               "--products", ",".join(PRODUCTS),
                               "--reconnect-initial-delay", "0.1"))
            code = await run_against(sim, run, caught_up_with(sim, run))
            return sim, run, code

    sim, run, code = asyncio.run(scenario())
    assert code == 0
    records = read_topic(stack.kafka_bootstrap, topics[0])
    got = trade_keys(records)
    assert len(got) == len(set(got)), "a duplicate reached Kafka"
    assert_keyed_and_ordered(records)
    assert run.stats.duplicates >= len(sim.duplicated) > 0
    assert sim.drops == 2 and run.stats.reconnects == 2
    reported = {(g.scope, n) for g in run.pipeline.gaps.gaps for n in range(g.first, g.last + 1)}
    assert {(t.product_id, t.trade_id) for t in sim.skipped} <= reported
    assert {(t.product_id, t.trade_id) for t in sim.generated} - set(got) <= reported
    assert run.stats.gaps >= 1
    dead = [json.loads(v) for _, _, v in read_topic(stack.kafka_bootstrap, topics[1])]
    assert len(dead) == len(sim.malformed) > 0
    assert sorted(d["raw"] for d in dead) == sorted(sim.malformed)
    assert all(d["reason"] and d["source"] == "coinbase" for d in dead)


def test_a_broker_outage_of_20_seconds_loses_nothing(stack, topics):
    async def scenario():
        async with Simulator(SimConfig(PRODUCTS, rate=100, seed=8, max_trades=4000)) as sim:
            run = Run(settings(stack, topics, "--source", "coinbase", "--url", sim.url,
                               "--products", ",".join(PRODUCTS)))
            task = asyncio.create_task(run.run())
            await until(lambda: run.stats.delivered >= 300, 60, "first deliveries")
            await asyncio.to_thread(control.stop, "kafka")
            stopped_at = run.stats.produced
            await asyncio.sleep(20)  # the outage being tested, not a synchronisation
            assert run.stats.produced > stopped_at + 1000  # the feed kept flowing
            await asyncio.to_thread(control.start, "kafka")
            await until(lambda: run.stats.delivered >= 4000, 180, "every trade delivered")
            run.stop("test complete")
            return sim, run, await task

    sim, run, code = asyncio.run(scenario())
    assert code == 0 and run.stats.delivery_errors == 0
    records = read_topic(stack.kafka_bootstrap, topics[0])
    assert Counter(trade_keys(records)) == Counter(
        (t.product_id, t.trade_id) for t in sim.generated)
    assert_keyed_and_ordered(records)


def recorded_trades(path: Path) -> list[str]:
    """Normalize a recording through the same pipeline into memory: what Kafka must hold."""
    header = read_header(path)
    sink = MemorySink()
    feed = CoinbaseExchangeFeed(header["products"], header["channel"], header["exchange"])
    asyncio.run(replay(path, Pipeline(feed, sink, Stats()), 0, asyncio.Event()))
    return [value for _, value in sink.trades]


def test_sigterm_mid_run_loses_nothing_already_received(stack, topics, tmp_path):
    recording = tmp_path / "run.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "producer", "--source", "simulator", "--sim-rate", "400",
         "--bootstrap-servers", stack.kafka_bootstrap, "--topic", topics[0],
         "--dlq-topic", topics[1], "--record", str(recording), "--stats-interval", "0.5"],
        cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        def delivering():
            line = proc.stderr.readline()
            return "delivered=" in line and "delivered=0 " not in line
        wait_until(delivering, 60, interval=0, message="the producer to deliver")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    expected = recorded_trades(recording)
    assert len(expected) > 0
    stored = [v for _, _, v in read_topic(stack.kafka_bootstrap, topics[0])]
    assert Counter(stored) == Counter(expected)


def test_replaying_a_recording_reproduces_the_same_kafka_contents(stack, topics, unique_name,
                                                                   tmp_path):
    recording = tmp_path / "live.jsonl"
    live = Run(settings(stack, topics, "--source", "simulator", "--sim-rate", "1000",
                        "--sim-seed", "4", "--max-trades", "1500", "--sim-duplicate-every", "9",
                        "--sim-malformed-every", "101", "--record", str(recording)))
    assert asyncio.run(live.run()) == 0

    replay_topics = [f"{unique_name}_replay", f"{unique_name}_replay.dlq"]
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    for future in admin.create_topics(
            [NewTopic(n, stack.kafka_partitions, 1) for n in replay_topics]).values():
        future.result(timeout=30)
    try:
        replayed = Run(settings(stack, replay_topics, "--source", "replay", "--file",
                                str(recording), "--speed", "0"))
        assert asyncio.run(replayed.run()) == 0
        for original, copy in zip(topics, replay_topics, strict=True):
            before = read_topic(stack.kafka_bootstrap, original)
            after = read_topic(stack.kafka_bootstrap, copy)
            assert len(before) > 0
            assert Counter(before) == Counter(after)  # same partition, key, value and ...
            for partition in range(stack.kafka_partitions):  # ... the same order per partition
                assert [r for r in before if r[0] == partition] == [
                    r for r in after if r[0] == partition]
    finally:
        admin.delete_topics(replay_topics)


def test_a_full_producer_queue_applies_backpressure_and_keeps_every_trade_in_order(
        stack, topics, tmp_path):
    recording = tmp_path / "matches.jsonl"
    write_match_recording(recording, trades=20_000, products=3, seed=8)
    run = Run(settings(stack, topics, "--source", "replay", "--file", str(recording),
                       "--speed", "0", "--kafka-config", "queue.buffering.max.messages=300"))
    assert asyncio.run(run.run()) == 0
    assert run.stats.backpressure > 0  # batches met a full queue and waited
    records = read_topic(stack.kafka_bootstrap, topics[0])
    assert len(records) == len(set(trade_keys(records))) == 20_000
    assert_keyed_and_ordered(records)
    assert run.stats.delivered == 20_000 and run.stats.delivery_errors == 0
