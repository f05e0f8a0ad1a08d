"""An independent recomputation of the job's windows, in plain Python with Decimal.

It shares no code with spark_jobs: the point is to check the job against a second opinion.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Window:
    trade_count: int = 0
    volume: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    price_sum: Decimal = Decimal(0)
    buy_volume: Decimal = Decimal(0)
    sell_volume: Decimal = Decimal(0)
    first: tuple | None = None  # (event_time, trade_id, price)
    last: tuple | None = None
    high: Decimal | None = None
    low: Decimal | None = None

    def add(self, event_time: datetime, trade_id: str, price: Decimal, size: Decimal, side: str):
        self.trade_count += 1
        self.volume += size
        self.notional += price * size
        self.price_sum += price
        if side == "buy":
            self.buy_volume += size
        else:
            self.sell_volume += size
        order = (event_time, trade_id, price)
        self.first = order if self.first is None or order[:2] < self.first[:2] else self.first
        self.last = order if self.last is None or order[:2] > self.last[:2] else self.last
        self.high = price if self.high is None else max(self.high, price)
        self.low = price if self.low is None else min(self.low, price)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def window_start(moment: datetime, length: timedelta) -> datetime:
    return EPOCH + ((moment - EPOCH) // length) * length


def windows(trade_values: list[bytes], length: timedelta = timedelta(seconds=30)) -> dict:
    """{(exchange, product_id, window_start): Window} over distinct (exchange, product, id)."""
    result: dict = defaultdict(Window)
    seen = set()
    for value in trade_values:
        t = json.loads(value)
        identity = (t["exchange"], t["product_id"], t["trade_id"])
        if identity in seen:
            continue
        seen.add(identity)
        moment = parse_time(t["event_time"])
        key = (t["exchange"], t["product_id"], window_start(moment, length))
        result[key].add(moment, t["trade_id"], Decimal(t["price"]), Decimal(t["size"]), t["side"])
    return dict(result)


def latest_event_time(trade_values: list[bytes]) -> datetime:
    return max(parse_time(json.loads(v)["event_time"]) for v in trade_values)


def assert_matches(actual: dict, expected: dict, late_dropped: int = 0) -> int:
    """Every expected window in `actual` (key => the final view's figures) with exactly the
    recomputed counts, volumes, notional and OHLC, and vwap and mean within 1e-9.

    late_dropped: trades the job reported as dropped for arriving after the watermark (a
    producer held up by a broker failover delivers some late, which the job drops by design).
    Then a window may miss trades, or be missing altogether when all of its trades were late,
    but only that: fewer trades and less volume than recomputed, and no more missing trades
    in all than the job reported dropped. Returns the number of trades missing."""
    assert set(actual) <= set(expected), sorted(set(actual) - set(expected))[:5]
    missing = 0
    for key, window in expected.items():
        if late_dropped and (key not in actual or actual[key][0] != window.trade_count):
            count, volume = actual[key][:2] if key in actual else (0, Decimal(0))
            assert count < window.trade_count and volume < window.volume, (
                key, count, window.trade_count)
            missing += window.trade_count - count
            continue
        assert key in actual, f"{key} missing from ClickHouse (no late trade was dropped)"
        (count, volume, notional, vwap, average, open_, high, low, close, buys,
         sells) = actual[key]
        exact = (window.trade_count, window.volume, window.notional)
        assert (count, volume, notional) == exact, key
        assert (buys, sells) == (window.buy_volume, window.sell_volume), key
        assert (open_, high, low, close) == (
            window.first[2], window.high, window.low, window.last[2]), key
        assert vwap == pytest.approx(float(window.notional / window.volume), rel=1e-9), key
        mean = window.price_sum / Decimal(window.trade_count)
        assert average == pytest.approx(float(mean), rel=1e-9), key
    assert missing <= late_dropped, (
        f"{missing} trades missing from the windows, only {late_dropped} dropped late")
    return missing
