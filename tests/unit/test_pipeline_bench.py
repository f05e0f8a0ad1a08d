"""The pipeline benchmark's pure parts: window SQL (on the real engine, chDB), comparison and
latency statistics."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from spark_jobs import bench, bench_common, bench_sustained


def trade_json(trade_id, price, size, side, event_time, product="BTC-USD"):
    return json.dumps({"v": 1, "exchange": "coinbase", "product_id": product,
                       "trade_id": trade_id, "price": price, "size": size, "side": side,
                       "event_time": event_time}).encode()


@pytest.fixture(scope="module")
def reference(chdb):
    chdb.command("CREATE DATABASE IF NOT EXISTS bench_unit")
    chdb.command("CREATE TABLE bench_unit.raw_trades (value String) "
                 "ENGINE = MergeTree ORDER BY tuple()")
    values = [
        trade_json("1000", "10.5", "2", "buy", "2024-01-01T00:00:05.000000Z"),
        trade_json("999", "11.25", "1", "sell", "2024-01-01T00:00:05.000000Z"),  # same time
        trade_json("1001", "9.75", "0.5", "sell", "2024-01-01T00:00:29.999999Z"),
        trade_json("1001", "9.75", "0.5", "sell", "2024-01-01T00:00:29.999999Z"),  # duplicate
        trade_json("1002", "12", "3", "buy", "2024-01-01T00:00:30.000000Z"),  # next window
        trade_json("7", "100", "1", "buy", "2024-01-01T00:00:06.000000Z", product="ETH-USD"),
    ]
    chdb.insert_arrow("bench_unit.raw_trades", pa.table({"value": pa.array(values, pa.binary())}))
    sql = bench.window_sql(bench.PARSED_TRADES.format(table="bench_unit.raw_trades"), 30)
    return bench.windows_of(chdb, sql)


def at(seconds):
    return datetime(2024, 1, 1, 0, 0, seconds, tzinfo=UTC)


def test_window_sql_counts_duplicates_once_and_puts_a_trade_at_the_end_in_the_next_window(
    reference
):
    assert set(reference) == {("coinbase", "BTC-USD", at(0)), ("coinbase", "BTC-USD", at(30)),
                              ("coinbase", "ETH-USD", at(0))}
    first = dict(zip(bench.COMPARED, reference[("coinbase", "BTC-USD", at(0))], strict=True))
    assert first["trade_count"] == 3
    assert first["volume"] == Decimal("3.5")
    assert first["notional"] == Decimal("10.5") * 2 + Decimal("11.25") + Decimal("9.75") / 2
    assert (first["buy_volume"], first["sell_volume"]) == (Decimal(2), Decimal("1.5"))
    assert reference[("coinbase", "BTC-USD", at(30))][0] == 1


def test_window_sql_orders_open_and_close_by_time_then_numeric_trade_id(reference):
    first = dict(zip(bench.COMPARED, reference[("coinbase", "BTC-USD", at(0))], strict=True))
    assert first["open"] == Decimal("11.25")  # trade 999 before 1000 at the same instant
    assert first["close"] == Decimal("9.75")
    assert (first["high"], first["low"]) == (Decimal("11.25"), Decimal("9.75"))


def test_compare_windows_reports_missing_windows_and_differing_columns():
    key, other = ("coinbase", "BTC-USD", at(0)), ("coinbase", "ETH-USD", at(0))
    values = (3, Decimal("3.5"), Decimal(1), Decimal(1), Decimal(2), Decimal(1), Decimal(1),
              Decimal(2), Decimal("1.5"))
    assert bench.compare_windows({key: values}, {key: values}) == []
    changed = (4, *values[1:])
    problems = bench.compare_windows({key: changed}, {key: values, other: values})
    assert problems[0].startswith("1 window(s) only in the reference, 0 only in the job")
    assert "trade_count 4 != 3" in problems[1] and "volume" not in problems[1]


def test_window_ends_between_includes_both_bounds_on_multiples_of_the_length():
    assert bench_common.window_ends_between(15, 90, 30) == [30, 60, 90]
    assert bench_common.window_ends_between(30, 59, 30) == [30]
    assert bench_common.window_ends_between(31, 59, 30) == []


def test_latency_stats_measures_from_window_end_and_counts_windows_never_seen():
    seen = {("x", "A", 30.0): 42.0, ("x", "A", 60.0): 73.0, ("x", "B", 30.0): 41.5}
    expected = [("x", "A", 30.0), ("x", "A", 60.0), ("x", "B", 30.0), ("x", "B", 60.0)]
    stats = bench_common.latency_stats(seen, expected)
    assert stats == bench_common.LatencyStats(windows=4, missing=1, minimum=11.5, median=12.0,
                                              p95=13.0, maximum=13.0)
    assert bench_common.latency_stats({}, expected).missing == 4


def test_duration_seconds_reads_the_job_config_spelling():
    assert bench_common.duration_seconds("10 seconds") == 10
    assert bench_common.duration_seconds("500 milliseconds") == 0.5
    assert bench_common.duration_seconds("1 minute") == 60


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 21)]
    assert bench_common.percentile(values, 0.95) == 19.0
    assert bench_common.percentile(values, 0.5) == 10.0
    assert bench_common.percentile([4.0], 0.95) == 4.0


def test_the_floor_is_the_watermark_plus_two_triggers_from_the_job_configuration():
    floor = bench_common.job_floor(env={"STREAM_WATERMARK": "8 seconds",
                                        "STREAM_TRIGGER_INTERVAL": "500 milliseconds"})
    assert (floor.window, floor.watermark, floor.trigger, floor.seconds) == (30, 8, 0.5, 9)
    assert "watermark 8s + 2 x trigger 0.5s" in floor.derivation()


def test_the_feeder_writes_the_kafka_interface_and_paces_by_elapsed_time():
    trade = bench_sustained.fed_trade("SIM0-USD", 7, 101.256, 0.5, "buy",
                                      "2024-01-01T00:00:00.000001Z")
    value = json.loads(trade.to_json())
    assert value == {"v": 1, "exchange": "coinbase", "product_id": "SIM0-USD", "trade_id": "7",
                     "price": "101.26", "size": "0.50000000", "side": "buy",
                     "event_time": "2024-01-01T00:00:00.000001Z", "sequence": None,
                     "received_at": "2024-01-01T00:00:00.000001Z"}
    assert bench_sustained.utc_text(1704067200.5) == "2024-01-01T00:00:00.500000Z"
    assert bench_sustained.due(1000, 0.5, 400) == 100
    assert bench_sustained.due(1000, 0.5, 600) == 0


def step(**fields):
    base = {"rate": 1000, "seconds": 100, "sent": 100_000,
            "latency": bench_common.LatencyStats(10, 0, 11.0, 12.0, 13.0, 13.5),
            "state_bytes": [100, 100, 100, 100]}
    return bench_sustained.Step(**{**base, **fields})


def test_a_step_is_sustained_only_within_latency_feed_state_and_counts():
    floor = bench_common.Floor(window=30, watermark=10, trigger=1)
    assert step().failures(floor) == []
    slow = bench_common.LatencyStats(10, 0, 11.0, 14.0, 17.5, 20.0)
    assert "p95 17.5s > floor + 5s" in step(latency=slow).failures(floor)[0]
    missing = bench_common.LatencyStats(10, 2, 11.0, 12.0, 13.0, 13.5)
    assert "2 window(s) not written" in step(latency=missing).failures(floor)[0]
    assert "delivered only 900/s" in step(sent=90_000).failures(floor)[0]
    assert "state memory grew x2.00" in step(state_bytes=[100, 100, 200, 200]).failures(floor)[0]
    assert step(mismatches=["SIM0-USD window x: job 3 trades, fed 4"]).failures(floor)


def test_state_growth_needs_enough_batches():
    assert bench_sustained.growth([1.0, 2.0]) is None
    assert bench_sustained.growth([1.0, 1.0, 1.0, 1.0]) == 1.0


def test_descendants_follow_the_parent_links():
    processes = {10: (1, "python"), 11: (10, "java SparkSubmit"), 12: (11, "child"),
                 20: (1, "other"), 21: (20, "java CoarseGrainedExecutorBackend")}
    assert bench_sustained.descendants(processes, 10) == {11, 12}
    assert bench_sustained.descendants(processes, 12) == set()
