"""Pure: the pipeline panel. From what was read from Kafka and ClickHouse (a Reading), the
producer's rate, the job's lag and a verdict: ok, stalled (red: data stopped moving) or
down (red: a service cannot be asked), each problem named."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from runtime.health_gate import offsets_by_partition

OK, STALLED, DOWN = "ok", "stalled", "down"


@dataclass(frozen=True)
class Reason:
    at: str      # ISO time
    reason: str


@dataclass(frozen=True)
class Batch:
    batch_id: int
    age_s: float          # since the batch's trigger, by ClickHouse's clock
    duration_ms: int
    input_rows: int
    rejected: int
    end_offsets: Mapping  # Spark's sources[0].endOffset: {topic: {partition: offset}}


@dataclass(frozen=True)
class NewestWindow:
    window_start: str
    written_age_s: float  # since the row landed in ClickHouse


@dataclass(frozen=True)
class ProducerCounters:
    """The producer's newest row in producer_stats (written with --stats-table on)."""
    age_s: float
    gaps: int
    gaps_filled: int
    gaps_unfillable: int
    trades_backfilled: int
    backfill_latency_max_ms: int
    reconnects: int


@dataclass(frozen=True)
class Reading:
    """One look at the pipeline. An error string replaces what could not be read."""
    at: float                                  # monotonic seconds
    kafka_error: str | None = None
    trade_offsets: Mapping | None = None       # trades topic: {(topic, partition): end offset}
    dead_letters: int | None = None            # records in the dead-letter topic
    dead_letter_reasons: tuple[Reason, ...] = ()
    clickhouse_error: str | None = None
    batch: Batch | None = None
    newest_window: NewestWindow | None = None
    rejected: int | None = None
    rejected_reasons: tuple[Reason, ...] = ()
    producer: ProducerCounters | None = None


def live_lag(trade_offsets: Mapping | None, batch: Batch | None) -> int | None:
    """Records in the trades topic past where the job's newest batch ended."""
    if trade_offsets is None or batch is None:
        return None
    done = offsets_by_partition(batch.end_offsets) or {}
    return sum(max(0, end - done.get(key, 0)) for key, end in trade_offsets.items())


@dataclass
class ProducerRate:
    """Records per second into the trades topic over a sliding window, and how long since the
    last one arrived (measured from the first reading while nothing arrives)."""
    window_s: float
    samples: deque = field(default_factory=deque)
    last_change_at: float | None = None

    def add(self, at: float, total: int) -> None:
        if not self.samples or total != self.samples[-1][1]:
            self.last_change_at = at
        self.samples.append((at, total))
        while len(self.samples) > 2 and at - self.samples[1][0] >= self.window_s:
            self.samples.popleft()

    def per_second(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, n0), (t1, n1) = self.samples[0], self.samples[-1]
        return max(0, n1 - n0) / (t1 - t0) if t1 > t0 else None

    def idle_s(self, now: float) -> float | None:
        return None if self.last_change_at is None else now - self.last_change_at


def problems(reading: Reading, rate: ProducerRate, stall_after_s: float) -> tuple[str, list[str]]:
    """The verdict and the problems behind it (empty when ok)."""
    down = []
    if reading.clickhouse_error:
        down.append(f"ClickHouse cannot be asked: {reading.clickhouse_error}")
    if reading.kafka_error:
        down.append(f"Kafka cannot be asked: {reading.kafka_error}")
    if down:
        return DOWN, down
    stalled = []
    idle = rate.idle_s(reading.at)
    if idle is not None and idle > stall_after_s:
        stalled.append(f"no trade reached Kafka for {idle:.0f} s: is the producer running?")
    lag = live_lag(reading.trade_offsets, reading.batch)
    if reading.batch is None:
        stalled.append("the job has not reported a batch yet")
    elif reading.batch.age_s > stall_after_s and lag:
        stalled.append(f"the job's last batch was {reading.batch.age_s:.0f} s ago and it is "
                       f"{lag} records behind: is the job running?")
    return (STALLED if stalled else OK), stalled


def panel(reading: Reading, rate: ProducerRate, stall_after_s: float) -> dict:
    """What /api/health returns and the page's panel shows."""
    state, found = problems(reading, rate, stall_after_s)
    per_second, idle = rate.per_second(), rate.idle_s(reading.at)
    batch = reading.batch
    return {
        "state": state,
        "problems": found,
        "stall_after_s": stall_after_s,
        "producer": {
            "records_per_s": None if per_second is None else round(per_second, 1),
            "idle_s": None if idle is None else round(idle, 1),
        },
        "backfill": None if reading.producer is None else {
            **asdict(reading.producer), "age_s": round(reading.producer.age_s, 1)},
        "kafka": {"lag": live_lag(reading.trade_offsets, batch),
                  "dead_letters": reading.dead_letters,
                  "dead_letter_reasons": [asdict(r) for r in reading.dead_letter_reasons]},
        "job": None if batch is None else {
            "batch_id": batch.batch_id, "age_s": round(batch.age_s, 1),
            "duration_ms": batch.duration_ms, "input_rows": batch.input_rows,
            "rejected": batch.rejected},
        "rejected": {"count": reading.rejected,
                     "reasons": [asdict(r) for r in reading.rejected_reasons]},
        "newest_window": None if reading.newest_window is None else {
            "window_start": reading.newest_window.window_start,
            "written_age_s": round(reading.newest_window.written_age_s, 1)},
    }
