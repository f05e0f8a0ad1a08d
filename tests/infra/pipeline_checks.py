"""What the node-tier tests check on a deployed environment: the trades in its Kafka, its
windows in ClickHouse against a recomputation, clients refused without credentials; and a
second staged release."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from clickhouse.client import connect
from runtime import topology
from spark_jobs.config import WINDOWS_QUERY
from stack.paths import ROOT
from tests.infra.node_env import NodeEnv
from tests.integration import recompute
from tests.support import wait_until

WINDOW = timedelta(seconds=30)
WATERMARK = timedelta(seconds=10)
FIRST_WINDOWS_S = 600
CATCH_UP_S = 420

READ_TOPIC = """
import json, os, sys, time
from confluent_kafka import Consumer, TopicPartition
from runtime.kafka_security import librdkafka_config
topic = os.environ["KAFKA_TOPIC"]
consumer = Consumer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                     "group.id": "verify-%d" % os.getpid(), "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", **librdkafka_config(os.environ)})
partitions = list(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
        for p in partitions}
consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
seen = {p: 0 for p in partitions}
deadline = time.monotonic() + 240
while any(seen[p] < ends[p] for p in partitions) and time.monotonic() < deadline:
    message = consumer.poll(1.0)
    if message is None or message.error():
        continue
    seen[message.partition()] = message.offset() + 1
    sys.stdout.write(message.value().decode() + "\\n")
consumer.close()
if any(seen[p] < ends[p] for p in partitions):
    sys.exit("read %s of %s" % (seen, ends))
"""


def kafka_trades(env: NodeEnv) -> list[bytes]:
    return [line.encode() for line in env.app_python(READ_TOPIC).splitlines() if line]


def clickhouse(env: NodeEnv):
    return connect(env.endpoints["clickhouse_url"], topology.load().clickhouse_user,
                   env.secrets["CLICKHOUSE_PASSWORD"])


def final_windows(env: NodeEnv) -> dict:
    topo = topology.load()
    rows = clickhouse(env).query(
        "SELECT exchange, product_id, window_start, trade_count, volume, notional, vwap, "
        "average_price, open, high, low, close, buy_volume, sell_volume "
        f"FROM {topo.clickhouse_database}.{topo.windows_table}_final").result_rows
    return {(r[0], r[1], r[2].replace(tzinfo=recompute.UTC)): r[3:] for r in rows}


def closed_windows(trades: list[bytes]) -> dict:
    closed_before = recompute.latest_event_time(trades) - WATERMARK
    return {key: window for key, window in recompute.windows(trades, WINDOW).items()
            if key[2] + WINDOW <= closed_before}


def late_trades_dropped(env: NodeEnv) -> int:
    """The job's own count of trades it dropped as later than the watermark, over every batch
    of the windows query (a batch re-run after a restart counted once)."""
    topo = topology.load()
    return int(clickhouse(env).command(
        f"SELECT sum(late) FROM (SELECT argMax(late_rows_dropped, recorded_at) AS late "
        f"FROM {topo.clickhouse_database}.{topo.progress_table} WHERE query_name = %(query)s "
        "GROUP BY query_id, batch_id)", parameters={"query": WINDOWS_QUERY}) or 0)


def newest_per_product(windows: dict) -> set:
    newest: dict = {}
    for exchange, product, start in windows:
        newest[(exchange, product)] = max(start, newest.get((exchange, product), start))
    return {(exchange, product, start) for (exchange, product), start in newest.items()}


def assert_windows_match(env: NodeEnv, timings: dict | None = None) -> int:
    """Stop the producer; once the job has written the newest closed window of each product,
    every closed window of the trades in Kafka must be in ClickHouse with the recomputed
    figures, except for trades the job reported as dropped late (recompute.assert_matches).
    Returns the number of windows compared."""
    env.ssh(env.host("app"), "systemctl stop cryptostream-producer")
    expected = closed_windows(kafka_trades(env))
    assert expected, "no closed window among the trades in Kafka"
    newest = newest_per_product(expected)
    actual = wait_until(lambda: (lambda found: found if newest <= set(found) else None)(
        final_windows(env)), CATCH_UP_S, interval=5,
        message="the newest closed window of each product in ClickHouse")
    late = late_trades_dropped(env)
    missing = recompute.assert_matches({key: actual[key] for key in expected if key in actual},
                                       expected, late_dropped=late)
    if timings is not None:
        timings.update(late_trades_dropped=late, trades_missing_from_windows=missing)
    return len(expected)


def newest_window(env: NodeEnv) -> int:
    topo = topology.load()
    return int(clickhouse(env).command(
        f"SELECT toUnixTimestamp(max(window_start)) FROM {topo.clickhouse_database}."
        f"{topo.windows_table}_final") or 0)


def wait_for_new_window(env: NodeEnv, after: int, deadline_s: float = FIRST_WINDOWS_S) -> None:
    wait_until(lambda: newest_window(env) > after, deadline_s, interval=5,
               message=f"a window newer than {after} in ClickHouse")


def trade_ids_by_product(trades: list[bytes]) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {}
    for value in trades:
        trade = json.loads(value)
        ids.setdefault(trade["product_id"], []).append(int(trade["trade_id"]))
    return ids


def service_restarts(env: NodeEnv, service: str) -> int:
    out = env.ssh(env.host("app"), f"systemctl show -p NRestarts --value {service}").stdout
    return int(out.strip() or 0)


SECOND_VERSION = "0.1.0+secondrelease"


def stage_release(tmp_path: Path, version: str) -> Path:
    """A second release (same code, another version), staged next to the current one."""
    releases = tmp_path / "releases"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "release" / "stage.py"),
                             "--version", version, "--output", str(releases), "--no-current"],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    return Path(result.stdout.strip())


CLIENT_WITHOUT_CREDENTIALS = """
import os, sys
from confluent_kafka.admin import AdminClient
from confluent_kafka import KafkaException
settings = {"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"], **%s}
try:
    AdminClient(settings).list_topics(timeout=8)
except KafkaException as error:
    print("refused:", error)
else:
    print("accepted")
"""


def refuses_clients_without_the_right_credentials(env: NodeEnv) -> None:
    plain = env.app_python(CLIENT_WITHOUT_CREDENTIALS % "{}")
    assert plain.startswith("refused"), plain
    wrong = env.app_python(CLIENT_WITHOUT_CREDENTIALS % (
        '{"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512", '
        '"sasl.username": os.environ["KAFKA_SASL_USERNAME"], "sasl.password": "wrong", '
        '"ssl.ca.location": os.environ["KAFKA_SSL_CA_FILE"]}'))
    assert wrong.startswith("refused"), wrong
