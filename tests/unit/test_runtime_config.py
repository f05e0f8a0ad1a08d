"""The runtime package: topology, credentials, object storage, what a wheel carries, and that
runtime code does not depend on the dev runner (stack/)."""

from __future__ import annotations

import ast
import fnmatch
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from runtime import object_storage, secrets, topology

ROOT = Path(__file__).resolve().parents[2]


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


def test_a_malformed_override_names_its_variable(monkeypatch):
    topology.load.cache_clear()
    monkeypatch.setenv("KAFKA_PARTITIONS", "three")
    try:
        with pytest.raises(ValueError, match="KAFKA_PARTITIONS='three': expected int"):
            topology.load()
    finally:
        topology.load.cache_clear()


def test_topology_yaml_is_package_data_and_cryptostream_topology_overrides_it(tmp_path):
    assert topology.TOPOLOGY_FILE == ROOT / "runtime" / "topology.yaml"
    other = tmp_path / "topology.yaml"
    other.write_text(topology.TOPOLOGY_FILE.read_text().replace("raw_crypto_trades", "elsewhere"))
    code = "from runtime import topology; print(topology.load().trades_topic)"
    env = {**os.environ, "CRYPTOSTREAM_TOPOLOGY": str(other)}
    env.pop("KAFKA_TOPIC", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "elsewhere"


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


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
def test_ensure_bucket_creates_once(region):
    with mock_aws():
        s3 = boto3.client("s3", region_name=region)
        assert object_storage.ensure_bucket(s3, "checkpoints") is True
        assert object_storage.ensure_bucket(s3, "checkpoints") is False
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["checkpoints"]
        location = s3.get_bucket_location(Bucket="checkpoints")["LocationConstraint"]
        assert location == (None if region == "us-east-1" else region)


def _package_data() -> tuple[list[str], dict[str, list[str]]]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return setuptools["packages"]["find"]["include"], setuptools["package-data"]


@pytest.mark.parametrize("pattern", ["runtime/topology.yaml", "clickhouse/migrations/*.sql"])
def test_the_wheel_carries_the_files_the_runtime_reads(pattern):
    """Every such file is matched by a package-data glob of an included package (setuptools
    packs exactly those); building a wheel here would take too long for a unit test."""
    include, package_data = _package_data()
    files = sorted(ROOT.glob(pattern))
    assert files, f"nothing on disk matches {pattern}"
    for path in files:
        package, relative = path.relative_to(ROOT).as_posix().split("/", 1)
        assert any(fnmatch.fnmatchcase(package, glob) for glob in include), package
        globs = package_data.get(package, [])
        assert any(fnmatch.fnmatchcase(relative, glob) for glob in globs), (
            f"{path.relative_to(ROOT)} is not in [tool.setuptools.package-data] {package}")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["runtime", "producer", "spark_jobs", "clickhouse"])
def test_runtime_code_does_not_import_the_dev_runner(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in _imported_modules(path)
                                            if name == "stack" or name.startswith("stack."))
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}

