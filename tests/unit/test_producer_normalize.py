"""Normalization of every documented Coinbase message shape, and of broken ones."""

from __future__ import annotations

import json

import pytest

from producer.feeds import make_feed
from producer.feeds.coinbase import CoinbaseExchangeFeed
from producer.feeds.coinbase_advanced import CoinbaseAdvancedFeed
from producer.schema import (
    Control,
    DeadLetter,
    FeedError,
    Heartbeat,
    MessageSequence,
    NormalizationError,
    Trade,
    check_time,
)

RECEIVED = "2024-01-01T00:00:01.000000Z"

# The examples of the Exchange WebSocket documentation (channels page).
MATCH = {
    "type": "match",
    "trade_id": 10,
    "sequence": 50,
    "maker_order_id": "ac928c66-ca53-498f-9c13-a110027a60e8",
    "taker_order_id": "132fb6ae-456b-4654-b4e0-d681ac05cea1",
    "time": "2014-11-07T08:19:27.028459Z",
    "product_id": "BTC-USD",
    "size": "5.23512",
    "price": "400.23",
    "side": "sell",
}
TICKER = {
    "type": "ticker",
    "sequence": 37475248783,
    "product_id": "ETH-USD",
    "price": "1285.22",
    "open_24h": "1310.79",
    "volume_24h": "245532.79269678",
    "low_24h": "1280.52",
    "high_24h": "1313.8",
    "volume_30d": "9788783.60117027",
    "best_bid": "1285.04",
    "best_bid_size": "0.46688654",
    "best_ask": "1285.27",
    "best_ask_size": "1.56637040",
    "side": "buy",
    "time": "2022-10-19T23:28:22.061769Z",
    "trade_id": 370843401,
    "last_size": "11.4396987",
}
HEARTBEAT = {
    "type": "heartbeat",
    "sequence": 90,
    "last_trade_id": 20,
    "product_id": "BTC-USD",
    "time": "2014-11-07T08:19:28.464459Z",
}
SUBSCRIPTIONS = {
    "type": "subscriptions",
    "channels": [
        {"name": "matches", "product_ids": ["BTC-USD"]},
        {"name": "heartbeat", "product_ids": ["BTC-USD"]},
    ],
}
# The examples of the Advanced Trade WebSocket documentation (market_trades, heartbeats, ...).
MARKET_TRADES = {
    "channel": "market_trades",
    "client_id": "",
    "timestamp": "2023-02-09T20:19:35.39625135Z",
    "sequence_num": 0,
    "events": [
        {
            "type": "snapshot",
            "trades": [
                {
                    "trade_id": "000000000",
                    "product_id": "ETH-USD",
                    "price": "1260.01",
                    "size": "0.3",
                    "side": "BUY",
                    "time": "2019-08-14T20:42:27.265Z",
                }
            ],
        }
    ],
}
ADVANCED_SUBSCRIPTIONS = {
    "channel": "subscriptions",
    "client_id": "",
    "timestamp": "2023-02-09T20:32:50.714964855Z",
    "sequence_num": 2,
    "events": [{"subscriptions": {"market_trades": ["ETH-USD"]}}],
}
ADVANCED_HEARTBEATS = {
    "channel": "heartbeats",
    "client_id": "",
    "timestamp": "2023-06-23T20:31:26.122969572Z",
    "sequence_num": 3,
    "events": [
        {
            "current_time": "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105",
            "heartbeat_counter": "3049",
        }
    ],
}


def exchange(channel: str = "matches") -> CoinbaseExchangeFeed:
    return CoinbaseExchangeFeed(["BTC-USD", "ETH-USD"], channel=channel)


def advanced() -> CoinbaseAdvancedFeed:
    return CoinbaseAdvancedFeed(["ETH-USD"])


def one(feed, message) -> object:
    raw = message if isinstance(message, str) else json.dumps(message)
    events = feed.normalize(raw, RECEIVED)
    assert len(events) == 1, events
    return events[0]


def with_changes(base: dict, **changes) -> dict:
    out = dict(base)
    for key, value in changes.items():
        if value is ...:
            out.pop(key)
        else:
            out[key] = value
    return out


# -- Exchange ----------------------------------------------------------------------------------


def test_match_becomes_a_trade_with_the_taker_side():
    trade = one(exchange(), MATCH)
    assert trade == Trade(
        exchange="coinbase",
        product_id="BTC-USD",
        trade_id="10",
        price="400.23",
        size="5.23512",
        side="buy",  # the maker sold, so the aggressor bought
        event_time="2014-11-07T08:19:27.028459Z",
        sequence=50,
        received_at=RECEIVED,
    )


def test_maker_buy_is_a_taker_sell():
    assert one(exchange(), with_changes(MATCH, side="buy")).side == "sell"


def test_last_match_is_a_trade_like_match():
    trade = one(exchange(), with_changes(MATCH, type="last_match"))
    assert (trade.trade_id, trade.side, trade.price) == ("10", "buy", "400.23")


def test_ticker_reports_its_taker_side_as_is_and_last_size_as_size():
    trade = one(exchange("ticker"), TICKER)
    assert trade == Trade("coinbase", "ETH-USD", "370843401", "1285.22", "11.4396987", "buy",
                          "2022-10-19T23:28:22.061769Z", 37475248783, RECEIVED)


def test_prices_and_sizes_keep_the_exchange_digits():
    trade = one(exchange(), with_changes(MATCH, price="400.23000000", size="0.00000001"))
    assert (trade.price, trade.size) == ("400.23000000", "0.00000001")


def test_heartbeat_subscriptions_and_error_are_not_trades():
    assert one(exchange(), HEARTBEAT) == Heartbeat("BTC-USD", 90, 20)
    assert one(exchange(), SUBSCRIPTIONS) == Control("subscriptions", SUBSCRIPTIONS["channels"])
    error = {"type": "error", "message": "Failed to subscribe",
             "reason": "FOO-BAR is not a valid product"}
    assert one(exchange(), error) == FeedError("Failed to subscribe",
                                               "FOO-BAR is not a valid product")


MALFORMED_EXCHANGE = [
    ("{not json", "not valid JSON: Expecting property name enclosed in double quotes: "
                  "line 1 column 2 (char 1)"),
    ("", "not valid JSON: Expecting value: line 1 column 1 (char 0)"),
    ("[1, 2]", "not a JSON object: list"),
    (with_changes(MATCH, type=...), "missing field: type"),
    (with_changes(MATCH, type="mystery"), "unknown message type: 'mystery'"),
    (with_changes(MATCH, type="l2update"), "unknown message type: 'l2update'"),
    (with_changes(MATCH, price=...), "missing field: price"),
    (with_changes(MATCH, size=...), "missing field: size"),
    (with_changes(MATCH, time=...), "missing field: time"),
    (with_changes(MATCH, side=...), "missing field: side"),
    (with_changes(MATCH, trade_id=...), "missing field: trade_id"),
    (with_changes(MATCH, sequence=...), "missing field: sequence"),
    (with_changes(MATCH, product_id=...), "missing field: product_id"),
    (with_changes(MATCH, price=400.23),
     "invalid price: 400.23 (expected a decimal string)"),
    (with_changes(MATCH, price="-400.23"),
     "invalid price: '-400.23' (expected a positive decimal string)"),
    (with_changes(MATCH, price="0.000"),
     "invalid price: '0.000' (expected a positive decimal string)"),
    (with_changes(MATCH, price="NaN"),
     "invalid price: 'NaN' (expected a positive decimal string)"),
    (with_changes(MATCH, price="Infinity"),
     "invalid price: 'Infinity' (expected a positive decimal string)"),
    (with_changes(MATCH, price="4e2"),
     "invalid price: '4e2' (expected a positive decimal string)"),
    (with_changes(MATCH, price=" 400.23"),
     "invalid price: ' 400.23' (expected a positive decimal string)"),
    (with_changes(MATCH, size="abc"),
     "invalid size: 'abc' (expected a positive decimal string)"),
    (with_changes(MATCH, size=None), "invalid size: None (expected a decimal string)"),
    (with_changes(MATCH, side="up"), "invalid side: 'up' (expected 'buy' or 'sell')"),
    (with_changes(MATCH, side="BUY"), "invalid side: 'BUY' (expected 'buy' or 'sell')"),
    (with_changes(MATCH, trade_id="10"),
     "invalid trade_id: '10' (expected a non-negative integer)"),
    (with_changes(MATCH, trade_id=True),
     "invalid trade_id: True (expected a non-negative integer)"),
    (with_changes(MATCH, trade_id=-1),
     "invalid trade_id: -1 (expected a non-negative integer)"),
    (with_changes(MATCH, sequence="50"),
     "invalid sequence: '50' (expected a non-negative integer)"),
    (with_changes(MATCH, product_id='BTC"USD'), "invalid product_id: 'BTC\"USD'"),
    (with_changes(MATCH, product_id="BTCUSD"), "invalid product_id: 'BTCUSD'"),
    (with_changes(MATCH, time="2014-11-07T08:19:27.028459"),
     "invalid time: '2014-11-07T08:19:27.028459' (expected ISO-8601 with zone)"),
    (with_changes(MATCH, time="2014-02-30T08:19:27.028459Z"),
     "invalid time: '2014-02-30T08:19:27.028459Z' (day is out of range for month)"),
    (with_changes(MATCH, time="2014-W45-5T08:19:27.028459Z"),  # an ISO week date
     "invalid time: '2014-W45-5T08:19:27.028459Z' (expected ISO-8601 with zone)"),
    (with_changes(MATCH, time=1415348367),
     "invalid time: 1415348367 (expected an ISO-8601 string)"),
    (with_changes(TICKER, last_size=...), "missing field: last_size"),
    (with_changes(HEARTBEAT, last_trade_id=...), "missing field: last_trade_id"),
]


@pytest.mark.parametrize(("message", "reason"), MALFORMED_EXCHANGE)
def test_malformed_exchange_messages_go_to_the_dead_letter_topic(message, reason):
    raw = message if isinstance(message, str) else json.dumps(message)
    is_ticker = isinstance(message, dict) and message.get("type") == "ticker"
    channel = "ticker" if is_ticker else "matches"
    dead = one(exchange(channel), raw)
    assert dead == DeadLetter(reason, raw, dead.product_id)


def test_dead_letter_keeps_a_valid_product_id_for_its_key():
    dead = one(exchange(), with_changes(MATCH, price="-1"))
    assert dead.product_id == "BTC-USD"
    assert one(exchange(), "{not json").product_id is None


def test_dead_letter_record_format():
    dead = DeadLetter("missing field: price", '{"type":"match"}', "BTC-USD")
    record = json.loads(dead.to_json("coinbase", RECEIVED))
    assert record == {"v": 1, "source": "coinbase", "reason": "missing field: price",
                      "product_id": "BTC-USD", "received_at": RECEIVED,
                      "raw": '{"type":"match"}'}


# -- timestamps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-11-07T08:19:27.028459Z", "2014-11-07T08:19:27.028459Z"),
        ("2014-11-07T08:19:27Z", "2014-11-07T08:19:27.000000Z"),
        ("2019-08-14T20:42:27.265Z", "2019-08-14T20:42:27.265000Z"),
        ("2023-02-09T20:19:35.39625135Z", "2023-02-09T20:19:35.396251Z"),  # truncated
        ("2023-02-09T20:19:35.999999999Z", "2023-02-09T20:19:35.999999Z"),
        ("2024-01-01T01:30:00.5+01:30", "2024-01-01T00:00:00.500000Z"),
        ("2024-01-01T00:00:00.000001-0200", "2024-01-01T02:00:00.000001Z"),
        ("2024-01-01 00:00:00.1Z", "2024-01-01T00:00:00.100000Z"),
        ("2023-12-31T23:59:59.999999+00:00", "2023-12-31T23:59:59.999999Z"),
    ],
)
def test_event_time_is_utc_with_six_fractional_digits(text, expected):
    assert check_time(text) == expected


@pytest.mark.parametrize("text", ["2024-01-01", "2024-01-01T00:00:00.1234567890Z",
                                  "2024-13-01T00:00:00Z", "2024-01-01T00:00:00+25:00",
                                  "yesterday"])
def test_impossible_times_are_rejected(text):
    with pytest.raises(NormalizationError, match=r"^invalid time: "):
        check_time(text)


# -- the schema --------------------------------------------------------------------------------


@pytest.mark.parametrize("sequence", [123, None])
def test_trade_json_is_the_topic_schema(sequence):
    trade = Trade("coinbase", "BTC-USD", "42", "43250.12", "0.0012", "buy",
                  "2024-01-01T00:00:00.123456Z", sequence, RECEIVED)
    assert json.loads(trade.to_json()) == {
        "v": 1, "exchange": "coinbase", "product_id": "BTC-USD", "trade_id": "42",
        "price": "43250.12", "size": "0.0012", "side": "buy",
        "event_time": "2024-01-01T00:00:00.123456Z", "sequence": sequence,
        "received_at": RECEIVED,
    }
    assert list(json.loads(trade.to_json())) == list(trade.to_dict())
    assert trade.key == "BTC-USD"


# -- Advanced Trade ----------------------------------------------------------------------------


def test_market_trades_snapshot_becomes_trades_with_the_taker_side():
    events = advanced().normalize(json.dumps(MARKET_TRADES), RECEIVED)
    assert events == [
        MessageSequence(0),
        Trade("coinbase", "ETH-USD", "000000000", "1260.01", "0.3", "sell",
              "2019-08-14T20:42:27.265000Z", 0, RECEIVED),
    ]


def test_market_trades_update_is_ordered_oldest_first():
    trades = [
        {"trade_id": "102", "product_id": "BTC-USD", "price": "43000.02", "size": "0.5",
         "side": "SELL", "time": "2024-01-01T00:00:00.300000001Z"},
        {"trade_id": "101", "product_id": "BTC-USD", "price": "43000.01", "size": "0.25",
         "side": "BUY", "time": "2024-01-01T00:00:00.200000Z"},
        {"trade_id": "99", "product_id": "ETH-USD", "price": "2300.5", "size": "1",
         "side": "SELL", "time": "2024-01-01T00:00:00.200000Z"},
    ]
    message = {"channel": "market_trades", "client_id": "", "timestamp": RECEIVED,
               "sequence_num": 7, "events": [{"type": "update", "trades": trades}]}
    events = advanced().normalize(json.dumps(message), RECEIVED)
    assert events[0] == MessageSequence(7)
    assert [(t.trade_id, t.side, t.event_time) for t in events[1:]] == [
        ("99", "buy", "2024-01-01T00:00:00.200000Z"),
        ("101", "sell", "2024-01-01T00:00:00.200000Z"),
        ("102", "buy", "2024-01-01T00:00:00.300000Z"),
    ]
    assert all(t.sequence == 7 for t in events[1:])


def test_advanced_control_messages():
    assert advanced().normalize(json.dumps(ADVANCED_SUBSCRIPTIONS), RECEIVED) == [
        MessageSequence(2), Control("subscriptions", ADVANCED_SUBSCRIPTIONS["events"])]
    assert advanced().normalize(json.dumps(ADVANCED_HEARTBEATS), RECEIVED) == [
        MessageSequence(3), Control("heartbeats", ADVANCED_HEARTBEATS["events"])]
    error = {"type": "error", "message": "failure to subscribe"}
    assert one(advanced(), error) == FeedError("failure to subscribe", None)


def bad_trade(**changes) -> dict:
    trade = with_changes(MARKET_TRADES["events"][0]["trades"][0], **changes)
    good = dict(MARKET_TRADES["events"][0]["trades"][0], trade_id="000000001")
    event = {"type": "update", "trades": [good, trade]}
    return with_changes(MARKET_TRADES, events=[event])


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (with_changes(MARKET_TRADES, channel=...), "missing field: channel"),
        (with_changes(MARKET_TRADES, events=...), "missing field: events"),
        (with_changes(MARKET_TRADES, sequence_num=...), "missing field: sequence_num"),
        (with_changes(MARKET_TRADES, events={"type": "update"}),
         "invalid events: {'type': 'update'} (expected a list)"),
        (with_changes(MARKET_TRADES, sequence_num="1"),
         "invalid sequence_num: '1' (expected a non-negative integer)"),
    ],
)
def test_malformed_advanced_envelopes(message, reason):
    raw = json.dumps(message)
    assert advanced().normalize(raw, RECEIVED) == [DeadLetter(reason, raw)]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (with_changes(MARKET_TRADES, channel="level3"), "unknown channel: 'level3'"),
        (with_changes(MARKET_TRADES, events=[{"type": "delta", "trades": []}]),
         "unknown market_trades event type in events[0]: 'delta'"),
        (with_changes(MARKET_TRADES, events=[{"type": "update"}]),
         "missing field in events[0]: trades"),
        (with_changes(MARKET_TRADES, events=["update"]),
         "invalid event in events[0]: expected an object"),
    ],
)
def test_malformed_advanced_channels_and_events(message, reason):
    raw = json.dumps(message)
    assert advanced().normalize(raw, RECEIVED) == [MessageSequence(0), DeadLetter(reason, raw)]


@pytest.mark.parametrize(
    ("changes", "reason", "product"),
    [
        ({"price": ...}, "missing field in events[0].trades[1]: price", "ETH-USD"),
        ({"price": "-1"},
         "invalid price in events[0].trades[1]: '-1' (expected a positive decimal string)",
         "ETH-USD"),
        ({"size": 0.3},
         "invalid size in events[0].trades[1]: 0.3 (expected a decimal string)", "ETH-USD"),
        ({"side": "buy"},
         "invalid side in events[0].trades[1]: 'buy' (expected 'BUY' or 'SELL')", "ETH-USD"),
        ({"trade_id": 5}, "invalid trade_id in events[0].trades[1]: 5", "ETH-USD"),
        ({"time": "now"},
         "invalid time in events[0].trades[1]: 'now' (expected ISO-8601 with zone)", "ETH-USD"),
        ({"product_id": "nope"}, "invalid product_id in events[0].trades[1]: 'nope'", None),
    ],
)
def test_one_bad_trade_is_dead_lettered_and_the_rest_still_flow(changes, reason, product):
    raw = json.dumps(bad_trade(**changes))
    events = advanced().normalize(raw, RECEIVED)
    assert events[0] == MessageSequence(0)
    assert events[1] == DeadLetter(reason, raw, product)
    assert [type(e) for e in events[2:]] == [Trade]
    assert events[2].trade_id == "000000001"


def test_make_feed_knows_both_protocols():
    assert isinstance(make_feed("coinbase", ["BTC-USD"], "ticker"), CoinbaseExchangeFeed)
    advanced_feed = make_feed("coinbase-advanced", ["BTC-USD"], "matches")
    assert advanced_feed.channel == "market_trades"
    with pytest.raises(ValueError, match="unknown feed protocol 'kraken'"):
        make_feed("kraken", ["BTC-USD"], "matches")


def test_subscribe_messages():
    assert [json.loads(m) for m in exchange().subscribe_messages()] == [
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"],
         "channels": ["matches", "heartbeat"]}]
    assert [json.loads(m) for m in advanced().subscribe_messages()] == [
        {"type": "subscribe", "product_ids": ["ETH-USD"], "channel": "market_trades"},
        {"type": "subscribe", "product_ids": ["ETH-USD"], "channel": "heartbeats"}]
