"""The dev runner's own logic: supervisord config, the local Kafka broker's settings."""

from __future__ import annotations

import configparser

from runtime import topology
from stack import supervisor
from stack.services import Service, kafka_properties, new_cluster_id


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
