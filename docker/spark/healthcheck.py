#!/opt/venv/bin/python
"""Container health check for spark-role: exit 0 when healthy, 1 with the reason otherwise.

master: its UI reports status ALIVE.  worker: the master it registered with lists it as ALIVE.
The role is read from PID 1's command line (tini -- spark-role ROLE).
"""

import json
import os
import sys
import urllib.request

TIMEOUT_S = 3


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return json.load(response)


def role() -> str:
    with open("/proc/1/cmdline", "rb") as cmdline:
        args = cmdline.read().decode().split("\0")
    return "worker" if "worker" in args else "master"


def check_master() -> None:
    port = os.environ.get("SPARK_MASTER_WEBUI_PORT", "8080")
    status = get_json(f"http://127.0.0.1:{port}/json/").get("status")
    if status != "ALIVE":
        raise RuntimeError(f"master status is {status}")


def check_worker() -> None:
    port = os.environ.get("SPARK_WORKER_WEBUI_PORT", "8081")
    worker = get_json(f"http://127.0.0.1:{port}/json/")
    master_ui = worker.get("masterwebuiurl")
    if not master_ui:
        raise RuntimeError("worker has not registered with a master yet")
    workers = get_json(f"{master_ui.rstrip('/')}/json/").get("workers", [])
    state = next((w.get("state") for w in workers if w.get("id") == worker.get("id")), None)
    if state != "ALIVE":
        raise RuntimeError(f"master lists worker {worker.get('id')} as {state}")


def main() -> int:
    try:
        check_worker() if role() == "worker" else check_master()
    except Exception as err:  # any failure is "unhealthy", with the reason in docker inspect
        print(f"unhealthy: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
