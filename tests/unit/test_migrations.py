"""The versioned migrations on the real engine (chDB 26.x), and the migrator's bookkeeping."""

import re
import subprocess
import sys
import uuid
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from clickhouse import migrate as m
from producer.stats import Stats

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def names():
    return m.default_names(f"mig_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def migrated(chdb, names):
    m.migrate(chdb, names)
    return names


def rows(chdb, sql):
    return chdb.query(sql).result_rows


def columns(chdb, database, table):
    return rows(chdb, f"SELECT name, type FROM system.columns WHERE database = '{database}' "
                      f"AND table = '{table}' ORDER BY position")


def test_applying_twice_is_a_no_op(chdb, names):
    migrations = m.load_migrations()
    assert [mig.version for mig in migrations] == sorted(mig.version for mig in migrations)
    assert m.migrate(chdb, names) == [mig.version for mig in migrations]
    tables = rows(chdb, f"SELECT name, metadata_modification_time FROM system.tables "
                        f"WHERE database = '{names['database']}' ORDER BY name")
    assert m.migrate(chdb, names) == []
    assert rows(chdb, f"SELECT name, metadata_modification_time FROM system.tables "
                      f"WHERE database = '{names['database']}' ORDER BY name") == tables
    recorded = rows(chdb, f"SELECT version, checksum FROM {names['database']}.schema_migrations "
                          "ORDER BY version")
    assert recorded == [(mig.version, mig.checksum) for mig in migrations]


def test_the_windows_table_and_its_engine(chdb, migrated):
    db, table = migrated["database"], migrated["windows_table"]
    decimal = "Decimal(38, 18)"
    assert columns(chdb, db, table) == [
        ("exchange", "LowCardinality(String)"), ("product_id", "LowCardinality(String)"),
        ("window_start", "DateTime64(3, 'UTC')"), ("window_end", "DateTime64(3, 'UTC')"),
        ("trade_count", "UInt64"), ("volume", decimal), ("notional", decimal),
        ("vwap", "Float64"), ("average_price", "Float64"),
        ("open", decimal), ("high", decimal), ("low", decimal), ("close", decimal),
        ("buy_volume", decimal), ("sell_volume", decimal),
        ("version", "UInt64"), ("updated_at", "DateTime64(3, 'UTC')"),
    ]
    [(engine, sorting_key, create)] = rows(
        chdb, f"SELECT engine_full, sorting_key, create_table_query FROM system.tables "
              f"WHERE database = '{db}' AND name = '{table}'")
    assert engine.startswith("ReplacingMergeTree(version)")
    assert sorting_key == "exchange, product_id, window_start"
    assert "non_replicated_deduplication_window = 1000" in create


def test_read_views_have_the_documented_columns(chdb, migrated):
    db = migrated["database"]
    final = [name for name, _ in columns(chdb, db, f"{migrated['windows_table']}_final")]
    assert final[:15] == [name for name, _ in columns(chdb, db, migrated["windows_table"])][:15]
    assert columns(chdb, db, migrated["legacy_view"]) == [
        ("window_start", "DateTime64(3, 'UTC')"), ("window_end", "DateTime64(3, 'UTC')"),
        ("product_id", "LowCardinality(String)"), ("average_price", "Float64"),
    ]


def test_rejected_and_progress_tables(chdb, migrated):
    db = migrated["database"]
    rejected = dict(columns(chdb, db, migrated["rejected_table"]))
    assert {name: rejected[name] for name in (
        "received_at", "reason", "raw_value", "topic", "partition", "offset", "batch_id")} == {
        "received_at": "DateTime64(3, 'UTC')", "reason": "LowCardinality(String)",
        "raw_value": "String", "topic": "LowCardinality(String)", "partition": "Int32",
        "offset": "Int64", "batch_id": "UInt64"}
    [(engine, sorting_key)] = rows(
        chdb, f"SELECT engine, sorting_key FROM system.tables WHERE database = '{db}' "
              f"AND name = '{migrated['rejected_table']}'")
    assert (engine, sorting_key) == ("ReplacingMergeTree", "topic, partition, offset, received_at")
    progress = dict(columns(chdb, db, migrated["progress_table"]))
    for name in ("query_id", "batch_id", "timestamp", "input_rows", "input_rows_per_second",
                 "batch_duration_ms", "watermark", "late_rows_dropped"):
        assert name in progress


def window_row(version, trade_count, close="101.5"):
    return pa.table({
        "exchange": ["coinbase"], "product_id": ["BTC-USD"],
        "window_start": pa.array([datetime(2024, 1, 1, 0, 0, 0)], pa.timestamp("us", "UTC")),
        "window_end": pa.array([datetime(2024, 1, 1, 0, 0, 30)], pa.timestamp("us", "UTC")),
        "trade_count": pa.array([trade_count], pa.int64()),
        **{name: pa.array([Decimal(value)], pa.decimal128(38, 18)) for name, value in (
            ("volume", "0.000000000000000001"), ("notional", "12345678901234567890.123456789"),
            ("open", "100"), ("high", "102"), ("low", "99"), ("close", close),
            ("buy_volume", "1"), ("sell_volume", "0"))},
        "vwap": [100.25], "average_price": [100.5],
        "version": pa.array([version], pa.uint64()),
    })


def test_final_view_shows_one_row_per_window_the_latest_version(chdb, migrated):
    db, table = migrated["database"], migrated["windows_table"]
    chdb.insert_arrow(f"{db}.{table}", window_row(1, 3, close="101"))
    chdb.insert_arrow(f"{db}.{table}", window_row(2, 5, close="101.5"))
    assert rows(chdb, f"SELECT count() FROM {db}.{table}") == [(2,)]
    final = rows(chdb, "SELECT trade_count, close, volume, notional, version "
                       f"FROM {db}.{table}_final")
    assert final == [(5, Decimal("101.5"), Decimal("0.000000000000000001"),
                      Decimal("12345678901234567890.123456789"), 2)]
    chdb.command(f"OPTIMIZE TABLE {db}.{table} FINAL")
    assert rows(chdb, f"SELECT count(), max(version) FROM {db}.{table}") == [(1, 2)]
    assert rows(chdb, f"SELECT product_id, average_price FROM {db}.{migrated['legacy_view']}") == [
        ("BTC-USD", 100.5)]


def test_an_insert_deduplication_token_is_applied_once(chdb, migrated):
    db, table = migrated["database"], migrated["windows_table"]
    for _ in range(3):
        chdb.insert_arrow(f"{db}.{table}", window_row(7, 3),
                          settings={"insert_deduplication_token": "query-a:windows:7"})
    chdb.insert_arrow(f"{db}.{table}", window_row(7, 3),
                      settings={"insert_deduplication_token": "query-a:windows:8"})
    assert rows(chdb, f"SELECT count() FROM {db}.{table}") == [(2,)]


def test_a_migration_edited_after_being_applied_is_refused(chdb, names, tmp_path):
    (tmp_path / "001_first.sql").write_text(
        "CREATE TABLE IF NOT EXISTS ${database}.t (x UInt8) ENGINE = MergeTree ORDER BY x;\n")
    assert m.migrate(chdb, names, m.load_migrations(tmp_path)) == [1]
    (tmp_path / "001_first.sql").write_text(
        "CREATE TABLE IF NOT EXISTS ${database}.t (x UInt16) ENGINE = MergeTree ORDER BY x;\n")
    with pytest.raises(m.MigrationError, match="001_first changed after it was applied"):
        m.migrate(chdb, names, m.load_migrations(tmp_path))


def test_only_new_migrations_are_applied(chdb, names, tmp_path):
    (tmp_path / "001_first.sql").write_text(
        "CREATE TABLE IF NOT EXISTS ${database}.t (x UInt8) ENGINE = MergeTree ORDER BY x;\n")
    assert m.migrate(chdb, names, m.load_migrations(tmp_path)) == [1]
    (tmp_path / "002_second.sql").write_text(
        "-- a comment; with a semicolon\n"
        "INSERT INTO ${database}.t VALUES (1);\n"
        "INSERT INTO ${database}.t VALUES (2)  ;  \n"
        "-- trailing comment only\n")
    assert m.migrate(chdb, names, m.load_migrations(tmp_path)) == [2]
    assert m.migrate(chdb, names, m.load_migrations(tmp_path)) == []
    assert rows(chdb, f"SELECT x FROM {names['database']}.t ORDER BY x") == [(1,), (2,)]


def test_every_shipped_migration_renders_to_plain_statements(names):
    for migration in m.load_migrations():
        statements = migration.statements(names)
        assert statements, migration.name
        for statement in statements:
            assert "${" not in statement and not statement.endswith(";")


@pytest.mark.parametrize("file_name, problem", [
    ("1_short.sql", "named NNN_description.sql"),
    ("001_Upper.sql", "named NNN_description.sql"),
])
def test_badly_named_files_are_refused(tmp_path, file_name, problem):
    (tmp_path / file_name).write_text("SELECT 1;\n")
    with pytest.raises(m.MigrationError, match=problem):
        m.load_migrations(tmp_path)


def test_duplicate_versions_are_refused(tmp_path):
    (tmp_path / "001_a.sql").write_text("SELECT 1;\n")
    (tmp_path / "001_b.sql").write_text("SELECT 1;\n")
    with pytest.raises(m.MigrationError, match="version 1 is used twice"):
        m.load_migrations(tmp_path)


def test_unknown_placeholders_and_unsafe_names_are_refused(chdb, names, tmp_path):
    (tmp_path / "001_a.sql").write_text("SELECT ${nope};\n")
    with pytest.raises(m.MigrationError, match="bad placeholder"):
        m.migrate(chdb, names, m.load_migrations(tmp_path))
    with pytest.raises(m.MigrationError, match="not a plain identifier"):
        m.migrate(chdb, {**names, "database": "x; DROP DATABASE y"}, [])


def test_command_line_is_idempotent(tmp_path):
    command = [sys.executable, "-m", "clickhouse.migrate", "--clickhouse-url",
               f"chdb://{tmp_path}", "--database", "cli_db"]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert f"{len(m.load_migrations())} migration(s) applied now" in first.stderr
    assert "0 migration(s) applied now" in second.stderr


def rejected_row(offset, batch_id):
    return pa.table({
        "received_at": pa.array([datetime(2024, 1, 1)], pa.timestamp("ms", "UTC")),
        "reason": ["bad JSON"], "raw_value": pa.array([b"{oops"], pa.binary()),
        "raw_key": pa.array([None], pa.binary()), "topic": ["trades"],
        "partition": pa.array([0], pa.int32()), "offset": pa.array([offset], pa.int64()),
        "batch_id": pa.array([batch_id], pa.uint64()),
    })


def test_a_rejected_record_read_twice_by_different_jobs_shows_once(chdb, migrated):
    db, table = migrated["database"], migrated["rejected_table"]
    chdb.insert_arrow(f"{db}.{table}", rejected_row(5, 0),
                      settings={"insert_deduplication_token": "job-a:rejected:0"})
    chdb.insert_arrow(f"{db}.{table}", rejected_row(5, 3),
                      settings={"insert_deduplication_token": "job-b:rejected:3"})
    chdb.insert_arrow(f"{db}.{table}", rejected_row(6, 3),
                      settings={"insert_deduplication_token": "job-b:rejected:4"})
    assert rows(chdb, f"SELECT offset, raw_value FROM {db}.{table}_final ORDER BY offset") == [
        (5, "{oops"), (6, "{oops")]


def test_the_producer_stats_table_has_a_column_per_counter():
    text = (Path(__file__).resolve().parents[2] / "clickhouse" / "migrations" /
            "006_producer_stats.sql").read_text()
    columns = re.findall(r"^    (\w+) \w", text, flags=re.MULTILINE)
    counters = [f.name for f in fields(Stats) if f.name != "started"]
    assert columns == ["recorded_at", "run_id", "source", *counters]
