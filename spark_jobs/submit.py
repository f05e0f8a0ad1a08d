"""Run the streaming job's driver here, against the standalone cluster, with the cached jars.

    python -m spark_jobs.submit [job flags...]

(job flags: python -m spark_jobs.stream_to_clickhouse --help)

The driver is this Python process (client mode) rather than a child of spark-submit's JVM, so
SIGTERM / Ctrl-C reach the job's own handler, which stops the queries between batches and exits
0. pyspark starts the JVM with the same arguments spark-submit would get, through
PYSPARK_SUBMIT_ARGS; nothing is downloaded.

Credentials (CLICKHOUSE_PASSWORD, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, KAFKA_SASL_*) come
from the environment only: a node's env file, the container's environment, or the dev runner
(`python -m stack run -- python -m spark_jobs.submit`, as `make job` does).
"""

from __future__ import annotations

import os
import shlex
import sys

from runtime.topology import load
from spark_jobs.session import cluster_settings, spark_home

JOB_MODULE = "spark_jobs.stream_to_clickhouse"


def submit_args(master: str | None = None) -> str:
    args = ["--master", master or load().spark_master_url]
    for key, value in cluster_settings().items():
        args += ["--conf", f"{key}={value}"]
    return shlex.join([*args, "pyspark-shell"])


def job_environment(master: str | None = None) -> dict[str, str]:
    """The caller's environment, with Spark's home and submit arguments."""
    topo = load()
    return {
        "SPARK_LOCAL_IP": topo.host,
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "PYSPARK_SUBMIT_ARGS": submit_args(master),
    }


def main(argv: list[str] | None = None) -> None:
    job_args = list(sys.argv[1:] if argv is None else argv)
    command = [sys.executable, "-m", JOB_MODULE, *job_args]
    os.execve(command[0], command, job_environment())


if __name__ == "__main__":
    main()
