"""Duplicate suppression and gap detection: pure, per-product bookkeeping."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

log = logging.getLogger(__name__)


class Deduplicator:
    """Remembers the last ``capacity`` (product, trade id) pairs, oldest forgotten first.

    Duplicates come from the ``last_match`` / snapshot sent on every (re)subscribe and from
    overlaps around reconnects, so they are recent: a bounded window is enough.
    """

    def __init__(self, capacity: int = 200_000):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._seen: set[tuple[str, str]] = set()
        self._order: deque[tuple[str, str]] = deque()

    def __len__(self) -> int:
        return len(self._seen)

    def is_duplicate(self, product_id: str, trade_id: str) -> bool:
        """True if seen before; otherwise remembers the pair and returns False."""
        key = (product_id, trade_id)
        if key in self._seen:
            return True
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self.capacity:
            self._seen.discard(self._order.popleft())
        return False


@dataclass(frozen=True)
class Gap:
    """Trades (or messages) that should have arrived and did not: ``first``..``last`` inclusive."""

    scope: str  # a product id, or "connection" for Advanced Trade sequence_num
    first: int
    last: int
    detected_by: str  # "trade_id", "heartbeat" or "sequence_num"

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return (f"{self.scope}: {self.count} missing ({self.first}..{self.last}), "
                f"detected by {self.detected_by}")


class GapDetector:
    """Per-product trade-id continuity, Exchange heartbeats, Advanced Trade sequence_num.

    A gap is reported (logged, counted, kept in ``gaps``) and never hidden. A trade that arrives
    after a gap was reported for it is counted in ``late``; it is still produced.
    """

    def __init__(self, keep: int = 10_000):
        self._last_trade: dict[str, int] = {}
        self._last_message: int | None = None
        self.gaps: deque[Gap] = deque(maxlen=keep)
        self.gap_count = 0
        self.missing = 0
        self.late = 0

    def new_connection(self) -> None:
        self._last_message = None  # Advanced Trade numbers messages per connection

    def observe_trade(self, product_id: str, trade_id: int) -> Gap | None:
        last = self._last_trade.get(product_id)
        if last is None or trade_id == last + 1:
            self._last_trade[product_id] = trade_id
            return None
        if trade_id <= last:
            self.late += 1
            return None
        self._last_trade[product_id] = trade_id
        return self._report(Gap(product_id, last + 1, trade_id - 1, "trade_id"))

    def observe_heartbeat(self, product_id: str, last_trade_id: int) -> Gap | None:
        last = self._last_trade.get(product_id)
        if last is None or last_trade_id <= last:
            return None
        self._last_trade[product_id] = last_trade_id
        return self._report(Gap(product_id, last + 1, last_trade_id, "heartbeat"))

    def observe_message_sequence(self, sequence_num: int) -> Gap | None:
        last, self._last_message = self._last_message, sequence_num
        if last is None or sequence_num <= last + 1:
            return None
        return self._report(Gap("connection", last + 1, sequence_num - 1, "sequence_num"))

    def _report(self, gap: Gap) -> Gap:
        self.gaps.append(gap)
        self.gap_count += 1
        self.missing += gap.count
        log.warning("gap: %s", gap)
        return gap
