"""Static checks of ansible/: the playbook parses (syntax check against an inventory shaped
like the one terraform/envs/local writes) and ansible-lint passes (production profile)."""

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
    inventory = {"all": {"vars": {"ansible_connection": "community.docker.docker"},
                         "children": children}}
    path.write_text(yaml.safe_dump(inventory))
    return path


def test_playbook_syntax(tmp_path):
    inventory = sample_inventory(tmp_path / "inventory.yml")
    result = subprocess.run(
        [tool("ansible-playbook"), "--syntax-check", "-i", str(inventory),
         str(ANSIBLE_DIR / "deploy.yml")],
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
        assert (role / "README.md").exists(), f"{role.name} has no README.md"
        text = defaults.read_text()
        assert text.count("\n#") + text.startswith("#") > 0, f"{defaults} has no comments"
