#!/usr/bin/env bash
# Healthy when this broker answers an ApiVersions request on its listener KAFKA_HEALTH_ADDRESS
# (default localhost:9092). That probe is a small JVM (about a second of CPU), so once it has
# passed, later checks only open a TCP connection to the listener; the marker lives in /dev/shm,
# which every container start mounts afresh, so a restarted broker is probed fully again.
set -euo pipefail
ADDRESS=${KAFKA_HEALTH_ADDRESS:-localhost:9092}
MARKER=/dev/shm/kafka-answered-api-versions

if [ -e "$MARKER" ]; then
    exec 3<>"/dev/tcp/${ADDRESS%:*}/${ADDRESS##*:}"
    exit 0
fi
java -Xmx64m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto \
    -Dlog4j2.configurationFile=/opt/kafka-container/log4j2.properties \
    -cp "${KAFKA_HOME:-/opt/cryptostream/kafka}/libs/*" org.apache.kafka.tools.BrokerApiVersionsCommand \
    --bootstrap-server "$ADDRESS" >/dev/null 2>&1
touch "$MARKER"
