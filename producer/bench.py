"""`make bench-producer`: the producer's replay path against a bare confluent-kafka loop.

1. Generates (once, cached) a recording of >= 1M raw Exchange ``match`` messages from the
   simulator's market model.
2. After a warm-up (300k trades: a just-started broker loads coordinators and JIT-compiles), for
   ``--rounds`` rounds (default 3), alternately:
   - replays it as fast as possible through the real producer (read recording -> normalize ->
     dedupe/gap checks -> Kafka) into a fresh topic; trades/s counts until every record is
     acknowledged;
   - produces the same pre-serialized payloads (the normalized trades) into another fresh topic
     with a bare confluent-kafka loop and the same producer settings.
3. Prints every round, the best rate of each side and their ratio (target >= 0.5), and the rate
   of the same replay into memory (no Kafka), which shows how much of the producer's time is
   its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import Producer

from producer.config import parse
from producer.feeds.coinbase import CoinbaseExchangeFeed
from producer.kafka_writer import producer_config
from producer.pipeline import MemorySink, Pipeline
from producer.recording import Recorder, read_header
from producer.runner import Run, replay
from producer.schema import format_utc
from producer.simulator import Market, product_names
from producer.stats import Stats
from runtime import topology
from runtime.kafka_topics import create_topics, delete_topics
from runtime.paths import CACHE_DIR

WARM_UP_TRADES = 300_000


def recording_path(trades: int, products: int, seed: int) -> Path:
    return CACHE_DIR / "producer-bench" / f"matches-{trades}-{products}-{seed}.jsonl"


def ensure_recording(trades: int, products: int, seed: int) -> Path:
    path = recording_path(trades, products, seed)
    if not path.exists():
        partial = path.with_suffix(".partial")
        write_match_recording(partial, trades, products, seed)
        partial.rename(path)
    return path


def write_match_recording(path: Path, trades: int, products: int, seed: int) -> None:
    """A recording of ``trades`` Exchange match messages from the simulator's market model."""
    names = product_names(products)
    market = Market(names, seed)
    recorder = Recorder(path, feed="coinbase", exchange="coinbase", channel="matches",
                        products=names, source="coinbase")
    clock = datetime(2024, 1, 1, tzinfo=UTC)
    step = timedelta(microseconds=137)
    for _ in range(trades):
        clock += step
        trade = market.next_trade(clock)
        recorder.write(json.dumps(trade.match_message()), format_utc(clock + step))
    recorder.close()


def run_producer(path: Path, bootstrap: str, topic: str) -> tuple[int, float, float]:
    run = Run(parse(["--source", "replay", "--file", str(path), "--speed", "0",
                     "--bootstrap-servers", bootstrap, "--topic", topic,
                     "--dlq-topic", f"{topic}.dlq", "--stats-interval", "3600"]))
    started, cpu = time.perf_counter(), time.process_time()
    code = asyncio.run(run.run())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if code != 0 or run.stats.delivered != run.stats.produced:
        raise SystemExit(f"producer run failed: exit {code}, {run.stats.snapshot()}")
    return run.stats.delivered, elapsed, cpu


def payloads(path: Path) -> tuple[list[tuple[bytes, bytes]], float]:
    """The normalized trades, by the same replay path into memory, and the seconds it took
    (the producer's cost without Kafka)."""
    header = read_header(path)
    sink = MemorySink()
    feed = CoinbaseExchangeFeed(header["products"], header["channel"], header["exchange"])
    started = time.perf_counter()
    asyncio.run(replay(path, Pipeline(feed, sink, Stats()), 0, asyncio.Event()))
    elapsed = time.perf_counter() - started
    return [(key.encode(), value.encode()) for key, value in sink.trades], elapsed


def run_bare(records: list[tuple[bytes, bytes]], bootstrap: str,
             topic: str) -> tuple[int, float, float]:
    producer = Producer(producer_config(bootstrap))
    produce, poll = producer.produce, producer.poll
    started, cpu = time.perf_counter(), time.process_time()
    for count, (key, value) in enumerate(records):
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:
                poll(0.005)
        if count % 1000 == 0:
            poll(0)
    remaining = producer.flush(600)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if remaining:
        raise SystemExit(f"bare loop: {remaining} records undelivered")
    return len(records), elapsed, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m producer.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3,
                        help="producer and bare loop alternate this many times (default 3)")
    parser.add_argument("--bootstrap-servers", default=topology.load().kafka_bootstrap)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    started = time.perf_counter()
    path = ensure_recording(args.trades, args.products, args.seed)
    print(f"recording: {path} ({time.perf_counter() - started:.1f}s to prepare)", flush=True)
    records, seconds = payloads(path)
    print(f"normalize only (replay -> normalize -> memory): {len(records):,} trades in "
          f"{seconds:.2f}s = {len(records) / seconds:,.0f} trades/s", flush=True)
    suffix = uuid.uuid4().hex[:8]
    producer_topic, bare_topic = f"bench_producer_{suffix}", f"bench_bare_{suffix}"
    topics = [producer_topic, f"{producer_topic}.dlq", bare_topic]
    create_topics(args.bootstrap_servers, topics, topology.load().kafka_partitions)
    try:
        # Warm-up, timed for neither side: a broker just started may still be loading its
        # coordinators (an idempotent producer waits for its id), and its JIT compiles the
        # produce path under the first heavy load, on the core the producer shares with it.
        run_bare(records[:WARM_UP_TRADES], args.bootstrap_servers, bare_topic)
        rates = [measure_round(n, path, records, args.bootstrap_servers, producer_topic,
                               bare_topic) for n in range(1, args.rounds + 1)]
    finally:
        delete_topics(args.bootstrap_servers, topics)
    print_summary(rates)
    return 0


def measure_round(number: int, path: Path, records: list[tuple[bytes, bytes]], bootstrap: str,
                  producer_topic: str, bare_topic: str) -> tuple[float, float]:
    """One producer run, then one bare run; alternating keeps a slow spell of the machine
    from landing on one side only."""
    producer_rate = print_rate(f"round {number} producer  (replay -> normalize -> Kafka):",
                               *run_producer(path, bootstrap, producer_topic))
    bare_rate = print_rate(f"round {number} bare loop (pre-serialized payloads):     ",
                           *run_bare(records, bootstrap, bare_topic))
    return producer_rate, bare_rate


def print_rate(label: str, count: int, seconds: float, cpu: float) -> float:
    rate = count / seconds
    print(f"{label} {count:,} trades in {seconds:.2f}s = {rate:,.0f} trades/s "
          f"({cpu / count * 1e6:.1f} us CPU/trade)", flush=True)
    return rate


def print_summary(rates: list[tuple[float, float]]) -> None:
    """Best of each side (the least disturbed run) and their ratio; the per-round ratios too."""
    best_producer = max(producer for producer, _ in rates)
    best_bare = max(bare for _, bare in rates)
    ratio = best_producer / best_bare
    per_round = ", ".join(f"{producer / bare:.2f}" for producer, bare in rates)
    verdict = "meets" if ratio >= 0.5 else "below"
    print(f"best: producer {best_producer:,.0f} trades/s, bare loop {best_bare:,.0f} trades/s")
    print(f"ratio producer/bare: {ratio:.2f} ({verdict} the 0.5 target); per round: {per_round}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    raise SystemExit(main())
