"""window_aggregates (+ dedupe) on hand-built trades, and against a plain-Python recomputation."""

import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from spark_support import instant, kafka_frame, local_spark, trade

from spark_jobs import transformations as t


@pytest.fixture(scope="module")
def spark():
    return local_spark()


def windows(spark, records, window="30 seconds"):
    good, rejected = t.parse_trades(kafka_frame(spark, records))
    assert rejected.count() == 0
    result = t.window_aggregates(t.dedupe_trades(good, "10 seconds"), window)
    rows = result.orderBy("exchange", "product_id", "window_start").collect()
    return [row.asDict() for row in rows]


def test_output_columns_and_types(spark):
    good, _ = t.parse_trades(kafka_frame(spark, [trade(1, 0)]))
    schema = t.window_aggregates(good, "30 seconds").schema
    assert tuple(schema.names) == t.WINDOW_COLUMNS
    types = {field.name: field.dataType.simpleString() for field in schema}
    assert types["trade_count"] == "bigint"
    assert types["window_start"] == types["window_end"] == "timestamp"
    assert types["vwap"] == types["average_price"] == "double"
    for name in ("volume", "notional", "open", "high", "low", "close", "buy_volume",
                 "sell_volume"):
        assert types[name] == "decimal(38,18)"


def test_a_trade_exactly_at_the_window_end_belongs_to_the_next_window(spark):
    rows = windows(spark, [trade(1, 0), trade(2, 29.999999), trade(3, 30), trade(4, 60)])
    assert [(r["window_start"], r["window_end"], r["trade_count"]) for r in rows] == [
        (instant(0), instant(30), 2),
        (instant(30), instant(60), 1),
        (instant(60), instant(90), 1),
    ]


def test_statistics_of_one_window_are_exact(spark):
    rows = windows(spark, [
        trade(1, 1, price="100.1", size="0.5", side="buy"),
        trade(2, 2, price="102.3", size="0.25", side="sell"),
        trade(3, 3, price="99.9", size="1.25", side="buy"),
        trade(4, 4, price="101.0", size="0.00000001", side="sell"),
    ])
    [row] = rows
    volume = Decimal("0.5") + Decimal("0.25") + Decimal("1.25") + Decimal("0.00000001")
    notional = (Decimal("100.1") * Decimal("0.5") + Decimal("102.3") * Decimal("0.25")
                + Decimal("99.9") * Decimal("1.25") + Decimal("101.0") * Decimal("0.00000001"))
    assert row["trade_count"] == 4
    assert row["volume"] == volume
    assert row["notional"] == notional
    assert row["buy_volume"] == Decimal("1.75")
    assert row["sell_volume"] == Decimal("0.25000001")
    assert (row["open"], row["high"], row["low"], row["close"]) == (
        Decimal("100.1"), Decimal("102.3"), Decimal("99.9"), Decimal("101.0"))
    assert row["vwap"] == pytest.approx(float(notional / volume), rel=1e-15)
    assert row["average_price"] == pytest.approx(float(Decimal("403.3") / 4), rel=1e-15)


def test_open_and_close_ties_on_event_time_are_broken_by_trade_id(spark):
    rows = windows(spark, [
        trade("20", 5, price="2"), trade("10", 5, price="1"),  # same first instant
        trade("30", 9, price="3"), trade("40", 9, price="4"),  # same last instant
        trade("25", 7, price="9"),
    ])
    [row] = rows
    assert (row["open"], row["close"]) == (Decimal("1"), Decimal("4"))


def test_numeric_trade_ids_tie_break_as_numbers_not_text(spark):
    rows = windows(spark, [
        trade("999", 5, price="1"), trade("1000", 5, price="2"),
    ])
    [row] = rows
    assert (row["open"], row["close"]) == (Decimal("1"), Decimal("2"))


def test_the_result_does_not_depend_on_input_order(spark):
    records = [trade(i, 3, price=str(100 + i)) for i in range(8)]
    forward = windows(spark, records)
    backward = windows(spark, list(reversed(records)))
    assert forward == backward
    assert (forward[0]["open"], forward[0]["close"]) == (Decimal("100"), Decimal("107"))


def test_duplicate_trades_are_counted_once(spark):
    rows = windows(spark, [
        trade(1, 1, size="2"), trade(1, 1, size="2"), trade(1, 1, size="2"),
        trade(2, 2, size="3"),
        trade(1, 1, size="2", exchange="other-exchange"),  # same id elsewhere: a different trade
        trade(1, 1, size="2", product_id="ETH-USD"),
    ])
    summary = [(r["exchange"], r["product_id"], r["trade_count"], r["volume"]) for r in rows]
    assert summary == [
        ("coinbase", "BTC-USD", 2, Decimal(5)),
        ("coinbase", "ETH-USD", 1, Decimal(2)),
        ("other-exchange", "BTC-USD", 1, Decimal(2)),
    ]


def test_window_length_is_configurable(spark):
    rows = windows(spark, [trade(1, 0), trade(2, 59), trade(3, 60)], window="1 minute")
    assert [(r["window_start"], r["trade_count"]) for r in rows] == [
        (instant(0), 2), (instant(60), 1)]


# An independent recomputation: plain Python with Decimal, no Spark.

UNIX_EPOCH = datetime(1970, 1, 1)

def recompute(records, window_seconds=30):
    unique = {}
    for record in records:
        unique.setdefault((record["exchange"], record["product_id"], record["trade_id"]), record)
    groups = defaultdict(list)
    for record in unique.values():
        micros = _micros(record["event_time"])
        start = micros - micros % (window_seconds * 1_000_000)
        groups[(record["exchange"], record["product_id"], start)].append((micros, record))
    expected = []
    for (exchange, product_id, start), members in sorted(groups.items()):
        members.sort(key=lambda item: (item[0], int(item[1]["trade_id"])))
        prices = [Decimal(r["price"]) for _, r in members]
        sizes = [Decimal(r["size"]) for _, r in members]
        volume, notional = sum(sizes), sum(p * s for p, s in zip(prices, sizes, strict=True))
        expected.append({
            "exchange": exchange, "product_id": product_id,
            "window_start": UNIX_EPOCH + timedelta(microseconds=start),
            "window_end": UNIX_EPOCH + timedelta(microseconds=start, seconds=window_seconds),
            "trade_count": len(members), "volume": volume, "notional": notional,
            "vwap": float(notional / volume), "average_price": float(sum(prices) / len(prices)),
            "open": prices[0], "high": max(prices), "low": min(prices), "close": prices[-1],
            "buy_volume": sum((s for (_, r), s in zip(members, sizes, strict=True)
                               if r["side"] == "buy"), Decimal(0)),
            "sell_volume": sum((s for (_, r), s in zip(members, sizes, strict=True)
                                if r["side"] == "sell"), Decimal(0)),
        })
    return expected


def _micros(text):
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    return (moment - UNIX_EPOCH) // timedelta(microseconds=1)


def random_trades(rng, count):
    records = []
    for trade_id in range(count):
        product = rng.choice(["BTC-USD", "ETH-USD", "PEPE-USD"])
        price = {
            "BTC-USD": lambda: f"{rng.randint(30_000, 70_000)}.{rng.randint(0, 99):02d}",
            "ETH-USD": lambda: f"{rng.randint(1_000, 4_000)}.{rng.randint(0, 10**6):06d}",
            "PEPE-USD": lambda: f"0.0000{rng.randint(1, 99_999):05d}",
        }[product]()
        size = f"{rng.randint(0, 50_000)}.{rng.randint(1, 10**8 - 1):08d}"
        seconds = rng.choice([rng.uniform(0, 300), rng.randrange(0, 300, 30)])  # boundaries too
        records.append(trade(trade_id, round(seconds, 6), price=price, size=size,
                             side=rng.choice(["buy", "sell"]), product_id=product,
                             exchange=rng.choice(["coinbase", "kraken"])))
    duplicates = [rng.choice(records) for _ in range(count // 10)]
    return records + duplicates


def test_matches_an_independent_decimal_recomputation(spark):
    records = random_trades(random.Random(20240101), 1500)
    actual = windows(spark, records)
    expected = recompute(records)
    assert len(actual) == len(expected) > 30
    for got, want in zip(actual, expected, strict=True):
        for name in ("vwap", "average_price"):
            assert got.pop(name) == pytest.approx(want.pop(name), rel=1e-12), name
        assert got == want
