"""python -m dashboard: the live market dashboard (candles, pipeline panel) and its JSON API.

Settings: dashboard/config.py (DASHBOARD_* variables); ClickHouse and Kafka as for every
component. SIGINT/SIGTERM end the live streams and stop the server.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace

from aiohttp import web

from dashboard import config
from dashboard.server import Dashboard, check_assets, make_app
from dashboard.sources import ClickHouseReader, KafkaReader
from runtime import topology


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="address to listen on [env DASHBOARD_HOST]")
    parser.add_argument("--port", type=int, help="port to listen on [env DASHBOARD_PORT]")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("DASHBOARD_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = config.load()
        check_assets()
    except (ValueError, FileNotFoundError) as error:
        print(f"dashboard: {error}", file=sys.stderr)
        return 2
    host, port = args.host or settings.host, args.port or settings.port
    topo = topology.load()
    clickhouse = ClickHouseReader(topo, os.environ.get("CLICKHOUSE_PASSWORD", ""), settings)
    dashboard = Dashboard(settings, clickhouse, KafkaReader(topo))
    print(f"dashboard: {replace(settings, host=host, port=port).url}", flush=True)
    try:
        web.run_app(make_app(dashboard), host=host, port=port, print=None, shutdown_timeout=5,
                    access_log=None)
    finally:
        dashboard.kafka.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
