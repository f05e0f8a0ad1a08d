"""Write the env file docker-compose.yml reads: topology, image names, host ports and secrets.

    python docker/compose_env.py [--output PATH]      (default .state/compose.env, mode 600)
    docker compose --env-file .state/compose.env up -d

Nothing in docker-compose.yml repeats a port, topic, table or bucket name: they come from
runtime/topology.yaml (runtime.topology, which honours its environment overrides), image names
from docker/images.env, credentials from stack.secrets (.state/secrets.env; the environment wins).

Ports published on the host (always on 127.0.0.1), overridable by the environment:
  KAFKA_HOST_PORTS       three comma-separated ports, one per broker
                         (default: topology kafka.port, kafka.port+2, kafka.port+3)
  CLICKHOUSE_HOST_PORT   default topology clickhouse.http_port
  S3_HOST_PORT           default topology object_storage.port
  SPARK_UI_HOST_PORT     default topology spark.master_ui_port
The defaults are the local stack's ports: run one of `make up` and docker compose at a time, or
override them. Other settings: SOURCE (producer source, default simulator), SIM_RATE (50).
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime import topology  # noqa: E402
from stack import secrets  # noqa: E402
from stack.paths import STATE_DIR  # noqa: E402

IMAGES_ENV = ROOT / "docker" / "images.env"
BROKERS = 3
_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=\$\{\1:-(.*)\}$")
_REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# KRaft's cluster id (a base64url UUID) only has to be the same on every broker; a fixed one
# keeps existing volumes valid whenever the env file is regenerated.
KAFKA_CLUSTER_ID = (
    base64.urlsafe_b64encode(uuid.uuid5(uuid.NAMESPACE_URL, "cryptostream/docker-compose").bytes)
    .rstrip(b"=")
    .decode()
)


class ConfigError(ValueError):
    pass


def image_settings(path: Path = IMAGES_ENV, env: Mapping[str, str] = os.environ) -> dict:
    """docker/images.env's NAME=${NAME:-default} lines, environment first, ${REF}s expanded."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _ASSIGNMENT.match(line)
        if not match:
            raise ConfigError(f"{path}:{number}: expected NAME=${{NAME:-default}}, got {line!r}")
        name, default = match.groups()
        raw = env.get(name, default)
        values[name] = _REFERENCE.sub(lambda ref: values.get(ref.group(1), ""), raw)
    return values


def image_names(settings: Mapping[str, str]) -> dict[str, str]:
    prefix, tag = settings["IMAGE_PREFIX"], settings["IMAGE_TAG"]
    names = {f"{name.upper()}_IMAGE": f"{prefix}/{name}:{tag}"
             for name in ("kafka", "spark", "app", "localstack")}
    names["CLICKHOUSE_IMAGE"] = settings["CLICKHOUSE_IMAGE"]
    return names


def port(text: str, name: str) -> int:
    if not text.strip().isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{name}: {text!r} is not a TCP port")
    return int(text)


def host_ports(topo: topology.Topology, env: Mapping[str, str] = os.environ) -> dict[str, int]:
    base = topo.kafka_port
    raw = env.get("KAFKA_HOST_PORTS", f"{base},{base + 2},{base + 3}")
    kafka = [port(p, "KAFKA_HOST_PORTS") for p in raw.split(",")]
    if len(kafka) != BROKERS:
        raise ConfigError(f"KAFKA_HOST_PORTS: expected {BROKERS} ports, got {raw!r}")
    ports = {f"KAFKA_HOST_PORT_{i}": p for i, p in enumerate(kafka, 1)}
    for name, default in (
        ("CLICKHOUSE_HOST_PORT", topo.clickhouse_http_port),
        ("S3_HOST_PORT", topo.s3_port),
        ("SPARK_UI_HOST_PORT", topo.spark_master_ui_port),
    ):
        ports[name] = port(env.get(name, str(default)), name)
    if len(set(ports.values())) != len(ports):
        raise ConfigError(f"host ports must differ: {ports}")
    return ports


def topology_settings(topo: topology.Topology) -> dict:
    """Container-side names and ports: the same values the local stack uses."""
    return {
        "KAFKA_PORT": topo.kafka_port,
        "KAFKA_CONTROLLER_PORT": topo.kafka_controller_port,
        "KAFKA_PARTITIONS": topo.kafka_partitions,
        "KAFKA_TOPIC": topo.trades_topic,
        "KAFKA_DLQ_TOPIC": topo.dead_letter_topic,
        "KAFKA_CLUSTER_ID": KAFKA_CLUSTER_ID,
        "SPARK_MASTER_PORT": topo.spark_master_port,
        "SPARK_MASTER_UI_PORT": topo.spark_master_ui_port,
        "SPARK_WORKER_UI_PORT": topo.spark_worker_ui_port,
        "CLICKHOUSE_HTTP_PORT": topo.clickhouse_http_port,
        "CLICKHOUSE_DATABASE": topo.clickhouse_database,
        "CLICKHOUSE_USER": topo.clickhouse_user,
        "CLICKHOUSE_WINDOWS_TABLE": topo.windows_table,
        "S3_PORT": topo.s3_port,
        "AWS_REGION": topo.s3_region,
        "CHECKPOINT_BUCKET": topo.checkpoint_bucket,
    }


def compose_env(env: Mapping[str, str] = os.environ) -> dict:
    topo = topology.load()
    values = {
        **image_names(image_settings(env=env)),
        **topology_settings(topo),
        **host_ports(topo, env),
        "SOURCE": env.get("SOURCE", "simulator"),
        "SIM_RATE": env.get("SIM_RATE", "50"),
    }
    values.update(secrets.load_or_create())
    return values


def render(values: Mapping[str, object]) -> str:
    lines = ["# generated by docker/compose_env.py; do not edit (holds local credentials)"]
    for name, value in values.items():
        text = str(value)
        if any(c in text for c in "\n\r'\"$ #"):
            raise ConfigError(f"{name}: value has characters an env file cannot carry: {text!r}")
        lines.append(f"{name}={text}")
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=STATE_DIR / "compose.env")
    args = parser.parse_args(argv)
    try:
        write_private(args.output, render(compose_env()))
    except ConfigError as err:
        print(f"compose_env: {err}", file=sys.stderr)
        return 2
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
