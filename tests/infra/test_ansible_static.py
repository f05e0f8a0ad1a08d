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
