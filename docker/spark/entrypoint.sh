#!/usr/bin/env bash
# Spark standalone from the pyspark wheel, role by the first argument:
#   spark-role master   SPARK_MASTER_HOST (default: this hostname), SPARK_MASTER_PORT (7077),
#                       SPARK_MASTER_WEBUI_PORT (8080)
#   spark-role worker   SPARK_MASTER_URL (required), SPARK_WORKER_CORES (all), SPARK_WORKER_MEMORY
#                       (2g), SPARK_WORKER_WEBUI_PORT (8081), SPARK_WORKER_HOST (this hostname)
#   anything else       run as a command (e.g. spark-submit, bash)
set -euo pipefail

SPARK_CLASS="$SPARK_HOME/bin/spark-class"
export SPARK_DAEMON_MEMORY=${SPARK_DAEMON_MEMORY:-512m}
export SPARK_NO_DAEMONIZE=1

role=${1:-master}
case "$role" in
master)
    exec "$SPARK_CLASS" org.apache.spark.deploy.master.Master \
        --host "${SPARK_MASTER_HOST:-$(hostname)}" \
        --port "${SPARK_MASTER_PORT:-7077}" \
        --webui-port "${SPARK_MASTER_WEBUI_PORT:-8080}"
    ;;
worker)
    : "${SPARK_MASTER_URL:?SPARK_MASTER_URL is required for a worker (spark://host:port)}"
    exec "$SPARK_CLASS" org.apache.spark.deploy.worker.Worker "$SPARK_MASTER_URL" \
        --host "${SPARK_WORKER_HOST:-$(hostname)}" \
        --webui-port "${SPARK_WORKER_WEBUI_PORT:-8081}" \
        --cores "${SPARK_WORKER_CORES:-$(nproc)}" \
        --memory "${SPARK_WORKER_MEMORY:-2g}" \
        --work-dir /var/lib/spark/work
    ;;
*)
    exec "$@"
    ;;
esac
