"""The ClickHouse writer's retry and deduplication-token logic, against a scripted client."""

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError, ProgrammingError

from spark_jobs import clickhouse_sink as sink
from spark_jobs.transformations import WINDOW_COLUMNS


class ScriptedClient:
    """Fails with the scripted errors, in order, then accepts inserts."""

    def __init__(self, log, errors):
        self.log, self.errors, self.closed = log, errors, False

    def insert_arrow(self, table, rows, settings):
        self.log.append((table, rows.num_rows, settings["insert_deduplication_token"]))
        if self.errors:
            raise self.errors.pop(0)

    def close(self):
        self.closed = True


class Harness:
    def __init__(self, *errors, retry_seconds=5.0):
        self.errors = list(errors)
        self.attempts, self.clients = [], []
        self.writer = sink.ClickHouseWriter(self.connect, retry_seconds, max_wait_seconds=0.01)

    def connect(self):
        client = ScriptedClient(self.attempts, self.errors)
        self.clients.append(client)
        return client


ROWS = pa.table({"x": [1, 2, 3]})


def test_transient_errors_are_retried_on_a_fresh_client_until_the_insert_lands():
    harness = Harness(OperationalError("connection refused"),
                      DatabaseError("too many parts", code=252))
    assert harness.writer.insert("db.t", ROWS, "tok") == 3
    assert harness.attempts == [("db.t", 3, "tok")] * 3
    assert len(harness.clients) == 3
    assert [client.closed for client in harness.clients] == [True, True, False]


def test_a_permanent_error_fails_at_once():
    harness = Harness(DatabaseError("Unknown table", code=60))
    with pytest.raises(DatabaseError, match="Unknown table"):
        harness.writer.insert("db.t", ROWS, "tok")
    assert len(harness.attempts) == 1


def test_an_outage_longer_than_the_retry_budget_fails_the_batch():
    harness = Harness(*[OperationalError("down")] * 1000, retry_seconds=0.2)
    with pytest.raises(OperationalError):
        harness.writer.insert("db.t", ROWS, "tok")
    assert 2 <= len(harness.attempts) < 1000


def test_an_empty_batch_writes_nothing():
    harness = Harness()
    assert harness.writer.insert("db.t", ROWS.slice(0, 0), "tok") == 0
    assert harness.clients == []


@pytest.mark.parametrize("error, transient", [
    (OperationalError("network"), True),
    (ConnectionError("reset"), True),
    (DatabaseError("timeout", code=159), True),
    (DatabaseError("HTTP driver received HTTP status 503, server response: busy"), True),
    (DatabaseError("HTTP driver received HTTP status 400"), False),
    (DatabaseError("syntax", code=62), False),
    (ProgrammingError("bad call"), False),
    (ValueError("bug"), False),
])
def test_transient_error_classification(error, transient):
    assert sink.is_transient(error) is transient


def test_tokens_differ_per_query_table_and_batch_and_are_stable():
    identity = sink.query_identity("s3a://bucket/stream/windows")
    assert identity == sink.query_identity("s3a://bucket/stream/windows")
    assert identity != sink.query_identity("s3a://bucket/other/windows")
    tokens = {sink.dedup_token(identity, table, batch)
              for table in ("db.a", "db.b") for batch in (0, 1)}
    assert len(tokens) == 4


def test_window_rows_are_sorted_and_carry_the_batch_id_as_version():
    times = pa.array([datetime(2024, 1, 1, 0, 0, 30), datetime(2024, 1, 1)], pa.timestamp("us"))
    batch = pa.table({
        **{name: pa.array([Decimal(1), Decimal(2)], pa.decimal128(38, 18))
           for name in WINDOW_COLUMNS},
        "exchange": ["coinbase", "coinbase"], "product_id": ["BTC-USD", "BTC-USD"],
        "window_start": times, "window_end": times, "trade_count": [1, 2],
        "vwap": [1.0, 2.0], "average_price": [1.0, 2.0],
    })
    rows = sink.window_rows(batch, 42)
    assert rows.column_names == [*WINDOW_COLUMNS, "version"]
    assert rows.column("trade_count").to_pylist() == [2, 1]
    assert rows.schema.field("version").type == pa.uint64()
    assert rows.column("version").to_pylist() == [42, 42]


def test_observed_rejected_records_decode_to_the_table_columns():
    rows = sink.decode_rejected(
        '[{"received_at":1704067200000123,"reason":"bad JSON","raw_value":"e25vdA==",'
        '"topic":"trades","partition":2,"offset":41},'
        '{"received_at":1704067201000000,"reason":"bad side","raw_value":"",'
        '"raw_key":"QlRDLVVTRA==","topic":"trades","partition":0,"offset":7}]')
    assert rows.schema == sink.REJECTED_SCHEMA
    assert rows.to_pylist() == [
        {"received_at": datetime(2024, 1, 1, 0, 0, 0, 123, tzinfo=UTC), "reason": "bad JSON",
         "raw_value": b"{not", "raw_key": None, "topic": "trades", "partition": 2,
         "offset": 41},
        {"received_at": datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC), "reason": "bad side",
         "raw_value": b"", "raw_key": b"BTC-USD", "topic": "trades", "partition": 0,
         "offset": 7},
    ]
    assert sink.decode_rejected("[]").num_rows == sink.decode_rejected(None).num_rows == 0


class FrameOf:
    """Stands in for a batch DataFrame: select(...).toArrow() gives the windows."""

    def __init__(self, table):
        self.table = table

    def select(self, *columns):
        return self

    def toArrow(self):
        return self.table


def test_a_batch_without_its_observed_rejected_records_fails_instead_of_losing_them():
    harness = Harness()
    writer = sink.PipelineBatchWriter(harness.writer, "db.w", "db.r", "s3a://b/c",
                                      observed=lambda name: None)
    with pytest.raises(RuntimeError, match="observed metric rejected_records is missing"):
        writer(FrameOf(pa.table({})), 3)
    assert harness.attempts == []


def test_a_count_that_disagrees_with_the_collected_rows_fails_the_batch():
    harness = Harness()
    writer = sink.PipelineBatchWriter(harness.writer, "db.w", "db.r", "s3a://b/c",
                                      observed=lambda name: ("[]", 2))
    with pytest.raises(RuntimeError, match="2 rejected record"):
        writer(FrameOf(pa.table({})), 3)
    assert harness.attempts == []
