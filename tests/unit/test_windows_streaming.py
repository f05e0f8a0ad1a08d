"""The job's streaming query for real (stream_to_clickhouse.start_query): micro-batches ->
parse/dedupe/windows + rejected records -> one foreachBatch -> chDB (the ClickHouse engine), with
the migrations' tables. Files stand in for Kafka: each file is one micro-batch
(maxFilesPerTrigger=1, availableNow), so watermarks advance batch by batch.
"""

from datetime import datetime
from decimal import Decimal

import pytest
from spark_support import EPOCH, Batches, instant, trade

from spark_jobs import stream_to_clickhouse as job
from spark_jobs import transformations as t
from spark_jobs.clickhouse_sink import ClickHouseWriter
from spark_jobs.config import parse_args
from spark_jobs.progress import ProgressListener, ProgressTableWriter
from tests.support import wait_until


@pytest.fixture
def batches(tmp_path):
    return Batches(tmp_path)


def run_windows(spark, batches, chdb, names, mode="append", checkpoint=None, writer=None):
    """The job's query over the batches, to the end (availableNow); its checkpoint root is
    `checkpoint` (the query's own checkpoint: <root>/windows)."""
    config = parse_args([
        "--checkpoint-location", str(checkpoint or batches.root / "checkpoint"),
        "--clickhouse-database", names["database"], "--watermark", "10 seconds",
        "--window", "30 seconds", "--output-mode", mode, "--available-now"], env={})
    writer = writer or ClickHouseWriter(lambda: chdb, retry_seconds=5)
    query = job.start_query(config, batches.raw(spark), writer)
    query.awaitTermination()
    return query


def final_windows(chdb, names):
    table = f"{names['database']}.{names['windows_table']}_final"
    return chdb.query(
        f"SELECT window_start, trade_count, volume, open, close, version FROM {table} "
        "ORDER BY exchange, product_id, window_start").result_rows


def raw_count(chdb, table):
    return chdb.query(f"SELECT count() FROM {table}").result_rows[0][0]


def dropped_by_watermark(query):
    return sum(op["numRowsDroppedByWatermark"]
               for progress in query.recentProgress for op in progress["stateOperators"])


def test_append_mode_writes_final_windows_and_drops_and_counts_late_trades(
        spark, batches, chdb, names):
    batches.add(trade(1, 1, price="10"), trade(2, 5, price="20"), trade(3, 31))
    batches.add(trade(4, 65), trade(2, 5, price="20"))           # a duplicate within the watermark
    batches.add(trade(5, 2, price="999"), trade(6, 100))         # 5 is behind the watermark (21 s)
    batches.add(trade(7, 130))
    query = run_windows(spark, batches, chdb, names)

    assert dropped_by_watermark(query) == 1
    rows = final_windows(chdb, names)
    # the watermark reached 90 s before the last batch, so windows ending by 90 s are final
    closed = [row[:5] for row in rows if row[0] < instant(90)]
    assert closed == [
        (instant(0), 2, Decimal(2), Decimal(10), Decimal(20)),
        (instant(30), 1, Decimal(1), Decimal("100.5"), Decimal("100.5")),
        (instant(60), 1, Decimal(1), Decimal("100.5"), Decimal("100.5")),
    ]
    assert all(row[1] == 1 for row in rows if row[0] >= instant(90))
    table = f"{names['database']}.{names['windows_table']}"
    assert raw_count(chdb, table) == len(rows)  # append mode: every window written once


def test_update_mode_replaces_a_window_with_its_later_version(spark, batches, chdb, names):
    batches.add(trade(1, 1, price="10"), trade(2, 2, price="11"))
    batches.add(trade(3, 3, price="12"))
    batches.add(trade(4, 4, price="13"), trade(1, 1, price="10"))
    run_windows(spark, batches, chdb, names, mode="update")

    table = f"{names['database']}.{names['windows_table']}"
    assert raw_count(chdb, table) == 3  # one version per batch
    assert final_windows(chdb, names) == [
        (instant(0), 4, Decimal(4), Decimal(10), Decimal(13), 2)]
    legacy = chdb.query(f"SELECT * FROM {names['database']}.{names['legacy_view']}").result_rows
    assert legacy == [(instant(0), instant(30), "BTC-USD", (10 + 11 + 12 + 13) / 4)]


class RecordingWriter(ClickHouseWriter):
    """The real writer, remembering what each insert carried."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inserts = []

    def insert(self, table, rows, token):
        self.inserts.append((token, rows.num_rows))
        return super().insert(table, rows, token)


def test_a_batch_replayed_after_a_crash_leaves_the_table_unchanged(spark, batches, chdb, names):
    checkpoint = batches.root / "checkpoint"
    batches.add(trade(1, 1), trade(2, 40))
    batches.add(trade(3, 70), trade(4, 75))
    batches.add(trade(5, 110), trade(6, 115))
    first = RecordingWriter(lambda: chdb, retry_seconds=5)
    run_windows(spark, batches, chdb, names, mode="update", checkpoint=checkpoint, writer=first)
    table = f"{names['database']}.{names['windows_table']}"
    before = chdb.query(f"SELECT * FROM {table} ORDER BY window_start, version").result_rows
    last_token = [token for token, count in first.inserts
                  if count and names["windows_table"] + ":" in token][-1]
    last_batch = int(last_token.rsplit(":", 1)[1])

    # A crash after the sink wrote that batch but before Spark committed it: the restarted
    # query runs the same batch id over the same offsets again.
    for log, first_removed in (("commits", last_batch), ("offsets", last_batch + 1)):
        for path in (checkpoint / "windows" / log).iterdir():
            if path.name.isdigit() and int(path.name) >= first_removed:
                path.unlink()
                (path.parent / f".{path.name}.crc").unlink(missing_ok=True)
    again = RecordingWriter(lambda: chdb, retry_seconds=5)
    run_windows(spark, batches, chdb, names, mode="update", checkpoint=checkpoint, writer=again)

    assert (last_token, dict(first.inserts)[last_token]) in again.inserts
    after = chdb.query(f"SELECT * FROM {table} ORDER BY window_start, version").result_rows
    assert after == before


def test_rejected_records_are_written_once_with_reasons(spark, batches, chdb, names):
    batches.add(trade(1, 1), "{not json", trade(2, 2, price="abc"))
    batches.add(trade(3, 3, side="hold"), trade(4, 4))
    checkpoint = batches.root / "checkpoint"
    table = f"{names['database']}.{names['rejected_table']}"
    query = run_windows(spark, batches, chdb, names, mode="update", checkpoint=checkpoint)

    rows = chdb.query(f"SELECT offset, reason, raw_value, raw_key, batch_id, received_at "
                      f"FROM {table} ORDER BY offset").result_rows
    key = trade(2, 2)["product_id"]
    assert [row[:5] for row in rows] == [(1, t.BAD_JSON, "{not json", None, 0),
                                         (2, t.non_numeric("price"), rows[1][2], key, 0),
                                         (3, t.BAD_SIDE, rows[2][2], key, 1)]
    assert [row[5] for row in rows] == [instant(offset / 1000) for offset in (1, 2, 3)]
    assert '"price": "abc"' in rows[1][2]
    assert [progress["observedMetrics"][t.REJECTED_METRIC]["count"]
            for progress in query.recentProgress][:2] == [2, 1]
    assert final_windows(chdb, names)[0][1] == 2  # the good trades of the same batches

    for path in (checkpoint / "windows" / "commits").iterdir():
        path.unlink()  # replay every batch
    run_windows(spark, batches, chdb, names, mode="update", checkpoint=checkpoint)
    assert raw_count(chdb, table) == 3


def test_progress_listener_records_every_batch_and_the_late_rows(spark, batches, chdb, names):
    table = f"{names['database']}.{names['progress_table']}"
    listener = ProgressListener(ProgressTableWriter(
        ClickHouseWriter(lambda: chdb, retry_seconds=5), table))
    spark.streams.addListener(listener)
    try:
        batches.add(trade(1, 50))
        batches.add(trade(2, 60))
        batches.add(trade(3, 1), trade(4, 70))  # 3 is behind the watermark (40 s)
        query = run_windows(spark, batches, chdb, names)
        batch_ids = sorted({progress["batchId"] for progress in query.recentProgress})

        def recorded():
            rows = chdb.query(
                f"SELECT batch_id, input_rows, late_rows_dropped, query_id FROM {table} "
                "ORDER BY batch_id").result_rows
            return rows if [row[0] for row in rows] == batch_ids else None

        rows = wait_until(recorded, timeout=30, message="a progress row per batch")
    finally:
        spark.streams.removeListener(listener)
    assert [row[1] for row in rows][:3] == [1, 1, 2]
    assert sum(row[2] for row in rows) == 1
    assert {row[3] for row in rows} == {str(query.id)}


CANDLE_SECONDS = {"candles_1m": 60, "candles_5m": 300, "candles_15m": 900, "candles_1h": 3600,
                  "candles_1d": 86400}


def recomputed_candles(trades, seconds):
    """Candles straight from the raw trades (each trade id once): the views' expected rows."""
    candles = {}
    for record in {record["trade_id"]: record for record in trades}.values():
        at_seconds = datetime.fromisoformat(record["event_time"].replace("Z", "+00:00"))
        offset = (at_seconds - EPOCH).total_seconds()
        start = offset // seconds * seconds
        candles.setdefault((record["product_id"], start), []).append(
            ((offset, int(record["trade_id"])), Decimal(record["price"]),
             Decimal(record["size"]), record["side"]))
    expected = {}
    for (product, start), rows in candles.items():
        rows.sort()
        prices = [price for _, price, _, _ in rows]
        volume = sum(size for _, _, size, _ in rows)
        expected[(product, instant(start))] = (
            prices[0], max(prices), min(prices), prices[-1], volume,
            sum(price * size for _, price, size, _ in rows), len(rows),
            sum(size for _, _, size, side in rows if side == "buy"),
            sum(size for _, _, size, side in rows if side == "sell"))
    return expected


def test_candles_at_every_interval_equal_a_recomputation_after_windows_are_reinserted(
        spark, batches, chdb, names):
    # trades on both sides of each interval's boundary, a window spread over two batches
    # (update mode writes it twice) and a duplicate trade id
    moments = [1, 20, 45, 59.5, 70, 299, 301, 899, 901, 3599, 3601, 86399, 86401, 86402]
    trades = [trade(index, at_seconds, price=f"{100 + index}.{index % 7}", size=f"0.{index + 1}",
                    side="buy" if index % 3 else "sell")
              for index, at_seconds in enumerate(moments, start=1000)]
    for record in trades[:4]:  # one per batch: windows written again as they grow
        batches.add(record)
    for start in range(4, len(trades), 2):
        batches.add(*trades[start:start + 2])
    batches.add(trades[3])  # the duplicate, within the watermark
    batches.add(trade(99999, 90000))  # moves the watermark past every window above
    writer = RecordingWriter(lambda: chdb, retry_seconds=5)
    run_windows(spark, batches, chdb, names, mode="update", checkpoint=batches.root / "first",
                writer=writer)
    # a second job on a fresh checkpoint re-reads everything: every window inserted again
    run_windows(spark, batches, chdb, names, mode="update", checkpoint=batches.root / "second",
                writer=writer)

    windows = f"{names['database']}.{names['windows_table']}"
    inserted = sum(rows for token, rows in writer.inserts if f":{windows}:" in token)
    assert inserted > 2 * raw_count(chdb, f"{windows}_final")
    everything = trades + [trade(99999, 90000)]
    for view, seconds in CANDLE_SECONDS.items():
        rows = chdb.query(
            f"SELECT product_id, candle_start, open, high, low, close, volume, notional, "
            f"trade_count, buy_volume, sell_volume FROM {names['database']}.{view}").result_rows
        assert {(row[0], row[1].replace(tzinfo=None)): tuple(row[2:]) for row in rows} == \
            recomputed_candles(everything, seconds), view
