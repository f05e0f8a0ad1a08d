"""Release promotion between two environments on one Docker engine, as a user runs it:

    make infra-apply ENV=local-staging / ENV=local-prod     (tools/tofu/env.sh, the committed
                                                             tfvars: one broker, one worker;
                                                             prod with sasl_ssl)
    -> make promote from an unknown env / an env without release: refused, nothing changes
    -> staging deployed with release A: its record names A, windows arrive
    -> a failing health gate on staging (rejected records over the limit) refuses promotion
    -> make promote FROM=local-staging TO=local-prod: prod runs exactly A (sasl_ssl), healthy,
       refuses Kafka clients without the right credentials; a second deploy changes nothing
    -> release B upgraded on staging, promoted: prod runs B, its history holds A then B
    -> prod's schema ahead (a newer migration applied): promote and rollback refused
    -> make rollback ENV=local-prod: prod runs A again, healthy
    -> prod's windows equal a recomputation from its raw trades; both envs destroyed

Each environment's secrets are in a group_vars file next to its inventory (the vault_*
variables ansible/README.md describes), so the two differ as real environments' would.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from clickhouse.client import connect
from runtime import topology
from stack.paths import ROOT
from tests.infra import node_env
from tests.infra.node_env import NodeEnv, docker_names
from tests.infra.pipeline_checks import (
    SECOND_VERSION,
    assert_windows_match,
    clickhouse,
    newest_window,
    refuses_clients_without_the_right_credentials,
    wait_for_new_window,
)
from tests.support import wait_until

pytestmark = [pytest.mark.infra, pytest.mark.timeout(3600)]

SECRET_VARIABLES = {
    "CLICKHOUSE_PASSWORD": "vault_clickhouse_password",
    "AWS_ACCESS_KEY_ID": "vault_s3_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "vault_s3_secret_access_key",
    "KAFKA_ADMIN_PASSWORD": "vault_kafka_admin_password",
    "KAFKA_APP_PASSWORD": "vault_kafka_app_password",
}
RECORD = "/var/lib/cryptostream/deployments"
PRODUCE_MALFORMED = """
import os
from confluent_kafka import Producer
from runtime.kafka_security import librdkafka_config
producer = Producer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                     **librdkafka_config(os.environ)})
for n in range(%d):
    producer.produce(os.environ["KAFKA_TOPIC"], b"not a trade %%d" %% n)
assert producer.flush(30) == 0
"""


@dataclass
class Pair:
    staging: NodeEnv
    prod: NodeEnv
    releases: Path  # where release B is staged (the second_release fixture's folder)
    timings: dict

    def make(self, target: str, *variables: str, expect_success: bool = True
             ) -> subprocess.CompletedProcess:
        """`make <target> VAR=...` from the repository, as a user types it; the environments are
        found in the two scratch trees, releases in the cache and in this test's folder."""
        env = {**os.environ,
               "CRYPTOSTREAM_ENV_DIRS": os.pathsep.join(
                   str(e.output_dir.parent) for e in (self.staging, self.prod)),
               "CRYPTOSTREAM_RELEASES": os.pathsep.join(
                   [str(self.releases), str(node_env.require_release().parent)])}
        result = subprocess.run(["make", "-s", "--no-print-directory", target, *variables],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400)
        output = result.stdout + result.stderr
        assert (result.returncode == 0) == expect_success, output[-8000:]
        return result

    def status(self, env: NodeEnv) -> dict:
        return json.loads(self.make("release-status", f"ENV={env.name}").stdout)


def record(env: NodeEnv) -> dict | None:
    out = env.ssh(env.host("app"), f"cat {RECORD}/current.json 2>/dev/null || true").stdout
    return json.loads(out) if out.strip() else None


def history(env: NodeEnv) -> list[dict]:
    """The history entries on the app host, oldest first."""
    read = ("import glob, json; print(json.dumps([json.load(open(p)) for p in "
            f"sorted(glob.glob('{RECORD}/history/*.json'))]))")
    return json.loads(env.ssh(env.host("app"), f'python3 -c "{read}"').stdout)


def staged(release_dir: Path) -> dict:
    return json.loads((release_dir / "release.json").read_text())


def write_vault_vars(env: NodeEnv) -> None:
    """The environment's secrets as the vault_* variables, next to its inventory (mode 600)."""
    group_vars = env.output_dir / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    path = group_vars / "secrets.yml"
    path.write_text(yaml.safe_dump({SECRET_VARIABLES[k]: v for k, v in env.secrets.items()}))
    path.chmod(0o600)


def schema_head(env: NodeEnv) -> int:
    db = topology.load().clickhouse_database
    return int(clickhouse(env).command(f"SELECT max(version) FROM {db}.schema_migrations"))


@pytest.fixture(scope="module")
def pair(docker_engine, tmp_path_factory, second_release):
    node_env.require_node_image()
    node_env.require_release()
    tmp = tmp_path_factory.mktemp("promotion")
    envs: list[NodeEnv] = []
    timings: dict = {}
    try:
        started = time.monotonic()
        for name in ("local-staging", "local-prod"):
            # One after the other: the second picks host ports the first does not hold.
            env = node_env.create(tmp / name, profile=None, name=name)
            envs.append(env)
            env.apply()
            write_vault_vars(env)
        timings["apply_both_s"] = time.monotonic() - started
        yield Pair(envs[0], envs[1], second_release.parent, timings)
    finally:
        for env in envs:
            if docker_names("container", env.prefix):
                env.destroy()
        print(f"\npromotion timings: {json.dumps({k: round(v) for k, v in timings.items()})}")


def test_the_committed_tfvars_make_two_small_environments(pair):
    for env, profile in ((pair.staging, "plaintext"), (pair.prod, "sasl_ssl")):
        inventory = yaml.safe_load(env.inventory.read_text())["all"]
        hosts = {group: len(body.get("hosts") or {}) for group, body in
                 inventory["children"].items() if group != "spark"}
        assert hosts == {"kafka": 1, "spark_master": 1, "spark_workers": 1, "clickhouse": 1,
                         "object_storage": 1, "app": 1}, hosts
        assert inventory["vars"]["kafka_security_profile"] == profile
        assert inventory["vars"]["cryptostream_env"] == env.name
    assert not set(docker_names("network", pair.staging.prefix)) & set(
        docker_names("network", pair.prod.prefix))


def test_promotion_from_an_unknown_env_or_one_without_release_is_refused(pair):
    unknown = pair.make("promote", "FROM=nowhere", "TO=local-prod", expect_success=False)
    assert "no environment 'nowhere'" in unknown.stderr
    assert "known: local-prod, local-staging" in unknown.stderr
    empty = pair.make("promote", "FROM=local-prod", "TO=local-staging", expect_success=False)
    assert "local-prod has no release deployed" in empty.stderr
    assert record(pair.staging) is None and record(pair.prod) is None
    no_change = pair.staging.ssh(pair.staging.host("app"), "test -e /opt/cryptostream/current "
                                 "&& echo installed || echo bare").stdout.strip()
    assert no_change == "bare"


def test_a_deploy_records_the_release_it_installed(pair):
    started = time.monotonic()
    pair.staging.playbook("deploy.yml")
    wait_for_new_window(pair.staging, 0)
    pair.timings["staging_deploy_and_windows_s"] = time.monotonic() - started
    release_a = staged(node_env.require_release())
    recorded = record(pair.staging)
    assert recorded["release"] == release_a
    assert recorded["environment"] == "local-staging" and recorded["action"] == "deploy"
    lock = (ROOT / "terraform" / "envs" / "local" / ".terraform.lock.hcl").read_bytes()
    assert recorded["provider_lock_sha256"] == hashlib.sha256(lock).hexdigest()
    for key in ("kafka", "spark", "clickhouse_engine", "localstack"):
        assert recorded["release"]["versions"][key], key
    shown = pair.status(pair.staging)
    assert shown["release"].startswith(release_a["version"])
    assert shown["schema_head"] == release_a["migrations_head"]


def test_a_failing_health_gate_refuses_the_promotion(pair):
    """Records the job cannot parse land in rejected_records; with no rejection allowed the
    gate fails on them, and prod is left as it was."""
    pair.staging.app_python(PRODUCE_MALFORMED % 5)
    db, table = topology.load().clickhouse_database, topology.load().rejected_table
    wait_until(lambda: int(clickhouse(pair.staging).command(
        f"SELECT count() FROM {db}.{table}")) >= 5, 240, interval=5,
        message="the malformed records in rejected_records")
    refused = pair.make("promote", "FROM=local-staging", "TO=local-prod",
                        "GATE=max_rejected_ratio=0", expect_success=False)
    assert "local-staging fails the health gate (source): rejected records: " in refused.stderr
    assert record(pair.prod) is None


def test_promotion_deploys_exactly_the_source_release(pair):
    started = time.monotonic()
    pair.make("promote", "FROM=local-staging", "TO=local-prod")
    pair.timings["promote_first_s"] = time.monotonic() - started
    promoted = record(pair.prod)
    assert promoted["release"] == record(pair.staging)["release"]
    assert (promoted["action"], promoted["source"]) == ("promote", "local-staging")
    assert newest_window(pair.prod) > 0  # the promotion waited for prod's gate to pass
    env_file = pair.prod.ssh(pair.prod.host("app"), "grep -c KAFKA_SASL_PASSWORD "
                             "/etc/cryptostream/producer.env").stdout.strip()
    assert env_file == "1", "prod keeps its own Kafka security profile"
    refuses_clients_without_the_right_credentials(pair.prod)
    started = time.monotonic()
    again = pair.prod.playbook("deploy.yml")  # sasl_ssl (certificates, SCRAM users) idempotent
    pair.timings["prod_redeploy_s"] = time.monotonic() - started
    assert again.total_changed == 0, again.output[-8000:]


def test_a_new_release_moves_from_staging_to_prod(pair):
    release_b = pair.releases / SECOND_VERSION
    started = time.monotonic()
    pair.staging.playbook("upgrade.yml", env=pair.staging.ansible_env(
        CRYPTOSTREAM_RELEASE_DIR=str(release_b)))
    assert record(pair.staging)["release"] == staged(release_b)
    before = newest_window(pair.prod)
    pair.make("promote", "FROM=local-staging", "TO=local-prod")
    pair.timings["upgrade_and_promote_s"] = time.monotonic() - started
    assert record(pair.prod)["release"] == staged(release_b)
    assert [entry["release"]["version"] for entry in history(pair.prod)] == [
        staged(node_env.require_release())["version"], SECOND_VERSION]
    wait_for_new_window(pair.prod, before)
    again = pair.make("promote", "FROM=local-staging", "TO=local-prod")
    assert f"already runs {SECOND_VERSION}" in again.stderr


def test_a_schema_ahead_refuses_then_rollback_returns_to_the_previous_release(pair):
    topo = topology.load()
    head = schema_head(pair.prod)
    admin = connect(pair.prod.endpoints["clickhouse_url"], topo.clickhouse_user,
                    pair.prod.secrets["CLICKHOUSE_PASSWORD"])
    admin.command(f"INSERT INTO {topo.clickhouse_database}.schema_migrations "
                  f"(version, name, checksum) VALUES ({head + 1}, 'from_a_newer_release', 'x')")
    promote = pair.make("promote", "FROM=local-staging", "TO=local-prod", expect_success=False)
    assert f"local-prod's schema is ahead: migration {head + 1} is applied" in promote.stderr
    rollback = pair.make("rollback", "ENV=local-prod", expect_success=False)
    assert "schema is ahead" in rollback.stderr
    assert record(pair.prod)["release"]["version"] == SECOND_VERSION

    admin.command(f"ALTER TABLE {topo.clickhouse_database}.schema_migrations DELETE WHERE "
                  f"version = {head + 1} SETTINGS mutations_sync = 2")
    started = time.monotonic()
    pair.make("rollback", "ENV=local-prod")
    pair.timings["rollback_s"] = time.monotonic() - started
    release_a = staged(node_env.require_release())
    rolled_back = record(pair.prod)
    assert rolled_back["release"] == release_a and rolled_back["action"] == "rollback"
    running = pair.prod.ssh(pair.prod.host("app"), "readlink -f /opt/cryptostream/current").stdout
    assert release_a["version"] in running
    assert [e["release"]["version"] for e in history(pair.prod)][-1] == release_a["version"]


def test_prod_windows_equal_a_recomputation(pair):
    pair.timings["prod_windows_compared"] = assert_windows_match(pair.prod, pair.timings)


def test_destroy_leaves_nothing_of_either(pair):
    for env in (pair.staging, pair.prod):
        env.destroy()
        for kind in ("container", "volume", "network"):
            assert docker_names(kind, env.prefix) == [], (env.name, kind)
