"""Promote the release one environment runs to another; roll an environment back; show either.

    python -m tools.release.promote status ENV               (make release-status ENV=...)
    python -m tools.release.promote promote FROM TO          (make promote FROM=... TO=...)
    python -m tools.release.promote rollback ENV             (make rollback ENV=...)

An environment is a name with an Ansible inventory: <dir>/<name>/inventory.yml for each dir of
CRYPTOSTREAM_ENV_DIRS (default terraform/envs/local/generated and terraform/envs/cloud/generated,
where each env's Terraform writes it). What an environment runs is its deployment record, which
every deploy.yml writes on the first app host (role `deployment`): the release manifest (the
app wheel's version and sha256, every artefact's sha256, the Kafka, Spark, ClickHouse-engine and
LocalStack versions, the migrations head, the topology hash), the provider lock hash, when and
how it came.

promote FROM TO deploys to TO exactly the release live in FROM:
  1. FROM has a release; the same bytes are staged on this controller (CRYPTOSTREAM_RELEASES,
     default ~/.cache/cryptostream/releases: release.json must equal FROM's manifest);
  2. TO's schema is not ahead: the newest migration applied in TO's ClickHouse is at most the
     release's migrations head (an older app on a newer schema is refused);
  3. FROM passes the health gate (ansible/health_gate.yml: windows arriving, consumer lag and
     rejected records under thresholds, runtime/health_gate.py);
  4. deploy.yml against TO with that release, then TO's record must name it, and TO must pass
     the gate within --verify-timeout seconds.
Any refusal changes nothing and says why. rollback ENV deploys the newest release in ENV's
history that differs from the current one, with the checks 1 and 2.

Exit status: 0 done (or nothing to do), 1 refused or failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = ROOT / "ansible"
DEFAULT_ENV_DIRS = (ROOT / "terraform" / "envs" / "local" / "generated",
                    ROOT / "terraform" / "envs" / "cloud" / "generated")
CACHE = Path(os.environ.get("CRYPTOSTREAM_CACHE", Path.home() / ".cache" / "cryptostream"))
GATE_SETTINGS = ("max_window_age_s", "max_lag", "max_rejected_ratio", "lookback_s")


class Refused(RuntimeError):
    """A promotion or rollback that must not happen; nothing was changed."""


# --- pure logic: what to do, from what was read ---------------------------------------------


@dataclass(frozen=True)
class Status:
    """An environment's deployment record and schema head (ansible/release_status.yml)."""

    name: str
    current: dict | None
    history: list[dict]
    schema_head: int | None
    schema_error: str = ""

    @classmethod
    def from_json(cls, name: str, data: Mapping) -> Status:
        return cls(name, data.get("current"), list(data.get("history") or []),
                   data.get("schema_head"), data.get("schema_error") or "")

    @property
    def release(self) -> dict | None:
        return (self.current or {}).get("release")


def describe(release: Mapping | None) -> str:
    if not release:
        return "no release"
    return f"{release['version']} (wheel sha256 {release['project_wheel']['sha256'][:12]})"


def schema_refusal(target: Status, release: Mapping, allow_ahead: bool = False) -> str | None:
    """Why `release` must not run on target's schema, or None."""
    head = int(release["migrations_head"])
    if target.schema_head is None:
        if target.current is None:
            return None  # never deployed: no schema yet, the deploy makes it
        return (f"cannot read {target.name}'s schema head from ClickHouse "
                f"({target.schema_error or 'no answer'}); is {target.name} healthy?")
    if target.schema_head > head and not allow_ahead:
        return (f"{target.name}'s schema is ahead: migration {target.schema_head} is applied, "
                f"release {release['version']} knows migrations up to {head}; deploy a release "
                f"with migrations up to {target.schema_head} instead")
    return None


def previous_release(status: Status) -> dict | None:
    """The newest release in the history that differs from the current one."""
    for entry in reversed(status.history):
        if entry.get("release") and entry["release"] != status.release:
            return entry["release"]
    return None


def staged_release(release: Mapping, directories: Iterable[Path]) -> Path | None:
    """The staged release directory whose manifest is exactly `release`."""
    for directory in directories:
        if not directory.is_dir():
            continue
        for manifest in sorted(directory.glob("*/release.json")):
            if manifest.parent.is_symlink():
                continue
            try:
                if json.loads(manifest.read_text()) == release:
                    return manifest.parent
            except (OSError, ValueError):
                continue
    return None


def inventory_path(name: str, env_dirs: Sequence[Path]) -> Path:
    """The inventory of environment `name`, or Refused naming where it looked."""
    for directory in env_dirs:
        candidate = directory / name / "inventory.yml"
        if candidate.is_file():
            return candidate
    known = sorted({inventory.parent.name for directory in env_dirs if directory.is_dir()
                    for inventory in directory.glob("*/inventory.yml")})
    raise Refused(
        f"no environment {name!r}: no {name}/inventory.yml in {', '.join(map(str, env_dirs))} "
        f"(known: {', '.join(known) or 'none'}); create it with `make infra-apply ENV={name}`")


# --- I/O: Ansible against an environment ----------------------------------------------------


@dataclass
class Environment:
    name: str
    inventory: Path

    def playbook(self, playbook: str, *args: str, env: Mapping[str, str] | None = None,
                 capture: bool = True) -> subprocess.CompletedProcess:
        command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i",
                   str(self.inventory), str(ANSIBLE_DIR / playbook), *args]
        environment = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
                       **(env or {})}
        result = subprocess.run(command, env=environment, text=True,
                                capture_output=capture, check=False)
        if result.returncode != 0:
            tail = ((result.stdout or "") + (result.stderr or ""))[-4000:]
            raise RuntimeError(f"{playbook} against {self.name} failed (exit "
                               f"{result.returncode}){':' + chr(10) + tail if tail else ''}")
        return result

    def answer(self, playbook: str, variable: str, *args: str) -> dict:
        """Run a read-only playbook that writes its JSON answer to `variable`'s file."""
        with tempfile.TemporaryDirectory(prefix="cryptostream-promote-") as scratch:
            path = Path(scratch) / "answer.json"
            self.playbook(playbook, "-e", f"{variable}={path}", *args)
            return json.loads(path.read_text())

    def status(self) -> Status:
        return Status.from_json(self.name, self.answer("release_status.yml",
                                                       "deployment_status_file"))

    def gate(self, settings: Mapping[str, str]) -> dict:
        extra = [arg for key, value in settings.items()
                 for arg in ("-e", f"deployment_gate_{key}={value}")]
        return self.answer("health_gate.yml", "deployment_gate_file", *extra)

    def deploy(self, release_dir: Path, action: str, source: str = "") -> None:
        self.playbook("deploy.yml", "-e", f"deployment_action={action}",
                      "-e", f"deployment_source={source}",
                      env={"CRYPTOSTREAM_RELEASE_DIR": str(release_dir)}, capture=False)


def log(message: str) -> None:
    print(f"promote: {message}", file=sys.stderr, flush=True)


def path_list(variable: str, default: Sequence[Path]) -> list[Path]:
    value = os.environ.get(variable, "")
    return [Path(p) for p in value.split(os.pathsep) if p] if value else list(default)


def locate(name: str) -> Environment:
    return Environment(name, inventory_path(name, path_list("CRYPTOSTREAM_ENV_DIRS",
                                                            DEFAULT_ENV_DIRS)))


def require_staged(release: Mapping) -> Path:
    directories = path_list("CRYPTOSTREAM_RELEASES", [CACHE / "releases"])
    found = staged_release(release, directories)
    if found is None:
        raise Refused(
            f"release {describe(release)} is not staged on this controller (looked in "
            f"{', '.join(map(str, directories))}); promotion installs exactly the bytes the "
            f"source runs, so keep that release staged (RELEASES_KEEP) or redeploy the source")
    return found


def require_gate(environment: Environment, settings: Mapping[str, str], role: str) -> dict:
    verdict = environment.gate(settings)
    if not verdict.get("passed"):
        raise Refused(f"{environment.name} fails the health gate ({role}): "
                      + "; ".join(verdict.get("failures") or ["no verdict"]))
    return verdict


def wait_for_gate(environment: Environment, settings: Mapping[str, str], timeout_s: float
                  ) -> dict:
    """The gate of a freshly deployed environment, asked until it passes or time is up (its
    first windows take a minute or two)."""
    deadline = time.monotonic() + timeout_s
    while True:
        verdict = environment.gate(settings)
        if verdict.get("passed") or time.monotonic() >= deadline:
            return verdict
        time.sleep(15)


# --- commands -------------------------------------------------------------------------------


def show_status(name: str) -> int:
    status = locate(name).status()
    print(json.dumps({"environment": name, "release": describe(status.release),
                      "schema_head": status.schema_head,
                      "deployed_at": (status.current or {}).get("deployed_at"),
                      "history": [f"{e.get('deployed_at')} {e.get('action')} "
                                  f"{describe(e.get('release'))}" for e in status.history]},
                     indent=2))
    return 0


def promote(source_name: str, target_name: str, gate: Mapping[str, str],
            verify_timeout_s: float) -> int:
    if source_name == target_name:
        raise Refused(f"FROM and TO are the same environment ({source_name})")
    source, target = locate(source_name), locate(target_name)
    source_status = source.status()
    release = source_status.release
    if release is None:
        raise Refused(f"{source_name} has no release deployed (no deployment record on its app "
                      f"host): deploy it first; nothing to promote")
    log(f"{source_name} runs {describe(release)}")
    release_dir = require_staged(release)
    target_status = target.status()
    refusal = schema_refusal(target_status, release)
    if refusal:
        raise Refused(refusal)
    verdict = require_gate(source, gate, "source")
    log(f"{source_name} passes the health gate: {json.dumps(verdict.get('observed'))}")
    if target_status.release == release:
        log(f"{target_name} already runs {describe(release)}: nothing to do")
        return 0
    log(f"deploying {describe(release)} to {target_name} (was {describe(target_status.release)})")
    target.deploy(release_dir, "promote", source_name)
    confirm(target, release, gate, verify_timeout_s)
    return 0


def rollback(name: str, allow_schema_ahead: bool, gate: Mapping[str, str],
             verify_timeout_s: float) -> int:
    environment = locate(name)
    status = environment.status()
    if status.release is None:
        raise Refused(f"{name} has no release deployed: nothing to roll back")
    release = previous_release(status)
    if release is None:
        raise Refused(f"{name} has no earlier release in its history than "
                      f"{describe(status.release)}: nothing to roll back to")
    release_dir = require_staged(release)
    refusal = schema_refusal(status, release, allow_schema_ahead)
    if refusal:
        raise Refused(refusal + " (or --allow-schema-ahead when the newer migrations are "
                                "additive and the older release ignores them)")
    log(f"rolling {name} back from {describe(status.release)} to {describe(release)}")
    environment.deploy(release_dir, "rollback")
    confirm(environment, release, gate, verify_timeout_s)
    return 0


def confirm(environment: Environment, release: Mapping, gate: Mapping[str, str],
            verify_timeout_s: float) -> None:
    recorded = environment.status().release
    if recorded != release:
        raise RuntimeError(f"{environment.name} records {describe(recorded)} after the deploy, "
                           f"not {describe(release)}")
    if verify_timeout_s <= 0:
        log(f"{environment.name} runs {describe(release)} (health not verified)")
        return
    verdict = wait_for_gate(environment, gate, verify_timeout_s)
    if not verdict.get("passed"):
        raise RuntimeError(
            f"{environment.name} runs {describe(release)} but fails the health gate after "
            f"{verify_timeout_s:.0f} s: {'; '.join(verdict.get('failures') or [])}; "
            f"`make rollback ENV={environment.name}` returns it to its previous release")
    log(f"{environment.name} runs {describe(release)} and passes the health gate")


def gate_settings(pairs: Sequence[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in GATE_SETTINGS:
            raise argparse.ArgumentTypeError(
                f"--gate {pair!r}: expected NAME=VALUE with NAME one of {', '.join(GATE_SETTINGS)}")
        settings[key] = value
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gate", action="append", default=[], metavar="NAME=VALUE",
                        help=f"a health-gate threshold ({', '.join(GATE_SETTINGS)}); repeatable")
    parser.add_argument("--verify-timeout", type=float, default=600, metavar="S",
                        help="seconds the target gets to pass the gate after the deploy "
                             "(default 600; 0 skips the check)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="what ENV runs").add_argument("env")
    promote_parser = commands.add_parser("promote", help="deploy FROM's release to TO")
    promote_parser.add_argument("source", metavar="FROM")
    promote_parser.add_argument("target", metavar="TO")
    rollback_parser = commands.add_parser("rollback", help="ENV back to its previous release")
    rollback_parser.add_argument("env")
    rollback_parser.add_argument("--allow-schema-ahead", action="store_true")
    args = parser.parse_args(argv)
    try:
        gate = gate_settings(args.gate)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    try:
        if args.command == "status":
            return show_status(args.env)
        if args.command == "promote":
            return promote(args.source, args.target, gate, args.verify_timeout)
        return rollback(args.env, args.allow_schema_ahead, gate, args.verify_timeout)
    except Refused as refusal:
        log(f"refused: {refusal}")
        return 1
    except RuntimeError as error:
        log(f"failed: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
