"""python -m clickhouse.endpoint --data-path DIR: serve the ClickHouse HTTP interface over chDB.

Configuration (flags win over the environment):
  --host   CLICKHOUSE_HOST       default 127.0.0.1
  --port   CLICKHOUSE_HTTP_PORT  default 8123
  --user   CLICKHOUSE_USER       default "default"
  password CLICKHOUSE_PASSWORD   default empty (environment only, never a flag)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from .app import Endpoint
from .engine import Engine
from .server import EndpointServer

log = logging.getLogger("clickhouse.endpoint")
SHUTDOWN_GRACE_SECONDS = 30


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m clickhouse.endpoint",
        description="ClickHouse HTTP interface over the embedded chDB engine (local use only).",
    )
    parser.add_argument("--data-path", required=True, type=Path, help="chDB data directory")
    parser.add_argument("--host", default=env.get("CLICKHOUSE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("CLICKHOUSE_HTTP_PORT", "8123")))
    parser.add_argument("--user", default=env.get("CLICKHOUSE_USER", "default"))
    parser.add_argument(
        "--display-name", default=socket.gethostname(), help="X-ClickHouse-Server-Display-Name"
    )
    parser.add_argument("--log-level", default=env.get("CLICKHOUSE_ENDPOINT_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args.data_path.mkdir(parents=True, exist_ok=True)
    engine = Engine(str(args.data_path.resolve()))
    password = os.environ.get("CLICKHOUSE_PASSWORD", "")
    endpoint = Endpoint(engine, args.user, password, args.display_name)
    server = EndpointServer((args.host, args.port), endpoint)
    stop = threading.Event()

    def request_stop(signum, _frame):
        log.info("signal %s: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    log.info(
        "serving ClickHouse HTTP on http://%s:%d (engine chDB %s, data %s, user %s)",
        args.host,
        server.server_address[1],
        engine.version,
        args.data_path,
        args.user,
    )
    stop.wait()
    server.shutdown()  # no new requests
    if not server.wait_idle(SHUTDOWN_GRACE_SECONDS):
        log.warning("requests still running after %ss; closing anyway", SHUTDOWN_GRACE_SECONDS)
    engine.close()
    server.server_close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
