"""Duplicate suppression and gap detection: pure, per-product bookkeeping."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


class Deduplicator:
    """Remembers the last ``capacity`` (product, trade id) pairs, oldest forgotten first: for
    feeds whose trade ids are not consecutive numbers (see ``GapDetector`` for the others).

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
    """Per-product trade-id continuity, Exchange heartbeats, Advanced Trade sequence_num; and,
    for feeds that number trades consecutively, duplicate suppression from the same state.

    A gap is reported (logged, counted, kept in ``gaps``) and never hidden. Its ids stay open
    until they arrive: a trade that arrives after a gap was reported for it is counted in ``late``
    and produced; any other trade at or below the highest id seen is a duplicate. So duplicates
    are recognised however old they are, in memory that grows with products and open gaps only.
    """

    def __init__(self, keep: int = 10_000, max_open_gaps: int = 10_000,
                 on_change: Callable[[], None] | None = None,
                 on_gap: Callable[[Gap], None] | None = None):
        """``on_change()`` is called whenever ``gap_count``, ``missing`` or ``late`` change
        (rarely), so a caller can mirror them without checking on every trade; ``on_gap(gap)``
        for each gap of trade ids (not of Advanced Trade message numbers), e.g. to backfill."""
        self._on_change = on_change or (lambda: None)
        self.on_gap = on_gap
        self._last_trade: dict[str, int] = {}
        self._first_trade: dict[str, int] = {}
        # per product: the open gaps' [first, last] ranges, oldest first
        self._open: dict[str, list[list[int]]] = {}
        self._early: dict[str, set[int]] = {}  # ids below the first one seen, seen since
        self._max_open_gaps = max_open_gaps
        self._last_message: int | None = None
        self.gaps: deque[Gap] = deque(maxlen=keep)
        self.gap_count = 0
        self.missing = 0
        self.late = 0

    def new_connection(self) -> None:
        self._last_message = None  # Advanced Trade numbers messages per connection

    def observe_trade(self, product_id: str, trade_id: int) -> bool:
        """Records the trade; False if it is a duplicate. A jump past the next id is a gap."""
        last = self._last_trade.get(product_id)
        if last is not None and trade_id == last + 1:  # the common case, first
            self._last_trade[product_id] = trade_id
            return True
        if last is None:
            self._last_trade[product_id] = self._first_trade[product_id] = trade_id
            return True
        if trade_id > last:
            self._last_trade[product_id] = trade_id
            self._report(Gap(product_id, last + 1, trade_id - 1, "trade_id"))
            return True
        if self._close(product_id, trade_id):
            self._count_late()
            return True
        if trade_id < self._first_trade[product_id]:
            return self._observe_early(product_id, trade_id)
        return False

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
        if gap.detected_by != "sequence_num":
            self._keep_open(gap)
            if self.on_gap is not None:
                self.on_gap(gap)
        self._on_change()
        return gap

    def _count_late(self) -> None:
        self.late += 1
        self._on_change()

    def _keep_open(self, gap: Gap) -> None:
        ranges = self._open.setdefault(gap.scope, [])
        ranges.append([gap.first, gap.last])
        if len(ranges) > self._max_open_gaps:
            first, last = ranges.pop(0)
            log.warning("%s: more than %d open gaps; trades %d..%d will count as duplicates "
                        "if they still arrive", gap.scope, self._max_open_gaps, first, last)

    def _close(self, product_id: str, trade_id: int) -> bool:
        """Takes ``trade_id`` out of the product's open gaps; False if it was not in one."""
        ranges = self._open.get(product_id, ())
        for index, (first, last) in enumerate(ranges):
            if first <= trade_id <= last:
                pieces = [[first, trade_id - 1]] if trade_id > first else []
                if trade_id < last:
                    pieces.append([trade_id + 1, last])
                ranges[index:index + 1] = pieces
                return True
        return False

    def _observe_early(self, product_id: str, trade_id: int) -> bool:
        """An id older than the first trade seen: never seen unless remembered here."""
        early = self._early.setdefault(product_id, set())
        if trade_id in early:
            return False
        if len(early) < self._max_open_gaps:
            early.add(trade_id)
        self._count_late()
        return True
