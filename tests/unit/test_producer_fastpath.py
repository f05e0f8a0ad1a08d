"""The native hot path (producer/fastpath) against the checked path it stands in for.

``fast_records`` may decline any message (the checked path then decides); whenever it accepts one,
the record must be exactly what the checked path makes of it. The differential test mutates the
documented match message thousands of ways, near the edges of every rule, and compares.
"""

from __future__ import annotations

import json
import random

import pytest

from producer.feeds.coinbase import CoinbaseExchangeFeed
from producer.schema import DeadLetter, Trade
from tests.unit.test_producer_normalize import (
    MALFORMED_EXCHANGE,
    MATCH,
    RECEIVED,
    exchange,
    one,
    with_changes,
)

# Candidate values per field: valid ones, edge cases of each rule, and wrong types.
CANDIDATES = {
    "type": ["match", "last_match", "ticker", "Match", "", None],
    "trade_id": [0, 1, 10, 2**53, 2**63, 2**64 - 1, 2**64, -1, -0, 1.0, 1e3, "10", True, None],
    "sequence": [0, 50, 2**64 - 1, 2**64, -5, 5.5, "50", False],
    "price": ["400.23", "0.00000001", "7", "0", "0.0", "00.10", ".5", "5.", "1.2.3", "1e3",
              "-1", " 1", "NaN", "Infinity", "١٢", "", 400.23, None],
    "size": ["5.23512", "1", "000", "0.000000001", "+1", "1_000", 5],
    "side": ["buy", "sell", "BUY", "", "buy ", None],
    "product_id": ["BTC-USD", "ETH-PERP-INTX", "BIT-30AUG24-CDE", "A-B-C-D", "A-B-C-D-E",
                   "BTCUSD", "BTC--USD", "-BTC-USD", "BTC-USD-", "BTC-ÜSD", 'BTC"USD',
                   "X" * 32 + "-USD", "X" * 33 + "-USD", "", 7],
    "time": ["2014-11-07T08:19:27.028459Z", "2000-02-29T23:59:59.999999Z",
             "1900-02-29T00:00:00.000000Z", "2023-02-29T00:00:00.000000Z",
             "0000-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z",
             "2024-01-01T24:00:00.000000Z", "2024-01-01T23:60:00.000000Z",
             "2024-01-01T23:59:60.000000Z", "2014-W45-5T08:19:27.028459Z",
             "2014-11-07T08:19:27.028459+00:00", "2014-11-07T08:19:27.02845Z",
             "2014-11-07T08:19:27,028459Z", "2014-11-07 08:19:27.028459Z",
             "2014-11-07T08:19:27Z", "２０１４-11-07T08:19:27.028459Z", 1415348367],
}


def mutated_matches(count: int, seed: int):
    """Raw texts: the documented match with some fields changed, dropped or repeated, some
    strings escaped, and whitespace around."""
    rng = random.Random(seed)
    fields = list(CANDIDATES)
    for _ in range(count):
        message = dict(MATCH)
        for field in rng.sample(fields, rng.randint(0, 3)):
            message[field] = rng.choice(CANDIDATES[field])
        if rng.random() < 0.05:
            message.pop(rng.choice(fields))
        raw = json.dumps(message, ensure_ascii=rng.random() < 0.5)
        roll = rng.random()
        if roll < 0.05:  # a repeated key: the checked path takes the last one
            field = rng.choice(fields)
            raw = raw[:-1] + f', "{field}": {json.dumps(rng.choice(CANDIDATES[field]))}}}'
        elif roll < 0.10:
            raw = raw.replace('"BTC-USD"', '"BTC\\u002dUSD"')  # an escaped, still valid id
        elif roll < 0.15:
            raw = f" {raw}\n"
        yield raw


def fast_record(feed: CoinbaseExchangeFeed, raw):
    [record] = feed.fast_records([(RECEIVED, raw)])
    return record


def checked_record(feed: CoinbaseExchangeFeed, raw: str):
    events = feed.normalize(raw, RECEIVED)
    if len(events) == 1 and type(events[0]) is Trade:
        trade = events[0]
        return trade.product_id, trade.number, trade.to_json()
    return events


def test_whatever_the_fast_path_accepts_the_checked_path_makes_the_same_record():
    feed = exchange()
    raws = list(mutated_matches(20_000, seed=7))
    accepted = declined = 0
    for raw, fast in zip(raws, feed.fast_records([(RECEIVED, raw) for raw in raws]), strict=True):
        if fast is None:
            declined += 1
            continue
        accepted += 1
        assert fast == checked_record(feed, raw), raw
    # Both sides of the rule were exercised, not just one.
    assert accepted > 2_000 and declined > 2_000, (accepted, declined)


@pytest.mark.parametrize("message", [MATCH, with_changes(MATCH, type="last_match", side="buy"),
                                     with_changes(MATCH, extra="x", trade_id=0)])
def test_the_documented_matches_take_the_fast_path(message):
    feed, raw = exchange(), json.dumps(message)
    product_id, number, value = fast_record(feed, raw)
    assert (product_id, number) == (message["product_id"], message["trade_id"])
    assert json.loads(value) == {
        "v": 1, "exchange": "coinbase", "product_id": "BTC-USD",
        "trade_id": str(message["trade_id"]), "price": "400.23", "size": "5.23512",
        "side": "buy" if message["side"] == "sell" else "sell",  # the taker's side
        "event_time": "2014-11-07T08:19:27.028459Z", "sequence": 50, "received_at": RECEIVED,
    }


@pytest.mark.parametrize(("message", "reason"), MALFORMED_EXCHANGE)
def test_the_fast_path_declines_every_malformed_message(message, reason):
    raw = message if isinstance(message, str) else json.dumps(message)
    assert fast_record(exchange(), raw) is None
    assert type(exchange().normalize(raw, RECEIVED)[0]) is DeadLetter


@pytest.mark.parametrize("extra", [{"nested": [1]}, 1.5, None, "caf\\u00e9"])
def test_what_a_match_never_holds_is_left_to_the_checked_path(extra):
    raw = json.dumps(with_changes(MATCH, extra=extra)).replace("\\\\", "\\")
    assert fast_record(exchange(), raw) is None
    assert type(one(exchange(), raw)) is Trade


def test_the_ticker_channel_has_no_fast_path():
    assert not hasattr(exchange("ticker"), "fast_records")


def test_one_result_per_message_in_order_and_only_text_is_taken():
    feed, raw = exchange(), json.dumps(MATCH)
    later = json.dumps(with_changes(MATCH, trade_id=11))
    messages = [(RECEIVED, raw, None), (RECEIVED, raw.encode()), (RECEIVED, "{"),
                ("2024-01-01T00:00:02.000000Z", later, "ignored")]
    records = feed.fast_records(messages)
    assert [r and r[1] for r in records] == [10, None, None, 11]
    assert json.loads(records[3][2])["received_at"] == "2024-01-01T00:00:02.000000Z"
    assert feed.fast_records([]) == []


def test_the_record_names_the_feeds_exchange():
    feed = CoinbaseExchangeFeed(["BTC-USD"], exchange="coinbase-sandbox")
    _, _, value = fast_record(feed, json.dumps(MATCH))
    assert json.loads(value)["exchange"] == "coinbase-sandbox"
