"""Pure: filling trade-id gaps from the Exchange REST API, and a token bucket.

A gap (``tracking.Gap``: ids ``first..last`` of one product; or several gaps of a product
within one page's span, which then share their pages) is filled by walking
``GET /products/{product_id}/trades`` from the newest missing id towards the oldest with the
``after`` cursor: ``after=C`` returns trades with ids below ``C``, newest first, at most
``limit`` (1000) a page; the ``CB-AFTER`` header is the oldest id of the page, the cursor of
the next (older) page. A fill is done when a page reaches ``first``; what it cannot get (an
empty page: the history has aged out; a gap larger than allowed) is *unfillable*: counted and
logged, never silent. The ids stay open in the gap detector, so they are still produced if
they arrive some other way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from producer.feeds.coinbase import rest_trade
from producer.feeds.coinbase_advanced import rest_trade as advanced_rest_trade
from producer.schema import NormalizationError, Trade
from producer.tracking import Gap

MAX_PAGE = 1000  # Coinbase's limit per page


@dataclass(frozen=True)
class BackfillLimits:
    max_gap_trades: int = 10_000  # a larger gap is unfillable at once (10 pages)
    page_size: int = MAX_PAGE

    def __post_init__(self):
        if not 1 <= self.page_size <= MAX_PAGE:
            raise ValueError(f"page size must be 1..{MAX_PAGE}, got {self.page_size}")


class PageError(ValueError):
    """A page that cannot be used as it is (retried, then given up); the text says why."""


@dataclass
class GapFill:
    """The walk through one product's gaps (one, or several close enough to share pages):
    the next cursor, what was found, what is still missing."""

    gaps: list[Gap]
    detected_at: float  # monotonic seconds, of the earliest gap
    found: int = 0
    pages: int = 0
    _cursor: int | None = None  # None: no page taken yet (gaps may still join)

    def __post_init__(self):
        if not self.gaps or len({g.scope for g in self.gaps}) != 1:
            raise ValueError("a fill covers gaps of one product")

    @property
    def cursor(self) -> int:
        """``after`` of the next page: below every id fetched so far."""
        return self.last + 1 if self._cursor is None else self._cursor

    @property
    def product(self) -> str:
        return self.gaps[0].scope

    @property
    def first(self) -> int:
        return min(g.first for g in self.gaps)

    @property
    def last(self) -> int:
        return max(g.last for g in self.gaps)

    @property
    def count(self) -> int:
        """Trades missing in all."""
        return sum(g.count for g in self.gaps)

    @property
    def done(self) -> bool:
        return self.cursor <= self.first

    @property
    def missing(self) -> int:
        """Ids of the span not reached yet."""
        return max(0, self.cursor - self.first)

    def joins(self, gap: Gap, limits: BackfillLimits) -> bool:
        """Whether ``gap`` can share this fill's pages: same product, a span of one page."""
        return (gap.scope == self.product and self._cursor is None and
                max(self.last, gap.last) - min(self.first, gap.first) < limits.page_size)

    def wants(self, number: int) -> bool:
        return any(g.first <= number <= g.last for g in self.gaps)

    def describe(self) -> str:
        return "; ".join(str(g) for g in self.gaps)

    # -- what the backfill worker (producer.rest) asks of any fill --------------------------

    @property
    def path(self) -> str:
        return f"/products/{self.product}/trades"

    @property
    def gap_count(self) -> int:
        return len(self.gaps)

    @property
    def unfound(self) -> int:
        return self.count - self.found

    def absorb(self, other: GapFill, limits: BackfillLimits, max_span_s: float) -> bool:
        """Join ``other`` if it can share this fill's pages."""
        if len(other.gaps) == 1 and self.joins(other.gaps[0], limits):
            self.gaps.append(other.gaps[0])
            return True
        return False

    def take_answer(self, body, headers: dict, received_at: str, exchange: str,
                    limits: BackfillLimits) -> tuple[list[Trade], list] | None:
        """``take`` on an answer; None when the history holds nothing older (aged out)."""
        wanted, rejected = self.take(body, headers.get("CB-AFTER"), exchange, received_at)
        return (wanted, rejected) if body else None

    def exhausted(self) -> str:
        return f"the REST history has no trades below id {self.cursor} (aged out)"

    def request(self, limits: BackfillLimits) -> dict[str, int]:
        """Query parameters of the next page: just enough for the ids still missing."""
        return {"after": self.cursor, "limit": min(limits.page_size, self.missing)}

    def take(self, items: list, cb_after: str | None, exchange: str,
             received_at: str) -> tuple[list[Trade], list[tuple[str, object]]]:
        """One page's trades inside the gap, and the (reason, item) of those that are not
        usable trades. Moves the cursor past the page. A page that does not answer the request
        (ids at or above the cursor, out of order, a cursor header that disagrees) is a
        PageError and moves nothing."""
        if not isinstance(items, list):
            raise PageError(f"the page is not a JSON array: {type(items).__name__}")
        trades, rejected = [], []
        for item in items:
            try:
                trades.append(rest_trade(exchange, self.product, item, received_at))
            except NormalizationError as error:
                rejected.append((str(error), item))
        ids = [t.number for t in trades]
        if ids != sorted(ids, reverse=True) or len(set(ids)) != len(ids):
            raise PageError("the page's trade ids are not strictly descending")
        if ids and ids[0] >= self.cursor:
            raise PageError(f"the page starts at id {ids[0]}, not below the cursor "
                            f"{self.cursor}: it does not cover the range asked")
        header = _cursor(cb_after)
        if ids and header is not None and header > ids[-1]:
            raise PageError(f"CB-AFTER {cb_after!r} is above the page's oldest id {ids[-1]}")
        if items:
            # Coinbase's cursor (the page's oldest id, usable or not), else the oldest we read
            oldest = header if header is not None else (ids[-1] if ids else None)
            if oldest is None or oldest >= self.cursor:
                raise PageError("no usable trade on the page and no usable CB-AFTER cursor")
            self._cursor = oldest
        self.pages += 1
        wanted = [t for t in trades if self.wants(t.number)]
        self.found += len(wanted)
        return wanted, rejected


def _cursor(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def too_large(gap: Gap, limits: BackfillLimits) -> bool:
    return gap.count > limits.max_gap_trades


@dataclass
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; ``delay(now)`` takes one token and
    says how long to wait before using it."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float | None = None

    def __post_init__(self):
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.tokens = self.burst

    def delay(self, now: float) -> float:
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


# --- Advanced Trade: by time ----------------------------------------------------------------

def unix_time(text: str) -> float:
    """A record's event_time (canonical UTC text) as unix seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class TimeFill:
    """Advanced Trade's trade ids are not consecutive, so a hole is a span of time: from the
    last trade seen before a reconnect or a lost message to the first trade after it. Walked
    with ``GET /api/v3/brokerage/market/products/{product_id}/ticker?limit&start&end``
    (newest first, at most ``limit``): a full page moves ``end`` down to its oldest trade; a
    page with room to spare ends the walk. What was already produced is dropped by the dedupe."""

    product: str
    start: float  # unix seconds, inclusive
    end: float
    detected_at: float  # monotonic seconds
    found: int = 0
    pages: int = 0
    done: bool = False
    spans: int = 1  # holes joined into this walk

    PATH = "/api/v3/brokerage/market/products/{}/ticker"

    @property
    def path(self) -> str:
        return self.PATH.format(self.product)

    @property
    def gap_count(self) -> int:
        return self.spans

    @property
    def unfound(self) -> None:
        """Unknowable: times do not say which trades a span missed."""
        return None

    def absorb(self, other: TimeFill, limits: BackfillLimits, max_span_s: float) -> bool:
        """Widen to ``other``'s span if it is the same product's and the span stays short."""
        if (other.product != self.product or
                max(self.end, other.end) - min(self.start, other.start) > max_span_s):
            return False
        self.start, self.end = min(self.start, other.start), max(self.end, other.end)
        self.detected_at = min(self.detected_at, other.detected_at)
        self.spans += other.spans
        return True

    def take_answer(self, body, headers: dict, received_at: str, exchange: str,
                    limits: BackfillLimits) -> tuple[list[Trade], list]:
        return self.take(body, exchange, received_at, limits)

    def exhausted(self) -> str:
        return "unreachable: a time span always answers"

    def describe(self) -> str:
        return (f"{self.product}: trades from {datetime.fromtimestamp(self.start, UTC):%H:%M:%S.%f}"
                f" to {datetime.fromtimestamp(self.end, UTC):%H:%M:%S.%f}")

    def request(self, limits: BackfillLimits) -> dict[str, str | int]:
        return {"limit": limits.page_size, "start": str(math.floor(self.start)),
                "end": str(math.ceil(self.end))}

    def take(self, body, exchange: str, received_at: str,
             limits: BackfillLimits) -> tuple[list[Trade], list[tuple[str, object]]]:
        """One page's trades in the span, and the (reason, item) of the unusable ones."""
        items = body.get("trades") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise PageError("the answer has no 'trades' array")
        trades, rejected = [], []
        for item in items:
            try:
                trades.append(advanced_rest_trade(exchange, self.product, item, received_at))
            except NormalizationError as error:
                rejected.append((str(error), item))
        asked = self.request(limits)
        low, high = float(asked["start"]), float(asked["end"])
        times = [unix_time(t.event_time) for t in trades]
        if any(not low <= moment <= high for moment in times):
            raise PageError(f"a trade outside the asked span {asked['start']}..{asked['end']}: "
                            "the page does not cover the range asked")
        self.pages += 1
        if len(items) < limits.page_size or not times:
            self.done = True
        elif math.floor(min(times)) >= math.floor(self.end):
            raise PageError(f"more than {limits.page_size} trades within one second: the "
                            "page cannot move on")
        else:
            self.end = min(times)
        wanted = [t for t, moment in zip(trades, times, strict=True)
                  if self.start <= moment <= high]
        self.found += len(wanted)
        return wanted, rejected
