"""docker-compose.yml end to end: the whole pipeline up, trades through Kafka into ClickHouse's
windows table, and `down -v` leaving nothing behind.

Runs its own compose project (unique name, free host ports on 127.0.0.1) so it never touches
the local stack's fixed ports or another compose project. Needs the images: `make images`.
From the host it talks to the containers only through their ports published on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import clickhouse_connect
import pytest
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource

from tests.support import wait_until

pytestmark = [pytest.mark.infra, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
IMAGE_KEYS = ("KAFKA_IMAGE", "SPARK_IMAGE", "APP_IMAGE", "LOCALSTACK_IMAGE", "CLICKHOUSE_IMAGE")
UP_TIMEOUT_S = 900
ROWS_TIMEOUT_S = 600
BROKERS = 3


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


class ComposeProject:
    def __init__(self, command: list[str], name: str, env_file: Path):
        self.base = [*command, "-p", name, "-f", str(COMPOSE_FILE), "--env-file", str(env_file)]
        self.name = name
        self.settings = read_env_file(env_file)

    def run(self, *args: str, timeout: float = 300, check: bool = True):
        result = subprocess.run([*self.base, *args], capture_output=True, text=True,
                                timeout=timeout, cwd=ROOT)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
            )
        return result

    def logs(self, *services: str, tail: int = 40) -> str:
        result = self.run("logs", "--no-color", f"--tail={tail}", *services, check=False)
        return result.stdout[-6000:]

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.name}"
        listings = {
            "containers": ["docker", "ps", "-a", "-q", "--filter", label],
            "volumes": ["docker", "volume", "ls", "-q", "--filter", label],
            "networks": ["docker", "network", "ls", "-q", "--filter", label],
        }
        return {
            kind: subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
            for kind, cmd in listings.items()
        }

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.settings['KAFKA_HOST_PORT_1']}"


def require_images(settings: dict[str, str]) -> None:
    missing = [settings[key] for key in IMAGE_KEYS
               if subprocess.run(["docker", "image", "inspect", settings[key]],
                                 capture_output=True).returncode != 0]
    if missing:
        pytest.fail(f"images missing: {', '.join(missing)}; build them with `make images`")


@pytest.fixture(scope="module")
def pipeline(compose_command, tmp_path_factory):
    kafka_ports = free_ports(BROKERS)
    clickhouse_port, s3_port, spark_ui_port = free_ports(3)
    env_file = tmp_path_factory.mktemp("compose") / "compose.env"
    env = dict(
        os.environ,
        KAFKA_HOST_PORTS=",".join(map(str, kafka_ports)),
        CLICKHOUSE_HOST_PORT=str(clickhouse_port),
        S3_HOST_PORT=str(s3_port),
        SPARK_UI_HOST_PORT=str(spark_ui_port),
        SIM_RATE="20",
    )
    subprocess.run([sys.executable, "docker/compose_env.py", "--output", str(env_file)],
                   env=env, cwd=ROOT, check=True, capture_output=True)
    project = ComposeProject(compose_command, f"csinfra{uuid.uuid4().hex[:8]}", env_file)
    require_images(project.settings)
    try:
        project.run("up", "-d", timeout=UP_TIMEOUT_S)
        yield project
    finally:
        project.run("down", "-v", "--remove-orphans", "--timeout", "20", check=False)


def test_topics_have_three_replicas_and_min_insync_two(pipeline):
    admin = AdminClient({"bootstrap.servers": pipeline.kafka_bootstrap})
    topic = pipeline.settings["KAFKA_TOPIC"]

    def created():
        return topic in admin.list_topics(timeout=10).topics

    wait_until(created, UP_TIMEOUT_S, interval=2,
               message=f"topic {topic} (bootstrap logs:\n{pipeline.logs('bootstrap')})")
    metadata = admin.list_topics(topic, timeout=10)
    assert len(metadata.brokers) == BROKERS
    partitions = metadata.topics[topic].partitions
    assert len(partitions) == int(pipeline.settings["KAFKA_PARTITIONS"])
    assert all(len(p.replicas) == BROKERS for p in partitions.values())
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    assert config["min.insync.replicas"].value == "2"


def test_simulated_trades_arrive_in_kafka(pipeline):
    consumer = Consumer({
        "bootstrap.servers": pipeline.kafka_bootstrap,
        "group.id": f"infra-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([pipeline.settings["KAFKA_TOPIC"]])
    try:
        def a_trade():
            message = consumer.poll(1.0)
            if message is None:
                return None
            if message.error():
                raise KafkaException(message.error())
            return json.loads(message.value())

        trade = wait_until(a_trade, UP_TIMEOUT_S, interval=0,
                           message=f"a trade (producer logs:\n{pipeline.logs('producer')})")
    finally:
        consumer.close()
    assert trade["product_id"] and float(trade["price"]) > 0 and float(trade["size"]) > 0


def test_windows_rows_appear_in_clickhouse(pipeline):
    settings = pipeline.settings
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=int(settings["CLICKHOUSE_HOST_PORT"]),
        username=settings["CLICKHOUSE_USER"], password=settings["CLICKHOUSE_PASSWORD"],
    )
    table = f"{settings['CLICKHOUSE_DATABASE']}.{settings['CLICKHOUSE_WINDOWS_TABLE']}"

    def windows():
        try:
            return client.query(
                f"SELECT product_id, trade_count, low, vwap, high FROM {table} LIMIT 20"
            ).result_rows
        except Exception:  # the table appears once the bootstrap has run the migrations
            return None

    rows = wait_until(windows, ROWS_TIMEOUT_S, interval=5,
                      message=f"rows in {table} (job logs:\n{pipeline.logs('job', tail=80)})")
    for product_id, trade_count, low, vwap, high in rows:
        assert product_id and trade_count > 0
        assert float(low) <= vwap <= float(high)


def test_down_removes_containers_volumes_and_network(pipeline):
    assert pipeline.leftovers()["containers"], "the project should be running before down"
    pipeline.run("down", "-v", "--remove-orphans", "--timeout", "20")
    assert pipeline.leftovers() == {"containers": [], "volumes": [], "networks": []}
