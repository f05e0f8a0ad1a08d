"""Submit the streaming job to the standalone cluster with the cached connector jars.

    python -m spark_jobs.submit [job flags...]

(job flags: python -m spark_jobs.stream_to_clickhouse --help)

spark-submit comes from the pyspark wheel; nothing is downloaded at submit time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from spark_jobs.session import cluster_settings
from stack.services import spark_home
from stack.topology import load

JOB = Path(__file__).resolve().parent / "stream_to_clickhouse.py"


def submit_command(job_args: list[str], master: str | None = None) -> list[str]:
    spark_submit = str(spark_home() / "bin" / "spark-submit")
    command = [spark_submit, "--master", master or load().spark_master_url]
    for key, value in cluster_settings().items():
        command += ["--conf", f"{key}={value}"]
    return [*command, str(JOB), *job_args]


def main(argv: list[str] | None = None) -> None:
    command = submit_command(list(sys.argv[1:] if argv is None else argv))
    env = dict(os.environ, SPARK_HOME=str(spark_home()))
    os.execvpe(command[0], command, env)  # replace this process: signals reach spark-submit


if __name__ == "__main__":
    main()
