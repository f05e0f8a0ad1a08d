"""The deploy path end to end, on the local Docker engine:

    tofu apply terraform/envs/local  ->  ansible-playbook deploy.yml  ->  windows in ClickHouse
    ->  a second deploy changes nothing  ->  tofu destroy leaves no container, volume or network

Runs in a scratch copy of terraform/ (state, lock and generated files stay out of the repo),
under its own name prefix and host ports (free ones, never the local stack's), with fresh
credentials. The host talks to the containers only through ports published on 127.0.0.1 and
through `docker exec` (Ansible's docker connection).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clickhouse.client import connect
from runtime import topology
from spark_jobs.config import parse_args as job_defaults
from stack.paths import ROOT
from tests.infra.tofu_support import require_tofu, run, scratch_tree, tofu_env

pytestmark = [pytest.mark.infra, pytest.mark.timeout(1800)]

IMAGES_ENV = ROOT / "docker" / "images.env"
LABEL = "com.cryptostream.stack"
ROWS_DEADLINE_S = 600
OUTAGE_DEADLINE_S = 420
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Deployment:
    prefix: str
    tree: Path
    env: dict[str, str]
    endpoints: dict
    inventory: Path
    password: str
    timings: dict[str, float]


def project_images() -> list[str]:
    text = IMAGES_ENV.read_text()
    prefix = re.search(r"IMAGE_PREFIX=\$\{IMAGE_PREFIX:-([^}]+)\}", text).group(1)
    tag = os.environ.get("IMAGE_TAG") or re.search(r"IMAGE_TAG=\$\{IMAGE_TAG:-([^}]+)\}",
                                                   text).group(1)
    names = ("kafka", "spark", "app", "localstack", "clickhouse-endpoint")
    return [f"{prefix}/{name}:{tag}" for name in names]


def require_images() -> None:
    missing = [image for image in project_images()
               if subprocess.run(["docker", "image", "inspect", image],
                                 capture_output=True).returncode != 0]
    if missing:
        pytest.skip(f"images missing: {', '.join(missing)} (run `make images`)")


def published_ports(topo: topology.Topology, offset: int) -> list[int]:
    kafka = [topo.kafka_port + offset + i for i in range(3)]
    return [*kafka, topo.clickhouse_http_port + offset, topo.s3_port + offset,
            topo.spark_master_ui_port + offset]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_offset(topo: topology.Topology) -> int:
    """An offset whose published ports are all free (and far from the fixed service ports)."""
    for offset in range(21000, 50000, 173):
        if all(port_is_free(port) for port in published_ports(topo, offset)):
            return offset
    raise RuntimeError("no free range of host ports for the test deployment")


def ansible_deploy(deployment: Deployment) -> tuple[str, dict[str, int]]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "ANSIBLE_CONFIG": str(ROOT / "ansible" / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(deployment.inventory),
         str(ROOT / "ansible" / "deploy.yml")],
        env=env, capture_output=True, text=True, timeout=1200,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    changed = {host: int(count) for host, count, _, _ in RECAP.findall(output)}
    assert changed, f"no PLAY RECAP in the output:\n{output[-4000:]}"
    return output, changed


def docker_names(kind: str, prefix: str) -> list[str]:
    """Containers / volumes / networks carrying the stack label or the name prefix."""
    listing = {"container": ["docker", "ps", "-a"], "volume": ["docker", "volume", "ls"],
               "network": ["docker", "network", "ls"]}[kind]
    names = set()
    for filters in (["--filter", f"label={LABEL}={prefix}"], ["--filter", f"name={prefix}"]):
        out = subprocess.run([*listing, *filters, "--format", "{{.Name}}" if kind != "container"
                              else "{{.Names}}"], capture_output=True, text=True, check=True)
        names.update(line for line in out.stdout.split() if line)
    return sorted(names)


def destroy(deployment: Deployment) -> None:
    directory = deployment.tree / "terraform" / "envs" / "local"
    run([str(require_tofu()), "destroy", "-auto-approve", "-input=false", "-no-color"],
        cwd=directory, env=deployment.env, timeout=900)


@pytest.fixture(scope="module")
def deployment(docker_engine, tmp_path_factory) -> Deployment:
    tofu = require_tofu()
    require_images()
    topo = topology.load()
    prefix = f"cs-test-{uuid.uuid4().hex[:6]}"
    tree = scratch_tree(tmp_path_factory.mktemp("tofu"))
    directory = tree / "terraform" / "envs" / "local"
    password = secrets.token_urlsafe(18)
    env = tofu_env(
        TF_VAR_name_prefix=prefix,
        TF_VAR_host_port_offset=str(free_offset(topo)),
        TF_VAR_output_dir=str(tree / "generated"),
        TF_VAR_clickhouse_password=password,
        TF_VAR_aws_access_key_id="LK" + secrets.token_hex(9).upper(),
        TF_VAR_aws_secret_access_key=secrets.token_urlsafe(30),
    )
    timings: dict[str, float] = {}
    started = time.monotonic()
    run([str(tofu), "init", "-input=false", "-no-color", "-lockfile=readonly"], cwd=directory,
        env=env)
    deployment = Deployment(prefix, tree, env, {}, tree / "generated" / "inventory.yml", password,
                            timings)
    try:
        run([str(tofu), "apply", "-auto-approve", "-input=false", "-no-color"], cwd=directory,
            env=env, timeout=1200)
        timings["apply_s"] = time.monotonic() - started
        deployment.endpoints = json.loads((tree / "generated" / "endpoints.json").read_text())
        yield deployment
    finally:
        if docker_names("container", prefix):
            destroy(deployment)
        print(f"\ndeploy-path timings: {json.dumps({k: round(v) for k, v in timings.items()})}")


def test_apply_publishes_only_on_loopback(deployment):
    ports = subprocess.run(
        ["docker", "ps", "--filter", f"label={LABEL}={deployment.prefix}",
         "--format", "{{.Names}} {{.Ports}}"], capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert len(ports) == 9, ports  # 3 brokers, master + 2 workers, ClickHouse, LocalStack, app
    bindings = [b for line in ports for b in re.findall(r"([0-9.:\[\]]+):\d+->", line)]
    assert bindings and all(b == "127.0.0.1" for b in bindings), ports
    assert deployment.endpoints["clickhouse_url"].startswith("http://127.0.0.1:")


def test_deploy_brings_windows_into_clickhouse(deployment):
    started = time.monotonic()
    _, changed = ansible_deploy(deployment)
    deployment.timings["deploy_s"] = time.monotonic() - started
    assert sum(changed.values()) > 0  # the first deploy does the work
    topo = topology.load()
    client = connect(deployment.endpoints["clickhouse_url"], deployment.endpoints[
        "clickhouse_user"], deployment.password)
    table = f"{deployment.endpoints['clickhouse_database']}.{topo.windows_table}"
    deadline = time.monotonic() + ROWS_DEADLINE_S
    trades = 0
    while time.monotonic() < deadline:
        trades = client.command(f"SELECT sum(trade_count) FROM {table}") or 0
        if int(trades) > 0:
            break
        time.sleep(5)
    deployment.timings["first_windows_s"] = time.monotonic() - started
    assert int(trades) > 0, f"no windows in {table} within {ROWS_DEADLINE_S} s of the deploy"


def test_second_deploy_changes_nothing(deployment):
    started = time.monotonic()
    output, changed = ansible_deploy(deployment)
    deployment.timings["redeploy_s"] = time.monotonic() - started
    assert all(count == 0 for count in changed.values()), output[-6000:]


def seconds(duration: str) -> int:
    """'30 seconds' / '1 minute' (the job's interval syntax) in seconds."""
    amount, unit = duration.split()
    return int(amount) * {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600,
                          "day": 86400}[unit.rstrip("s")]


def window_start(event_time: str, window_s: int) -> datetime:
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    return datetime.fromtimestamp(moment.timestamp() // window_s * window_s, UTC)


def kafka_trades(bootstrap: str, topic: str) -> list[dict]:
    """Every record of the topic, read from the host through the published listeners."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"verify-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        seen = {p: 0 for p in partitions}
        records = []
        deadline = time.monotonic() + 300
        while any(seen[p] < ends[p] for p in partitions) and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            seen[message.partition()] = message.offset() + 1
            records.append(json.loads(message.value()))
        assert all(seen[p] >= ends[p] for p in partitions), f"read {seen}, ends {ends}"
        return records
    finally:
        consumer.close()


def expected_windows(trades: list[dict], window_s: int, watermark_s: int) -> dict:
    """Distinct trades per (exchange, product, window) for the windows the job has closed."""
    ids: dict[tuple, set] = defaultdict(set)
    for trade in trades:
        key = (trade["exchange"], trade["product_id"],
               window_start(trade["event_time"], window_s))
        ids[key].add(trade["trade_id"])
    newest = max(datetime.fromisoformat(t["event_time"].replace("Z", "+00:00")) for t in trades)
    closed_before = newest - timedelta(seconds=watermark_s)
    return {key: len(trade_ids) for key, trade_ids in ids.items()
            if key[2] + timedelta(seconds=window_s) <= closed_before}


def container_health(name: str) -> str:
    return subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}", name],
                          capture_output=True, text=True).stdout.strip()


def poll(condition, deadline_s: float, what: str, interval_s: float = 5):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    pytest.fail(f"{what} within {deadline_s:.0f} s")


def test_broker_outage_loses_no_trade(deployment):
    """Stop one broker while the pipeline runs: the producer and the job carry on, and after the
    broker returns every trade in Kafka is counted in its closed window, no more, no less."""
    topo = topology.load()
    job = job_defaults([], env={})
    window_s, watermark_s = seconds(job.window), seconds(job.watermark)
    endpoints = deployment.endpoints
    client = connect(endpoints["clickhouse_url"], endpoints["clickhouse_user"],
                     deployment.password)
    view = f"{endpoints['clickhouse_database']}.{topo.windows_table}_final"
    newest_window = int(client.command(f"SELECT toUnixTimestamp(max(window_start)) FROM {view}"))
    broker = f"{deployment.prefix}-kafka-2"
    started = time.monotonic()
    subprocess.run(["docker", "stop", "-t", "30", broker], check=True, capture_output=True)
    try:
        poll(lambda: client.command(
            f"SELECT count() FROM {view} WHERE toUnixTimestamp(window_start) > {newest_window}"),
            OUTAGE_DEADLINE_S, f"no new window while {broker} was down")
    finally:
        subprocess.run(["docker", "start", broker], check=True, capture_output=True)
    poll(lambda: container_health(broker) == "healthy", 300, f"{broker} not healthy again")
    subprocess.run(["docker", "exec", endpoints["app_container"], "supervisorctl", "stop",
                    "producer"], check=True, capture_output=True)
    expected = expected_windows(
        kafka_trades(endpoints["kafka_bootstrap_servers"], topo.trades_topic), window_s,
        watermark_s)
    assert expected, "no closed window among the trades in Kafka"

    def aggregated() -> dict:
        rows = client.query(f"SELECT exchange, product_id, window_start, trade_count FROM {view}"
                            ).result_rows
        return {(e, p, w.replace(tzinfo=UTC)): int(n) for e, p, w, n in rows}

    def caught_up():
        found = aggregated()
        return found if all(key in found for key in expected) else None

    found = poll(caught_up, OUTAGE_DEADLINE_S, "the job did not close every window")
    differences = {key: (count, found.get(key)) for key, count in expected.items()
                   if found.get(key) != count}
    deployment.timings["outage_check_s"] = time.monotonic() - started
    deployment.timings["windows_compared"] = len(expected)
    deployment.timings["trades_compared"] = sum(expected.values())
    assert not differences, f"(kafka, clickhouse) trade counts differ: {differences}"


def test_destroy_leaves_nothing(deployment):
    started = time.monotonic()
    destroy(deployment)
    deployment.timings["destroy_s"] = time.monotonic() - started
    for kind in ("container", "volume", "network"):
        assert docker_names(kind, deployment.prefix) == [], kind
