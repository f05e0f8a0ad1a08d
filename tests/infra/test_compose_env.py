"""docker/compose_env.py: the pure parts (no Docker needed; part of the default test run)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from runtime import secrets, topology

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("compose_env", ROOT / "docker" / "compose_env.py")
compose_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compose_env)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "images.env"
    path.write_text(text)
    return path


def test_image_settings_take_the_environment_first_and_expand_references(tmp_path):
    path = write(tmp_path, "# names\nPREFIX=${PREFIX:-acme}\nIMAGE=${IMAGE:-${PREFIX}/app:1}\n")
    assert compose_env.image_settings(path, env={}) == {"PREFIX": "acme", "IMAGE": "acme/app:1"}
    assert compose_env.image_settings(path, env={"PREFIX": "mine"})["IMAGE"] == "mine/app:1"
    assert compose_env.image_settings(path, env={"IMAGE": "x:2"})["IMAGE"] == "x:2"


def test_image_settings_name_the_line_they_cannot_read(tmp_path):
    path = write(tmp_path, "A=${A:-1}\nB=2\n")
    with pytest.raises(compose_env.ConfigError, match=r"images.env:2: expected NAME="):
        compose_env.image_settings(path, env={})


def test_the_project_images_file_gives_every_image_a_name():
    names = compose_env.image_names(compose_env.image_settings(env={}))
    assert set(names) == {"KAFKA_IMAGE", "SPARK_IMAGE", "APP_IMAGE", "LOCALSTACK_IMAGE",
                          "CLICKHOUSE_IMAGE"}
    assert all(re.fullmatch(r"[\w./-]+:[\w.-]+", image) for image in names.values())


def test_host_ports_default_to_the_topology_and_can_be_moved():
    topo = topology.load()
    ports = compose_env.host_ports(topo, env={})
    assert ports["KAFKA_HOST_PORT_1"] == topo.kafka_port
    assert ports["CLICKHOUSE_HOST_PORT"] == topo.clickhouse_http_port
    moved = compose_env.host_ports(topo, env={"KAFKA_HOST_PORTS": "1001,1002,1003",
                                              "S3_HOST_PORT": "1004"})
    assert [moved[f"KAFKA_HOST_PORT_{i}"] for i in (1, 2, 3)] == [1001, 1002, 1003]
    assert moved["S3_HOST_PORT"] == 1004


@pytest.mark.parametrize("env, message", [
    ({"KAFKA_HOST_PORTS": "1001,1002"}, "expected 3 ports"),
    ({"KAFKA_HOST_PORTS": "1001,1002,abc"}, "'abc' is not a TCP port"),
    ({"CLICKHOUSE_HOST_PORT": "70000"}, "CLICKHOUSE_HOST_PORT: '70000' is not a TCP port"),
    ({"KAFKA_HOST_PORTS": "1001,1002,1003", "S3_HOST_PORT": "1002"}, "host ports must differ"),
])
def test_bad_host_ports_are_refused_with_the_variable_named(env, message):
    with pytest.raises(compose_env.ConfigError, match=re.escape(message)):
        compose_env.host_ports(topology.load(), env=env)


def test_render_refuses_values_an_env_file_would_mangle():
    assert compose_env.render({"A": "x/y:1", "B": 2}).splitlines()[1:] == ["A=x/y:1", "B=2"]
    with pytest.raises(compose_env.ConfigError, match="B: value has characters"):
        compose_env.render({"B": "two words"})


def test_every_variable_the_compose_file_uses_is_written():
    """Guards against drift: a ${VAR} in docker-compose.yml that compose_env.py never writes."""
    topo = topology.load()
    written = {
        *compose_env.image_names(compose_env.image_settings(env={})),
        *compose_env.topology_settings(topo),
        *compose_env.host_ports(topo, env={}),
        *secrets.GENERATORS,
        "SOURCE", "SIM_RATE",
    }
    lines = (ROOT / "docker-compose.yml").read_text().splitlines()
    code = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", code))
    assert "KAFKA_HOST_PORT_1" in used and "CLICKHOUSE_PASSWORD" in used
    assert used - written == set()
