"""Raw messages -> feed normalization (native fast path, else checked) -> dedupe / gap checks
-> sink. The one path for live feeds, the simulator and replays; it does no I/O except through
the sink and the recorder."""

from __future__ import annotations

import logging
from collections.abc import Sequence
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

    def submit(self) -> None:
        """Pass on what ``send_*`` collected; the sink may hold records until this is called."""

    def poll(self) -> None: ...

    async def drain(self) -> None: ...

    async def flush(self) -> None: ...


class Feed(Protocol):
    name: str
    exchange: str
    contiguous_trade_ids: bool

    def normalize(self, raw: str, received_at: str) -> list: ...

    # Optional: ``fast_records(messages) -> [(product_id, trade_number, value) | None, ...]``,
    # one per ``(received_at, raw, ...)`` message: the feed's common message (a single valid
    # trade) serialized without building events; None leaves the message to ``normalize``,
    # which must give the same record for it.

    def subscribe_messages(self) -> list[str]: ...


class _LimitReached(Exception):
    """The trade limit was reached: the rest of the messages at hand are ignored."""


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

    def submit(self) -> None:
        pass

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
        self.gaps = GapDetector(on_change=self._sync_gap_stats)
        self._check_trade_ids = feed.contiguous_trade_ids
        self._fast_records = getattr(feed, "fast_records", None)
        self._limit: int | None = None
        self._on_limit = None
        self._limit_reached = False
        # Hooks for a time-based backfill (producer.rest.TimeBackfiller): each trade the
        # checked path normalizes, each new connection, each lost-message gap. None: off.
        self.on_trade = None
        self.on_connection = None
        self.on_message_gap = None

    def limit(self, max_trades: int, on_reached) -> None:
        """Call ``on_reached()`` once, when ``max_trades`` trades have been produced; messages
        after that trade are ignored."""
        self._limit, self._on_limit = max_trades, on_reached

    def on_connect(self, url: str, received_at: str) -> None:
        self.gaps.new_connection()
        if self.on_connection is not None:
            self.on_connection()
        if self.recorder is not None:
            self.recorder.write_connect(url, received_at)

    def on_raw(self, raw: str | bytes, received_at: str) -> None:
        """One message, as a live connection receives them."""
        self.on_messages(((received_at, raw),))

    def on_messages(self, messages: Sequence[tuple]) -> None:
        """Messages in arrival order, each a tuple starting ``(received_at, raw)``: one from a
        connection, or a stretch of a recording. The feed's fast path takes the canonical
        trades of the whole stretch at once; every other message is normalized one by one."""
        if self._limit_reached:
            return
        self.stats.received += len(messages)
        if self.recorder is not None:
            for message in messages:
                self.recorder.write(message[1], message[0])
        records = (self._fast_records(messages) if self._fast_records
                   else [None] * len(messages))
        accept = self._accept
        try:
            for message, record in zip(messages, records, strict=True):
                if record is not None:
                    accept(*record)
                else:
                    self._normalize(message[1], message[0])
        except _LimitReached:
            self._limit_reached = True

    def _normalize(self, raw: str | bytes, received_at: str) -> None:
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "backslashreplace")
                self._dead_letter(DeadLetter("binary frame is not UTF-8 text", text), received_at)
                return
        for event in self.feed.normalize(raw, received_at):
            if type(event) is Trade:
                if self.on_trade is not None:
                    self.on_trade(event)
                self._accept(event.product_id, event.number, event.to_json(), event.trade_id)
            elif type(event) is DeadLetter:
                self._dead_letter(event, received_at)
            elif type(event) is Heartbeat:
                self.gaps.observe_heartbeat(event.product_id, event.last_trade_id)
            elif type(event) is MessageSequence:
                gap = self.gaps.observe_message_sequence(event.sequence_num)
                if gap is not None and self.on_message_gap is not None:
                    self.on_message_gap(gap)
            elif type(event) is FeedError:
                self.stats.feed_errors += 1
                log.error("feed error from %s: %s (reason: %s)", self.source, event.message,
                          event.reason)
            elif type(event) is Control:
                log.info("%s %s: %s", self.source, event.kind, event.detail)

    def _accept(self, product_id: str, number: int | None, value: str,
                trade_id: str | None = None) -> None:
        """One normalized trade: produced unless it is a duplicate. ``number`` is the trade id
        as an int where the feed numbers trades (else None, and ``trade_id`` is the text)."""
        stats = self.stats
        stats.trades += 1
        if self._check_trade_ids and number is not None:
            is_new = self.gaps.observe_trade(product_id, number)
        else:
            is_new = not self.dedupe.is_duplicate(product_id, trade_id or str(number))
        if not is_new:
            stats.duplicates += 1
            return
        self.sink.send_trade(product_id, value)
        stats.produced += 1
        if stats.produced == self._limit:
            self._on_limit()
            raise _LimitReached

    def accept_backfilled(self, trades: Sequence[Trade]) -> int:
        """Trades fetched to fill a gap (producer.rest): the same dedupe and gap bookkeeping
        (the ids close the open gap), then the sink. Returns how many were produced."""
        stats = self.stats
        before, duplicates = stats.produced, stats.duplicates
        try:
            for trade in trades:
                self._accept(trade.product_id, trade.number, trade.to_json(), trade.trade_id)
        except _LimitReached:
            self._limit_reached = True
        # A page overlapping what the WebSocket delivered is not a duplicate from the feed.
        stats.backfill_already_had += stats.duplicates - duplicates
        stats.duplicates = duplicates
        return stats.produced - before

    def dead_letter(self, dead: DeadLetter, received_at: str) -> None:
        self._dead_letter(dead, received_at)

    def _dead_letter(self, dead: DeadLetter, received_at: str) -> None:
        log.warning("dead letter from %s: %s", self.source, dead.reason)
        # Keyed by product when known, else by source: a fixed partition, so order is kept.
        key = dead.product_id or self.source
        self.sink.send_dead_letter(key, dead.to_json(self.source, received_at))
        self.stats.dead_letters += 1

    def _sync_gap_stats(self) -> None:
        self.stats.gaps = self.gaps.gap_count
        self.stats.missing = self.gaps.missing
        self.stats.late = self.gaps.late
