"""parse_trades: explicit schema, exact decimals, and a precise reason for every rejection."""

import json
from decimal import Decimal

import pytest
from spark_support import instant, kafka_frame, local_spark, trade

from spark_jobs import transformations as t


@pytest.fixture(scope="module")
def spark():
    return local_spark()


def parse(spark, records):
    good, rejected = t.parse_trades(kafka_frame(spark, records))
    return good.collect(), rejected.orderBy("offset").collect()


def test_a_valid_trade_keeps_its_exact_decimal_values(spark):
    record = trade(7, 1.5, price="43250.1234567891", size="0.00000001", side="sell")
    good, rejected = parse(spark, [record])
    assert rejected == []
    [row] = good
    assert row.asDict() == {
        "exchange": "coinbase", "product_id": "BTC-USD", "trade_id": "7",
        "price": Decimal("43250.1234567891"), "size": Decimal("0.00000001"), "side": "sell",
        "event_time": instant(1.5),
    }


def test_largest_values_that_fit_are_exact(spark):
    record = trade(1, 0, price="99999999.9999999999", size="99999999999.99999999")
    [row], _ = parse(spark, [record])
    assert row.price == Decimal("99999999.9999999999")
    assert row.size == Decimal("99999999999.99999999")


def test_trailing_zeros_and_leading_zeros_do_not_count_against_the_precision(spark):
    [row], rejected = parse(spark, [trade(1, 0, price="00043250.120000000000000", size="1.0")])
    assert rejected == []
    assert row.price == Decimal("43250.12")


def test_event_time_with_offset_and_nanoseconds(spark):
    record = trade(1, 0, event_time="2024-01-01T02:00:00.123456789+02:00")
    [row], _ = parse(spark, [record])
    assert row.event_time == instant(0.123456)  # microseconds: Spark's timestamp precision


GOOD = trade(1, 0)


def without(field):
    return {name: value for name, value in GOOD.items() if name != field}


def with_(**fields):
    return {**GOOD, **fields}


REJECTIONS = [
    (None, t.EMPTY_VALUE),
    ("", t.EMPTY_VALUE),
    ("{not json", t.BAD_JSON),
    ("[1, 2]", t.BAD_JSON),
    ('"a string"', t.BAD_JSON),
    ("null", t.BAD_JSON),
    (b"\xff\xfe\x00", t.BAD_JSON),
    *[(without(field), t.missing_field(field)) for field in t.REQUIRED_FIELDS],
    (with_(trade_id="  "), t.missing_field("trade_id")),
    (with_(v=2), t.UNSUPPORTED_VERSION),
    (with_(v="1.0"), t.UNSUPPORTED_VERSION),
    (with_(price="abc"), t.non_numeric("price")),
    (with_(price="1e5"), t.non_numeric("price")),
    (with_(price="NaN"), t.non_numeric("price")),
    (with_(price=" 1"), t.non_numeric("price")),
    (with_(price="0"), t.non_positive("price")),
    (with_(price="-3.5"), t.non_positive("price")),
    (with_(price="0.00000000001"), t.out_of_range("price")),  # 11 decimals > 10
    (with_(price="123456789"), t.out_of_range("price")),  # 9 integer digits > 8
    (with_(price=43250.12), t.not_a_string("price")),
    (with_(size="lots"), t.non_numeric("size")),
    (with_(size="0.000"), t.non_positive("size")),
    (with_(size="-1"), t.non_positive("size")),
    (with_(size="0.000000001"), t.out_of_range("size")),  # 9 decimals > 8
    (with_(size="100000000000"), t.out_of_range("size")),  # 12 integer digits > 11
    (with_(size=1), t.not_a_string("size")),
    (with_(side="BUY"), t.BAD_SIDE),
    (with_(side="hold"), t.BAD_SIDE),
    (with_(event_time="yesterday"), t.BAD_EVENT_TIME),
    (with_(event_time="2024-01-01"), t.BAD_EVENT_TIME),
    (with_(event_time="2024-01-01T00:00:00"), t.BAD_EVENT_TIME),  # no zone
    (with_(event_time="2024-13-01T00:00:00Z"), t.BAD_EVENT_TIME),
]


def test_every_rejection_reason_with_the_raw_record_and_its_kafka_position(spark):
    records = [record for record, _ in REJECTIONS]
    good, rejected = parse(spark, records)
    assert good == []
    assert [(row.offset, row.reason) for row in rejected] == [
        (offset, reason) for offset, (_, reason) in enumerate(REJECTIONS)
    ]
    for row, (record, _) in zip(rejected, REJECTIONS, strict=True):
        expected = record if isinstance(record, bytes | type(None)) else (
            record.encode() if isinstance(record, str) else json.dumps(record).encode()
        )
        assert (row.raw_value, row.topic, row.partition) == (expected, "raw_crypto_trades", 0)
        assert row.received_at is not None


def test_good_and_bad_records_are_split_without_loss(spark):
    records = [trade(i, i) for i in range(5)] + ["{bad", with_(price="x")] + [trade(9, 9)]
    good, rejected = parse(spark, records)
    assert sorted(row.trade_id for row in good) == ["0", "1", "2", "3", "4", "9"]
    assert [row.offset for row in rejected] == [5, 6]


@pytest.mark.parametrize("split", [t.good_trades, t.rejected_records])
def test_each_record_is_parsed_once_whichever_side_is_kept(spark, split):
    """The optimizer must not copy from_json into every reference of the filter on `reason`
    (it did, ~30 times per record, before the projections had a barrier)."""
    records = split(t.parse_records(kafka_frame(spark, [trade(1, 0)])))
    plan = records._jdf.queryExecution().optimizedPlan().toString()
    assert plan.count("from_json(") == 1
