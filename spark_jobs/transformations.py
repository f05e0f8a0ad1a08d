"""The job's pure DataFrame -> DataFrame steps: parse, dedupe, event-time windows.

They work the same on a streaming and on a static DataFrame, so unit tests run them on
hand-built data and the job wires them between the Kafka source and the ClickHouse sink.

Exact arithmetic. Prices and sizes stay decimal from the JSON text to the final columns:
  price    DECIMAL(18,10)  up to 99,999,999.9999999999 (10 decimals covers every quote
                           increment listed on Coinbase; the smallest is 1e-8)
  size     DECIMAL(19,8)   up to 99,999,999,999.99999999 (base increments go down to 1e-8)
  notional price * size -> DECIMAL(38,18) exactly: Spark keeps the full scale only while the
                           product's precision 18 + 19 + 1 stays <= 38; DECIMAL(38,18) inputs
                           would have their product silently rounded to 6 decimals.
A value that does not fit these types is rejected with the reason `<field> out of range`,
never rounded. Sums keep their scale; everything is cast to the stored DECIMAL(38,18) at the
end. The two ratios, vwap = notional / volume and average_price = sum(price) / trade_count, are
not finite decimals in general; they are divided as Float64 from the exact decimal sums
(relative error < 1e-15, where a Spark decimal division would keep only 10 decimals, i.e.
~1e-5 relative for a price of 1e-5). notional and volume are stored exactly, so an exact vwap
can always be recomputed from the table.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, StringType, StructField, StructType

from spark_jobs.config import REJECTED_METRIC

PRICE_TYPE = DecimalType(18, 10)
SIZE_TYPE = DecimalType(19, 8)
STORED_DECIMAL = DecimalType(38, 18)

SUPPORTED_VERSION = "1"
SIDES = ("buy", "sell")
REQUIRED_FIELDS = ("v", "exchange", "product_id", "trade_id", "price", "size", "side", "event_time")
DEDUPE_KEY = ("exchange", "product_id", "trade_id")
_CORRUPT = "_corrupt_record"
# Every field is read as a string and validated afterwards, so one bad field yields a precise
# reason instead of a row of nulls. Extra fields (sequence, received_at) are ignored.
TRADE_JSON_SCHEMA = StructType(
    [StructField(name, StringType()) for name in REQUIRED_FIELDS]
    + [StructField(_CORRUPT, StringType())]
)
_DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"
_ISO_INSTANT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)

EMPTY_VALUE = "empty value"
BAD_JSON = "bad JSON"
UNSUPPORTED_VERSION = "unsupported version"
BAD_SIDE = "bad side"
BAD_EVENT_TIME = "bad event_time"


def missing_field(name: str) -> str:
    return f"missing field: {name}"


def not_a_string(name: str) -> str:
    return f"{name} is a JSON number, expected a decimal string"


def non_numeric(name: str) -> str:
    return f"non-numeric {name}"


def out_of_range(name: str) -> str:
    return f"{name} out of range"


def non_positive(name: str) -> str:
    return f"non-positive {name}"


GOOD_COLUMNS = ("exchange", "product_id", "trade_id", "price", "size", "side", "event_time")
REJECTED_COLUMNS = ("received_at", "reason", "raw_value", "raw_key", "topic", "partition", "offset")


def parse_records(raw: DataFrame) -> DataFrame:
    """Kafka records (key, value, topic, partition, offset, timestamp) -> one row per record.

    Each row has the trade's columns (GOOD_COLUMNS: exchange, product_id, trade_id, price
    DECIMAL(18,10), size DECIMAL(19,8), side, event_time timestamp), `reason` (null for a good
    trade, else the first failing check) and the record's own columns (received_at = the Kafka
    timestamp, raw_value and raw_key = its bytes untouched, topic, partition, offset).
    good_trades() and rejected_records() split it; every record lands in exactly one of the two.
    """
    text = F.col("value").cast("string")
    parsed = _barrier(raw.select(
        F.col("value").alias("raw_value"),
        F.col("key").alias("raw_key"),
        "topic",
        "partition",
        "offset",
        F.col("timestamp").alias("received_at"),
        text.alias("raw_text"),
        F.from_json(
            text, TRADE_JSON_SCHEMA, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT}
        ).alias("j"),
    ))
    typed = _barrier(parsed.select(
        *(name for name in parsed.columns if name != "raw_text"),
        _json_number(F.col("raw_text")).alias("json_number"),
        _decimal(F.col("j.price"), PRICE_TYPE).alias("price"),
        _decimal(F.col("j.size"), SIZE_TYPE).alias("size"),
        F.when(F.col("j.event_time").rlike(_ISO_INSTANT), F.col("j.event_time"))
        .try_cast("timestamp")
        .alias("event_time"),
    ))
    return typed.select(
        F.col("j.exchange").alias("exchange"),
        F.col("j.product_id").alias("product_id"),
        F.col("j.trade_id").alias("trade_id"),
        "price",
        "size",
        F.col("j.side").alias("side"),
        "event_time",
        _rejection_reason().alias("reason"),
        *(name for name in REJECTED_COLUMNS if name != "reason"),
    )


def good_trades(records: DataFrame) -> DataFrame:
    return records.where(F.col("reason").isNull()).select(*GOOD_COLUMNS)


def rejected_records(records: DataFrame) -> DataFrame:
    return records.where(F.col("reason").isNotNull()).select(*REJECTED_COLUMNS)


def parse_trades(raw: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Kafka records -> (good trades, rejected records): parse_records() split in two."""
    records = parse_records(raw)
    return good_trades(records), rejected_records(records)


def observe_rejected(records: DataFrame) -> DataFrame:
    """The same rows; each batch's rejected records are collected as the observed metric
    REJECTED_METRIC: `rows` (JSON array, one object per record: REJECTED_COLUMNS with
    raw_value/raw_key in base64 and received_at in epoch microseconds) and `count`.

    This lets one streaming query write both the windows and the rejected records while
    reading Kafka once: the rejected rows ride along with the batch that reads them, instead
    of a second query parsing every record again (spark_jobs.clickhouse_sink decodes them).
    """
    bad = F.col("reason").isNotNull()
    record = F.struct(
        F.unix_micros("received_at").alias("received_at"),
        "reason",
        F.base64("raw_value").alias("raw_value"),
        F.base64("raw_key").alias("raw_key"),
        "topic",
        "partition",
        "offset",
    )
    return records.observe(
        REJECTED_METRIC,
        F.to_json(F.collect_list(F.when(bad, record))).alias("rows"),
        F.count(F.when(bad, 1)).alias("count"),
    )


def _barrier(df: DataFrame) -> DataFrame:
    """The same rows behind a projection the optimizer neither merges nor pushes filters through.

    Without it the optimizer pushes the `reason` filters below the projections, substituting
    each column's definition into every reference: from_json(value) ran ~30 times per record
    and each decimal check 3 times, which made parsing ~30x slower than the JSON parse itself.
    Each column passes through a condition on spark_partition_id(), which is true for every
    row but non-deterministic to the optimizer: a filter is not pushed below a projection with
    a non-deterministic column, and the next projection does not inline one. (The barrier was
    first an inline() of a one-row array, which copied every record twice: the warm 1M-trade
    batch of make bench-pipeline took 8.1-9.0 s with it, 7.4-7.9 s with this.)
    """
    every_row = F.spark_partition_id() >= 0
    return df.select(*(F.when(every_row, F.col(name)).alias(name) for name in df.columns))


def _json_number(text: Column) -> Column:
    """'price' or 'size' when that field is a JSON number in the raw text, else null.

    Spark reads a JSON number into a string field through a double, a precision loss we
    refuse: price and size must be JSON strings (the interface says decimal strings).
    Two regexes that each start with a literal (which Java searches with Boyer-Moore) cost
    half of one regex with the alternation inside; substring searches cost more (Spark's
    locate compares bytes at every position).
    """
    price = text.rlike(r'"price"\s*:\s*[-+.0-9]')
    size = text.rlike(r'"size"\s*:\s*[-+.0-9]')
    return F.when(price, "price").when(size, "size")


def _decimal(text: Column, dtype: DecimalType) -> Column:
    """The exact decimal value of `text`, or null when it is not a decimal that fits dtype."""
    integer_digits, scale = dtype.precision - dtype.scale, dtype.scale
    fits = rf"^-?0*[0-9]{{1,{integer_digits}}}(\.[0-9]{{0,{scale}}}0*)?$"
    return F.when(text.rlike(fits), text).try_cast(dtype)


def _rejection_reason() -> Column:
    j = F.col("j")
    reason = F.when(F.col("raw_value").isNull() | (F.length("raw_value") == 0), EMPTY_VALUE)
    reason = reason.when(j.isNull() | j[_CORRUPT].isNotNull(), BAD_JSON)
    for name in REQUIRED_FIELDS:
        reason = reason.when(F.coalesce(F.trim(j[name]), F.lit("")) == "", missing_field(name))
    reason = reason.when(j["v"] != SUPPORTED_VERSION, UNSUPPORTED_VERSION)
    for name in ("price", "size"):
        reason = (
            reason.when(F.col("json_number") == name, not_a_string(name))
            # a value that fits its type is numeric: the format regex runs for misfits only
            .when(F.col(name).isNull() & ~j[name].rlike(_DECIMAL_TEXT), non_numeric(name))
            .when(F.col(name).isNull(), out_of_range(name))
            .when(F.col(name) <= 0, non_positive(name))
        )
    reason = reason.when(~j["side"].isin(*SIDES), BAD_SIDE)
    return reason.when(F.col("event_time").isNull(), BAD_EVENT_TIME)


def dedupe_trades(trades: DataFrame, watermark: str) -> DataFrame:
    """Count each (exchange, product_id, trade_id) once while it is within the watermark.

    Sets the event-time watermark used by the window aggregation downstream. Trades older
    than the watermark are dropped here, and Spark counts them in the progress metric
    stateOperators[].numRowsDroppedByWatermark (see spark_jobs.progress).
    """
    watermarked = trades.withWatermark("event_time", watermark)
    if not trades.isStreaming:  # Spark refuses ...WithinWatermark on a static DataFrame
        return watermarked.dropDuplicates(list(DEDUPE_KEY))
    return watermarked.dropDuplicatesWithinWatermark(list(DEDUPE_KEY))


def window_aggregates(trades: DataFrame, window: str) -> DataFrame:
    """Per (exchange, product_id, tumbling event-time window [start, end)) statistics.

    A trade exactly at a window's end belongs to the next window (Spark windows are
    half-open). open/close are the first/last trade by (event_time, trade_id); trade ids that
    are integers compare as numbers, so '999' comes before '1000'.
    """
    zero = F.lit(0).cast(SIZE_TYPE)
    trade_order = F.struct(
        "event_time", F.col("trade_id").try_cast(DecimalType(38, 0)), "trade_id"
    )
    windows = trades.groupBy(
        "exchange", "product_id", F.window("event_time", window).alias("window")
    ).agg(
        F.count(F.lit(1)).alias("trade_count"),
        F.sum("size").alias("volume"),
        F.sum(F.col("price") * F.col("size")).alias("notional"),
        F.sum("price").alias("price_sum"),
        F.min_by("price", trade_order).alias("open"),
        F.max("price").alias("high"),
        F.min("price").alias("low"),
        F.max_by("price", trade_order).alias("close"),
        F.sum(F.when(F.col("side") == "buy", F.col("size")).otherwise(zero)).alias("buy_volume"),
        F.sum(F.when(F.col("side") == "sell", F.col("size")).otherwise(zero)).alias("sell_volume"),
    )
    return windows.select(
        "exchange",
        "product_id",
        F.col("window.start").alias("window_start"),
        F.col("window.end").alias("window_end"),
        "trade_count",
        _stored("volume"),
        _stored("notional"),
        (F.col("notional").cast("double") / F.col("volume").cast("double")).alias("vwap"),
        (F.col("price_sum").cast("double") / F.col("trade_count")).alias("average_price"),
        _stored("open"),
        _stored("high"),
        _stored("low"),
        _stored("close"),
        _stored("buy_volume"),
        _stored("sell_volume"),
    )


def _stored(name: str) -> Column:
    return F.col(name).cast(STORED_DECIMAL).alias(name)


WINDOW_COLUMNS = (
    "exchange", "product_id", "window_start", "window_end", "trade_count", "volume", "notional",
    "vwap", "average_price", "open", "high", "low", "close", "buy_volume", "sell_volume",
)
