"""A node environment for the deploy-path tests: `tofu apply` of terraform/envs/local in a scratch
copy of the tree (its state, lock and generated files stay out of the repository), under its own
name prefix and host ports, then Ansible over SSH against the inventory it wrote.

The host talks to the nodes only through ports published on 127.0.0.1: SSH (Ansible, and the
checks that run a command on a node) and the HTTP ports of ClickHouse, S3 and the Spark UI.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stack.paths import ROOT
from tests.infra.tofu_support import require_tofu, run, scratch_tree, tofu_env
from tests.support import wait_until

ANSIBLE_DIR = ROOT / "ansible"
VENV_BIN = Path(sys.executable).parent
LABEL = "com.cryptostream.stack"
RECAP = re.compile(
    r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
# SSH ports: a block of 16 per group, six groups (terraform/modules/docker_nodes).
SSH_BLOCK = 16 * 6


@dataclass
class Recap:
    output: str
    changed: dict[str, int]

    @property
    def total_changed(self) -> int:
        return sum(self.changed.values())


@dataclass
class NodeEnv:
    """One terraform/envs/local environment made for a test."""

    prefix: str
    tree: Path
    variables: dict[str, str]
    secrets: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    # Another inventory for the same hosts (e.g. a hand-written one); None = Terraform's.
    inventory_override: Path | None = None
    # A named environment (ENV of the Makefile) is applied and destroyed as `make infra-apply
    # ENV=<name>` does it: tools/tofu/env.sh, workspace <name>, <name>.tfvars; the variables
    # above override the file's (ports, prefix). None: plain `tofu apply` with the variables.
    name: str | None = None

    @property
    def directory(self) -> Path:
        return self.tree / "terraform" / "envs" / "local"

    @property
    def output_dir(self) -> Path:
        return (self.directory / "generated" / self.name) if self.name else (
            self.tree / "generated")

    @property
    def inventory(self) -> Path:
        return self.output_dir / "inventory.yml"

    @property
    def endpoints(self) -> dict:
        return json.loads((self.output_dir / "endpoints.json").read_text())

    def tofu(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        env = tofu_env(**{f"TF_VAR_{k}": v for k, v in self.variables.items()})
        return run([str(require_tofu()), *args, "-input=false", "-no-color"], cwd=self.directory,
                   env=env, timeout=timeout)

    def by_name(self, action: str) -> None:
        """tools/tofu/env.sh <action> <name>, the Makefile's way, with -var overrides."""
        overrides = [f"-var={key}={value}" for key, value in self.variables.items()]
        run([str(self.tree / "tools" / "tofu" / "env.sh"), action, self.name, "-no-color",
             *overrides], cwd=self.tree, env=tofu_env(TOFU=str(require_tofu())), timeout=900)

    def apply(self, *extra: str) -> None:
        """tofu apply, then wait until every node answers over SSH (systemd is still booting
        when the container has started)."""
        if self.name and not extra:
            self.by_name("apply")
        else:
            self.tofu("apply", "-auto-approve", *extra)
        for host in self.endpoints["ssh"]:
            wait_until(lambda host=host: self.ssh(host, "true", timeout=20, check=False)
                       .returncode == 0, 90, interval=1, message=f"SSH to {host}")

    def destroy(self) -> None:
        if self.name:
            self.by_name("destroy")
        else:
            self.tofu("destroy", "-auto-approve")

    def ansible_env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
                "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0", **self.secrets, **extra}

    def playbook(self, playbook: str, *args: str, expect_success: bool = True,
                 timeout: float = 1800, env: dict[str, str] | None = None) -> Recap:
        """ansible-playbook ansible/<playbook> against this environment's inventory."""
        result = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i",
             str(self.inventory_override or self.inventory),
             str(ANSIBLE_DIR / playbook), *args],
            env=env or self.ansible_env(), capture_output=True, text=True, timeout=timeout,
        )
        output = result.stdout + result.stderr
        if expect_success:
            assert result.returncode == 0, output[-10000:]
        changed = {host: int(count) for host, count, _, _ in RECAP.findall(output)}
        assert changed or not expect_success, f"no PLAY RECAP in:\n{output[-4000:]}"
        return Recap(output, changed)

    def host(self, group: str, index: int = 0) -> str:
        nodes = sorted(name for name in self.endpoints["ssh"]
                       if name.startswith(f"{self.prefix}-{group}-"))
        return nodes[index]

    def ssh(self, host: str, command: str, timeout: float = 300, check: bool = True
            ) -> subprocess.CompletedProcess:
        """Run a shell command on a node as root, over the inventory's SSH settings."""
        target = self.endpoints["ssh"][host].split()  # root@127.0.0.1 -p PORT
        key = self.endpoints["ssh_private_key"]
        known_hosts = str(Path(key).parent / "known_hosts")
        args = ["ssh", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={known_hosts}",
                *target[1:], target[0], command]
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            pytest.fail(f"`{command}` on {host} exited {result.returncode}:\n"
                        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def app_python(self, code: str, service: str = "producer", timeout: float = 300) -> str:
        """Run Python on the app host with the release's venv and a service's environment."""
        command = (f"set -a; . /etc/cryptostream/{service}.env; set +a; "
                   f"/opt/cryptostream/current/venv/bin/python -c {shlex.quote(code)}")
        return self.ssh(self.host("app"), command, timeout=timeout).stdout


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(service_ports: list[int]) -> tuple[int, int]:
    """(ssh_port_base, host_port_offset) whose ports are all free on 127.0.0.1."""
    for base in range(22000, 60000, 211):
        offset = base - 1000
        wanted = [*range(base, base + SSH_BLOCK), *(p + offset for p in service_ports)]
        if all(0 < p < 65536 and port_is_free(p) for p in wanted):
            return base, offset
    raise RuntimeError("no free range of host ports for a test environment")


def new_secrets(profile: str) -> dict[str, str]:
    values = {
        "CLICKHOUSE_PASSWORD": secrets.token_urlsafe(18),
        "AWS_ACCESS_KEY_ID": "LK" + secrets.token_hex(9).upper(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
    }
    if profile == "sasl_ssl":
        values["KAFKA_ADMIN_PASSWORD"] = secrets.token_urlsafe(18)
        values["KAFKA_APP_PASSWORD"] = secrets.token_urlsafe(18)
    return values


def create(tmp: Path, profile: str | None = "plaintext", name: str | None = None,
           **variables: str) -> NodeEnv:
    """Scratch tree + `tofu init`; the caller applies (and must destroy). A `name`d environment
    takes its profile and sizes from terraform/envs/local/<name>.tfvars (profile None)."""
    from runtime import topology

    topo = topology.load()
    prefix = f"cs-t{uuid.uuid4().hex[:5]}"
    ssh_base, offset = free_ports([topo.clickhouse_http_port, topo.s3_port,
                                   topo.spark_master_ui_port])
    tree = scratch_tree(tmp)
    settings = {
        "name_prefix": prefix,
        "ssh_port_base": str(ssh_base),
        "host_port_offset": str(offset),
        "ssh_key_dir": str(tree / "ssh"),
        **({} if name else {"output_dir": str(tree / "generated")}),
        **({"kafka_security_profile": profile} if profile else {}),
        **variables,
    }
    env = NodeEnv(prefix, tree, settings, new_secrets(profile or tfvars_profile(name)),
                  name=name)
    env.tofu("init", "-lockfile=readonly")
    return env


def tfvars_profile(name: str) -> str:
    """The kafka_security_profile a committed <name>.tfvars sets (plaintext if none)."""
    text = (ROOT / "terraform" / "envs" / "local" / f"{name}.tfvars").read_text()
    match = re.search(r'^kafka_security_profile\s*=\s*"([a-z_]+)"', text, re.M)
    return match.group(1) if match else "plaintext"


def docker_names(kind: str, prefix: str) -> list[str]:
    """Containers / volumes / networks carrying the stack label or the name prefix."""
    listing = {"container": ["docker", "ps", "-a"], "volume": ["docker", "volume", "ls"],
               "network": ["docker", "network", "ls"]}[kind]
    names = set()
    for filters in (["--filter", f"label={LABEL}={prefix}"], ["--filter", f"name={prefix}"]):
        out = subprocess.run([*listing, *filters, "--format",
                              "{{.Names}}" if kind == "container" else "{{.Name}}"],
                             capture_output=True, text=True, check=True)
        names.update(line for line in out.stdout.split() if line)
    return sorted(names)


def require_node_image() -> None:
    text = (ROOT / "docker" / "images.env").read_text()
    prefix = re.search(r"IMAGE_PREFIX=\$\{IMAGE_PREFIX:-([^}]+)\}", text).group(1)
    tag = os.environ.get("IMAGE_TAG") or re.search(
        r"IMAGE_TAG=\$\{IMAGE_TAG:-([^}]+)\}", text).group(1)
    image = f"{prefix}/node:{tag}"
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
        pytest.skip(f"image {image} missing (run `make images`)")


def require_release() -> Path:
    release = Path(os.environ.get("CRYPTOSTREAM_RELEASE_DIR") or
                   Path.home() / ".cache" / "cryptostream" / "releases" / "current")
    if not (release / "release.json").exists():
        pytest.skip(f"no release staged at {release} (run `make release`)")
    return release
