"""Static checks of ansible/: every playbook parses (syntax check against an inventory shaped
like the one terraform/envs/local writes, and against the hand-written example inventory),
ansible-lint passes (production profile), and every role is documented."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stack.paths import ROOT

pytestmark = pytest.mark.infra

ANSIBLE_DIR = ROOT / "ansible"
VENV_BIN = Path(sys.executable).parent
GROUPS = ("kafka", "spark_master", "spark_workers", "clickhouse", "object_storage", "app")
PLAYBOOKS = sorted(p.name for p in ANSIBLE_DIR.glob("*.yml"))
EXAMPLE_INVENTORY = ANSIBLE_DIR / "inventories" / "example" / "hosts.yml"


def tool(name: str) -> str:
    path = VENV_BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed: run `make infra-tools` (the [infra] extra)")
    return str(path)


def ansible_env() -> dict[str, str]:
    # The venv's bin first, as an activated venv would have it (ansible-lint checks).
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_HOME": os.environ.get("ANSIBLE_HOME", str(Path.home() / ".ansible"))}


def sample_inventory(path: Path) -> Path:
    children = {group: {"hosts": {f"test-{group}-1": {}}} for group in GROUPS}
    children["spark"] = {"children": {"spark_master": {}, "spark_workers": {}}}
    inventory = {"all": {"vars": {"ansible_user": "root", "ansible_port": 22,
                                  "kafka_security_profile": "plaintext"},
                         "children": children}}
    path.write_text(yaml.safe_dump(inventory))
    return path


@pytest.mark.parametrize("playbook", PLAYBOOKS)
@pytest.mark.parametrize("inventory_kind", ["terraform-shaped", "example"])
def test_playbook_syntax(tmp_path, playbook, inventory_kind):
    inventory = (sample_inventory(tmp_path / "inventory.yml")
                 if inventory_kind == "terraform-shaped" else EXAMPLE_INVENTORY)
    result = subprocess.run(
        [tool("ansible-playbook"), "--syntax-check", "-i", str(inventory),
         str(ANSIBLE_DIR / playbook), "-e", "component=kafka"],
        env=ansible_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr


def test_ansible_lint_is_clean():
    if shutil.which("git") is None:
        pytest.skip("ansible-lint needs git to find the project root")
    result = subprocess.run(
        [tool("ansible-lint"), "--offline", "--nocolor", "--profile", "production"],
        cwd=ANSIBLE_DIR, env=ansible_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_role_documents_its_defaults():
    for role in sorted(p for p in (ANSIBLE_DIR / "roles").iterdir() if p.is_dir()):
        defaults = role / "defaults" / "main.yml"
        assert defaults.exists(), f"{role.name} has no defaults/main.yml"
        readme = role / "README.md"
        assert readme.exists(), f"{role.name} has no README.md"
        text = defaults.read_text()
        assert text.count("\n#") + text.startswith("#") > 0, f"{defaults} has no comments"
        documented = readme.read_text()
        for name in (yaml.safe_load(defaults.read_text()) or {}):
            assert name in documented or role.name == "settings", (
                f"roles/{role.name}/README.md does not mention {name}")


def test_no_role_assumes_docker():
    """A role configures any Debian host over SSH: no docker connection, command or module."""
    for path in (ANSIBLE_DIR / "roles").rglob("*.yml"):
        text = path.read_text()
        assert "community.docker" not in text and "docker exec" not in text, path


def role_tasks() -> list[tuple[Path, dict]]:
    """Every task of every role (blocks flattened), with the file it is in."""
    found = []

    def walk(path: Path, tasks) -> None:
        for task in tasks or []:
            if isinstance(task, dict):
                found.append((path, task))
                for key in ("block", "rescue", "always"):
                    walk(path, task.get(key))

    for path in sorted((ANSIBLE_DIR / "roles").glob("*/tasks/*.yml")):
        walk(path, yaml.safe_load(path.read_text()))
    return found


def test_read_only_probes_run_in_check_mode():
    """`deploy.yml --check` must see what the health checks see: an HTTP probe or a command that
    changes nothing (changed_when: false) whose result a fail or assert task judges has to run
    in --check (check_mode: false); skipped, it leaves the judge a result without a status."""
    tasks = role_tasks()
    judges = [yaml.safe_dump(task) for _, task in tasks
              if {"ansible.builtin.fail", "ansible.builtin.assert"} & set(task)]
    for path, task in tasks:
        modules = [key.rsplit(".", 1)[-1] for key in task if key.startswith("ansible.builtin.")]
        probe = (modules == ["uri"] or (modules in (["command"], ["shell"])
                                       and task.get("changed_when") is False))
        judged = "register" in task and any(task["register"] in judge for judge in judges)
        if probe and judged and "verify" not in path.name:
            assert task.get("check_mode") is False, (
                f"{path.relative_to(ROOT)}: '{task.get('name')}' is a read-only probe without "
                "check_mode: false")
