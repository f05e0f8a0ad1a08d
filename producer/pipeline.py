"""Raw message -> feed normalization -> dedupe / gap checks -> sink. The one path for live
feeds, the simulator and replays; it does no I/O except through the sink and the recorder."""

from __future__ import annotations

import logging
from typing import Protocol

from producer.recording import Recorder
from producer.schema import (
    Control,
    DeadLetter,
    FeedError,
    Heartbeat,
    MessageSequence,
    Trade,
)
from producer.stats import Stats
from producer.tracking import Deduplicator, GapDetector

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where records go. ``send_*`` never drop: when full they queue and set ``backlogged``,
    and the caller awaits ``drain()`` before reading more (that is the backpressure)."""

    backlogged: bool

    def send_trade(self, key: str, value: str) -> None: ...

    def send_dead_letter(self, key: str | None, value: str) -> None: ...

    def poll(self) -> None: ...

    async def drain(self) -> None: ...

    async def flush(self) -> None: ...


class Feed(Protocol):
    name: str
    exchange: str
    contiguous_trade_ids: bool

    def normalize(self, raw: str, received_at: str) -> list: ...

    def subscribe_messages(self) -> list[str]: ...


class MemorySink:
    """An in-memory sink for tests and dry runs."""

    backlogged = False

    def __init__(self):
        self.trades: list[tuple[str, str]] = []
        self.dead_letters: list[tuple[str | None, str]] = []

    def send_trade(self, key: str, value: str) -> None:
        self.trades.append((key, value))

    def send_dead_letter(self, key: str | None, value: str) -> None:
        self.dead_letters.append((key, value))

    def poll(self) -> None:
        pass

    async def drain(self) -> None:
        pass

    async def flush(self) -> None:
        pass


class Pipeline:
    def __init__(self, feed: Feed, sink: Sink, stats: Stats, *, source: str | None = None,
                 recorder: Recorder | None = None, dedupe_capacity: int = 200_000):
        self.feed = feed
        self.sink = sink
        self.stats = stats
        self.source = source or feed.name
        self.recorder = recorder
        self.dedupe = Deduplicator(dedupe_capacity)
        self.gaps = GapDetector()
        self._check_trade_ids = feed.contiguous_trade_ids
        self._limit: int | None = None
        self._on_limit = None

    def limit(self, max_trades: int, on_reached) -> None:
        """Call ``on_reached()`` once, when ``max_trades`` trades have been produced."""
        self._limit, self._on_limit = max_trades, on_reached

    def on_connect(self, url: str, received_at: str) -> None:
        self.gaps.new_connection()
        if self.recorder is not None:
            self.recorder.write_connect(url, received_at)

    def on_raw(self, raw: str | bytes, received_at: str) -> None:
        self.stats.received += 1
        if self.recorder is not None:
            self.recorder.write(raw, received_at)
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "backslashreplace")
                self._dead_letter(DeadLetter("binary frame is not UTF-8 text", text), received_at)
                return
        for event in self.feed.normalize(raw, received_at):
            if type(event) is Trade:
                self._trade(event)
            elif type(event) is DeadLetter:
                self._dead_letter(event, received_at)
            elif type(event) is Heartbeat:
                self._update_gaps(self.gaps.observe_heartbeat(event.product_id,
                                                              event.last_trade_id))
            elif type(event) is MessageSequence:
                self._update_gaps(self.gaps.observe_message_sequence(event.sequence_num))
            elif type(event) is FeedError:
                self.stats.feed_errors += 1
                log.error("feed error from %s: %s (reason: %s)", self.source, event.message,
                          event.reason)
            elif type(event) is Control:
                log.info("%s %s: %s", self.source, event.kind, event.detail)

    def _trade(self, trade: Trade) -> None:
        stats = self.stats
        stats.trades += 1
        if self.dedupe.is_duplicate(trade.product_id, trade.trade_id):
            stats.duplicates += 1
            return
        if self._check_trade_ids and trade.trade_id.isdigit():
            gaps = self.gaps
            gap = gaps.observe_trade(trade.product_id, int(trade.trade_id))
            if gap is not None or gaps.late != stats.late:
                self._update_gaps(gap)
        self.sink.send_trade(trade.product_id, trade.to_json())
        stats.produced += 1
        if stats.produced == self._limit:
            self._on_limit()

    def _dead_letter(self, dead: DeadLetter, received_at: str) -> None:
        log.warning("dead letter from %s: %s", self.source, dead.reason)
        # Keyed by product when known, else by source: a fixed partition, so order is kept.
        key = dead.product_id or self.source
        self.sink.send_dead_letter(key, dead.to_json(self.source, received_at))
        self.stats.dead_letters += 1

    def _update_gaps(self, gap) -> None:
        if gap is not None:
            self.stats.gaps = self.gaps.gap_count
            self.stats.missing = self.gaps.missing
        self.stats.late = self.gaps.late
