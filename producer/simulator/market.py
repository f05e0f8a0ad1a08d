"""A deterministic random-walk market: the simulator's source of trades (pure, no I/O).

Given a seed, the n-th trade is always the same (product, trade id, price, size, side,
sequence); only its timestamp comes from the caller's clock. Tests rebuild the expected trades
with ``Market(...).take(n)``.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from producer.schema import format_utc

# product id, start price, price tick, size decimals
CATALOGUE = (
    ("BTC-USD", "43250.00", "0.01", 8),
    ("ETH-USD", "2300.00", "0.01", 8),
    ("SOL-USD", "98.500", "0.001", 6),
    ("LTC-USD", "72.00", "0.01", 8),
    ("ADA-USD", "0.5200", "0.0001", 2),
    ("DOGE-USD", "0.08500", "0.00001", 1),
    ("AVAX-USD", "36.00", "0.01", 6),
    ("LINK-USD", "15.250", "0.001", 4),
    ("XRP-USD", "0.6100", "0.0001", 6),
    ("DOT-USD", "7.100", "0.001", 4),
    ("BTC-EUR", "39500.00", "0.01", 8),
    ("ETH-EUR", "2100.00", "0.01", 8),
)
PRODUCTS = tuple(entry[0] for entry in CATALOGUE)
VOLATILITY = 0.0004  # relative standard deviation of one trade's price step


@dataclass(frozen=True, slots=True)
class SimTrade:
    product_id: str
    trade_id: int
    price: str
    size: str
    taker_side: str  # the aggressor's side; the Exchange's match "side" is the opposite
    time: str
    sequence: int
    maker_order_id: str
    taker_order_id: str

    @property
    def maker_side(self) -> str:
        return "sell" if self.taker_side == "buy" else "buy"

    def match_message(self, kind: str = "match") -> dict:
        return {
            "type": kind,
            "trade_id": self.trade_id,
            "maker_order_id": self.maker_order_id,
            "taker_order_id": self.taker_order_id,
            "side": self.maker_side,
            "size": self.size,
            "price": self.price,
            "product_id": self.product_id,
            "sequence": self.sequence,
            "time": self.time,
        }


@dataclass
class _Book:
    product_id: str
    ticks: int
    tick: Decimal
    price_places: int
    size_places: int
    next_trade_id: int
    sequence: int
    last: SimTrade | None = None


def product_names(count: int) -> list[str]:
    if not 1 <= count <= len(PRODUCTS):
        raise ValueError(f"the simulator knows 1..{len(PRODUCTS)} products, asked for {count}")
    return list(PRODUCTS[:count])


class Market:
    def __init__(self, products: list[str], seed: int = 0, id_offset: int = 0):
        """id_offset is added to every product's first trade id (SimConfig.continue_ids)."""
        known = {entry[0]: entry for entry in CATALOGUE}
        unknown = [p for p in products if p not in known]
        if unknown or not products:
            raise ValueError(f"unknown simulator products {unknown}; known: {list(PRODUCTS)}")
        self.rng = random.Random(seed)
        self.books: dict[str, _Book] = {}
        for product in products:
            _, start, tick, size_places = known[product]
            tick_d = Decimal(tick)
            self.books[product] = _Book(
                product_id=product,
                ticks=int(Decimal(start) / tick_d),
                tick=tick_d,
                price_places=-tick_d.as_tuple().exponent,
                size_places=size_places,
                next_trade_id=self.rng.randrange(10_000_000, 90_000_000) + id_offset,
                sequence=self.rng.randrange(1_000_000_000, 9_000_000_000),
            )
        self.products = list(products)
        self.count = 0

    def next_trade(self, now: datetime | None = None) -> SimTrade:
        rng = self.rng
        book = self.books[self.products[rng.randrange(len(self.products))]]
        step = rng.gauss(0.0, VOLATILITY * book.ticks)
        book.ticks = max(1, book.ticks + round(step))
        size_units = max(1, round(math.exp(rng.gauss(-1.0, 1.3)) * 10**book.size_places / 10))
        # Unseen order-book events (received/open/done) advance the feed sequence between matches.
        book.sequence += 1 + rng.randrange(0, 6)
        trade = SimTrade(
            product_id=book.product_id,
            trade_id=book.next_trade_id,
            price=_fixed(book.ticks * book.tick, book.price_places),
            size=_fixed(Decimal(size_units).scaleb(-book.size_places), book.size_places),
            taker_side="buy" if rng.random() < 0.5 else "sell",
            time=format_utc(now or datetime.now(UTC)),
            sequence=book.sequence,
            maker_order_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            taker_order_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        )
        book.next_trade_id += 1
        book.last = trade
        self.count += 1
        return trade

    def take(self, count: int) -> list[SimTrade]:
        return [self.next_trade() for _ in range(count)]

    def heartbeat(self, product_id: str, now: datetime | None = None) -> dict:
        book = self.books[product_id]
        return {
            "type": "heartbeat",
            "sequence": book.sequence,
            "last_trade_id": book.next_trade_id - 1,
            "product_id": product_id,
            "time": format_utc(now or datetime.now(UTC)),
        }


def _fixed(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"
