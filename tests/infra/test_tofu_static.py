"""Static checks of terraform/: formatting, and `tofu validate` of every module and environment
with providers from the local mirror only (`make tofu`). No Docker engine needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.infra.tofu_support import (
    ENVS,
    MODULES,
    TERRAFORM_DIR,
    require_tofu,
    run,
    scratch_tree,
    tofu_env,
)

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def tofu() -> Path:
    return require_tofu()


def validate(tofu: Path, directory: Path, data_dir: Path, lockfile_readonly: bool) -> dict:
    env = tofu_env(TF_DATA_DIR=str(data_dir))
    init = [str(tofu), "init", "-backend=false", "-input=false", "-no-color"]
    if lockfile_readonly:
        init.append("-lockfile=readonly")
    run(init, cwd=directory, env=env)
    result = run([str(tofu), "validate", "-json", "-no-color"], cwd=directory, env=env)
    return json.loads(result.stdout)


def test_terraform_is_formatted(tofu):
    result = run([str(tofu), "fmt", "-check", "-recursive", "-diff", "-no-color", "."],
                 cwd=TERRAFORM_DIR)
    assert result.stdout == ""


@pytest.mark.parametrize("module", MODULES)
def test_module_validates(tofu, tmp_path, module):
    tree = scratch_tree(tmp_path)
    report = validate(tofu, tree / "terraform" / "modules" / module, tmp_path / "data",
                      lockfile_readonly=False)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)


@pytest.mark.parametrize("env", ENVS)
def test_environment_validates_against_its_lock_file(tofu, tmp_path, env):
    """-lockfile=readonly: the committed .terraform.lock.hcl must match the mirror's builds."""
    tree = scratch_tree(tmp_path)
    directory = tree / "terraform" / "envs" / env
    has_providers = (TERRAFORM_DIR / "envs" / env / ".terraform.lock.hcl").exists()
    report = validate(tofu, directory, tmp_path / "data", lockfile_readonly=has_providers)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)


def test_every_module_is_documented():
    for module in MODULES:
        directory = TERRAFORM_DIR / "modules" / module
        missing = [name for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf",
                                     "README.md") if not (directory / name).exists()]
        assert not missing, f"modules/{module} lacks {missing}"
        readme = (directory / "README.md").read_text()
        variables = (directory / "variables.tf").read_text()
        for name in _declared(variables, "variable"):
            assert f"`{name}`" in readme, f"modules/{module}/README.md does not mention {name}"


def _declared(text: str, kind: str) -> list[str]:
    return [line.split('"')[1] for line in text.splitlines() if line.startswith(f'{kind} "')]


@pytest.mark.parametrize("env", [e for e in ENVS
                                 if (TERRAFORM_DIR / "envs" / e / "tests").is_dir()])
def test_environment_plan_tests_pass(tofu, tmp_path, env):
    """`tofu test` (mocked providers): hosts per group, ports, inventory shape, validations."""
    tree = scratch_tree(tmp_path)
    directory = tree / "terraform" / "envs" / env
    data_env = tofu_env(TF_DATA_DIR=str(tmp_path / "data"))
    run([str(tofu), "init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly"],
        cwd=directory, env=data_env)
    result = run([str(tofu), "test", "-no-color"], cwd=directory, env=data_env)
    assert "0 failed" in result.stdout, result.stdout


@pytest.mark.parametrize("module", [m for m in MODULES
                                    if (TERRAFORM_DIR / "modules" / m / "tests").is_dir()])
def test_module_tests_pass(tofu, tmp_path, module):
    """`tofu test` of a module (mocked providers): its rules and outputs, and that each of its
    `examples/` plans."""
    tree = scratch_tree(tmp_path)
    directory = tree / "terraform" / "modules" / module
    data_env = tofu_env(TF_DATA_DIR=str(tmp_path / "data"))
    run([str(tofu), "init", "-backend=false", "-input=false", "-no-color"], cwd=directory,
        env=data_env)
    result = run([str(tofu), "test", "-no-color"], cwd=directory, env=data_env)
    assert "0 failed" in result.stdout, result.stdout
