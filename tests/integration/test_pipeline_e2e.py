"""End to end on the local stack: simulator -> producer -> Kafka -> job -> ClickHouse.

One data set (100k simulated trades over several products and windows, plus injected poison
records) is processed three times into three databases: uninterrupted, with the job killed -9
and restarted on its S3 checkpoint, and with ClickHouse stopped mid-stream. Each result must
equal an independent recomputation, and the three must be identical.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest
from confluent_kafka import Producer

from clickhouse.client import connect
from stack import control, secrets
from stack.paths import LOG_DIR
from stack.services import LOCAL_JOB_ENV
from tests.integration import recompute
from tests.integration.test_stack_kafka import consume_all, create_topic
from tests.support import wait_until

TRADES = 100_000
PRODUCTS = 4
START = "2024-01-01T00:00:00Z"
STEP_SECONDS = 0.004  # 100k trades span 400 s of event time: 13 windows per product
WATERMARK = timedelta(seconds=10)
POISON = [
    (b"BTC-USD", b"{not json", "bad JSON"),
    (b"BTC-USD", json.dumps({"v": 1, "exchange": "coinbase", "product_id": "BTC-USD",
                             "trade_id": "p1", "size": "1", "side": "buy",
                             "event_time": "2024-01-01T00:01:00.000000Z"}).encode(), "price"),
    (b"ETH-USD", json.dumps({"v": 1, "exchange": "coinbase", "product_id": "ETH-USD",
                             "trade_id": "p2", "price": "abc", "size": "1", "side": "sell",
                             "event_time": "2024-01-01T00:01:00.000000Z"}).encode(), "price"),
    (b"ETH-USD", json.dumps({"v": 1, "exchange": "coinbase", "product_id": "ETH-USD",
                             "trade_id": "p3", "price": "10.5", "size": "-2", "side": "sell",
                             "event_time": "2024-01-01T00:01:00.000000Z"}).encode(), "size"),
    (b"SOL-USD", b"", "empty"),
]


def python_module(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def local_env() -> dict[str, str]:
    """What a job against the local stack gets: its credentials and LOCAL_JOB_ENV."""
    return {**secrets.load_or_create(), **LOCAL_JOB_ENV, **os.environ}


def run_to_completion(command: list[str], timeout: float, log_name: str,
                      env: dict[str, str] | None = None) -> None:
    log = LOG_DIR / f"test-{log_name}.log"
    with log.open("wb") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                env={**local_env(), **(env or {})})
    assert result.returncode == 0, f"{command[2]} exited {result.returncode}; see {log}"


class JobRun:
    """The streaming job as a separate process (its own process group, like a real deploy)."""

    def __init__(self, name: str, database: str, topic: str, checkpoint: str, *extra: str):
        self.log = LOG_DIR / f"test-job-{name}.log"
        self.args = ["--topic", topic, "--clickhouse-database", database,
                     "--checkpoint-location", checkpoint, *extra]
        self.process: subprocess.Popen | None = None

    def start(self, *extra: str) -> JobRun:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                python_module("spark_jobs.submit", *self.args, *extra),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=local_env(),
            )
        return self

    def wait(self, timeout: float = 600) -> int:
        return self.process.wait(timeout)

    def kill_hard(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def clickhouse_client(stack, credentials):
    return connect(stack.clickhouse_url, stack.clickhouse_user, credentials["CLICKHOUSE_PASSWORD"])


@pytest.fixture(scope="module")
def dataset(stack, request):
    """100k simulated trades through the real producer, plus poison records, in one topic."""
    name = f"e2e_{os.getpid()}_{request.node.name[:10]}".replace("-", "_").replace(".", "_")
    topic = f"{name}_trades"
    create_topic(stack.kafka_bootstrap, topic, stack.kafka_partitions)
    create_topic(stack.kafka_bootstrap, f"{topic}.dlq", 1)
    run_to_completion(python_module(
        "producer", "--source", "simulator", "--sim-products", str(PRODUCTS),
        "--sim-rate", "100000", "--max-trades", str(TRADES), "--sim-start-time", START,
        "--sim-time-step", str(STEP_SECONDS), "--topic", topic, "--dlq-topic", f"{topic}.dlq",
        "--bootstrap-servers", stack.kafka_bootstrap,
    ), timeout=600, log_name="e2e-producer")
    poison = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    for key, value, _ in POISON:
        poison.produce(topic, key=key, value=value)
    assert poison.flush(30) == 0

    records = consume_all(stack.kafka_bootstrap, topic, TRADES + len(POISON), timeout=180)
    assert len(records) == TRADES + len(POISON)
    poison_values = {value for _, value, _ in POISON}
    trades = [v.encode() for _, v, _ in records if v.encode() not in poison_values]
    assert len(trades) == TRADES
    closed_before = recompute.latest_event_time(trades) - WATERMARK
    expected = {k: w for k, w in recompute.windows(trades).items()
                if k[2] + timedelta(seconds=30) <= closed_before}
    assert len({k[1] for k in expected}) == PRODUCTS and len(expected) >= PRODUCTS * 10
    return SimpleNamespace(name=name, topic=topic, expected=expected)


def migrate(database: str) -> None:
    run_to_completion(python_module("clickhouse.migrate", "--database", database),
                      timeout=120, log_name=f"migrate-{database}")


def checkpoint(stack, name: str) -> str:
    return f"s3a://{stack.checkpoint_bucket}/tests/{name}"


def final_windows(client, database: str) -> dict:
    rows = client.query(
        "SELECT exchange, product_id, window_start, trade_count, volume, notional, vwap, "
        "average_price, open, high, low, close, buy_volume, sell_volume "
        f"FROM {database}.trade_windows_final"
    ).result_rows
    return {(r[0], r[1], r[2].replace(tzinfo=recompute.UTC) if r[2].tzinfo is None else r[2]):
            r[3:] for r in rows}


def stored_rows(client, database: str) -> int:
    return client.query(f"SELECT count() FROM {database}.trade_windows").result_rows[0][0]


@pytest.fixture(scope="module")
def uninterrupted(stack, dataset, clickhouse_client):
    database = f"{dataset.name}_a"
    migrate(database)
    job = JobRun("a", database, dataset.topic, checkpoint(stack, database), "--available-now")
    assert job.start().wait() == 0, job.log
    return database


def test_every_window_equals_an_independent_recomputation(
    uninterrupted, dataset, clickhouse_client
):
    actual = final_windows(clickhouse_client, uninterrupted)
    recompute.assert_matches(actual, dataset.expected)
    assert stored_rows(clickhouse_client, uninterrupted) == len(actual), "duplicate windows"


def test_poison_records_are_rejected_with_reasons_and_counted(uninterrupted, clickhouse_client):
    rows = clickhouse_client.query(
        f"SELECT raw_value, reason FROM {uninterrupted}.rejected_records ORDER BY offset"
    ).result_rows
    assert len(rows) == len(POISON)
    reasons = {raw.encode() if isinstance(raw, str) else raw: reason for raw, reason in rows}
    for _, value, expected_word in POISON:
        assert expected_word in reasons[value], (value, reasons[value])


def test_kill_9_and_restart_on_the_s3_checkpoint_gives_the_same_table(
    stack, dataset, uninterrupted, clickhouse_client
):
    database = f"{dataset.name}_b"
    migrate(database)
    job = JobRun("b", database, dataset.topic, checkpoint(stack, database),
                 "--max-offsets-per-trigger", "8000")
    job.start("--trigger-interval", "1 second")
    wait_until(lambda: batches_done(clickhouse_client, database) >= 3, timeout=300,
               message="three committed batches before the crash")
    job.kill_hard()
    assert job.start("--available-now").wait() == 0, job.log

    actual = final_windows(clickhouse_client, database)
    assert actual == final_windows(clickhouse_client, uninterrupted)
    assert stored_rows(clickhouse_client, database) == len(actual), "duplicate windows"


def batches_done(client, database: str) -> int:
    return client.query(
        f"SELECT countIf(input_rows > 0) FROM {database}.pipeline_progress "
        "WHERE query_name = 'trade_windows'"
    ).result_rows[0][0]


def test_clickhouse_down_mid_stream_loses_nothing(stack, dataset, uninterrupted, clickhouse_client):
    database = f"{dataset.name}_c"
    migrate(database)
    job = JobRun("c", database, dataset.topic, checkpoint(stack, database),
                 "--max-offsets-per-trigger", "8000", "--trigger-interval", "1 second")
    job.start()
    try:
        wait_until(lambda: batches_done(clickhouse_client, database) >= 1, timeout=300,
                   message="a first committed batch")
        control.stop("clickhouse")
        wait_until(lambda: job.log_text().count("Retrying") >= 2, timeout=120,
                   message="the job retrying writes while ClickHouse is down")
        control.start("clickhouse")
        expected = final_windows(clickhouse_client, uninterrupted)
        wait_until(lambda: final_windows(clickhouse_client, database) == expected, timeout=300,
                   interval=2, message="the outage run to catch up with the uninterrupted one")
    finally:
        control.start("clickhouse")
        job.process.send_signal(signal.SIGTERM)
    assert job.wait(120) == 0, job.log
    assert stored_rows(clickhouse_client, database) == len(expected), "duplicate windows"
