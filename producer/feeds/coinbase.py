"""Coinbase Exchange WebSocket feed (wss://ws-feed.exchange.coinbase.com).

Protocol (docs.cdp.coinbase.com/exchange/websocket-feed): the client sends
``{"type":"subscribe","product_ids":[...],"channels":["matches","heartbeat"]}`` and gets a
``subscriptions`` reply listing what is active. Messages handled here:

- ``match`` / ``last_match`` (matches channel; ``last_match`` is the latest trade, sent once per
  product right after subscribing): ``trade_id`` (int, consecutive per product), ``sequence``
  (the product's feed sequence; it counts every order-book event, so it jumps between matches),
  ``maker_order_id``, ``taker_order_id``, ``time``, ``product_id``, ``size``, ``price``, ``side``.
  ``side`` is the MAKER order's side ("sell" = maker sold = an up-tick); we report the TAKER
  (aggressor) side, so it is inverted here.
- ``ticker``: one per match batch (cascading matches are collapsed, so trade ids skip);
  ``price``, ``last_size``, ``trade_id``, ``sequence``, ``time`` and ``side`` = taker side
  (reported as is).
- ``heartbeat``: ``sequence``, ``last_trade_id``, ``product_id``, ``time`` every second.
- ``subscriptions``: the acknowledgement; ``error``: ``message`` and optional ``reason``.
"""

from __future__ import annotations

import json

from cryptostream_fastpath import MatchNormalizer

from producer.schema import (
    Control,
    DeadLetter,
    Event,
    FeedError,
    Heartbeat,
    NormalizationError,
    Trade,
    check_decimal,
    check_int,
    check_product_id,
    check_time,
    load_object,
    require,
)

NAME = "coinbase"
DEFAULT_URL = "wss://ws-feed.exchange.coinbase.com"
CHANNELS = ("matches", "ticker")
TAKER_SIDE_FROM_MAKER = {"buy": "sell", "sell": "buy"}
TAKER_SIDE = {"buy": "buy", "sell": "sell"}


class CoinbaseExchangeFeed:
    """Normalizer and subscription builder for the Exchange protocol (also the simulator's)."""

    name = NAME
    default_url = DEFAULT_URL

    def __init__(self, products: list[str], channel: str = "matches", exchange: str = "coinbase"):
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")
        self.products = list(products)
        self.channel = channel
        self.exchange = exchange
        # The ticker channel collapses cascading matches, so its trade ids skip by design.
        self.contiguous_trade_ids = channel == "matches"
        if channel == "matches":
            # The hot path (producer/fastpath, native): canonical matches straight to their
            # records; None leaves a message to ``normalize``, which handles everything else,
            # names exactly what is wrong, and gives the same record for what the fast path
            # takes. The ticker channel has none.
            self.fast_records = MatchNormalizer(exchange).records

    def subscribe_messages(self) -> list[str]:
        return [
            json.dumps(
                {
                    "type": "subscribe",
                    "product_ids": self.products,
                    "channels": [self.channel, "heartbeat"],
                }
            )
        ]

    def normalize(self, raw: str, received_at: str) -> list[Event]:
        try:
            return [self._event(load_object(raw), received_at)]
        except NormalizationError as exc:
            return [DeadLetter(str(exc), raw, _product_hint(raw))]

    def _event(self, msg: dict, received_at: str) -> Event:
        kind = require(msg, "type")
        if kind == "match" or kind == "last_match":
            return self._trade(msg, received_at, "size", TAKER_SIDE_FROM_MAKER)
        if kind == "ticker":
            return self._trade(msg, received_at, "last_size", TAKER_SIDE)
        if kind == "heartbeat":
            return Heartbeat(
                check_product_id(require(msg, "product_id")),
                check_int(require(msg, "sequence"), "sequence"),
                check_int(require(msg, "last_trade_id"), "last_trade_id"),
            )
        if kind == "subscriptions":
            return Control("subscriptions", msg.get("channels"))
        if kind == "error":
            return FeedError(str(msg.get("message", "")), msg.get("reason"))
        raise NormalizationError(f"unknown message type: {kind!r}")

    def _trade(self, msg: dict, received_at: str, size_field: str, sides: dict) -> Trade:
        side = require(msg, "side")
        if side not in sides:
            raise NormalizationError(f"invalid side: {side!r} (expected 'buy' or 'sell')")
        trade_number = check_int(require(msg, "trade_id"), "trade_id")
        return Trade(
            exchange=self.exchange,
            product_id=check_product_id(require(msg, "product_id")),
            trade_id=str(trade_number),
            price=check_decimal(require(msg, "price"), "price"),
            size=check_decimal(require(msg, size_field), size_field),
            side=sides[side],
            event_time=check_time(require(msg, "time")),
            sequence=check_int(require(msg, "sequence"), "sequence"),
            received_at=received_at,
            number=trade_number,
        )


REST_URL = "https://api.exchange.coinbase.com"


def rest_trade(exchange: str, product_id: str, item, received_at: str) -> Trade:
    """One trade of ``GET /products/{product_id}/trades``: ``{"time", "trade_id", "price",
    "size", "side"}``. As on the WebSocket, ``side`` is the MAKER's side (the REST reference
    says so: "buy" = the maker was a buy order = a down-tick), so it is inverted to the taker's.
    No ``sequence``: REST trades carry none (null in the record)."""
    if not isinstance(item, dict):
        raise NormalizationError(f"trade is not an object: {item!r}"[:200])
    side = require(item, "side")
    if side not in TAKER_SIDE_FROM_MAKER:
        raise NormalizationError(f"invalid side: {side!r} (expected 'buy' or 'sell')")
    number = check_int(require(item, "trade_id"), "trade_id")
    return Trade(
        exchange=exchange,
        product_id=check_product_id(product_id),
        trade_id=str(number),
        price=check_decimal(require(item, "price"), "price"),
        size=check_decimal(require(item, "size"), "size"),
        side=TAKER_SIDE_FROM_MAKER[side],
        event_time=check_time(require(item, "time")),
        sequence=None,
        received_at=received_at,
        number=number,
    )


def _product_hint(raw: str) -> str | None:
    """The product id of a rejected message, when it has a usable one (for the DLQ key)."""
    try:
        product = json.loads(raw).get("product_id")
        return check_product_id(product)
    except (ValueError, AttributeError):
        return None
