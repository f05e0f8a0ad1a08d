"""OpenTofu for the infra tests: the binary and mirror `make tofu` builds, and a scratch copy of
the Terraform tree so that no test writes state, lock files or .terraform/ into the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from runtime.paths import CACHE_DIR
from stack.paths import ROOT

TOFU_HOME = CACHE_DIR / "tofu"
PINS_FILE = ROOT / "tools" / "tofu" / "pins.env"
TERRAFORM_DIR = ROOT / "terraform"
MODULES = sorted(p.name for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())
ENVS = sorted(p.name for p in (TERRAFORM_DIR / "envs").iterdir() if p.is_dir())
# What terraform/envs/* read outside terraform/ (yamldecode/file), and the script that applies an
# environment by name, copied next to the scratch tree.
SHARED_INPUTS = ("runtime/topology.yaml", "docker/images.env", "tools/tofu/env.sh")


def pinned_version() -> str:
    for line in PINS_FILE.read_text().splitlines():
        if line.startswith("TOFU_VERSION="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"{PINS_FILE} has no TOFU_VERSION line")


def tofu_binary() -> Path:
    return TOFU_HOME / "bin" / f"tofu-{pinned_version()}"


def tofu_env(**extra: str) -> dict[str, str]:
    """The caller's environment with the mirror-only CLI config and no prompts."""
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(TOFU_HOME / "tofurc"),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        **extra,
    }


def require_tofu() -> Path:
    binary = tofu_binary()
    if not binary.exists() or not (TOFU_HOME / "tofurc").exists():
        pytest.skip(f"{binary} or its mirror config is missing: run `make tofu`")
    return binary


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
        ) -> subprocess.CompletedProcess:
    """Run a command; on failure, fail the test with its whole output."""
    result = subprocess.run(args, cwd=cwd, env=env or tofu_env(), capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        pytest.fail(f"`{' '.join(map(str, args))}` exited {result.returncode} in {cwd}:\n"
                    f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return result


def scratch_tree(destination: Path) -> Path:
    """terraform/ plus the shared inputs, laid out as in the repository; returns its root."""
    shutil.copytree(TERRAFORM_DIR, destination / "terraform",
                    ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "generated"))
    for relative in SHARED_INPUTS:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    return destination
