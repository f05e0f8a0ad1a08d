"""The node tier end to end, on plain Debian hosts (node containers) configured over SSH:

    tofu apply  ->  deploy.yml  ->  simulator trades flow  ->  windows in ClickHouse
    ->  second deploy changed=0, --check --diff clean  ->  rolling restart of the brokers while
    the producer runs: no trade lost  ->  a broker node replaced  ->  the app upgraded
    ->  windows equal a recomputation from the raw trades  ->  tofu destroy leaves nothing

with the plaintext profile. The sasl_ssl profile is deployed by the promotion test
(test_promotion.py: its prod environment).
"""

from __future__ import annotations

import json
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.infra import node_env
from tests.infra.node_env import docker_names
from tests.infra.pipeline_checks import (
    SECOND_VERSION,
    assert_windows_match,
    kafka_trades,
    newest_window,
    service_restarts,
    trade_ids_by_product,
    wait_for_new_window,
)

pytestmark = [pytest.mark.infra, pytest.mark.timeout(3600)]


@contextmanager
def environment(tmp: Path, profile: str):
    """A 9-node environment of `profile`, applied; destroyed afterwards if a test did not."""
    node_env.require_node_image()
    node_env.require_release()
    env = node_env.create(tmp, profile)
    started = time.monotonic()
    try:
        env.apply()
        env.timings["apply_s"] = time.monotonic() - started
        yield env
    finally:
        if docker_names("container", env.prefix):
            env.destroy()
        print(f"\nnode tier ({profile}) timings: "
              f"{json.dumps({k: round(v) for k, v in env.timings.items()})}")


@pytest.fixture(scope="module")
def plaintext(docker_engine, tmp_path_factory):
    with environment(tmp_path_factory.mktemp("nodes-plain"), "plaintext") as env:
        yield env


def test_apply_makes_bare_debian_nodes_reachable_over_ssh(plaintext):
    containers = docker_names("container", plaintext.prefix)
    assert len(containers) == 9, containers
    ports = subprocess.run(
        ["docker", "ps", "--filter", f"label={node_env.LABEL}={plaintext.prefix}", "--format",
         "{{.Ports}}"], capture_output=True, text=True, check=True).stdout
    assert "0.0.0.0" not in ports and "127.0.0.1:" in ports, ports
    broker = plaintext.host("kafka")
    bare = plaintext.ssh(broker, "systemctl is-system-running; command -v java || echo no-java; "
                                 "cat /etc/debian_version")
    assert "no-java" in bare.stdout, "a node must start without anything of the pipeline"
    assert Path(plaintext.endpoints["ssh_private_key"]).stat().st_mode & 0o777 == 0o600


def test_deploy_converges_and_windows_arrive(plaintext):
    started = time.monotonic()
    recap = plaintext.playbook("deploy.yml")
    plaintext.timings["deploy_s"] = time.monotonic() - started
    assert recap.total_changed > 0
    wait_for_new_window(plaintext, 0)
    plaintext.timings["first_windows_s"] = time.monotonic() - started


def test_second_deploy_changes_nothing_and_check_mode_is_clean(plaintext):
    started = time.monotonic()
    recap = plaintext.playbook("deploy.yml")
    plaintext.timings["redeploy_s"] = time.monotonic() - started
    assert recap.total_changed == 0, recap.output[-8000:]
    check = plaintext.playbook("deploy.yml", "--check", "--diff")
    assert check.total_changed == 0, check.output[-8000:]


def test_rolling_restart_of_the_brokers_loses_no_trade(plaintext):
    restarts_before = service_restarts(plaintext, "cryptostream-producer")
    started = time.monotonic()
    recap = plaintext.playbook("rolling_restart.yml", "-e", "component=kafka")
    plaintext.timings["rolling_restart_kafka_s"] = time.monotonic() - started
    restarted = [host for host in recap.changed if "-kafka-" in host and recap.changed[host]]
    assert len(restarted) == 3, recap.output[-6000:]
    assert service_restarts(plaintext, "cryptostream-producer") == restarts_before
    ids = trade_ids_by_product(kafka_trades(plaintext))
    assert ids, "no trade in Kafka"
    for product, trade_ids in ids.items():
        assert len(trade_ids) == len(set(trade_ids)), f"{product}: a trade written twice"
        missing = set(range(min(trade_ids), max(trade_ids) + 1)) - set(trade_ids)
        assert not missing, f"{product}: {len(missing)} trades lost, e.g. {sorted(missing)[:5]}"


def test_a_replaced_broker_node_rejoins(plaintext):
    broker = plaintext.host("kafka", 1)
    started = time.monotonic()
    plaintext.apply(f'-replace=module.nodes.docker_container.node["{broker}"]')
    bare = plaintext.ssh(broker, "command -v java || echo no-java")
    assert "no-java" in bare.stdout, "the replaced node must come back bare"
    recap = plaintext.playbook("deploy.yml")
    plaintext.timings["replace_broker_s"] = time.monotonic() - started
    assert recap.changed[broker] > 0
    # deploy.yml's Kafka health check (no under-replicated partition, the quorum whole) passed
    # on every broker; the replaced one serves its replicas again:
    health = plaintext.playbook("rolling_restart.yml", "-e", "component=kafka", "--tags",
                                "health")
    assert health.total_changed == 0


def test_app_upgrade_resumes_from_the_checkpoint(plaintext, second_release):
    before = newest_window(plaintext)
    upgrade = second_release
    started = time.monotonic()
    recap = plaintext.playbook("upgrade.yml", env=plaintext.ansible_env(
        CRYPTOSTREAM_RELEASE_DIR=str(upgrade)))
    plaintext.timings["upgrade_s"] = time.monotonic() - started
    assert recap.changed[plaintext.host("app")] > 0
    running = plaintext.ssh(plaintext.host("app"), "readlink -f /opt/cryptostream/current; "
                            "systemctl show -p Description --value cryptostream-stream_job")
    assert SECOND_VERSION in running.stdout
    wait_for_new_window(plaintext, before)


def test_windows_equal_a_recomputation_from_the_raw_trades(plaintext):
    plaintext.timings["windows_compared"] = assert_windows_match(plaintext, plaintext.timings)


def test_destroy_leaves_nothing(plaintext):
    key_dir = Path(plaintext.endpoints["ssh_private_key"]).parent
    started = time.monotonic()
    plaintext.destroy()
    plaintext.timings["destroy_s"] = time.monotonic() - started
    for kind in ("container", "volume", "network"):
        assert docker_names(kind, plaintext.prefix) == [], kind
    assert not key_dir.exists(), f"{key_dir} left behind"
