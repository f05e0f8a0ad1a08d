"""Counters and the one-line summary (periodic and final)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields


@dataclass
class Stats:
    received: int = 0  # raw WebSocket messages (or recording lines) read
    trades: int = 0  # trades normalized, duplicates included
    produced: int = 0  # trades handed to the sink
    delivered: int = 0  # trades acknowledged by Kafka
    dead_letters: int = 0  # records sent to the dead-letter topic
    dead_letters_delivered: int = 0
    duplicates: int = 0
    gaps: int = 0
    missing: int = 0  # trades / messages inside reported gaps
    late: int = 0
    feed_errors: int = 0
    connections: int = 0
    reconnects: int = 0
    watchdog_timeouts: int = 0
    delivery_errors: int = 0
    backpressure: int = 0  # times the local Kafka queue was full
    # Gap backfill over REST (producer.rest): gaps are counted in ``gaps`` above.
    backfill_requests: int = 0  # REST requests sent
    backfill_rate_limited: int = 0  # 429 answers (waited out, then retried)
    gaps_filled: int = 0  # gaps whose every missing trade was fetched
    gaps_unfillable: int = 0  # gaps (or their remainder) given up, each logged with why
    trades_backfilled: int = 0  # trades produced from REST pages
    backfill_already_had: int = 0  # trades on REST pages already produced (dropped)
    backfill_latency_ms: int = 0  # the last filled gap: from its detection to its last trade
    backfill_latency_max_ms: int = 0
    started: float = field(default_factory=time.monotonic)

    def snapshot(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "started"}


class Reporter:
    """Formats the summary line; rates are per second since the previous line."""

    def __init__(self, stats: Stats):
        self.stats = stats
        self._last = stats.snapshot()
        self._last_time = time.monotonic()

    def line(self) -> str:
        now = time.monotonic()
        current = self.stats.snapshot()
        elapsed = max(now - self._last_time, 1e-9)
        received_rate = (current["received"] - self._last["received"]) / elapsed
        produced_rate = (current["produced"] - self._last["produced"]) / elapsed
        self._last, self._last_time = current, now
        return (
            f"received={current['received']} ({received_rate:.1f}/s) "
            f"produced={current['produced']} ({produced_rate:.1f}/s) "
            f"delivered={current['delivered']} dlq={current['dead_letters']} "
            f"duplicates={current['duplicates']} gaps={current['gaps']} "
            f"missing={current['missing']} reconnects={current['reconnects']} "
            f"watchdog={current['watchdog_timeouts']} feed_errors={current['feed_errors']} "
            f"delivery_errors={current['delivery_errors']} backpressure={current['backpressure']} "
            f"backfilled={current['trades_backfilled']} gaps_filled={current['gaps_filled']} "
            f"unfillable={current['gaps_unfillable']} "
            f"backfill_latency={current['backfill_latency_ms']}ms"
        )

    def final(self) -> str:
        current = self.stats.snapshot()
        elapsed = max(time.monotonic() - self.stats.started, 1e-9)
        body = " ".join(f"{name}={value}" for name, value in current.items())
        average = current["produced"] / elapsed
        return f"final: {body} elapsed={elapsed:.1f}s avg_produced={average:.1f}/s"
