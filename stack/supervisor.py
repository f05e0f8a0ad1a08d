"""supervisord as the local stack's process supervisor.

Why supervisord: it owns the child processes (no pid files of our own to go stale), captures
their output into per-service log files with rotation, stops whole process groups, and exposes
an XML-RPC API on a unix socket that `make status`/`make down` and the tests drive.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path
from xmlrpc.client import Fault, ServerProxy

from supervisor.xmlrpc import SupervisorTransport

from stack.paths import LOG_DIR, STATE_DIR

SUPERVISOR_DIR = STATE_DIR / "supervisor"
CONF_FILE = SUPERVISOR_DIR / "supervisord.conf"
SOCKET = SUPERVISOR_DIR / "supervisor.sock"


def log_file(name: str) -> Path:
    return LOG_DIR / f"{name}.log"


def _escape(value: str) -> str:
    return value.replace("%", "%%")


def _program_section(service) -> str:
    env = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(service.env.items()))
    lines = [
        f"[program:{service.name}]",
        f"command={_escape(shlex.join(service.command))}",
        f"directory={service.workdir}",
        "autostart=false",
        "autorestart=unexpected",
        "startsecs=2",
        "startretries=1",
        f"stopwaitsecs={service.stop_timeout}",
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        f"stdout_logfile={log_file(service.name)}",
        "stdout_logfile_maxbytes=50MB",
        "stdout_logfile_backups=2",
    ]
    if env:
        lines.append(f"environment={env}")
    return "\n".join(lines) + "\n"


def render_config(services) -> str:
    head = f"""[unix_http_server]
file={SOCKET}
chmod=0700

[supervisord]
logfile={LOG_DIR / "supervisord.log"}
pidfile={SUPERVISOR_DIR / "supervisord.pid"}
directory={STATE_DIR}
childlogdir={LOG_DIR}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{SOCKET}
"""
    return head + "".join("\n" + _program_section(s) for s in services)


def rpc():
    transport = SupervisorTransport(None, None, f"unix://{SOCKET}")
    return ServerProxy("http://localhost", transport=transport)


def is_running() -> bool:
    if not SOCKET.exists():
        return False
    try:
        return rpc().supervisor.getState()["statename"] == "RUNNING"
    except (OSError, Fault):
        return False


def write_config(services) -> bool:
    """Write the config; return True when it changed."""
    text = render_config(services)
    SUPERVISOR_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    if CONF_FILE.exists() and CONF_FILE.read_text() == text:
        return False
    CONF_FILE.write_text(text)
    CONF_FILE.chmod(0o600)
    return True


def start_daemon(env: dict[str, str], timeout: float = 20) -> None:
    supervisord = Path(sys.executable).with_name("supervisord")
    subprocess.run([str(supervisord), "-c", str(CONF_FILE)], env=env, check=True)
    deadline = time.monotonic() + timeout
    while not is_running():
        if time.monotonic() > deadline:
            raise RuntimeError(f"supervisord did not come up; see {LOG_DIR / 'supervisord.log'}")
        time.sleep(0.2)


def reload_changed() -> list[str]:
    """Apply a changed config to the running daemon; return the names of changed programs."""
    added, changed, removed = rpc().supervisor.reloadConfig()[0]
    server = rpc().supervisor
    for name in removed:
        server.stopProcess(name)
        server.removeProcessGroup(name)
    for name in added:
        server.addProcessGroup(name)
    for name in changed:
        server.stopProcess(name)
        server.removeProcessGroup(name)
        server.addProcessGroup(name)
    return changed


def state_of(name: str) -> str:
    """RUNNING, STARTING, STOPPED, EXITED, FATAL, ... or DOWN when supervisord is not running."""
    if not is_running():
        return "DOWN"
    try:
        return rpc().supervisor.getProcessInfo(name)["statename"]
    except Fault:
        return "UNKNOWN"


def start(name: str) -> None:
    try:
        rpc().supervisor.startProcess(name, False)
    except Fault as fault:
        if "ALREADY_STARTED" not in fault.faultString:
            raise RuntimeError(f"supervisord could not start it: {fault.faultString}") from None


def stop(name: str) -> None:
    try:
        rpc().supervisor.stopProcess(name, True)
    except Fault as fault:
        if "NOT_RUNNING" not in fault.faultString:
            raise


def shutdown(timeout: float = 60) -> None:
    if not is_running():
        return
    rpc().supervisor.shutdown()
    deadline = time.monotonic() + timeout
    while SOCKET.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def tail(name: str, lines: int = 30) -> str:
    path = log_file(name)
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
