"""`make up` is idempotent; `make down` stops only what it started and keeps all data."""

from __future__ import annotations

import socket
from pathlib import Path

import clickhouse_connect

from stack import lifecycle, supervisor
from stack.paths import STATE_DIR
from stack.services import s3_client
from tests.integration.test_stack_kafka import consume_all, create_topic, produce


def service_pids(names) -> dict[str, int]:
    return {n: supervisor.rpc().supervisor.getProcessInfo(n)["pid"] for n in names}


def processes_running(fragment: str) -> int:
    count = 0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if fragment in cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                count += 1
        except OSError:
            continue
    return count


def port_closed(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) != 0


def clickhouse(stack, credentials):
    return clickhouse_connect.get_client(
        host=stack.host, port=stack.clickhouse_http_port,
        username=stack.clickhouse_user, password=credentials["CLICKHOUSE_PASSWORD"],
    )


def test_up_twice_then_down_then_up_keeps_data_and_starts_nothing_twice(
    stack_handle, stack, credentials, unique_name
):
    names = [s.name for s in stack_handle.services]
    pids_before = service_pids(names)

    lifecycle.up()

    assert service_pids(names) == pids_before, "a second `up` restarted a service"
    # Fragments naming this stack's own state and ports: other stacks may share the machine.
    assert processes_running(f"kafka.Kafka {STATE_DIR / 'kafka'}") == 1
    assert processes_running(f"deploy.master.Master --host {stack.host} "
                             f"--port {stack.spark_master_port} ") == 1
    assert processes_running(f"--work-dir {STATE_DIR / 'spark' / 'work'}") == 1
    assert processes_running(f"--data-path {STATE_DIR / 'clickhouse' / 'data'}") == 1

    create_topic(stack.kafka_bootstrap, unique_name, 1)
    produce(stack.kafka_bootstrap, unique_name, [("k", "kept")])
    client = clickhouse(stack, credentials)
    client.command(f"CREATE TABLE default.{unique_name} (n UInt32) ENGINE = MergeTree ORDER BY n")
    client.insert(f"default.{unique_name}", [[7], [11]], column_names=["n"])
    s3_client(stack, credentials).put_object(
        Bucket=stack.checkpoint_bucket, Key=f"{unique_name}/object", Body=b"kept"
    )

    lifecycle.down()

    assert not supervisor.is_running()
    ports = (stack.kafka_port, stack.spark_master_port, stack.clickhouse_http_port, stack.s3_port)
    for port in ports:
        assert port_closed(stack.host, port), f"port {port} still open after down"

    lifecycle.up()

    assert [v for _, v, _ in consume_all(stack.kafka_bootstrap, unique_name, 1)] == ["kept"]
    total = clickhouse(stack, credentials).query(f"SELECT sum(n) FROM default.{unique_name}")
    assert total.result_rows == [(18,)]
    body = s3_client(stack, credentials).get_object(
        Bucket=stack.checkpoint_bucket, Key=f"{unique_name}/object"
    )["Body"].read()
    assert body == b"kept"
