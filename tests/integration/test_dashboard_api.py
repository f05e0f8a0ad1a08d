"""The dashboard's JSON API and live stream as a process against the real local stack: the
candles it serves equal ClickHouse's rows at every interval, bad requests get a 400 naming
what was wrong, and a window row written to ClickHouse is pushed to a stream subscriber."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from clickhouse.client import connect
from dashboard.params import INTERVALS
from tests.integration.dashboard_support import (
    as_decimals,
    candles_in_clickhouse,
    insert_windows,
    running_dashboard,
    same_candle,
    same_candles,
    unix,
)
from tests.integration.test_pipeline_e2e import migrate

START = datetime(2024, 3, 1, tzinfo=UTC)
WINDOWS = 3 * 120  # three hours of 30 s windows per product
PRODUCTS = ("BTC-USD", "ETH-USD")


def window_row(product: str, index: int, version: int, rng: random.Random) -> tuple:
    start = START + timedelta(seconds=30 * index)
    prices = [Decimal(rng.randrange(10_000_000, 11_000_000)) / 100 for _ in range(4)]
    volume = Decimal(rng.randrange(1, 10**9)) / 10**8
    notional = (volume * prices[0]).quantize(Decimal("1e-18"))
    buy = (volume * Decimal(rng.randrange(0, 100)) / 100).quantize(Decimal("1e-18"))
    return ("coinbase", product, start, start + timedelta(seconds=30), rng.randrange(1, 500),
            volume, notional, float(notional / volume), float(prices[0]), prices[0],
            max(prices), min(prices), prices[-1], buy, volume - buy, version)


@pytest.fixture(scope="module")
def clickhouse_client(stack, credentials):
    return connect(stack.clickhouse_url, stack.clickhouse_user, credentials["CLICKHOUSE_PASSWORD"])


@pytest.fixture(scope="module")
def database(unique_module_name, clickhouse_client):
    """Three hours of windows for two products; the first hour of BTC-USD written twice, the
    second time with a higher version (as the job's update mode and replays do)."""
    migrate(unique_module_name)
    rng = random.Random(7)
    rows = [window_row(p, i, 1, rng) for p in PRODUCTS for i in range(WINDOWS)]
    rows += [window_row("BTC-USD", i, 2, rng) for i in range(120)]
    insert_windows(clickhouse_client, unique_module_name, rows)
    return unique_module_name


@pytest.fixture(scope="module")
def unique_module_name():
    return f"dash_api_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def dashboard(database, stack):
    with running_dashboard("api", database, f"{database}_trades", max_candles=2000,
                           poll_interval_s=0.2) as run:
        yield run


def test_products_list_each_market_with_its_first_and_last_window(dashboard):
    status, body = dashboard.api("/api/products")
    last = unix(START) + 30 * (WINDOWS - 1)
    assert status == 200
    assert body == [{"exchange": "coinbase", "product": p, "first": unix(START), "last": last}
                    for p in PRODUCTS]


@pytest.mark.parametrize("interval", list(INTERVALS))
def test_candles_equal_the_clickhouse_rows_at_every_interval(
        dashboard, clickhouse_client, database, interval):
    seconds = INTERVALS[interval]
    expected = candles_in_clickhouse(clickhouse_client, database, "BTC-USD", seconds)
    frm, to = unix(START) - 10 * seconds, unix(START) + WINDOWS * 30 + 10 * seconds
    status, body = dashboard.api(
        f"/api/candles?product=BTC-USD&interval={interval}&from={frm}&to={to}")
    assert status == 200, body
    assert (body["product"], body["interval"], body["seconds"]) == ("BTC-USD", interval, seconds)
    served = as_decimals(body["candles"])
    if not same_candles(served, expected):  # say what differs, and whether a re-read agrees
        again = candles_in_clickhouse(clickhouse_client, database, "BTC-USD", seconds)
        verdict = ("agrees with the API" if same_candles(again, served) else
                   "unchanged" if same_candles(again, expected) else "differs from both")
        differing = [(a, b) for a, b in zip(served, expected, strict=False)
                     if not same_candle(a, b)][:3]
        raise AssertionError(f"{interval}: {len(served)} candles served, {len(expected)} in "
                             f"ClickHouse; read again, ClickHouse {verdict}; first differences "
                             f"(served, ClickHouse): {differing}")
    assert len(expected) == -(-WINDOWS * 30 // seconds)


def test_a_range_returns_the_candles_starting_inside_it(dashboard, clickhouse_client, database):
    frm = START + timedelta(minutes=15)
    to = frm + timedelta(minutes=10)
    status, body = dashboard.api("/api/candles?" + urlencode(
        {"product": "ETH-USD", "interval": "1m", "from": frm.isoformat(), "to": to.isoformat()}))
    expected = [c for c in candles_in_clickhouse(clickhouse_client, database, "ETH-USD", 60)
                if unix(frm) <= c["time"] < unix(to)]
    assert status == 200
    assert same_candles(as_decimals(body["candles"]), expected) and len(expected) == 10


@pytest.mark.parametrize(("query", "message"), [
    ("interval=1m", "product is required"),
    ("product=DOGE-USD", "unknown product 'DOGE-USD'; known products: BTC-USD, ETH-USD"),
    ("product=BTC-USD'%20OR%201=1--", "unknown product"),
    ("product=BTC-USD&interval=7m", "unknown interval '7m'"),
    ("product=BTC-USD&from=1709300000&to=1709200000", "must be before to"),
    ("product=BTC-USD&from=-5", "before 2010-01-01"),
    ("product=BTC-USD&from=2024-01-01&to=2024-03-01", "at most 2000 per request"),
    ("product=BTC-USD&to=soon", "to='soon' is neither"),
    ("product=BTC-USD&from=2024-03-01T00:00:00+00:00", "write + as %2B"),
])
def test_bad_requests_get_a_400_naming_what_was_wrong(dashboard, query, message):
    status, body = dashboard.api(f"/api/candles?{query}")
    assert status == 400
    assert message in body["error"]


def read_events(url: str, found: list, stop: threading.Event) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/api/stream")
    response = conn.getresponse()
    event = None
    while not stop.is_set():
        line = response.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            found.append((event, json.loads(line.removeprefix("data: "))))
    conn.close()


def test_a_window_written_to_clickhouse_is_pushed_to_the_stream(
        dashboard, clickhouse_client, database):
    found, stop = [], threading.Event()
    reader = threading.Thread(target=read_events, args=(dashboard.url, found, stop), daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not any(event == "health" for event, _ in found):
        assert time.monotonic() < deadline, "no health event on the stream"
        time.sleep(0.1)
    new_index = WINDOWS + 5
    insert_windows(clickhouse_client, database,
                   [window_row("ETH-USD", new_index, 1, random.Random(1))])
    new_start = unix(START) + 30 * new_index
    deadline = time.monotonic() + 30
    pushed = []
    while not pushed:
        assert time.monotonic() < deadline, f"no windows event; stream had {found[-3:]}"
        pushed = [data for event, data in found if event == "windows"]
        time.sleep(0.1)
    stop.set()
    assert pushed[0] == [{"exchange": "coinbase", "product": "ETH-USD", "from": new_start,
                          "to": new_start}]


def test_health_reports_a_pipeline_without_a_job_as_stalled(dashboard):
    status, body = dashboard.api("/api/health")
    assert status == 503
    assert body["state"] == "stalled"
    assert "the job has not reported a batch yet" in body["problems"]
    assert body["rejected"]["count"] == 0
