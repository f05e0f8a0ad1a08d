"""Infra fixtures: a Docker engine and a compose command, or a clean skip saying why not."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# Opt-in: a run over the whole tree (`make test-core`, `pytest tests`) skips the tests marked
# `infra`, which need Docker and the images; `make test-docker` / `make test-infra` (both part of
# `make test`) name their files. They also run with -m infra or CRYPTOSTREAM_INFRA_TESTS=1.
OPT_IN_VARIABLE = "CRYPTOSTREAM_INFRA_TESTS"
INFRA_DIR = Path(__file__).resolve().parent


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "infra: needs a Docker engine and the project's images (make images)"
    )


def _infra_selected(config) -> bool:
    if "infra" in (config.getoption("markexpr") or "") or os.environ.get(OPT_IN_VARIABLE) == "1":
        return True
    paths = (config.invocation_params.dir / arg.split("::")[0] for arg in config.args)
    return any(path.resolve().is_relative_to(INFRA_DIR) for path in paths)


def pytest_collection_modifyitems(config, items):
    if _infra_selected(config):
        return
    reason = f"infra tests are opt-in: name tests/infra, use -m infra, or {OPT_IN_VARIABLE}=1"
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("infra"):
            item.add_marker(skip)


def _answers(command: list[str]) -> bool:
    if not shutil.which(command[0]):
        return False
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if not _answers(["docker", "info"]):
        pytest.skip("no Docker engine answers `docker info` (start one with `make docker-engine`)")


@pytest.fixture(scope="session")
def second_release(tmp_path_factory) -> Path:
    """A second staged release (the same code under SECOND_VERSION), staged once for the
    upgrade and promotion tests; its folder's parent holds only it."""
    from tests.infra.pipeline_checks import SECOND_VERSION, stage_release

    return stage_release(tmp_path_factory.mktemp("second-release"), SECOND_VERSION)


@pytest.fixture(scope="session")
def compose_command(docker_engine) -> list[str]:
    """`docker compose` (v2 plugin) when present, else the v1 `docker-compose`;
    CRYPTOSTREAM_COMPOSE (e.g. "docker-compose") picks one."""
    chosen = os.environ.get("CRYPTOSTREAM_COMPOSE")
    candidates = [chosen.split()] if chosen else [["docker", "compose"], ["docker-compose"]]
    for command in candidates:
        if _answers([*command, "version"]):
            return command
    names = " or ".join(" ".join(command) for command in candidates)
    pytest.skip(f"{names} not installed (make docker-engine)")
