"""`make bench-dashboard`: how fast the dashboard's API answers a day of 1m candles for one
product, beside the same query sent straight to ClickHouse, both timed by curl.

1. Starts the demo in the background (simulator -> producer -> Kafka -> job -> ClickHouse, and
   the demo's own dashboard) and waits for its job's first batch, so that the figures are
   taken on a machine doing the demo's work (--no-demo: an idle stack).
2. Writes one day of 30 s windows for one product into a bench database (once; 2880 windows,
   1440 one-minute candles).
3. Starts a dashboard on that database and alternates, --requests times each:
   - `GET /api/candles?interval=1m` over the day (validation, the query, JSON);
   - the SQL that request runs, with the same parameters, sent to ClickHouse's HTTP interface
     with FORMAT JSON.
   curl's time_total times both (connect to last byte), so client overhead is the same.
4. Prints median and p95 of each, their ratio, the rows returned, and the goal: the API's
   median at most 50 ms.
5. Live: a headless Chromium opens the page at 30s; --live-windows times, a new window row is
   written to ClickHouse (as the job's sink writes it) and the bench reads, from the page, when
   that window reached the chart. Prints the delay from the row's updated_at (ClickHouse's
   insert time) to the chart, median / p95 / max; the goal: within a second.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from clickhouse.client import connect
from clickhouse.migrate import default_names, migrate
from dashboard import config
from dashboard.browser import chromium_page
from dashboard.params import CandleRequest, Market
from dashboard.sources import ClickHouseReader
from runtime import topology
from spark_jobs.bench_common import percentile, wait_for
from spark_jobs.config import WINDOWS_QUERY
from stack.paths import LOG_DIR

GOAL_MS = 50
# The windows table's columns the bench writes, as the job's sink does (migration 001).
WINDOW_COLUMNS = ("exchange, product_id, window_start, window_end, trade_count, volume, "
                  "notional, vwap, average_price, open, high, low, close, buy_volume, "
                  "sell_volume, version")
LIVE_GOAL_S = 1.0
DAY = datetime(2024, 6, 1, tzinfo=UTC)
MARKET = Market("coinbase", "BTC-USD")
LOG = "bench-dashboard"


def log_path(name: str) -> Path:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    return LOG_DIR / f"{LOG}-{name}.log"


def start_demo(client, topo) -> subprocess.Popen:
    began = client.query("SELECT now64(3)").result_rows[0][0]
    demo = subprocess.Popen([sys.executable, "-m", "demo"], stdout=log_path("demo").open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    progress = f"{topo.clickhouse_database}.{topo.progress_table}"
    wait_for(lambda: demo.poll() is not None or client.query(
        f"SELECT count() FROM {progress} WHERE query_name = %(q)s "
        f"AND timestamp > %(t)s", parameters={"q": WINDOWS_QUERY, "t": began}
    ).result_rows[0][0], timeout=300, what="the demo's first job batch")
    if demo.poll() is not None:
        raise SystemExit(f"bench-dashboard: the demo exited {demo.returncode}; "
                         f"see {log_path('demo')}")
    return demo


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    """SIGTERM for the dashboard; SIGINT for the demo (its Ctrl-C: it stops its children)."""
    if process.poll() is None:
        process.send_signal(sig)
        process.wait(120)


def windows_table(database: str) -> str:
    return f"{database}.{topology.load().windows_table}"


def ensure_day_of_windows(client, database: str) -> None:
    migrate(client, default_names(database))
    table = windows_table(database)
    if client.command(f"SELECT count() FROM {table}") == 2880:
        return
    client.command(f"TRUNCATE TABLE {table}")
    client.command(
        f"INSERT INTO {table} ({WINDOW_COLUMNS}) "
        f"SELECT %(exchange)s, %(product)s, %(day)s + toIntervalSecond(number * 30), "
        f"%(day)s + toIntervalSecond(number * 30 + 30), 10 + number %% 90, "
        f"toDecimal128(1 + (number %% 13) / 10, 18), toDecimal128((1 + (number %% 13) / 10) * "
        f"(60000 + number %% 500), 18), 60000 + number %% 500, 60000 + number %% 500, "
        f"toDecimal128(60000 + number %% 499, 18), toDecimal128(60600, 18), "
        f"toDecimal128(59400, 18), toDecimal128(60000 + number %% 497, 18), "
        f"toDecimal128(0.5, 18), toDecimal128(0.5 + (number %% 13) / 10, 18), 1 "
        f"FROM numbers(2880)",
        parameters={"exchange": MARKET.exchange, "product": MARKET.product, "day": DAY})


def curl_seconds(args: list[str]) -> float:
    out = subprocess.run(["curl", "-s", "-f", "-o", "/dev/null", "-w", "%{time_total}", *args],
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def summary(name: str, seconds: list[float]) -> str:
    p95 = percentile(sorted(seconds), 0.95)
    return (f"  {name:<34} median {statistics.median(seconds) * 1000:7.1f} ms   "
            f"p95 {p95 * 1000:7.1f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="timed requests of each kind")
    parser.add_argument("--no-demo", action="store_true", help="do not run the demo meanwhile")
    parser.add_argument("--live-windows", type=int, default=20,
                        help="windows written while the page watches (0: skip the live part)")
    parser.add_argument("--database", default="bench_dashboard")
    args = parser.parse_args(argv)
    topo, password = topology.load(), os.environ.get("CLICKHOUSE_PASSWORD", "")
    client = connect(topo.clickhouse_url, topo.clickhouse_user, password)
    demo = None if args.no_demo else start_demo(client, topo)
    try:
        return measure(args, topo, password, client, demo is not None)
    finally:
        if demo is not None:
            stop(demo, signal.SIGINT)


def measure(args, topo, password: str, client, with_demo: bool) -> int:
    ensure_day_of_windows(client, args.database)
    settings = config.load()
    port = settings.port + 1
    env = {**os.environ, "CLICKHOUSE_DATABASE": args.database, "DASHBOARD_PORT": str(port)}
    dashboard = subprocess.Popen([sys.executable, "-m", "dashboard"], env=env,
                                 stdout=log_path("server").open("ab"), stderr=subprocess.STDOUT)
    try:
        api = f"http://127.0.0.1:{port}/api/candles?" + urlencode({
            "exchange": MARKET.exchange, "product": MARKET.product, "interval": "1m",
            "from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()})
        wait_for(lambda: answers(api, dashboard), timeout=60, what="the bench's dashboard")
        candles = len(json.load(urllib.request.urlopen(api))["candles"])
        sql_args = clickhouse_curl_args(topo, password, args.database)
        api_times, direct_times = [], []
        for _ in range(5):  # warm-up: connections, caches, the JIT-free but cold Python paths
            curl_seconds([api])
            curl_seconds(sql_args)
        for _ in range(args.requests):
            api_times.append(curl_seconds([api]))
            direct_times.append(curl_seconds(sql_args))
        delays = live_delays(client, args.database, port, args.live_windows)
    finally:
        stop(dashboard)
    ratio = statistics.median(api_times) / statistics.median(direct_times)
    median_ms = statistics.median(api_times) * 1000
    print(f"dashboard API: one day of 1m candles for {MARKET.product} ({candles} candles from "
          f"2880 windows), {args.requests} requests each, "
          f"{'with the demo running' if with_demo else 'idle stack (--no-demo)'}")
    print(summary("GET /api/candles (JSON)", api_times))
    print(summary("same SQL straight to ClickHouse", direct_times))
    print(f"  API / ClickHouse: {ratio:.2f}x")
    verdict = "met" if median_ms <= GOAL_MS else "NOT met"
    print(f"  goal: API median <= {GOAL_MS} ms: {verdict} ({median_ms:.1f} ms)")
    if delays:
        print(f"live: {len(delays)} new windows, from the row's insert in ClickHouse to the "
              f"chart (SSE push, then the page's /api/candles read)")
        print(summary("row written -> on the chart", delays) +
              f"   max {max(delays) * 1000:7.1f} ms")
        verdict = "met" if max(delays) <= LIVE_GOAL_S else "NOT met"
        print(f"  goal: every window on the chart within {LIVE_GOAL_S:.0f} s of its row: "
              f"{verdict}")
    return 0


def live_delays(client, database: str, port: int, windows: int) -> list[float]:
    """Seconds from each new window row's updated_at to its arrival on the page's chart."""
    if not windows:
        return []
    delays = []
    url = f"http://127.0.0.1:{port}/#{MARKET.product}/30s"
    with chromium_page(url) as page:
        wait_for(lambda: page.evaluate("window.cryptostream && window.cryptostream.state.loaded"),
                 timeout=60, what="the page's first candles")
        for index in range(windows):
            start = DAY + timedelta(days=1, seconds=30 * index)
            write_window(client, database, start)
            written_ms = client.query(
                f"SELECT toUnixTimestamp64Milli(max(updated_at)) FROM {windows_table(database)} "
                f"WHERE window_start = %(start)s", parameters={"start": start}).result_rows[0][0]
            applied_ms = wait_for(lambda s=start: page.evaluate(
                f"window.cryptostream.state.appliedAt.get({int(s.timestamp())})"),
                timeout=30, what=f"window {start.isoformat()} on the chart")
            delays.append((applied_ms - written_ms) / 1000)
        if page.errors:
            raise SystemExit(f"bench-dashboard: the page failed: {page.errors}")
    return delays


def write_window(client, database: str, start: datetime) -> None:
    client.command(
        f"INSERT INTO {windows_table(database)} ({WINDOW_COLUMNS}) VALUES "
        f"(%(exchange)s, %(product)s, %(start)s, %(end)s, 5, 1, 60000, 60000, 60000, 60000, "
        f"60100, 59900, 60050, 0.5, 0.5, 1)",
        parameters={"exchange": MARKET.exchange, "product": MARKET.product, "start": start,
                    "end": start + timedelta(seconds=30)})


def answers(url: str, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise SystemExit(f"bench-dashboard: the dashboard exited; see {log_path('server')}")
    try:
        urllib.request.urlopen(url, timeout=5).read()
    except (urllib.error.URLError, OSError):
        return False
    return True


def clickhouse_curl_args(topo, password: str, database: str) -> list[str]:
    """curl arguments that POST the dashboard's own SQL for the same request to ClickHouse."""
    request = CandleRequest(MARKET, "1m", DAY, DAY + timedelta(days=1))
    reader = ClickHouseReader(replace(topo, clickhouse_database=database), password,
                              config.load())
    sql, parameters = reader.candles_query(request)
    query = urlencode({f"param_{k}": v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime)
                       else v for k, v in parameters.items()})
    return ["-u", f"{topo.clickhouse_user}:{password}", "--data-binary", f"{sql} FORMAT JSON",
            f"{topo.clickhouse_url}/?{query}"]


if __name__ == "__main__":
    sys.exit(main())
