"""bench-pipeline's sustained phase: trades fed into Kafka at fixed rates, a step of minutes
each, while one job runs with its defaults (append mode, its trigger and watermark).

Per step it reports the window latency (median, p95) against the floor, the lag at the step's
end (trades fed that the job's finished batches had not read), its state (rows and memory,
Spark's own figures), the driver's and the executor's RSS, and whether the job sustained the
rate:
  - p95 latency within floor + SUSTAINED_LATENCY_MARGIN, and every expected window written;
  - the feeder delivered the rate (else the machine, not the job, is the limit: reported);
  - state memory flat (the second half of the step's batches at most STATE_GROWTH_LIMIT x the
    first half: the dedupe state holds rate x (watermark + trigger) keys, not a growing set);
  - every window's trade count equals the number of trades the feeder sent into it.
The ladder stops at the first rate the job does not sustain.

Why the feeder is the bench's own: the producer's simulator path (WebSocket -> normalize ->
Kafka) tops out near 20k trades/s on this 2-core machine by itself (19-20k/s measured with
nothing else running), below the rates asked here. The feeder writes what the producer
writes (its Trade record's JSON, key = product id, its Kafka settings) with wall-clock event
times.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Producer

from clickhouse.migrate import default_names, migrate
from producer.kafka_writer import producer_config
from producer.schema import Trade, format_utc
from spark_jobs.bench_common import (
    Context,
    Floor,
    LatencyStats,
    batches_of,
    first_data_batch,
    job_floor,
    latency_stats,
    poll_first_seen,
    start_job,
    stop,
    wait_for,
    window_ends_between,
)
from spark_jobs.config import WINDOWS_QUERY

SUSTAINED_LATENCY_MARGIN = 5.0  # the bound: p95 within floor + 5 s
STATE_GROWTH_LIMIT = 1.25
FEEDER_TICK = 0.01
RSS_EVERY = 5.0
DEFAULT_RATES = "10000,25000,40000,55000,70000,85000,100000"
# The local worker's work directory (the dev runner's: stack.services), from the repository root.
SPARK_WORK_DIR = Path(os.environ.get("BENCH_SPARK_WORK_DIR", ".state/spark/work")).resolve()


# --- pure logic -------------------------------------------------------------------------------


def fed_trade(product: str, trade_id: int, price: float, size: float, side: str,
              event_time: str) -> Trade:
    """One trade as the producer normalizes it (its record type, so the same Kafka value)."""
    return Trade("coinbase", product, str(trade_id), f"{price:.2f}", f"{size:.8f}", side,
                 event_time, None, event_time)


def utc_text(epoch: float) -> str:
    return format_utc(datetime.fromtimestamp(epoch, UTC))


def due(rate: float, elapsed: float, sent: int) -> int:
    """Trades to send now to be at `rate` after `elapsed` seconds with `sent` already out."""
    return max(0, int(rate * elapsed) - sent)


def growth(values: list[float]) -> float | None:
    """Mean of the second half over the mean of the first half (None: too few values)."""
    if len(values) < 4:
        return None
    half = len(values) // 2
    first, second = values[:half], values[half:]
    base = sum(first) / len(first)
    return (sum(second) / len(second)) / base if base else None


@dataclass
class Step:
    rate: float
    seconds: float
    sent: int = 0
    latency: LatencyStats | None = None
    # Trades fed that the job had not finished when the step ended: the lag in Spark's
    # progress (latestOffset - endOffset when a batch is planned) is 0 whenever batches are
    # uncapped, even for a job that takes a minute per batch.
    end_lag: int | None = None
    state_rows: list[int] = field(default_factory=list)
    state_bytes: list[int] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def fed_rate(self) -> float:
        return self.sent / self.seconds

    def failures(self, floor: Floor) -> list[str]:
        problems = []
        stats = self.latency
        if stats is None or stats.p95 is None:
            problems.append("no window readable")
        else:
            if stats.p95 > floor.seconds + SUSTAINED_LATENCY_MARGIN:
                problems.append(f"p95 {stats.p95:.1f}s > floor + {SUSTAINED_LATENCY_MARGIN:g}s")
            if stats.missing:
                problems.append(f"{stats.missing} window(s) not written in time")
        if self.fed_rate < 0.98 * self.rate:
            problems.append(f"the feeder delivered only {self.fed_rate:,.0f}/s")
        state = growth([float(value) for value in self.state_bytes])
        if state is not None and state > STATE_GROWTH_LIMIT:
            problems.append(f"state memory grew x{state:.2f} within the step")
        problems += self.mismatches[:3]
        return problems


# --- I/O: the feeder and the RSS sampler ------------------------------------------------------


class Feeder(threading.Thread):
    """Writes trades into `topic` at the current rate (set_rate), round-robin over products,
    and counts what it sent per (product, window start)."""

    def __init__(self, bootstrap: str, topic: str, products: int, window: float, seed: int = 1):
        super().__init__(daemon=True, name="bench-feeder")
        self.topic, self.window = topic, window
        self.products = [f"SIM{index}-USD" for index in range(products)]
        self.producer = Producer(producer_config(bootstrap, {"client.id": "bench-feeder"}))
        self.random = random.Random(seed)
        self.prices = {product: 100.0 * (index + 1) for index, product in
                       enumerate(self.products)}
        self.next_id = 1
        self.sent_per_window: Counter = Counter()
        self.total_sent = 0
        self._rate, self._step_start, self._step_sent = 0.0, time.time(), 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self._rate, self._step_start, self._step_sent = rate, time.time(), 0

    def stop(self) -> None:
        self._stopping.set()
        self.join()
        self.producer.flush(60)

    def run(self) -> None:
        while not self._stopping.is_set():
            now = time.time()
            with self._lock:
                count = due(self._rate, now - self._step_start, self._step_sent)
                self._step_sent += count
            self._send(count, now)
            self.producer.poll(0)
            time.sleep(max(0.0, FEEDER_TICK - (time.time() - now)))

    def _send(self, count: int, now: float) -> None:
        event_time = utc_text(now)
        window_start = now // self.window * self.window
        produce, pick = self.producer.produce, self.random.random
        for _ in range(count):
            product = self.products[self.next_id % len(self.products)]
            price = self.prices[product] = self.prices[product] * (1 + (pick() - 0.5) * 1e-4)
            value = fed_trade(product, self.next_id, price, 0.001 + pick(),
                              "buy" if pick() < 0.5 else "sell", event_time).to_json().encode()
            while True:
                try:
                    produce(self.topic, value, product.encode())
                    break
                except BufferError:
                    self.producer.poll(0.005)
            self.sent_per_window[(product, window_start)] += 1
            self.next_id += 1
        self.total_sent += count


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _processes() -> dict[int, tuple[int, str]]:
    """{pid: (parent pid, command line)} of the processes this machine shows."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                found[int(entry.name)] = (parent, (entry / "cmdline").read_bytes().decode(
                    errors="replace"))
            except (OSError, IndexError, ValueError):
                continue
    return found


def descendants(processes: Mapping[int, tuple[int, str]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, pending = set(), [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


class RssSampler(threading.Thread):
    """Every RSS_EVERY seconds: (time, driver JVM RSS MB, executor JVMs' RSS MB) of one job:
    the driver is the JVM below the job's process, the executors those the local worker
    started (their working directory is under `work_dir`; Spark in containers or on other
    machines is not counted)."""

    def __init__(self, job_pid: int, work_dir: Path):
        super().__init__(daemon=True, name="bench-rss")
        self.job_pid, self.work_dir = job_pid, str(work_dir)
        self.samples: list[tuple[float, float, float]] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(RSS_EVERY):
            try:
                processes = _processes()
                driver = sum(_rss_mb(pid) for pid in descendants(processes, self.job_pid)
                             if "SparkSubmit" in processes[pid][1])
                executor = sum(_rss_mb(pid) for pid, (_, command) in processes.items()
                               if "CoarseGrainedExecutorBackend" in command
                               and os.readlink(f"/proc/{pid}/cwd").startswith(self.work_dir))
            except OSError:  # a process ended between listing and reading
                continue
            self.samples.append((time.time(), driver, executor))

    def stop(self) -> None:
        self._stopping.set()
        self.join()


# --- the phase --------------------------------------------------------------------------------


def progress_between(client, database: str, table: str, start: float, end: float) -> list[dict]:
    rows = client.query(
        f"SELECT progress_json FROM {database}.{table} WHERE query_name = {{query:String}} "
        "AND toFloat64(timestamp) BETWEEN {start:Float64} AND {end:Float64} ORDER BY timestamp",
        parameters={"query": WINDOWS_QUERY, "start": start, "end": end}).result_rows
    return [json.loads(row[0]) for row in rows]


def window_counts(client, database: str, table: str) -> dict[tuple, int]:
    rows = client.query(f"SELECT product_id, toFloat64(window_start), trade_count "
                        f"FROM {database}.{table}_final").result_rows
    return {(product, start): count for product, start, count in rows}


def run_step(ctx: Context, client, database: str, feeder: Feeder, rate: float, seconds: float,
             floor: Floor) -> Step:
    step = Step(rate, seconds)
    sent_before = feeder.total_sent
    feeder.set_rate(rate)
    start = time.time()
    first_seen: dict[tuple, float] = {}
    poll_first_seen(client, database, ctx.topo.windows_table, start + seconds, first_seen)
    step.sent = feeder.total_sent - sent_before
    processed = sum(batch.rows for batch in batches_of(client, database, ctx.topo.progress_table))
    step.end_lag = max(0, feeder.total_sent - processed)
    ends = window_ends_between(start + floor.window,
                               start + seconds - floor.seconds - SUSTAINED_LATENCY_MARGIN,
                               floor.window)
    expected = [("coinbase", product, end) for product in feeder.products for end in ends]
    step.latency = latency_stats(first_seen, expected)
    batches = progress_between(client, database, ctx.topo.progress_table, start, start + seconds)
    for batch in batches:
        operators = batch.get("stateOperators") or []
        step.state_rows.append(sum(int(op.get("numRowsTotal", 0)) for op in operators))
        step.state_bytes.append(sum(int(op.get("memoryUsedBytes", 0)) for op in operators))
    written = window_counts(client, database, ctx.topo.windows_table)
    for _, product, end in expected:
        key = (product, end - floor.window)
        if written.get(key) is not None and written[key] != feeder.sent_per_window[key]:
            step.mismatches.append(f"{product} window {utc_text(key[1])}: job "
                                   f"{written[key]} trades, fed {feeder.sent_per_window[key]}")
    return step


def describe(step: Step, floor: Floor) -> str:
    stats = step.latency
    verdict = step.failures(floor)
    state = (f"state {step.state_rows[-1]:,} rows / {step.state_bytes[-1] / 2**20:.0f} MB"
             if step.state_rows else "state -")
    return (f"sustained {step.rate:,.0f}/s (fed {step.fed_rate:,.0f}/s): "
            f"{stats.describe() if stats else '-'}; lag at the end {step.end_lag:,}; {state} -> "
            f"{'OK' if not verdict else 'NOT sustained: ' + '; '.join(verdict)}")


def measure(ctx: Context, client, args, database: str, topic: str) -> dict:
    floor = job_floor()
    migrate(client, default_names(database))
    feeder = Feeder(ctx.topo.kafka_bootstrap, topic, args.products, floor.window)
    job = start_job(ctx, "sustained", topic, database)
    sampler = RssSampler(job.pid, SPARK_WORK_DIR)
    feeder.set_rate(args.sustained_rates[0])
    feeder.start()
    sampler.start()
    steps: list[Step] = []
    try:
        wait_for(lambda: first_data_batch(client, database, ctx.topo.progress_table), 300,
                 "the sustained job's first batch")
        for rate in args.sustained_rates:
            steps.append(run_step(ctx, client, database, feeder, rate, args.sustained_seconds,
                                  floor))
            print(describe(steps[-1], floor), flush=True)
            if steps[-1].failures(floor):
                break
    finally:
        try:
            feeder.stop()
        finally:
            job_code = stop(job)
            sampler.stop()
    sustained = [step.rate for step in steps if not step.failures(floor)]
    return {"floor": floor, "steps": steps, "rss": sampler.samples, "job_code": job_code,
            "highest": max(sustained) if sustained else None,
            "mismatches": [problem for step in steps for problem in step.mismatches]}


def rss_series(samples: list[tuple[float, float, float]], every: float = 30.0) -> str:
    if not samples:
        return "-"
    start, shown, parts = samples[0][0], None, []
    for moment, driver, executor in samples:
        if shown is None or moment - shown >= every:
            parts.append(f"{moment - start:.0f}s {driver:.0f}/{executor:.0f}")
            shown = moment
    return ", ".join(parts)


def summary_lines(result: Mapping) -> list[str]:
    floor, highest = result["floor"], result["highest"]
    lines = [describe(step, floor) for step in result["steps"]]
    lines.append(f"highest sustained rate       "
                 f"{f'{highest:,.0f} trades/s' if highest else 'none of the rates'} "
                 f"(p95 within floor {floor.seconds:g}s + {SUSTAINED_LATENCY_MARGIN:g}s, state "
                 f"flat, counts exact)")
    lines.append(f"RSS MB driver/executor       {rss_series(result['rss'])}")
    return lines


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: rates are numbers, e.g. 10000,20000") \
            from error
    if not rates or any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError(f"{text!r}: give positive rates, e.g. 10000,20000")
    return rates


def add_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str] = os.environ) -> None:
    parser.add_argument("--sustained-rates", type=_rates,
                        default=_rates(env.get("BENCH_SUSTAINED_RATES", DEFAULT_RATES)),
                        help="trades/s of each sustained step, ascending "
                             f"[BENCH_SUSTAINED_RATES] (default: {DEFAULT_RATES})")
    parser.add_argument("--sustained-seconds", type=float,
                        default=float(env.get("BENCH_SUSTAINED_SECONDS", 120)),
                        help="length of each sustained step [BENCH_SUSTAINED_SECONDS]")
