"""The dashboard as its own process against the local stack, and windows written the way the
job's sink writes them."""

from __future__ import annotations

import json
import math
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from stack.paths import LOG_DIR
from tests.integration.test_pipeline_e2e import local_env
from tests.support import wait_until

WINDOW_COLUMNS = ["exchange", "product_id", "window_start", "window_end", "trade_count",
                  "volume", "notional", "vwap", "average_price", "open", "high", "low", "close",
                  "buy_volume", "sell_volume", "version"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, timeout: float = 10) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


class DashboardRun:
    """python -m dashboard on a free port, reading `database` and the given topics."""

    def __init__(self, name: str, database: str, topic: str, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = LOG_DIR / f"test-dashboard-{name}.log"
        self.env = {**local_env(), "CLICKHOUSE_DATABASE": database, "KAFKA_TOPIC": topic,
                    "KAFKA_DLQ_TOPIC": f"{topic}.dlq", "DASHBOARD_PORT": str(self.port),
                    **{f"DASHBOARD_{k.upper()}": str(v) for k, v in settings.items()}}
        self.process: subprocess.Popen | None = None

    def start(self) -> DashboardRun:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "dashboard"], env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT)
        wait_until(self.answers, timeout=60,
                   message=f"the dashboard at {self.url} (log {self.log})")
        return self

    def answers(self) -> bool:
        assert self.process.poll() is None, f"the dashboard exited; see {self.log}"
        try:
            get_json(f"{self.url}/api/health", timeout=2)
        except OSError:
            return False
        return True

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    def api(self, path: str) -> tuple[int, object]:
        return get_json(f"{self.url}{path}")


@contextmanager
def running_dashboard(*args, **settings) -> Iterator[DashboardRun]:
    dashboard = DashboardRun(*args, **settings).start()
    try:
        yield dashboard
    finally:
        assert dashboard.stop() == 0, f"the dashboard did not stop cleanly; see {dashboard.log}"


def insert_windows(client, database: str, rows: list[tuple]) -> None:
    """Rows in WINDOW_COLUMNS order, as the job's sink inserts them."""
    client.insert(f"{database}.trade_windows", rows, column_names=WINDOW_COLUMNS)


def candles_in_clickhouse(client, database: str, product: str, seconds: int) -> list[dict]:
    """What ClickHouse itself holds for a product at an interval: the job's final windows for
    30 s, migration 005's candles view otherwise; decimals as exact Decimal."""
    if seconds == 30:
        source, start = f"{database}.trade_windows_final", "window_start"
    else:
        source, start = f"{database}.candles(seconds = {seconds})", "candle_start"
    rows = client.query(
        f"SELECT toUnixTimestamp({start}), open, high, low, close, volume, notional, "
        f"buy_volume, sell_volume, vwap, trade_count FROM {source} "
        f"WHERE product_id = %(product)s ORDER BY {start}", parameters={"product": product},
    ).result_rows
    names = ["time", "open", "high", "low", "close", "volume", "notional", "buy_volume",
             "sell_volume", "vwap", "trade_count"]
    return [dict(zip(names, row, strict=True)) for row in rows]


def as_decimals(candles: list[dict]) -> list[dict]:
    """API candles with their decimal strings read back as Decimal (for equality with
    ClickHouse's values, whatever the number of trailing zeros)."""
    return [{k: Decimal(v) if isinstance(v, str) else v for k, v in c.items()} for c in candles]


# VWAP is a float ratio of exact sums (migration 005); ClickHouse's Decimal -> Float64
# conversion has been seen to differ by one ulp between two reads of the same rows, so it is
# compared within this relative tolerance; every exact column is compared exactly.
VWAP_TOLERANCE = 1e-12


def same_candle(a: dict, b: dict) -> bool:
    return (a.keys() == b.keys() and
            all(a[k] == b[k] for k in a if k != "vwap") and
            math.isclose(a["vwap"], b["vwap"], rel_tol=VWAP_TOLERANCE))


def same_candles(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(same_candle(x, y) for x, y in zip(a, b, strict=True))


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def screenshot_path() -> Path:
    return LOG_DIR.parent / "screenshots" / "dashboard.png"
