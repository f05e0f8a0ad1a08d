"""One idempotent bootstrap of what the pipeline needs before the producer and the job run.

    python -m runtime.bootstrap [--steps topics,bucket,migrations]

Steps, in this order (all by default):
  topics      the trades and dead-letter topics with the wanted partitions, replication factor
              and min.insync.replicas. A missing topic is created; an existing one gets more
              partitions when it has fewer (never fewer) and its min.insync.replicas set when it
              differs; a replication factor other than the wanted one is an error (moving
              replicas is an operator's decision, not a deploy's). Waits until at least
              replication-factor brokers are registered.
  bucket      the checkpoint bucket on the S3 endpoint
  migrations  the ClickHouse migrations (clickhouse.migrate)

Each step retries while its service is not ready (refused connections, too few brokers, ...)
for up to BOOTSTRAP_TIMEOUT seconds (default 120); configuration errors fail at once.

Output: progress and errors on stderr. The LAST stdout line is one JSON object listing what
this run changed, empty when nothing did (so that Ansible can derive changed_when from it):
  {"changed": ["topic raw_crypto_trades created", "2 migrations applied to cryptostream"]}
On failure it also carries "error" (the step, the service and its endpoint) and the exit
status is 1.

Configuration, from the environment (defaults from runtime/topology.yaml):
  KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_DLQ_TOPIC, KAFKA_PARTITIONS,
  KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS, and runtime.kafka_security's
  KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD,
  KAFKA_SSL_CA_FILE
  S3_ENDPOINT_URL, AWS_REGION, CHECKPOINT_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
  CLICKHOUSE_URL, CLICKHOUSE_DATABASE, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD
  BOOTSTRAP_TIMEOUT
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from botocore.exceptions import ClientError, NoCredentialsError
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)
from tenacity import Retrying, retry_if_not_exception_type, stop_after_delay, wait_fixed

from clickhouse import migrate
from clickhouse.client import connect
from runtime import kafka_topics, object_storage, topology
from runtime.topology import Topology

log = logging.getLogger("bootstrap")
DEFAULT_TIMEOUT_S = 120
RETRY_WAIT_S = 2
KAFKA_TIMEOUT_S = 30
MIN_INSYNC = "min.insync.replicas"


class ConfigError(Exception):
    """Wrong configuration, or a state no retry can fix (a topic's replication factor)."""


class NotReady(Exception):
    """The service answered but cannot serve the step yet (fewer brokers than replicas)."""


class BootstrapFailed(Exception):
    def __init__(self, message: str, changed: list[str]):
        super().__init__(message)
        self.changed = changed


# --- topics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    min_insync: int


@dataclass(frozen=True)
class ExistingTopic:
    partitions: int
    replication: int
    min_insync: int | None  # None when the broker did not report it


@dataclass
class TopicPlan:
    create: list[TopicSpec] = field(default_factory=list)
    grow: list[tuple[TopicSpec, int]] = field(default_factory=list)  # (wanted, partitions now)
    set_min_insync: list[tuple[TopicSpec, int | None]] = field(default_factory=list)


def topic_specs(topo: Topology) -> list[TopicSpec]:
    """The pipeline's topics as configured; ConfigError when the numbers cannot work."""
    partitions = topo.kafka_partitions
    replication = topo.kafka_replication_factor
    min_insync = topo.kafka_min_insync_replicas
    for name, value in (("KAFKA_PARTITIONS", partitions),
                        ("KAFKA_REPLICATION_FACTOR", replication),
                        ("KAFKA_MIN_INSYNC_REPLICAS", min_insync)):
        if value < 1:
            raise ConfigError(f"{name}={value}: must be at least 1")
    if min_insync > replication:
        raise ConfigError(f"KAFKA_MIN_INSYNC_REPLICAS={min_insync} exceeds "
                          f"KAFKA_REPLICATION_FACTOR={replication}: no write could succeed")
    return [TopicSpec(name, partitions, replication, min_insync)
            for name in (topo.trades_topic, topo.dead_letter_topic)]


def plan_topics(wanted: Sequence[TopicSpec], existing: Mapping[str, ExistingTopic]) -> TopicPlan:
    """What to do to reach `wanted` from `existing`; ConfigError on a replication mismatch."""
    plan, mismatches = TopicPlan(), []
    for spec in wanted:
        now = existing.get(spec.name)
        if now is None:
            plan.create.append(spec)
            continue
        if now.replication != spec.replication:
            mismatches.append(
                f"topic {spec.name} has replication factor {now.replication}, wanted "
                f"{spec.replication} (KAFKA_REPLICATION_FACTOR): reassign its replicas by hand "
                "or configure the factor it has")
        if now.partitions < spec.partitions:
            plan.grow.append((spec, now.partitions))
        if now.min_insync != spec.min_insync:
            plan.set_min_insync.append((spec, now.min_insync))
    if mismatches:
        raise ConfigError("; ".join(mismatches))
    return plan


def _wait(futures: Mapping) -> None:
    for future in futures.values():
        future.result(timeout=KAFKA_TIMEOUT_S)


def existing_topics(admin, metadata, names: Sequence[str]) -> dict[str, ExistingTopic]:
    present = [name for name in names if name in metadata.topics]
    if not present:
        return {}
    described = admin.describe_configs([ConfigResource(ResourceType.TOPIC, n) for n in present])
    min_insync = {}
    for resource, future in described.items():
        entry = future.result(timeout=KAFKA_TIMEOUT_S).get(MIN_INSYNC)
        min_insync[resource.name] = int(entry.value) if entry and entry.value else None
    found = {}
    for name in present:
        topic = metadata.topics[name]
        if topic.error or not topic.partitions:
            raise NotReady(f"topic {name}: {topic.error or 'no partitions reported'}")
        replication = max(len(p.replicas) for p in topic.partitions.values())
        found[name] = ExistingTopic(len(topic.partitions), replication, min_insync[name])
    return found


def ensure_topics(topo: Topology, env: Mapping[str, str], changed: list[str]) -> None:
    wanted = topic_specs(topo)
    try:
        admin = kafka_topics.admin_client(topo.kafka_bootstrap, {"log_level": 3}, env)
    except ValueError as error:  # the security settings (runtime.kafka_security)
        raise ConfigError(str(error)) from error
    metadata = admin.list_topics(timeout=10)
    needed = max(spec.replication for spec in wanted)
    if len(metadata.brokers) < needed:
        raise NotReady(f"{len(metadata.brokers)} broker(s) registered, fewer than the "
                       f"replication factor {needed}")
    plan = plan_topics(wanted, existing_topics(admin, metadata, [s.name for s in wanted]))
    for spec in plan.create:
        new = NewTopic(spec.name, spec.partitions, spec.replication,
                       config={MIN_INSYNC: str(spec.min_insync)})
        _wait(admin.create_topics([new]))
        changed.append(f"topic {spec.name} created ({spec.partitions} partitions, replication "
                       f"{spec.replication}, {MIN_INSYNC} {spec.min_insync})")
    for spec, before in plan.grow:
        _wait(admin.create_partitions([NewPartitions(spec.name, spec.partitions)]))
        changed.append(f"topic {spec.name} partitions {before} -> {spec.partitions}")
    for spec, before in plan.set_min_insync:
        entry = ConfigEntry(MIN_INSYNC, str(spec.min_insync),
                            incremental_operation=AlterConfigOpType.SET)
        resource = ConfigResource(ResourceType.TOPIC, spec.name, incremental_configs=[entry])
        _wait(admin.incremental_alter_configs([resource]))
        changed.append(f"topic {spec.name} {MIN_INSYNC} {before} -> {spec.min_insync}")


# --- bucket, migrations -----------------------------------------------------------------------


def ensure_checkpoint_bucket(topo: Topology, env: Mapping[str, str], changed: list[str]) -> None:
    s3 = object_storage.s3_client(topo, env)
    try:
        created = object_storage.ensure_bucket(s3, topo.checkpoint_bucket)
    except NoCredentialsError as error:
        raise ConfigError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                          "(or give the host an instance role)") from error
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("403", "AccessDenied"):
            raise ConfigError(f"bucket {topo.checkpoint_bucket}: access denied (check "
                              "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)") from error
        raise
    if created:
        changed.append(f"bucket {topo.checkpoint_bucket} created")


def apply_migrations(topo: Topology, env: Mapping[str, str], changed: list[str]) -> None:
    database = topo.clickhouse_database
    client = connect(topo.clickhouse_url, topo.clickhouse_user, env.get("CLICKHOUSE_PASSWORD", ""))
    try:
        applied = migrate.migrate(client, migrate.default_names(database))
    except migrate.MigrationError as error:
        raise ConfigError(str(error)) from error
    finally:
        client.close()
    if applied:
        changed.append(f"{len(applied)} migration{'s' if len(applied) > 1 else ''} applied "
                       f"to {database}")


# --- running the steps ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    run: Callable[[Topology, Mapping[str, str], list[str]], None]
    service: str
    endpoint: Callable[[Topology], str]


STEPS = {
    "topics": Step(ensure_topics, "Kafka", lambda topo: topo.kafka_bootstrap),
    "bucket": Step(ensure_checkpoint_bucket, "S3", lambda topo: topo.s3_endpoint),
    "migrations": Step(apply_migrations, "ClickHouse", lambda topo: topo.clickhouse_url),
}


def run(steps: Sequence[str] = tuple(STEPS), topo: Topology | None = None,
        env: Mapping[str, str] = os.environ, timeout: float | None = None) -> list[str]:
    """Run the named steps in order; return what changed. BootstrapFailed names the step,
    the service and its endpoint, and carries what had changed before the failure."""
    topo = topo or topology.load()
    if timeout is None:
        timeout = float(env.get("BOOTSTRAP_TIMEOUT") or DEFAULT_TIMEOUT_S)
    changed: list[str] = []
    for name in steps:
        step = STEPS[name]
        where = f"{name}: {step.service} at {step.endpoint(topo)}"
        retrying = Retrying(
            retry=retry_if_not_exception_type(ConfigError),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(RETRY_WAIT_S),
            reraise=True,
            before_sleep=lambda state, where=where: log.info(
                "%s: not ready yet (%s); retrying", where, state.outcome.exception()),
        )
        try:
            retrying(step.run, topo, env, changed)
        except ConfigError as error:
            raise BootstrapFailed(f"{where}: {error}", changed) from error
        except Exception as error:
            raise BootstrapFailed(f"{where}: not ready after {timeout:.0f} s: "
                                  f"{type(error).__name__}: {error}", changed) from error
        log.info("%s: ready", where)
    return changed


def parse_steps(text: str) -> list[str]:
    steps = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [step for step in steps if step not in STEPS]
    if unknown or not steps:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a comma-separated subset of {','.join(STEPS)}")
    return [step for step in STEPS if step in steps]  # always in dependency order


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.bootstrap", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=parse_steps, default=list(STEPS),
                        help=f"comma-separated steps to run (default: {','.join(STEPS)})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
    try:
        changed = run(args.steps, topology.load())
    except (BootstrapFailed, ValueError) as failure:  # ValueError: a malformed topology value
        print(f"bootstrap failed: {failure}", file=sys.stderr, flush=True)
        done = getattr(failure, "changed", [])
        print(json.dumps({"changed": done, "error": str(failure)}), flush=True)
        return 1
    for change in changed:
        log.info("changed: %s", change)
    print(json.dumps({"changed": changed}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
