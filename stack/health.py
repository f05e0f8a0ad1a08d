"""Health probes: each returns the service's version when it is healthy and raises otherwise."""

from __future__ import annotations

import base64
import json
import socket
import urllib.parse
import urllib.request

from confluent_kafka.admin import AdminClient

TIMEOUT_S = 3


def http_get(url: str, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return response.read()


def port_open(address: str) -> None:
    host, port = address.rsplit(":", 1)
    socket.create_connection((host, int(port)), timeout=TIMEOUT_S).close()


def kafka(bootstrap: str, version: str) -> str:
    port_open(bootstrap.split(",")[0])  # cheap first: librdkafka would log every refusal
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    metadata = admin.list_topics(timeout=TIMEOUT_S)
    if not metadata.brokers:
        raise RuntimeError("no broker in the cluster metadata yet")
    return version


def spark_master(ui_url: str, version: str) -> str:
    status = json.loads(http_get(f"{ui_url}/json/"))
    if status.get("status") != "ALIVE":
        raise RuntimeError(f"master status {status.get('status')}")
    return version


def spark_worker(master_ui_url: str, version: str) -> str:
    status = json.loads(http_get(f"{master_ui_url}/json/"))
    if status.get("aliveworkers", 0) < 1:
        raise RuntimeError("no ALIVE worker registered with the master yet")
    return version


def clickhouse(url: str, user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    query = urllib.parse.urlencode({"query": "SELECT version()"})
    body = http_get(f"{url}/?{query}", {"Authorization": f"Basic {token}"})
    return body.decode().strip()


def localstack(url: str) -> str:
    health = json.loads(http_get(f"{url}/_localstack/health"))
    s3_state = health.get("services", {}).get("s3")
    if s3_state not in ("available", "running"):
        raise RuntimeError(f"s3 is {s3_state}")
    return health.get("version", "?")
