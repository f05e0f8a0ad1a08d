"""Each service role alone, on fresh plain Debian nodes, with nothing but a hand-written inventory
(hosts, SSH port and key: none of the variables Terraform's inventory carries): it converges,
a second run changes nothing (idempotence), and its health tasks pass (verify).

The nodes come from terraform/envs/local sized down (one broker, one worker); the inventory the
roles get is written here, as a user would write one for their own hosts.
"""

from __future__ import annotations

import time

import pytest
import yaml

from tests.infra import node_env
from tests.infra.node_env import NodeEnv, docker_names

pytestmark = [pytest.mark.infra, pytest.mark.timeout(2400)]

# role => the inventory groups its test playbook (ansible/tests/<role>.yml) targets.
ROLES = {
    "kafka": ["kafka"],
    "spark": ["spark_master", "spark_workers"],
    "clickhouse": ["clickhouse"],
    "object_storage": ["object_storage"],
}


def hand_written_inventory(env: NodeEnv) -> dict:
    """Only what a user knows about their hosts: name, address, port, user, key."""
    key = env.endpoints["ssh_private_key"]
    written = yaml.safe_load(env.inventory.read_text())["all"]["children"]
    groups: dict[str, dict] = {}
    for name, target in env.endpoints["ssh"].items():
        user_host, _, port = target.split()
        member = next(g for g, body in written.items() if name in (body.get("hosts") or {}))
        groups.setdefault(member, {"hosts": {}})["hosts"][name] = {
            "ansible_host": user_host.split("@")[1], "ansible_port": int(port)}
    groups["spark"] = {"children": {"spark_master": {}, "spark_workers": {}}}
    return {"all": {"vars": {
        "ansible_user": "root", "ansible_ssh_private_key_file": key,
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=accept-new "
                                   f"-o UserKnownHostsFile={key}.known_hosts"},
        "children": groups}}


@pytest.fixture(scope="module")
def nodes(docker_engine, tmp_path_factory):
    node_env.require_node_image()
    node_env.require_release()
    env = node_env.create(tmp_path_factory.mktemp("nodes-roles"), "plaintext",
                          kafka_broker_count="1", spark_worker_count="1")
    try:
        env.apply()
        inventory = env.tree / "hand-written.yml"
        inventory.write_text(yaml.safe_dump(hand_written_inventory(env)))
        env.inventory_override = inventory
        yield env
    finally:
        if docker_names("container", env.prefix):
            env.destroy()
        print(f"\nroles alone, timings: {env.timings}")


@pytest.mark.parametrize("role", list(ROLES))
def test_role_converges_alone_and_is_idempotent(nodes, role):
    started = time.monotonic()
    first = nodes.playbook(f"tests/{role}.yml")
    nodes.timings[f"{role}_first_s"] = round(time.monotonic() - started)
    assert first.total_changed > 0
    started = time.monotonic()
    second = nodes.playbook(f"tests/{role}.yml")
    nodes.timings[f"{role}_second_s"] = round(time.monotonic() - started)
    assert second.total_changed == 0, second.output[-6000:]
    names = [group.replace("_workers", "-worker").replace("_", "-") for group in ROLES[role]]
    hosts = [host for name in names for host in nodes.endpoints["ssh"]
             if host.startswith(f"{nodes.prefix}-{name}-")]
    assert set(first.changed) >= set(hosts), first.changed
