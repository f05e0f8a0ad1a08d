"""Pure: what a /api/candles request asks for, checked. Every refusal is a BadRequest whose
message names the parameter and what was wrong (the server answers it with HTTP 400)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The chart's intervals: the job's own 30 s windows and the candles views of migration 005.
INTERVALS = {"30s": 30, "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}
# The job's own window (spark_jobs --window, 30 seconds): read from its final windows as they
# are; every other interval from the candles view.
WINDOW_INTERVAL = "30s"
DEFAULT_INTERVAL = "1m"
# Nothing is older than the first exchange trade; nothing is far in the future.
EARLIEST = datetime(2010, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


class BadRequest(ValueError):
    """A request the API refuses; the message says why."""


@dataclass(frozen=True)
class Market:
    exchange: str
    product: str


@dataclass(frozen=True)
class CandleRequest:
    market: Market
    interval: str
    start: datetime  # inclusive, on an interval boundary
    end: datetime    # exclusive

    @property
    def seconds(self) -> int:
        return INTERVALS[self.interval]

    @property
    def span(self) -> int:
        """How many candles the range can hold."""
        return -(-int((self.end - self.start).total_seconds()) // self.seconds)


def parse_time(text: str, name: str) -> datetime:
    """Unix seconds (`1700000000`, `1700000000.5`) or ISO 8601 (`2024-01-01T00:00:00Z`;
    no zone means UTC)."""
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        hint = " (in a URL, write + as %2B)" if " " in text.strip() else ""
        raise BadRequest(f"{name}={text!r} is neither unix seconds nor an ISO 8601 time"
                         f"{hint}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def floor_time(moment: datetime, seconds: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def pick_market(params: Mapping[str, str], markets: Collection[Market]) -> Market:
    product = params.get("product", "").strip()
    if not product:
        raise BadRequest("product is required (e.g. product=BTC-USD); see /api/products")
    matches = [m for m in markets if m.product == product]
    exchange = params.get("exchange", "").strip()
    if exchange:
        matches = [m for m in matches if m.exchange == exchange]
    if not matches:
        known = ", ".join(sorted({m.product for m in markets})) or "none yet"
        where = f" on exchange {exchange!r}" if exchange else ""
        raise BadRequest(f"unknown product {product!r}{where}; known products: {known}")
    if len(matches) > 1:
        exchanges = ", ".join(sorted(m.exchange for m in matches))
        raise BadRequest(f"product {product!r} trades on several exchanges ({exchanges}): "
                         "add exchange=")
    return matches[0]


def pick_interval(params: Mapping[str, str]) -> str:
    interval = params.get("interval", DEFAULT_INTERVAL).strip()
    if interval not in INTERVALS:
        raise BadRequest(f"unknown interval {interval!r}; use one of {', '.join(INTERVALS)}")
    return interval


def candle_request(params: Mapping[str, str], markets: Collection[Market], now: datetime,
                   max_candles: int, default_candles: int) -> CandleRequest:
    """The checked request: `to` defaults to now, `from` to `default_candles` intervals
    before `to`; the range may span at most `max_candles` candles."""
    market, interval = pick_market(params, markets), pick_interval(params)
    seconds = INTERVALS[interval]
    end = parse_time(params["to"], "to") if params.get("to") else now
    if params.get("from"):
        start = parse_time(params["from"], "from")
    else:
        start = end - timedelta(seconds=seconds * default_candles)
    if start >= end:
        raise BadRequest(f"from ({start.isoformat()}) must be before to ({end.isoformat()})")
    if start < EARLIEST:
        raise BadRequest(f"from ({start.isoformat()}) is before {EARLIEST.date()}: "
                         "no trade is that old")
    if end > now + FUTURE_SLACK:
        raise BadRequest(f"to ({end.isoformat()}) is more than a day in the future")
    request = CandleRequest(market, interval, floor_time(start, seconds), end)
    if request.span > max_candles:
        raise BadRequest(f"the range from {start.isoformat()} to {end.isoformat()} spans "
                         f"{request.span} {interval} candles; at most {max_candles} per request: "
                         "narrow from/to or pick a coarser interval")
    return request
