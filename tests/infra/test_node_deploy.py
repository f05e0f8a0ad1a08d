"""The node tier end to end, on plain Debian hosts (node containers) configured over SSH:

    tofu apply  ->  deploy.yml  ->  simulator trades flow  ->  windows in ClickHouse
    ->  second deploy changed=0, --check --diff clean  ->  rolling restart of the brokers while
    the producer runs: no trade lost  ->  a broker node replaced  ->  the app upgraded
    ->  windows equal a recomputation from the raw trades  ->  tofu destroy leaves nothing

once with the plaintext profile (the whole sequence) and once with sasl_ssl (deploy, windows,
recomputation, a client without credentials refused, destroy).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from clickhouse.client import connect
from runtime import topology
from stack.paths import ROOT
from tests.infra import node_env
from tests.infra.node_env import NodeEnv, docker_names
from tests.integration import recompute
from tests.support import wait_until

pytestmark = [pytest.mark.infra, pytest.mark.timeout(3600)]

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


def assert_windows_match(env: NodeEnv) -> int:
    """Stop the producer, then every closed window of the trades in Kafka must be in ClickHouse
    with exactly the recomputed figures. Returns the number of windows compared."""
    env.ssh(env.host("app"), "systemctl stop cryptostream-producer")
    expected = closed_windows(kafka_trades(env))
    assert expected, "no closed window among the trades in Kafka"
    actual = wait_until(lambda: (lambda found: found if set(expected) <= set(found) else None)(
        final_windows(env)), CATCH_UP_S, interval=5, message="every closed window in ClickHouse")
    recompute.assert_matches({key: actual[key] for key in expected}, expected)
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


@contextmanager
def environment(tmp: Path, profile: str):
    """A 9-node environment of `profile`, applied; destroyed afterwards if a test did not."""
    node_env.require_node_image()
    node_env.require_release()
    env = node_env.create(tmp, profile)
    started = time.monotonic()
    try:
        env.apply()
        env.timings["apply_s"] = time.monotonic() - started
        yield env
    finally:
        if docker_names("container", env.prefix):
            env.destroy()
        print(f"\nnode tier ({profile}) timings: "
              f"{json.dumps({k: round(v) for k, v in env.timings.items()})}")


@pytest.fixture(scope="module")
def plaintext(docker_engine, tmp_path_factory):
    with environment(tmp_path_factory.mktemp("nodes-plain"), "plaintext") as env:
        yield env


def test_apply_makes_bare_debian_nodes_reachable_over_ssh(plaintext):
    containers = docker_names("container", plaintext.prefix)
    assert len(containers) == 9, containers
    ports = subprocess.run(
        ["docker", "ps", "--filter", f"label={node_env.LABEL}={plaintext.prefix}", "--format",
         "{{.Ports}}"], capture_output=True, text=True, check=True).stdout
    assert "0.0.0.0" not in ports and "127.0.0.1:" in ports, ports
    broker = plaintext.host("kafka")
    bare = plaintext.ssh(broker, "systemctl is-system-running; command -v java || echo no-java; "
                                 "cat /etc/debian_version")
    assert "no-java" in bare.stdout, "a node must start without anything of the pipeline"
    assert Path(plaintext.endpoints["ssh_private_key"]).stat().st_mode & 0o777 == 0o600


def test_deploy_converges_and_windows_arrive(plaintext):
    started = time.monotonic()
    recap = plaintext.playbook("deploy.yml")
    plaintext.timings["deploy_s"] = time.monotonic() - started
    assert recap.total_changed > 0
    wait_for_new_window(plaintext, 0)
    plaintext.timings["first_windows_s"] = time.monotonic() - started


def test_second_deploy_changes_nothing_and_check_mode_is_clean(plaintext):
    started = time.monotonic()
    recap = plaintext.playbook("deploy.yml")
    plaintext.timings["redeploy_s"] = time.monotonic() - started
    assert recap.total_changed == 0, recap.output[-8000:]
    check = plaintext.playbook("deploy.yml", "--check", "--diff")
    assert check.total_changed == 0, check.output[-8000:]


def test_rolling_restart_of_the_brokers_loses_no_trade(plaintext):
    restarts_before = service_restarts(plaintext, "cryptostream-producer")
    started = time.monotonic()
    recap = plaintext.playbook("rolling_restart.yml", "-e", "component=kafka")
    plaintext.timings["rolling_restart_kafka_s"] = time.monotonic() - started
    restarted = [host for host in recap.changed if "-kafka-" in host and recap.changed[host]]
    assert len(restarted) == 3, recap.output[-6000:]
    assert service_restarts(plaintext, "cryptostream-producer") == restarts_before
    ids = trade_ids_by_product(kafka_trades(plaintext))
    assert ids, "no trade in Kafka"
    for product, trade_ids in ids.items():
        assert len(trade_ids) == len(set(trade_ids)), f"{product}: a trade written twice"
        missing = set(range(min(trade_ids), max(trade_ids) + 1)) - set(trade_ids)
        assert not missing, f"{product}: {len(missing)} trades lost, e.g. {sorted(missing)[:5]}"


def test_a_replaced_broker_node_rejoins(plaintext):
    broker = plaintext.host("kafka", 1)
    started = time.monotonic()
    plaintext.apply(f'-replace=module.nodes.docker_container.node["{broker}"]')
    bare = plaintext.ssh(broker, "command -v java || echo no-java")
    assert "no-java" in bare.stdout, "the replaced node must come back bare"
    recap = plaintext.playbook("deploy.yml")
    plaintext.timings["replace_broker_s"] = time.monotonic() - started
    assert recap.changed[broker] > 0
    # deploy.yml's Kafka health check (no under-replicated partition, the quorum whole) passed
    # on every broker; the replaced one serves its replicas again:
    health = plaintext.playbook("rolling_restart.yml", "-e", "component=kafka", "--tags",
                                "health")
    assert health.total_changed == 0


def test_app_upgrade_resumes_from_the_checkpoint(plaintext, tmp_path):
    before = newest_window(plaintext)
    upgrade = stage_release(tmp_path, "0.1.0+upgradetest")
    started = time.monotonic()
    recap = plaintext.playbook("upgrade.yml", env=plaintext.ansible_env(
        CRYPTOSTREAM_RELEASE_DIR=str(upgrade)))
    plaintext.timings["upgrade_s"] = time.monotonic() - started
    assert recap.changed[plaintext.host("app")] > 0
    running = plaintext.ssh(plaintext.host("app"), "readlink -f /opt/cryptostream/current; "
                            "systemctl show -p Description --value cryptostream-stream_job")
    assert "0.1.0+upgradetest" in running.stdout
    wait_for_new_window(plaintext, before)


def test_windows_equal_a_recomputation_from_the_raw_trades(plaintext):
    plaintext.timings["windows_compared"] = assert_windows_match(plaintext)


def test_destroy_leaves_nothing(plaintext):
    key_dir = Path(plaintext.endpoints["ssh_private_key"]).parent
    started = time.monotonic()
    plaintext.destroy()
    plaintext.timings["destroy_s"] = time.monotonic() - started
    for kind in ("container", "volume", "network"):
        assert docker_names(kind, plaintext.prefix) == [], kind
    assert not key_dir.exists(), f"{key_dir} left behind"


def stage_release(tmp_path: Path, version: str) -> Path:
    """A second release (same code, another version), staged next to the current one."""
    releases = tmp_path / "releases"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "release" / "stage.py"),
                             "--version", version, "--output", str(releases), "--no-current"],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    return Path(result.stdout.strip())


# --- the sasl_ssl profile: SCRAM-SHA-512 over TLS ----------------------------------------------

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


@pytest.fixture(scope="module")
def sasl(docker_engine, tmp_path_factory):
    with environment(tmp_path_factory.mktemp("nodes-sasl"), "sasl_ssl") as env:
        yield env


def test_sasl_ssl_deploy_brings_windows(sasl):
    started = time.monotonic()
    sasl.playbook("deploy.yml")
    sasl.timings["deploy_s"] = time.monotonic() - started
    wait_for_new_window(sasl, 0)
    sasl.timings["first_windows_s"] = time.monotonic() - started
    env = sasl.ssh(sasl.host("app"), "grep -c KAFKA_SASL_PASSWORD /etc/cryptostream/producer.env; "
                   "stat -c %a /etc/cryptostream/producer.env").stdout.split()
    assert env == ["1", "600"], env
    assert sasl.playbook("deploy.yml").total_changed == 0


def test_sasl_ssl_refuses_clients_without_the_right_credentials(sasl):
    plain = sasl.app_python(CLIENT_WITHOUT_CREDENTIALS % "{}")
    assert plain.startswith("refused"), plain
    wrong = sasl.app_python(CLIENT_WITHOUT_CREDENTIALS % (
        '{"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512", '
        '"sasl.username": os.environ["KAFKA_SASL_USERNAME"], "sasl.password": "wrong", '
        '"ssl.ca.location": os.environ["KAFKA_SSL_CA_FILE"]}'))
    assert wrong.startswith("refused"), wrong


def test_sasl_ssl_windows_equal_a_recomputation(sasl):
    sasl.timings["windows_compared"] = assert_windows_match(sasl)


def test_sasl_ssl_destroy_leaves_nothing(sasl):
    sasl.destroy()
    for kind in ("container", "volume", "network"):
        assert docker_names(kind, sasl.prefix) == [], kind
