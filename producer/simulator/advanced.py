"""The Advanced Trade market-data protocol for the simulator (pure message building).

As wss://advanced-trade-ws.coinbase.com: one subscribe per channel,
``{"type":"subscribe","product_ids":[...],"channel":"market_trades"|"heartbeats"}``; every
server message is an envelope ``{"channel","client_id","timestamp","sequence_num","events"}``
with ``sequence_num`` counting the messages of the connection. ``market_trades`` sends a
``snapshot`` of recent trades on subscribing, then ``update`` events; a trade is
``{"trade_id","product_id","price","size","side":"BUY"|"SELL","time"}`` with the maker's side
(producer.feeds.coinbase_advanced explains the choice).
"""

from __future__ import annotations

from datetime import UTC, datetime

from producer.schema import format_utc
from producer.simulator.market import SimTrade

CHANNELS = ("market_trades", "heartbeats")
SNAPSHOT_TRADES = 50


def requested(msg: dict, known: set[str]) -> tuple[str, str, set[str]]:
    """(type, channel, products) of a subscribe/unsubscribe; ValueError says what is wrong."""
    kind, channel, products = msg.get("type"), msg.get("channel"), msg.get("product_ids", [])
    if kind not in ("subscribe", "unsubscribe"):
        raise ValueError(f"{kind!r} is not a valid type")
    if channel not in CHANNELS:
        raise ValueError(f"{channel!r} is not a valid channel")
    if not isinstance(products, list) or (channel == "market_trades" and not products):
        raise ValueError("product_ids must be a non-empty list")
    unknown = [p for p in products if p not in known]
    if unknown:
        raise ValueError(f"{unknown[0]} is not a valid product")
    return kind, channel, set(products)


def trade_json(trade: SimTrade) -> dict:
    return {"trade_id": str(trade.trade_id), "product_id": trade.product_id,
            "price": trade.price, "size": trade.size,
            "side": "BUY" if trade.maker_side == "buy" else "SELL", "time": trade.time}


def subscriptions(channels: dict[str, set[str]]) -> dict:
    return {"channel": "subscriptions", "events": [{"subscriptions": {
        name: sorted(products) for name, products in channels.items() if products}}]}


def snapshot(trades: list[SimTrade]) -> dict:
    return {"channel": "market_trades",
            "events": [{"type": "snapshot", "trades": [trade_json(t) for t in trades]}]}


def update(trade: SimTrade) -> dict:
    return {"channel": "market_trades",
            "events": [{"type": "update", "trades": [trade_json(trade)]}]}


def heartbeat(counter: int) -> dict:
    return {"channel": "heartbeats", "events": [{"current_time": format_utc(datetime.now(UTC)),
                                                 "heartbeat_counter": str(counter)}]}


def envelope(body: dict, sequence_num: int) -> dict:
    return {"channel": body["channel"], "client_id": "",
            "timestamp": format_utc(datetime.now(UTC)), "sequence_num": sequence_num,
            "events": body["events"]}


def error(message: str) -> dict:
    return {"type": "error", "message": message}
