"""Bring the local stack up, report on it, and bring it down."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass

from runtime.topology import Topology, load
from stack import s3_snapshot, secrets, supervisor
from stack.paths import LOG_DIR, STATE_DIR
from stack.services import Service, all_services, s3_client

FAILED_STATES = {"FATAL", "EXITED", "BACKOFF", "STOPPED", "UNKNOWN"}


class ServiceFailed(RuntimeError):
    pass


@dataclass
class Stack:
    topo: Topology
    secrets: dict[str, str]
    services: list[Service]

    def service(self, name: str) -> Service:
        for candidate in self.services:
            if candidate.name == name:
                return candidate
        raise KeyError(f"no service named {name!r}; known: {[s.name for s in self.services]}")


def current() -> Stack:
    topo = load()
    creds = secrets.load_or_create()
    return Stack(topo, creds, all_services(topo, creds))


def say(message: str) -> None:
    print(message, flush=True)


def probe(service: Service) -> str | None:
    try:
        return service.probe()
    except Exception:  # noqa: BLE001 - any failure means "not healthy yet"
        return None


def wait_healthy(service: Service) -> str:
    """Wait until the probe passes; fail fast, with the log's tail, if the process dies."""
    deadline = time.monotonic() + service.start_timeout
    next_note = time.monotonic() + 10
    while True:
        version = probe(service)
        if version:
            return version
        state = supervisor.state_of(service.name)
        if state in FAILED_STATES:
            raise ServiceFailed(f"process is {state}")
        if time.monotonic() > deadline:
            raise ServiceFailed(f"not healthy after {service.start_timeout:.0f} s")
        if time.monotonic() > next_note:
            say(f"  … still waiting for {service.name} at {service.address} (process {state})")
            next_note += 10
        time.sleep(0.5)


def ensure_supervisor(stack: Stack) -> None:
    changed = supervisor.write_config(stack.services)
    if not supervisor.is_running():
        say(f"starting supervisord (config {supervisor.CONF_FILE})")
        supervisor.start_daemon(dict(os.environ, **stack.secrets))
    elif changed:
        for name in supervisor.reload_changed():
            say(f"{name}: configuration changed, restarting")


def start_services(stack: Stack, services: list[Service]) -> None:
    started = []
    for service in services:
        if supervisor.state_of(service.name) == "RUNNING" and probe(service):
            say(f"{service.name}: already up at {service.address}")
            continue
        say(f"{service.name}: starting")
        with reporting_failure(service):
            service.prepare()
            supervisor.start(service.name)
        started.append(service)
    for service in started:
        with reporting_failure(service):
            version = wait_healthy(service)
            service.ready()
        say(f"{service.name}: up at {service.address} (version {version})")


@contextmanager
def reporting_failure(service: Service):
    """Turn any start-up failure into ServiceFailed carrying the tail of the service's log."""
    try:
        yield
    except Exception as failure:  # noqa: BLE001 - reported with context, then re-raised
        log = supervisor.log_file(service.name)
        raise ServiceFailed(
            f"{service.name} failed to start: {failure}\n"
            f"--- last lines of {log} ---\n{supervisor.tail(service.name)}"
        ) from failure


def up(names: list[str] | None = None) -> Stack:
    stack = current()
    ensure_supervisor(stack)
    chosen = [s for s in stack.services if not names or s.name in names]
    start_services(stack, chosen)
    return stack


def save_s3(stack: Stack) -> None:
    localstack = stack.service("localstack")
    if not probe(localstack):
        return
    count = s3_snapshot.save(s3_client(stack.topo, stack.secrets), STATE_DIR / "localstack" / "s3")
    say(f"localstack: saved {count} S3 objects to the state folder")


def stop(names: list[str]) -> None:
    stack = current()
    if not supervisor.is_running():
        return
    for service in reversed(stack.services):
        if service.name in names:
            if service.name == "localstack":
                save_s3(stack)
            supervisor.stop(service.name)
            say(f"{service.name}: stopped")


def down() -> None:
    if not supervisor.is_running():
        say("nothing is running")
        return
    stack = current()
    stop([s.name for s in stack.services])
    supervisor.shutdown()
    say("supervisord: stopped (data kept in " + str(STATE_DIR) + ")")


def status_lines() -> list[str]:
    stack = current()
    lines = []
    for service in stack.services:
        state = supervisor.state_of(service.name)
        version = probe(service) if state == "RUNNING" else None
        health = "up" if version else ("unhealthy" if state == "RUNNING" else "down")
        lines.append(
            f"{service.name:<13} {health:<9} {service.address:<48} "
            f"version {version or '-':<10} log {supervisor.log_file(service.name)}"
        )
    return lines


def clean() -> None:
    down()
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    say(f"removed {STATE_DIR}")


def log_dir() -> str:
    return str(LOG_DIR)
