"""`make demo`: the simulator (or live Coinbase) -> producer -> Kafka -> Spark job -> ClickHouse,
with the dashboard in the browser (its URL is printed) and a terminal view of the latest windows
per product. Ctrl-C stops the producer, the job and the dashboard cleanly.

Expects the stack up and migrated (`make demo` does both first).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from clickhouse.client import connect
from dashboard import config as dashboard_config
from demo.view import latest_windows_sql, render
from runtime.topology import load
from stack import secrets
from stack.paths import LOG_DIR
from stack.services import LOCAL_JOB_ENV

CLEAR = "\033[H\033[2J"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--source", default=os.environ.get("SOURCE", "simulator"),
                        choices=["simulator", "coinbase", "coinbase-advanced"],
                        help="trade source [env SOURCE] (default: simulator)")
    parser.add_argument("--refresh", type=float, default=3.0, help="view refresh, seconds")
    parser.add_argument("--duration", type=float, default=0,
                        help="stop after this many seconds (0: until Ctrl-C)")
    return parser.parse_args(argv)


def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    log = (LOG_DIR / f"demo-{name}.log").open("ab")
    print(f"starting {name}: log {log.name}", flush=True)
    # A session of its own: the terminal's Ctrl-C reaches only us, and we stop children in order.
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(name: str, process: subprocess.Popen, timeout: float = 60) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within {timeout:.0f} s: killing it", flush=True)
            process.kill()
    print(f"{name} stopped (exit {process.wait()})", flush=True)
    return process.returncode


def query_view(client, sql: str) -> list:
    try:
        return client.query(sql).result_rows
    except Exception as error:  # noqa: BLE001 - the view keeps going while ClickHouse restarts
        return [("error", str(error)[:80], 0, 0, 0, 0, 0, 0, 0, 0)]


def main(argv=None) -> int:
    args = parse_args(argv)
    topo, creds = load(), secrets.load_or_create()
    env = {**LOCAL_JOB_ENV, **os.environ, **creds}
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    producer = start("producer", [python, "-m", "producer", "--source", args.source,
                                  "--stats-table", "on"], env)
    job = start("job", [python, "-m", "spark_jobs.submit", "--output-mode", "update",
                        "--trigger-interval", "5 seconds"], env)
    dashboard = start("dashboard", [python, "-m", "dashboard"], env)
    dashboard_url = dashboard_config.load(env).url
    client = connect(topo.clickhouse_url, topo.clickhouse_user, creds["CLICKHOUSE_PASSWORD"])
    sql = latest_windows_sql(topo.clickhouse_database, f"{topo.windows_table}_final")
    began = time.monotonic()
    try:
        while not args.duration or time.monotonic() - began < args.duration:
            if any(p.poll() is not None for p in (producer, job, dashboard)):
                print("a component exited; see .state/logs/demo-*.log", flush=True)
                break
            status = (f"cryptostream demo — source {args.source} — {time.strftime('%H:%M:%S')}"
                      f" — dashboard {dashboard_url}")
            print(CLEAR + render(query_view(client, sql), status), flush=True)
            time.sleep(args.refresh)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    codes = [stop("producer", producer), stop("job", job), stop("dashboard", dashboard)]
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
