"""Coinbase Advanced Trade WebSocket feed, market data endpoint (wss://advanced-trade-ws.coinbase.com).

Protocol (docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket): one subscribe per
channel, ``{"type":"subscribe","product_ids":[...],"channel":"market_trades"}``; public market data
needs no JWT. Every server message is an envelope
``{"channel", "client_id", "timestamp", "sequence_num", "events":[...]}`` where ``sequence_num``
counts the messages on this connection (a jump means a message was lost).

- ``market_trades``: events of type ``snapshot`` (recent trades, sent after subscribing) or
  ``update`` (trades of the last 250 ms), each with ``trades`` =
  ``[{"trade_id","product_id","price","size","side":"BUY"|"SELL","time"}]``.
  Coinbase does not document whose side ``side`` is; both APIs share one matching engine and the
  Exchange documents its public trade side as the maker's, and NautilusTrader's Coinbase adapter
  inverts it for the same reason. We report the TAKER side for both APIs, so ``side`` is inverted
  here too (flip ``SIDE_IS_MAKER`` if Coinbase documents otherwise).
- ``subscriptions``: ``events[0].subscriptions`` = ``{"market_trades": ["BTC-USD"], ...}``.
- ``heartbeats``: ``events[0]`` = ``{"current_time", "heartbeat_counter"}`` every second.
- errors: ``{"type":"error","message":...}``.
"""

from __future__ import annotations

import json

from producer.schema import (
    Control,
    DeadLetter,
    Event,
    FeedError,
    MessageSequence,
    NormalizationError,
    Trade,
    check_decimal,
    check_int,
    check_product_id,
    check_time,
    check_trade_id_text,
    load_object,
    require,
)

NAME = "coinbase-advanced"
DEFAULT_URL = "wss://advanced-trade-ws.coinbase.com"
SIDE_IS_MAKER = True
_SIDES = (
    {"BUY": "sell", "SELL": "buy"} if SIDE_IS_MAKER else {"BUY": "buy", "SELL": "sell"}
)


class CoinbaseAdvancedFeed:
    name = NAME
    default_url = DEFAULT_URL

    def __init__(self, products: list[str], channel: str = "market_trades",
                 exchange: str = "coinbase"):
        if channel != "market_trades":
            raise ValueError(f"the Advanced Trade feed supports market_trades, got {channel!r}")
        self.products = list(products)
        self.channel = channel
        self.exchange = exchange
        self.contiguous_trade_ids = True

    def subscribe_messages(self) -> list[str]:
        return [
            json.dumps({"type": "subscribe", "product_ids": self.products,
                        "channel": "market_trades"}),
            json.dumps({"type": "subscribe", "product_ids": self.products,
                        "channel": "heartbeats"}),
        ]

    def normalize(self, raw: str, received_at: str) -> list[Event]:
        try:
            msg = load_object(raw)
            if msg.get("type") == "error":
                return [FeedError(str(msg.get("message", "")), msg.get("reason"))]
            channel = require(msg, "channel")
            events = require(msg, "events")
            if not isinstance(events, list):
                raise NormalizationError(f"invalid events: {_short(events)} (expected a list)")
            sequence = check_int(require(msg, "sequence_num"), "sequence_num")
        except NormalizationError as exc:
            return [DeadLetter(str(exc), raw)]
        out: list[Event] = [MessageSequence(sequence)]
        if channel == "market_trades":
            out.extend(self._trades(events, sequence, raw, received_at))
        elif channel == "subscriptions":
            out.append(Control("subscriptions", events))
        elif channel == "heartbeats":
            out.append(Control("heartbeats", events))
        else:
            out.append(DeadLetter(f"unknown channel: {channel!r}", raw))
        return out

    def _trades(self, events: list, sequence: int, raw: str, received_at: str) -> list[Event]:
        out: list[Event] = []
        for e_index, event in enumerate(events):
            where = f" in events[{e_index}]"
            try:
                if not isinstance(event, dict):
                    raise NormalizationError(f"invalid event{where}: expected an object")
                kind = require(event, "type", where)
                if kind not in ("snapshot", "update"):
                    raise NormalizationError(f"unknown market_trades event type{where}: {kind!r}")
                trades = require(event, "trades", where)
                if not isinstance(trades, list):
                    raise NormalizationError(f"invalid trades{where}: expected a list")
            except NormalizationError as exc:
                out.append(DeadLetter(str(exc), raw))
                continue
            batch = []
            for t_index, item in enumerate(trades):
                try:
                    batch.append(self._trade(item, sequence, received_at,
                                             f" in events[{e_index}].trades[{t_index}]"))
                except NormalizationError as exc:
                    out.append(DeadLetter(str(exc), raw, _product_hint(item)))
            out.extend(sorted(batch, key=_trade_order))
        return out

    def _trade(self, item: object, sequence: int, received_at: str, where: str) -> Trade:
        return parse_trade(self.exchange, item, sequence, received_at, where)


def parse_trade(exchange: str, item: object, sequence: int | None, received_at: str,
                where: str = "") -> Trade:
    """One trade object, as the WebSocket's market_trades and the REST market trades send it."""
    if not isinstance(item, dict):
        raise NormalizationError(f"invalid trade{where}: expected an object")
    side = require(item, "side", where)
    if side not in _SIDES:
        raise NormalizationError(f"invalid side{where}: {side!r} (expected 'BUY' or 'SELL')")
    trade_id = check_trade_id_text(require(item, "trade_id", where), where)
    return Trade(
        exchange=exchange,
        product_id=check_product_id(require(item, "product_id", where), where),
        trade_id=trade_id,
        price=check_decimal(require(item, "price", where), "price", where),
        size=check_decimal(require(item, "size", where), "size", where),
        side=_SIDES[side],
        event_time=check_time(require(item, "time", where), "time", where),
        sequence=sequence,
        received_at=received_at,
        number=int(trade_id) if trade_id.isdigit() else None,
    )


REST_URL = "https://api.coinbase.com"


def rest_trade(exchange: str, product_id: str, item: object, received_at: str) -> Trade:
    """A trade of ``GET /api/v3/brokerage/market/products/{product_id}/ticker`` (same shape
    and side convention as the WebSocket's); one for another product is refused."""
    trade = parse_trade(exchange, item, None, received_at)
    if trade.product_id != product_id:
        raise NormalizationError(f"a trade for {trade.product_id} in the page of {product_id}")
    return trade


def _trade_order(trade: Trade) -> tuple:
    """Oldest first within a batch (updates may list newest first); numeric ids numerically."""
    tid = trade.trade_id
    return (trade.event_time, len(tid), tid) if tid.isdigit() else (trade.event_time, 0, tid)


def _product_hint(item: object) -> str | None:
    try:
        return check_product_id(item.get("product_id"))  # type: ignore[union-attr]
    except (NormalizationError, AttributeError):
        return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
