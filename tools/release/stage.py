"""Stage a release on the controller: every artefact the nodes need, built or fetched once.

    python tools/release/stage.py [--version V] [--output DIR]     (make release)

Writes $CRYPTOSTREAM_CACHE/releases/<version>/ and points releases/current at it:

  wheelhouse.tar             the project's wheel, its native hot path and every runtime
                             dependency at requirements.lock's versions (app and ClickHouse nodes)
  spark-wheels.tar           pyspark and py4j only (Spark nodes: the same Spark as the job's client)
  kafka-libs.tar             the broker's jars (jvm/kafka/pom.xml, resolved by `make jars`)
  spark-connectors.tar       the job's connector jars: Kafka source, S3A (jvm/spark/pom.xml); the
                             driver (app node) ships them to the executors
  localstack-wheelhouse.tar  LocalStack's pinned environment, and localstack-requirements.lock,
                             the pins it is installed by (localstack/requirements.lock)
  release.json               the manifest: versions, sha256 of each artefact, migrations head,
                             topology hash; what a deploy installs and what promotion moves

Nodes need no registry: Ansible copies these files and installs from them. Tars are written in a
fixed order with fixed metadata, so the same inputs give the same bytes (Ansible's copy then sees
nothing to do). A release directory that already has its manifest is reused as it is.

The version is pyproject's version plus the git commit as a local label (0.1.0+g1a2b3c4), with
`.dirty<hash>` when the work tree has uncommitted changes; --version overrides it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CRYPTOSTREAM_CACHE", Path.home() / ".cache" / "cryptostream"))
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
SPARK_WHEELS = ("pyspark", "py4j")
# What is copied into the scratch tree the project's wheel is built from.
SOURCES = ("pyproject.toml", "README.md", "runtime", "stack", "producer", "spark_jobs",
           "clickhouse", "demo", "dashboard")


class StageError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"release: {message}", file=sys.stderr, flush=True)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def default_version() -> str:
    base = pyproject()["project"]["version"]
    try:
        commit = git("rev-parse", "--short=7", "HEAD")
        diff = git("diff", "HEAD") + git("ls-files", "--others", "--exclude-standard")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return base
    label = f"g{commit}"
    if diff:
        label += ".dirty" + hashlib.sha256(diff.encode()).hexdigest()[:8]
    return f"{base}+{label}"


def pinned(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[normalize(match.group(1))] = match.group(2)
    return pins


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_tar(output: Path, files: list[Path]) -> None:
    """A tar of `files` (flat), sorted, with fixed owner and times: same inputs, same bytes."""
    tmp = output.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files, key=lambda p: p.name):
            info = tar.gettarinfo(str(path), arcname=path.name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            info.mode = 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    tmp.replace(output)


def build_project_wheel(version: str, into: Path) -> Path:
    """The project's wheel at `version`, built from a scratch copy (pyproject's version is
    rewritten there, never in the work tree)."""
    with tempfile.TemporaryDirectory(prefix="cryptostream-src-") as scratch:
        src = Path(scratch)
        for name in SOURCES:
            path = ROOT / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=shutil.ignore_patterns(
                    "__pycache__", "*.pyc", "fastpath", "*.egg-info", "node_modules"))
            elif path.exists():
                shutil.copy2(path, src / name)
        text = (src / "pyproject.toml").read_text()
        text = re.sub(r'(?m)^version = "[^"]+"', f'version = "{version}"', text, count=1)
        (src / "pyproject.toml").write_text(text)
        run([*PIP, "wheel", "-q", "--no-deps", "-w", str(into), str(src)])
    return one(into, "cryptostream-")


def build_fastpath_wheel(into: Path) -> Path:
    cargo_bin = Path.home() / ".cargo" / "bin"
    env = {**os.environ, "PATH": f"{cargo_bin}{os.pathsep}{os.environ['PATH']}",
           "CARGO_TARGET_DIR": os.environ.get("CARGO_TARGET_DIR", str(CACHE / "cargo-target"))}
    run([*PIP, "wheel", "-q", "--no-deps", "-w", str(into), str(ROOT / "producer" / "fastpath")],
        env=env)
    return one(into, "cryptostream_fastpath-")


def one(directory: Path, prefix: str) -> Path:
    found = [p for p in directory.glob("*.whl") if p.name.lower().startswith(prefix.lower())]
    if len(found) != 1:
        raise StageError(f"expected one {prefix}*.whl in {directory}, found {found}")
    return found[0]


def dependency_wheels(requirements: list[str], lock: Path, into: Path) -> None:
    """Wheels of `requirements` and everything they need, at the lock file's versions (pip's
    cache makes a second stage quick; sdists such as pyspark's are built once and cached)."""
    req = into / "requirements.txt"
    req.write_text("\n".join(requirements) + "\n")
    run([*PIP, "wheel", "-q", "-w", str(into), "-c", str(lock), "-r", str(req)])
    req.unlink()


def jars(name: str) -> list[Path]:
    classpath = CACHE / "jvm" / f"{name}.classpath"
    if not classpath.exists():
        raise StageError(f"{classpath} is missing: run `make jars`")
    return [Path(p) for p in classpath.read_text().strip().split(":") if p]


def wheel_version(wheels: list[Path], project: str) -> str:
    for wheel in wheels:
        name, version = wheel.name.split("-")[:2]
        if normalize(name) == normalize(project):
            return version
    raise StageError(f"no {project} wheel among {[w.name for w in wheels]}")


def jar_version(paths: list[Path], artifact: str) -> str:
    for path in paths:
        match = re.fullmatch(rf"{re.escape(artifact)}-(\d[\w.\-]*)\.jar", path.name)
        if match:
            return match.group(1)
    raise StageError(f"no {artifact} jar among the classpath")


def migrations_head() -> int:
    numbers = [int(p.name.split("_")[0]) for p in (ROOT / "clickhouse" / "migrations").glob(
        "[0-9]*_*.sql")]
    return max(numbers)


def run(args: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise StageError(f"`{' '.join(args)}` failed:\n{result.stdout[-3000:]}"
                         f"{result.stderr[-3000:]}")


def stage(version: str, releases: Path) -> Path:
    target = releases / version
    manifest_path = target / "release.json"
    if manifest_path.exists():
        log(f"{version} already staged in {target}")
        return target
    work = releases / f".{version}.partial"
    shutil.rmtree(work, ignore_errors=True)
    wheels, local_wheels = work / "wheels", work / "localstack-wheels"
    wheels.mkdir(parents=True)
    local_wheels.mkdir()

    log(f"building the project's wheels ({version})")
    project_wheel = build_project_wheel(version, wheels)
    fastpath_wheel = build_fastpath_wheel(wheels)
    log("collecting the runtime dependencies' wheels (requirements.lock)")
    dependency_wheels(pyproject()["project"]["dependencies"], ROOT / "requirements.lock", wheels)
    log("collecting LocalStack's wheels (localstack/requirements.lock)")
    dependency_wheels([line for line in (ROOT / "localstack" / "requirements.lock").read_text()
                       .splitlines() if line and not line.startswith("#")],
                      ROOT / "localstack" / "requirements.lock", local_wheels)

    all_wheels = sorted(wheels.glob("*.whl"))
    spark_wheels = [w for w in all_wheels if normalize(w.name.split("-")[0]) in SPARK_WHEELS]
    kafka_jars = jars("kafka")
    artefacts = {
        "wheelhouse.tar": all_wheels,
        "spark-wheels.tar": spark_wheels,
        "kafka-libs.tar": kafka_jars,
        "spark-connectors.tar": jars("spark"),
        "localstack-wheelhouse.tar": sorted(local_wheels.glob("*.whl")),
    }
    for name, files in artefacts.items():
        write_tar(work / name, files)
    shutil.copy2(ROOT / "localstack" / "requirements.lock", work / "localstack-requirements.lock")
    pins = pinned(ROOT / "requirements.lock")
    manifest = {
        "version": version,
        "commit": _commit(),
        "project_wheel": {"file": project_wheel.name, "sha256": sha256(project_wheel)},
        "fastpath_wheel": {"file": fastpath_wheel.name, "sha256": sha256(fastpath_wheel)},
        "artefacts": {name: {"sha256": sha256(work / name), "files": len(files)}
                      for name, files in artefacts.items()},
        "versions": {
            "kafka": jar_version(kafka_jars, "kafka_2.13"),
            "spark": wheel_version(all_wheels, "pyspark"),
            "clickhouse_engine": "chdb " + pins.get("chdb", wheel_version(all_wheels, "chdb")),
            "localstack": pinned(ROOT / "localstack" / "requirements.lock").get(
                "localstack-core", "?"),
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        },
        "migrations_head": migrations_head(),
        "topology_sha256": sha256(ROOT / "runtime" / "topology.yaml"),
    }
    (work / "release.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(wheels)
    shutil.rmtree(local_wheels)
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    log(f"staged {version} in {target}")
    return target


def _commit() -> str:
    try:
        return git("rev-parse", "HEAD")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"


def prune(releases: Path, keep: int, protect: Path) -> None:
    """Remove all but the `keep` newest staged releases (never `protect`, nor current's)."""
    current = (releases / "current").resolve()
    staged = sorted((p for p in releases.iterdir() if p.is_dir() and not p.is_symlink()
                     and (p / "release.json").exists()), key=lambda p: p.stat().st_mtime,
                    reverse=True)
    for old in staged[keep:]:
        if old.resolve() not in (protect.resolve(), current):
            log(f"removing the old release {old.name}")
            shutil.rmtree(old)


def point_current(releases: Path, target: Path) -> None:
    link = releases / "current"
    tmp = releases / ".current.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    tmp.replace(link)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default=None, help="release version (default: from git)")
    parser.add_argument("--output", type=Path, default=CACHE / "releases",
                        help="releases folder (default $CRYPTOSTREAM_CACHE/releases)")
    parser.add_argument("--no-current", action="store_true",
                        help="do not point <output>/current at this release")
    parser.add_argument("--keep", type=int, default=int(os.environ.get("RELEASES_KEEP", "3")),
                        help="staged releases kept, newest first (default 3, RELEASES_KEEP)")
    args = parser.parse_args(argv)
    try:
        version = args.version or default_version()
        args.output.mkdir(parents=True, exist_ok=True)
        target = stage(version, args.output)
    except StageError as error:
        log(str(error))
        return 1
    if not args.no_current:
        point_current(args.output, target)
    prune(args.output, args.keep, target)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
