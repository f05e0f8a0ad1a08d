#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`; idempotent.
#
#   docker/engine.sh            install Debian's docker.io if dockerd is missing, start dockerd in
#                               the background when nothing answers, wait until it does
#
# Configuration (environment):
#   DOCKERD_LOG            daemon log file              default /var/log/dockerd.log
#   DOCKERD_FLAGS          extra dockerd flags          default none (the defaults work here, see
#                                                       docker/README.md)
#   DOCKER_START_TIMEOUT   seconds to wait for the API  default 60
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DOCKER_START_TIMEOUT=${DOCKER_START_TIMEOUT:-60}
PIDFILE=/var/run/docker.pid

say() { echo "docker-engine: $*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

install_engine() {
    if [ "$(id -u)" != 0 ]; then
        say "dockerd is not installed and installing it needs root (apt-get install docker.io)"
        exit 1
    fi
    say "installing Debian's docker.io (dockerd, containerd, runc)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends docker.io iptables ca-certificates
}

daemon_running() {
    [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

start_daemon() {
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    say "starting dockerd (log: $DOCKERD_LOG)"
    # setsid: the daemon outlives this script and the make/CI shell that ran it.
    # shellcheck disable=SC2086
    setsid dockerd ${DOCKERD_FLAGS:-} >>"$DOCKERD_LOG" 2>&1 </dev/null &
}

wait_for_api() {
    local deadline=$((SECONDS + DOCKER_START_TIMEOUT))
    until engine_answers; do
        if ((SECONDS >= deadline)); then
            say "dockerd did not answer within ${DOCKER_START_TIMEOUT}s; last lines of $DOCKERD_LOG:"
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            exit 1
        fi
        sleep 0.5
    done
}

main() {
    if engine_answers; then
        say "already running ($(docker info --format '{{.ServerVersion}}, storage {{.Driver}}'))"
        return 0
    fi
    command -v dockerd >/dev/null || install_engine
    command -v docker >/dev/null || install_engine
    # A daemon that is still starting (or was started by someone else) is waited for, not doubled.
    daemon_running || start_daemon
    wait_for_api
    say "ready ($(docker info --format '{{.ServerVersion}}, storage {{.Driver}}'))"
}

main "$@"
