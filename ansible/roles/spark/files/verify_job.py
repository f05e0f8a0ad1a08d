"""Smoke job for the Spark role: a tiny real computation on the standalone cluster.

    python verify_job.py spark://master:7077 DRIVER_HOST

Prints one JSON line: {"sum": <sum of 0..999>, "executor_hosts": [...]} (the hosts of the
executors that registered with this driver; the driver itself is left out).
"""

import json
import sys

from pyspark.sql import SparkSession


def main() -> int:
    master, driver_host = sys.argv[1], sys.argv[2]
    spark = (SparkSession.builder.appName("spark-role-verify").master(master)
             .config("spark.driver.host", driver_host)
             .config("spark.driver.bindAddress", driver_host)
             .config("spark.ui.enabled", "false")
             .getOrCreate())
    try:
        total = spark.range(1000).selectExpr("sum(id) AS s").collect()[0]["s"]
        tracker = spark.sparkContext._jsc.sc().statusTracker()
        infos = tracker.getExecutorInfos()
        hosts = sorted({info.host() for info in infos} - {driver_host})
    finally:
        spark.stop()
    print(json.dumps({"sum": int(total), "executor_hosts": hosts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
