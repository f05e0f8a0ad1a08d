"""The stack's own logic: topology overrides, generated credentials, supervisord config."""

from __future__ import annotations

import configparser
import stat

from stack import secrets, supervisor, topology
from stack.services import Service, kafka_properties, new_cluster_id


def test_topology_reads_the_file_and_the_environment_wins(monkeypatch):
    topology.load.cache_clear()
    monkeypatch.setenv("KAFKA_PORT", "19092")
    monkeypatch.setenv("KAFKA_TOPIC", "other_trades")
    topo = topology.load()
    topology.load.cache_clear()

    assert topo.kafka_port == 19092
    assert topo.kafka_bootstrap == f"{topo.host}:19092"
    assert topo.trades_topic == "other_trades"
    assert topo.dead_letter_topic == "raw_crypto_trades.dlq"


def test_credentials_are_generated_once_private_and_overridable(tmp_path, monkeypatch):
    path = tmp_path / "state" / "secrets.env"
    for name in secrets.GENERATORS:
        monkeypatch.delenv(name, raising=False)
    first = secrets.load_or_create(path)
    second = secrets.load_or_create(path)
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "from-env")
    third = secrets.load_or_create(path)

    assert set(first) == set(secrets.GENERATORS)
    assert all(len(value) >= 16 for value in first.values())
    assert first == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert third["CLICKHOUSE_PASSWORD"] == "from-env"
    assert "from-env" not in path.read_text()


def test_two_fresh_states_get_different_credentials(tmp_path):
    one = secrets.load_or_create(tmp_path / "a" / "secrets.env")
    two = secrets.load_or_create(tmp_path / "b" / "secrets.env")
    assert one["CLICKHOUSE_PASSWORD"] != two["CLICKHOUSE_PASSWORD"]


def test_supervisord_config_escapes_percent_and_carries_environment():
    service = Service(
        name="demo",
        address="x",
        command=["/bin/echo", "100%", "two words"],
        probe=lambda: "1",
        env={"TOKEN": "a%b"},
    )
    parser = configparser.RawConfigParser()
    parser.read_string(supervisor.render_config([service]))
    section = parser["program:demo"]

    assert section["command"] == "/bin/echo 100%% 'two words'"
    assert section["environment"] == 'TOKEN="a%%b"'
    assert section["autostart"] == "false"
    assert section["stopasgroup"] == "true"


def test_kafka_runs_kraft_combined_on_the_topology_ports(tmp_path):
    topo = topology.load()
    props = dict(
        line.split("=", 1) for line in kafka_properties(topo, tmp_path).splitlines() if line
    )
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == (
        f"PLAINTEXT://{topo.host}:{topo.kafka_port},CONTROLLER://{topo.host}:{topo.kafka_controller_port}"
    )
    assert props["log.dirs"] == str(tmp_path)
    assert "zookeeper.connect" not in props


def test_cluster_ids_are_kafka_uuids():
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 22 and "=" not in i for i in ids)
