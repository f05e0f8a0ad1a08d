"""The four local services: how each is prepared, started, probed and finished.

Every service runs in the foreground under supervisord; this module only describes them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from runtime import bootstrap, object_storage
from runtime.paths import CACHE_DIR
from runtime.topology import Topology
from spark_jobs.session import spark_home
from stack import health, s3_snapshot
from stack.paths import ROOT, STATE_DIR

JVM_CACHE = CACHE_DIR / "jvm"
LOCALSTACK_PYTHON = ROOT / ".venv-localstack" / "bin" / "python"


@dataclass(frozen=True)
class Service:
    name: str
    address: str
    command: list[str]
    probe: Callable[[], str]  # returns the version when healthy, raises otherwise
    workdir: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[], None] = lambda: None  # before each start (config files, storage)
    ready: Callable[[], None] = lambda: None  # once healthy (topics, buckets)
    start_timeout: float = 120
    stop_timeout: int = 30


def java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    return str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java") or "java"


def read_classpath(name: str) -> str:
    path = JVM_CACHE / f"{name}.classpath"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make jars` to resolve the JVM jars")
    return path.read_text().strip()


def jar_version(classpath: str, artifact: str) -> str:
    match = re.search(rf"{re.escape(artifact)}-([0-9][^/:]*?)\.jar", classpath)
    return match.group(1) if match else "?"


# --- Kafka (KRaft, one combined broker+controller) -----------------------------------------


def kafka_properties(topo: Topology, data_dir: Path) -> str:
    host, port, cport = topo.host, topo.kafka_port, topo.kafka_controller_port
    return f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{host}:{cport}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}
advertised.listeners=PLAINTEXT://{host}:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}
num.partitions={topo.kafka_partitions}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
"""


LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def prepare_kafka(topo: Topology, home: Path) -> None:
    data_dir = home / "data"
    home.mkdir(parents=True, exist_ok=True)
    (home / "server.properties").write_text(kafka_properties(topo, data_dir))
    (home / "log4j2.properties").write_text(LOG4J2)
    if (data_dir / "meta.properties").exists():
        return
    cluster_id = new_cluster_id()
    subprocess.run(
        [java(), "-cp", read_classpath("kafka"), "kafka.tools.StorageTool", "format",
         "-t", cluster_id, "-c", str(home / "server.properties")],
        check=True, capture_output=True, text=True,
    )


def kafka_service(topo: Topology) -> Service:
    home = STATE_DIR / "kafka"
    classpath = read_classpath("kafka")
    heap = os.environ.get("KAFKA_HEAP", "1g")
    return Service(
        name="kafka",
        address=topo.kafka_bootstrap,
        command=[
            java(), f"-Xmx{heap}", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
            "-cp", classpath, "kafka.Kafka", str(home / "server.properties"),
        ],
        probe=partial(health.kafka, topo.kafka_bootstrap, jar_version(classpath, "kafka_2.13")),
        prepare=partial(prepare_kafka, topo, home),
        ready=partial(bootstrap.run, ["topics"], topo),
        workdir=home,
    )


# --- Spark standalone: master and one worker from the pyspark wheel ------------------------

# What a job against this stack needs besides its credentials (`stack run`, the demo, the
# integration tests): the local worker reads the connector jars from this host's cache
# instead of copying them per application (spark_jobs.session.connector_settings).
LOCAL_JOB_ENV = {"SPARK_WORKERS_SHARE_CONNECTORS": "true"}


def spark_version() -> str:
    from importlib.metadata import version

    return version("pyspark")


def spark_env(topo: Topology) -> dict[str, str]:
    return {
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": topo.host,
        "SPARK_DAEMON_MEMORY": os.environ.get("SPARK_DAEMON_MEMORY", "512m"),
        "PYSPARK_PYTHON": sys.executable,
    }


def spark_services(topo: Topology) -> list[Service]:
    spark_class = str(spark_home() / "bin" / "spark-class")
    master_ui = f"http://{topo.host}:{topo.spark_master_ui_port}"
    work_dir = STATE_DIR / "spark" / "work"
    master = Service(
        name="spark-master",
        address=f"{topo.spark_master_url} (UI {master_ui})",
        command=[spark_class, "org.apache.spark.deploy.master.Master", "--host", topo.host,
                 "--port", str(topo.spark_master_port),
                 "--webui-port", str(topo.spark_master_ui_port)],
        probe=partial(health.spark_master, master_ui, spark_version()),
        env=spark_env(topo),
        prepare=partial(work_dir.mkdir, parents=True, exist_ok=True),
    )
    worker = Service(
        name="spark-worker",
        address=f"{topo.host} (UI http://{topo.host}:{topo.spark_worker_ui_port})",
        command=[spark_class, "org.apache.spark.deploy.worker.Worker", topo.spark_master_url,
                 "--host", topo.host, "--webui-port", str(topo.spark_worker_ui_port),
                 "--cores", os.environ.get("SPARK_WORKER_CORES", str(os.cpu_count() or 2)),
                 "--memory", os.environ.get("SPARK_WORKER_MEMORY", "4g"),
                 "--work-dir", str(work_dir)],
        probe=partial(health.spark_worker, master_ui, spark_version()),
        # a finished application's directory (logs, and the connector jars when shipped) goes
        # after an hour; the node tier's spark role keeps them a day
        env={**spark_env(topo), "SPARK_WORKER_OPTS": "-Dspark.worker.cleanup.enabled=true "
             "-Dspark.worker.cleanup.interval=600 -Dspark.worker.cleanup.appDataTtl=3600"},
        prepare=partial(work_dir.mkdir, parents=True, exist_ok=True),
    )
    return [master, worker]


# --- ClickHouse: the official server when on PATH, else the chDB-backed endpoint -----------


def clickhouse_server_config(topo: Topology, home: Path, password: str) -> str:
    digest = hashlib.sha256(password.encode()).hexdigest()
    return f"""<clickhouse>
  <listen_host>{topo.host}</listen_host>
  <http_port>{topo.clickhouse_http_port}</http_port>
  <tcp_port>0</tcp_port>
  <path>{home}/data/</path>
  <tmp_path>{home}/tmp/</tmp_path>
  <user_files_path>{home}/user_files/</user_files_path>
  <logger><level>information</level><console>1</console></logger>
  <users>
    <{topo.clickhouse_user}>
      <password_sha256_hex>{digest}</password_sha256_hex>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile><quota>default</quota>
      <access_management>1</access_management>
    </{topo.clickhouse_user}>
    <default><password></password><profile>readonly</profile>
      <networks><ip>127.0.0.1</ip></networks><quota>default</quota></default>
  </users>
  <profiles><default/><readonly><readonly>1</readonly></readonly></profiles>
  <quotas><default/></quotas>
</clickhouse>
"""


def clickhouse_service(topo: Topology, secrets: dict[str, str]) -> Service:
    home = STATE_DIR / "clickhouse"
    password = secrets["CLICKHOUSE_PASSWORD"]
    probe = partial(health.clickhouse, topo.clickhouse_url, topo.clickhouse_user, password)
    server = shutil.which("clickhouse")
    if server:
        config = home / "config.xml"

        def prepare() -> None:
            home.mkdir(parents=True, exist_ok=True)
            config.write_text(clickhouse_server_config(topo, home, password))
            config.chmod(0o600)

        command = [server, "server", f"--config-file={config}"]
    else:
        def prepare() -> None:
            (home / "data").mkdir(parents=True, exist_ok=True)

        command = [sys.executable, "-m", "clickhouse.endpoint", "--data-path", str(home / "data"),
                   "--host", topo.host, "--port", str(topo.clickhouse_http_port),
                   "--user", topo.clickhouse_user]
    return Service(
        name="clickhouse",
        address=topo.clickhouse_url,
        command=command,
        probe=probe,
        env={"CLICKHOUSE_PASSWORD": password},
        prepare=prepare,
        workdir=ROOT,
    )


# --- LocalStack (S3) ------------------------------------------------------------------------


def s3_client(topo: Topology, secrets: dict[str, str]):
    return object_storage.s3_client(topo, {**os.environ, **secrets})


def restore_s3(topo: Topology, secrets: dict[str, str], snapshot_dir: Path) -> None:
    """The buckets saved by `make down`, then the checkpoint bucket (runtime.bootstrap)."""
    s3_snapshot.restore(s3_client(topo, secrets), snapshot_dir)
    bootstrap.run(["bucket"], topo, {**os.environ, **secrets})


def localstack_service(topo: Topology, secrets: dict[str, str]) -> Service:
    home = STATE_DIR / "localstack"
    return Service(
        name="localstack",
        address=topo.s3_endpoint,
        command=[str(LOCALSTACK_PYTHON), "-m", "localstack.runtime.main"],
        probe=partial(health.localstack, topo.s3_endpoint),
        env={
            "GATEWAY_LISTEN": f"{topo.host}:{topo.s3_port}",
            "SERVICES": "s3,sts,iam",
            "DNS_ADDRESS": "0",  # no DNS server: nothing here resolves through LocalStack
            "DISABLE_EVENTS": "1",  # no analytics calls home
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "LOCALSTACK_VOLUME_DIR": str(home / "volume"),
        },
        prepare=partial((home / "volume").mkdir, parents=True, exist_ok=True),
        ready=partial(restore_s3, topo, secrets, home / "s3"),
        workdir=home,
        stop_timeout=20,
    )


def all_services(topo: Topology, secrets: dict[str, str]) -> list[Service]:
    """In start order: the slow starters first, so their start-up overlaps the others'."""
    return [
        localstack_service(topo, secrets),
        kafka_service(topo),
        *spark_services(topo),
        clickhouse_service(topo, secrets),
    ]
