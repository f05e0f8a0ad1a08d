"""The job's wiring (spark_jobs.stream_to_clickhouse) with files standing in for Kafka and the
chDB engine standing in for the ClickHouse server."""

import threading
from decimal import Decimal

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from spark_support import Batches, instant, trade

from spark_jobs import stream_to_clickhouse as job
from spark_jobs import transformations as t
from spark_jobs.clickhouse_sink import ClickHouseWriter
from spark_jobs.config import parse_args


def config_for(names, tmp_path, *flags):
    return parse_args(["--checkpoint-location", str(tmp_path / "checkpoint"),
                       "--clickhouse-database", names["database"], *flags], env={})


def test_one_query_writes_both_tables(spark, chdb, names, tmp_path):
    batches = Batches(tmp_path)
    batches.add(trade(1, 1, price="10"), "garbage", trade(2, 2, price="12"))
    batches.add(trade(3, 45), trade(4, 46, size="-1"))
    config = config_for(names, tmp_path, "--available-now", "--output-mode", "update")
    writer = ClickHouseWriter(lambda: chdb, retry_seconds=5)
    query = job.start_query(config, batches.raw(spark), writer)
    job.wait_for(query, threading.Event())

    assert query.name == "trade_windows"
    assert [progress["numInputRows"] for progress in query.recentProgress][:2] == [3, 2]
    db = names["database"]
    assert chdb.query(f"SELECT window_start, trade_count, open, close FROM "
                      f"{db}.{names['windows_table']}_final ORDER BY window_start").result_rows == [
        (instant(0), 2, Decimal(10), Decimal(12)), (instant(30), 1, Decimal("100.5"),
                                                    Decimal("100.5"))]
    assert chdb.query(f"SELECT offset, reason FROM {db}.{names['rejected_table']} ORDER BY offset"
                      ).result_rows == [(1, t.BAD_JSON), (4, t.non_positive("size"))]


def test_a_stop_request_ends_the_wait_and_stop_gracefully_stops_the_query(spark, chdb, names,
                                                                          tmp_path):
    batches = Batches(tmp_path)
    batches.add(trade(1, 1))
    config = config_for(names, tmp_path, "--trigger-interval", "1 second")
    query = job.start_query(config, batches.raw(spark),
                            ClickHouseWriter(lambda: chdb, retry_seconds=5))
    stop = threading.Event()
    stop.set()
    job.wait_for(query, stop)
    assert query.isActive
    job.stop_gracefully(query)
    assert not query.isActive


def test_a_failing_sink_fails_the_job(spark, names, tmp_path):
    def unreachable():
        raise DatabaseError("Unknown table", code=60)

    batches = Batches(tmp_path)
    batches.add("not json")
    config = config_for(names, tmp_path, "--available-now")
    query = job.start_query(config, batches.raw(spark),
                            ClickHouseWriter(unreachable, retry_seconds=5))
    try:
        with pytest.raises(Exception, match="Unknown table"):
            job.wait_for(query, threading.Event())
    finally:
        job.stop_gracefully(query)
