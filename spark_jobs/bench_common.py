"""What the pipeline benchmarks share: the run's context, starting and stopping the job, and
window latency (the delay from a window's end to its row being readable in ClickHouse)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from clickhouse.client import connect
from runtime import topology
from spark_jobs.config import WINDOWS_QUERY
from spark_jobs.config import parse_args as job_defaults

POLL_SECONDS = 0.5
UNIT_SECONDS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600, "day": 86400}


# --- pure logic -------------------------------------------------------------------------------


def duration_seconds(text: str) -> float:
    """A Spark interval as the job's config spells it ('10 seconds') -> seconds."""
    amount, unit = text.split()
    return float(amount) * UNIT_SECONDS[unit.rstrip("s")]


@dataclass(frozen=True)
class Floor:
    """The latency a zero-cost job could reach with the configured watermark and trigger.

    A window is final once the job has read a trade `watermark` seconds past the window's end
    (with event time = wall clock, that trade exists at end + watermark). The batch that reads
    it starts within one trigger interval, Spark moves the watermark at that batch's end and
    writes the window in the next batch, one trigger later: at most watermark + 2 x trigger
    (half a trigger less on average), before any processing time.
    """

    window: float
    watermark: float
    trigger: float

    @property
    def seconds(self) -> float:
        return self.watermark + 2 * self.trigger

    def derivation(self) -> str:
        return (f"floor {self.seconds:g}s = watermark {self.watermark:g}s + 2 x trigger "
                f"{self.trigger:g}s (the batch reading the trade that passes the window's end "
                "starts within a trigger; the window is written one batch later)")


def job_floor(env: Mapping[str, str] = os.environ) -> Floor:
    """The floor of the job as configured by its defaults and the environment (STREAM_*)."""
    config = job_defaults([], env=env)
    return Floor(duration_seconds(config.window), duration_seconds(config.watermark),
                 duration_seconds(config.trigger_interval))


def window_ends_between(start: float, stop: float, length: float) -> list[float]:
    """Epoch seconds of the window ends (multiples of `length`) in [start, stop]."""
    first = -(-start // length) * length
    count = int((stop - first) // length) + 1 if stop >= first else 0
    return [first + i * length for i in range(count)]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (fraction 0.95 -> p95)."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class LatencyStats:
    windows: int
    missing: int
    minimum: float | None
    median: float | None
    p95: float | None
    maximum: float | None

    def describe(self) -> str:
        if self.median is None:
            return f"{self.windows} windows, none readable"
        return (f"min {self.minimum:.1f}s / median {self.median:.1f}s / p95 {self.p95:.1f}s / "
                f"max {self.maximum:.1f}s over {self.windows} windows ({self.missing} missing)")


def latency_stats(first_seen: Mapping[tuple, float], expected: Iterable[tuple]) -> LatencyStats:
    """Delay from window end to first sighting, over the expected (exchange, product, end) keys.

    first_seen maps (exchange, product_id, window_end epoch seconds) -> wall-clock epoch seconds.
    """
    expected = list(expected)
    delays = sorted(first_seen[key] - key[2] for key in expected if key in first_seen)
    if not delays:
        return LatencyStats(len(expected), len(expected), None, None, None, None)
    return LatencyStats(len(expected), len(expected) - len(delays), delays[0],
                        percentile(delays, 0.5), percentile(delays, 0.95), delays[-1])


# --- I/O helpers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    topo: topology.Topology
    run_id: str
    log_dir: Path

    def client(self):
        return connect(self.topo.clickhouse_url, self.topo.clickhouse_user,
                       os.environ.get("CLICKHOUSE_PASSWORD", ""))

    def checkpoint(self, name: str) -> str:
        return f"s3a://{self.topo.checkpoint_bucket}/{self.checkpoint_prefix}{name}"

    @property
    def checkpoint_prefix(self) -> str:
        return f"bench/{self.run_id}/"

    def log(self, name: str) -> Path:
        return self.log_dir / f"bench-{name}.log"


def start_module(ctx: Context, log_name: str, module: str, *args: str) -> subprocess.Popen:
    with ctx.log(log_name).open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", module, *args], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def start_job(ctx: Context, log_name: str, topic: str, database: str, *extra: str):
    return start_module(ctx, log_name, "spark_jobs.submit", "--topic", topic,
                        "--clickhouse-database", database,
                        "--checkpoint-location", ctx.checkpoint(log_name), *extra)


def stop(process: subprocess.Popen, timeout: float = 120) -> int:
    """SIGTERM to the Python process only (the job then stops its own JVM cleanly); its
    whole process group is killed if it has not exited within `timeout`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(30)


def wait_for(condition, timeout: float, what: str):
    """The first truthy value of ``condition()``; SystemExit after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL_SECONDS)
    return value


@dataclass(frozen=True)
class Batch:
    batch_id: int
    rows: int
    seconds: float
    start: float  # epoch seconds

    @property
    def end(self) -> float:
        return self.start + self.seconds

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def batches_of(client, database: str, table: str) -> list[Batch]:
    """The job's batches in order, from the progress table."""
    rows = client.query(
        "SELECT batch_id, input_rows, batch_duration_ms / 1000, toFloat64(timestamp) "
        f"FROM {database}.{table} WHERE query_name = {{query:String}} ORDER BY batch_id",
        parameters={"query": WINDOWS_QUERY},
    ).result_rows
    return [Batch(*row) for row in rows]


def first_data_batch(client, database: str, table: str) -> bool:
    rows = client.query(f"SELECT count() FROM {database}.{table} "
                        "WHERE query_name = {query:String} AND input_rows > 0",
                        parameters={"query": WINDOWS_QUERY}).result_rows
    return rows[0][0] > 0


def poll_first_seen(client, database: str, table: str, until: float,
                    first_seen: dict[tuple, float]) -> None:
    """Until `until` (epoch s), note when each window first appears in the `_final` view."""
    sql = f"SELECT exchange, product_id, toFloat64(window_end) FROM {database}.{table}_final"
    while time.time() < until:
        now = time.time()
        for key in client.query(sql).result_rows:
            first_seen.setdefault(tuple(key), now)
        time.sleep(max(0.0, POLL_SECONDS - (time.time() - now)))
