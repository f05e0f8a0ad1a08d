"""runtime.bootstrap's own logic: topic specs, the topic plan, steps, retries and the output
contract. The Kafka, S3 and ClickHouse calls themselves run against the real services in the
integration suite (`make up` bootstraps through it) and the compose / deploy suites."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from runtime import bootstrap
from runtime.bootstrap import (
    ConfigError,
    ExistingTopic,
    TopicSpec,
    plan_topics,
    topic_specs,
)
from runtime.topology import load


@pytest.fixture
def topo():
    return replace(load(), kafka_partitions=6, kafka_replication_factor=3,
                   kafka_min_insync_replicas=2)


def test_topic_specs_cover_trades_and_dead_letters(topo):
    assert topic_specs(topo) == [TopicSpec("raw_crypto_trades", 6, 3, 2),
                                 TopicSpec("raw_crypto_trades.dlq", 6, 3, 2)]


def test_topic_specs_reject_numbers_that_cannot_work(topo):
    with pytest.raises(ConfigError, match="KAFKA_MIN_INSYNC_REPLICAS=4 exceeds "
                                          "KAFKA_REPLICATION_FACTOR=3"):
        topic_specs(replace(topo, kafka_min_insync_replicas=4))
    with pytest.raises(ConfigError, match="KAFKA_PARTITIONS=0: must be at least 1"):
        topic_specs(replace(topo, kafka_partitions=0))


def test_the_topology_defaults_suit_one_local_broker_and_the_environment_wins(monkeypatch):
    load.cache_clear()
    try:
        assert (load().kafka_replication_factor, load().kafka_min_insync_replicas) == (1, 1)
        load.cache_clear()
        monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "3")
        monkeypatch.setenv("KAFKA_MIN_INSYNC_REPLICAS", "2")
        assert (load().kafka_replication_factor, load().kafka_min_insync_replicas) == (3, 2)
    finally:
        load.cache_clear()


def test_plan_creates_missing_grows_partitions_and_sets_min_insync(topo):
    trades, dlq = topic_specs(topo)
    plan = plan_topics([trades, dlq], {dlq.name: ExistingTopic(3, 3, 1)})
    assert plan.create == [trades]
    assert plan.grow == [(dlq, 3)]
    assert plan.set_min_insync == [(dlq, 1)]


def test_plan_is_empty_when_everything_is_in_place_and_never_shrinks(topo):
    specs = topic_specs(topo)
    plan = plan_topics(specs, {s.name: ExistingTopic(12, 3, 2) for s in specs})
    assert (plan.create, plan.grow, plan.set_min_insync) == ([], [], [])


def test_plan_refuses_a_different_replication_factor(topo):
    trades, dlq = topic_specs(topo)
    existing = {trades.name: ExistingTopic(6, 1, 1), dlq.name: ExistingTopic(6, 3, 2)}
    with pytest.raises(ConfigError, match="topic raw_crypto_trades has replication factor 1, "
                                          "wanted 3"):
        plan_topics([trades, dlq], existing)


def test_parse_steps_keeps_dependency_order_and_rejects_unknown_names():
    assert bootstrap.parse_steps("migrations, topics") == ["topics", "migrations"]
    with pytest.raises(Exception, match="expected a comma-separated subset"):
        bootstrap.parse_steps("topics,brokers")


# --- run(): retries, failures, the changed list (with stand-in steps) -------------------------


@pytest.fixture
def fake_steps(monkeypatch):
    calls = []

    def step(name, fail_times=0, error=None, change=None):
        def run(_topo, _env, changed):
            calls.append(name)
            if calls.count(name) <= fail_times:
                raise error or ConnectionError("refused")
            if change:
                changed.append(change)
        return bootstrap.Step(run, name.title(), lambda _topo: f"{name}:1")

    monkeypatch.setattr(bootstrap, "RETRY_WAIT_S", 0)
    return calls, step


def test_run_retries_a_service_that_is_not_ready_and_collects_changes(monkeypatch, fake_steps):
    calls, step = fake_steps
    monkeypatch.setattr(bootstrap, "STEPS", {
        "topics": step("topics", fail_times=2, change="topic t created"),
        "bucket": step("bucket"),
    })
    assert bootstrap.run(["topics", "bucket"], load(), env={}, timeout=30) == ["topic t created"]
    assert calls == ["topics", "topics", "topics", "bucket"]


def test_run_fails_at_once_on_configuration_errors_and_names_service_and_endpoint(
        monkeypatch, fake_steps):
    calls, step = fake_steps
    monkeypatch.setattr(bootstrap, "STEPS", {
        "topics": step("topics", change="topic t created"),
        "bucket": step("bucket", fail_times=99, error=ConfigError("access denied")),
    })
    with pytest.raises(bootstrap.BootstrapFailed) as failure:
        bootstrap.run(["topics", "bucket"], load(), env={}, timeout=30)
    assert str(failure.value) == "bucket: Bucket at bucket:1: access denied"
    assert failure.value.changed == ["topic t created"]
    assert calls == ["topics", "bucket"]


def test_run_gives_up_after_the_timeout(monkeypatch, fake_steps):
    _, step = fake_steps
    monkeypatch.setattr(bootstrap, "STEPS", {"migrations": step("migrations", fail_times=10**6)})
    with pytest.raises(bootstrap.BootstrapFailed,
                       match=r"migrations: Migrations at migrations:1: not ready after 0 s: "
                             r"ConnectionError: refused"):
        bootstrap.run(["migrations"], load(), env={}, timeout=0.05)


def test_main_prints_the_changes_as_json_on_the_last_stdout_line(monkeypatch, fake_steps, capsys):
    _, step = fake_steps
    monkeypatch.setattr(bootstrap, "STEPS", {"topics": step("topics", change="topic t created"),
                                             "bucket": step("bucket"),
                                             "migrations": step("migrations")})
    assert bootstrap.main([]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"changed": ["topic t created"]}

    assert bootstrap.main(["--steps", "bucket"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"changed": []}


def test_main_exits_1_with_the_error_in_the_json_and_on_stderr(monkeypatch, fake_steps, capsys):
    _, step = fake_steps
    monkeypatch.setattr(bootstrap, "STEPS", {
        "topics": step("topics", fail_times=1, error=ConfigError("wrong replication"))})
    assert bootstrap.main(["--steps", "topics"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1]) == {
        "changed": [], "error": "topics: Topics at topics:1: wrong replication"}
    assert "bootstrap failed: topics: Topics at topics:1: wrong replication" in err
