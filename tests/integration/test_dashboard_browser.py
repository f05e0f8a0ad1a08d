"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) over the whole
local pipeline: the simulator -> producer -> Kafka -> the streaming job -> ClickHouse -> the
dashboard. The tests run in file order, as one story:

1. the page loads and draws candles; a new window appears live, without a reload;
2. the producer stops: the pipeline panel turns red and says why;
3. with the job caught up, the chart's data equals ClickHouse's rows, read back from the
   page (the API rows it holds and the chart series' own data), and switching interval
   changes the data;
4. the producer restarts: the panel recovers; the README's screenshot is taken;
5. ClickHouse goes down: the page says so, on a live page and on a fresh load; it recovers.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from clickhouse.client import connect
from dashboard.browser import chromium_page
from stack import control
from stack.paths import LOG_DIR
from tests.integration.dashboard_support import (
    VWAP_TOLERANCE,
    DashboardRun,
    candles_in_clickhouse,
    same_candles,
    screenshot_path,
)
from tests.integration.test_pipeline_e2e import (
    JobRun,
    checkpoint,
    local_env,
    migrate,
    python_module,
)
from tests.integration.test_stack_kafka import create_topic
from tests.support import wait_until, wait_until_no_difference

PRODUCT = "BTC-USD"
# Short, for a quick test; above the job's longest batch here (~1.5 s, ~5 s after a jump).
STALL_AFTER_S = 8
# 200 trades/s at 100 ms of event time each: event time runs 20x faster than the clock, so a
# 30 s window closes every 1.5 s and the live view has something new every few seconds.
# Withheld frames make gaps the producer backfills, and its counters go to producer_stats.
PRODUCER_ARGS = ["--source", "simulator", "--sim-products", "2", "--sim-rate", "200",
                 "--sim-time-step", "0.1", "--sim-malformed-every", "500",
                 "--sim-skip-every", "300", "--stats-table", "on", "--stats-interval", "1"]


class ProducerRun:
    def __init__(self, topic: str, bootstrap: str, database: str):
        self.args = [*PRODUCER_ARGS, "--topic", topic, "--dlq-topic", f"{topic}.dlq",
                     "--bootstrap-servers", bootstrap]
        self.env = {**local_env(), "CLICKHOUSE_DATABASE": database}
        self.log = LOG_DIR / "test-dashboard-producer.log"
        self.process: subprocess.Popen | None = None

    def start(self, start_time: str, seed: int) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                python_module("producer", *self.args, "--sim-start-time", start_time,
                              "--sim-seed", str(seed)),
                stdout=out, stderr=subprocess.STDOUT, env=self.env)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(60) == 0, f"the producer did not stop cleanly: {self.log}"


@pytest.fixture(scope="module")
def pipeline(stack, credentials):
    name = f"dash_ui_{uuid.uuid4().hex[:8]}"
    topic = f"{name}_trades"
    create_topic(stack.kafka_bootstrap, topic, stack.kafka_partitions)
    create_topic(stack.kafka_bootstrap, f"{topic}.dlq", 1)
    migrate(name)
    producer = ProducerRun(topic, stack.kafka_bootstrap, name)
    job = JobRun("dashboard", name, topic, checkpoint(stack, name), "--output-mode", "update",
                 "--trigger-interval", "1 second")
    dashboard = DashboardRun("browser", name, topic, stall_after_s=STALL_AFTER_S,
                             health_interval_s=0.5, poll_interval_s=0.2)
    client = connect(stack.clickhouse_url, stack.clickhouse_user,
                     credentials["CLICKHOUSE_PASSWORD"])
    producer.start("2024-01-01T00:00:00Z", seed=1)
    job.start()
    dashboard.start()
    try:
        yield SimpleNamespace(database=name, producer=producer, job=job, dashboard=dashboard,
                              client=client)
    finally:
        control.start("clickhouse")
        producer.stop()
        if job.process.poll() is None:
            job.process.send_signal(signal.SIGTERM)
            job.wait(120)
        assert dashboard.stop() == 0, f"the dashboard did not stop cleanly: {dashboard.log}"


@pytest.fixture(scope="module")
def page(pipeline):
    with chromium_page(f"{pipeline.dashboard.url}/#{PRODUCT}/1m") as page:
        yield page


def js(page, expression: str):
    return page.evaluate(expression)


def wait_js(page, expression: str, timeout: float, message: str):
    """Poll a page expression (page.evaluate: the page's CSP forbids eval-based waiting)."""
    return wait_until(lambda: page.evaluate(expression), timeout=timeout, interval=0.1,
                      message=message)


def bar_times(page) -> list[int]:
    return js(page, "window.cryptostream.chartData().candles.map(c => c.time)")


def panel_state(page) -> str:
    return js(page, "document.getElementById('panel').dataset.state")


def test_the_page_draws_candles_and_a_new_window_appears_live(page):
    wait_js(page, "window.cryptostream && window.cryptostream.state.loaded && "
                  "window.cryptostream.chartData().candles.length >= 1",
            timeout=180, message="the first candles on the chart")
    generation = js(page, "window.cryptostream.state.generation")
    newest = max(bar_times(page))
    wait_until(lambda: max(bar_times(page)) > newest, timeout=60,
               message="a newer candle to appear without a reload")
    assert js(page, "window.cryptostream.state.generation") == generation, "the page reloaded"
    assert js(page, "document.getElementById('live').dataset.state") == "live"
    assert js(page, "document.getElementById('empty').hidden")
    assert page.errors == []


def test_the_panel_turns_red_when_the_producer_stops(page, pipeline):
    wait_until(lambda: panel_state(page) == "ok", timeout=60, message="a green panel first")
    # enough event time for two 5 m candles before the feed stops
    wait_until(lambda: len(bar_times(page)) >= 7, timeout=120, message="seven 1m candles")
    assert "trades/s" in js(page, "document.getElementById('m-rate').textContent")
    pipeline.producer.stop()
    wait_until(lambda: panel_state(page) == "stalled", timeout=STALL_AFTER_S + 30,
               message="the panel to turn red once the producer stopped")
    problems = js(page, "document.getElementById('problems').textContent")
    assert "no trade reached Kafka" in problems and "producer" in problems
    # The simulator sent malformed messages: the panel counts dead letters and shows a reason.
    dead = js(page, "document.getElementById('m-dead-letters').textContent")
    assert dead.split()[0] != "0" and "latest:" in dead, dead
    # Withheld frames were gaps the producer filled from the REST API: the panel says so.
    backfill = js(page, "document.getElementById('m-backfill').textContent")
    assert backfill.split()[0] not in ("0", "–") and "filled" in backfill, backfill


def page_candles(page) -> list[dict]:
    rows = js(page, "[...window.cryptostream.state.bars.values()]")
    return sorted(({k: Decimal(v) if isinstance(v, str) else v for k, v in r.items()}
                   for r in rows), key=lambda r: r["time"])


def chart_difference(page, expected: list[dict]) -> str:
    """'' when the page's API rows equal ClickHouse's and so do the chart series' own points;
    else the first difference."""
    held = page_candles(page)
    if not same_candles(held, expected):
        missing = [c for c in expected if c not in held][:2]
        extra = [c for c in held if c not in expected][:2]
        return f"rows differ: {len(held)} on the page, {len(expected)} in ClickHouse; " \
               f"ClickHouse only {missing}; page only {extra}"
    data = js(page, "window.cryptostream.chartData()")
    drawn = [(c["time"], c["open"], c["high"], c["low"], c["close"]) for c in data["candles"]]
    wanted = [(c["time"], float(c["open"]), float(c["high"]), float(c["low"]), float(c["close"]))
              for c in expected]
    volumes = [(v["time"], v["value"]) for v in data["volume"]]
    vwaps = [(v["time"], v["value"]) for v in data["vwap"]]
    if drawn != wanted:
        return f"candles drawn {drawn[:3]}… differ from {wanted[:3]}…"
    if volumes != [(c["time"], float(c["volume"])) for c in expected]:
        return f"volume bars differ: {volumes[:3]}…"
    if [t for t, _ in vwaps] != [c["time"] for c in expected] or not all(
            math.isclose(v, c["vwap"], rel_tol=VWAP_TOLERANCE)
            for (_, v), c in zip(vwaps, expected, strict=True)):
        return f"the VWAP line differs: {vwaps[:3]}…"
    return ""


def job_caught_up(page) -> bool:
    health = js(page, "window.cryptostream.state.health")
    return bool(health and health["kafka"]["lag"] == 0 and health["job"])


@pytest.mark.parametrize("interval", ["1m", "30s", "5m"])
def test_the_chart_data_equals_the_clickhouse_rows(page, pipeline, interval):
    wait_until(lambda: job_caught_up(page), timeout=120, message="the job to catch up")
    if js(page, "window.cryptostream.state.interval") != interval:
        before = bar_times(page)
        page.click(f"#intervals button[data-interval='{interval}']")
        wait_js(page, f"window.cryptostream.state.interval === '{interval}' && "
                      "window.cryptostream.state.loaded", timeout=30, message="the new interval")
        times = bar_times(page)
        assert times != before, "switching interval did not change the data"
        spacing = {"30s": 30, "5m": 300}[interval]
        assert all(b - a >= spacing for a, b in zip(times, times[1:], strict=False))
    expected = candles_in_clickhouse(pipeline.client, pipeline.database, PRODUCT,
                                     {"1m": 60, "30s": 30, "5m": 300}[interval])
    assert len(expected) >= 2
    wait_until_no_difference(lambda: chart_difference(page, expected), timeout=30,
                             message=f"the {interval} chart to equal ClickHouse's rows")


def test_the_panel_recovers_when_the_producer_restarts(page, pipeline):
    page.click("#intervals button[data-interval='1m']")
    wait_js(page, "window.cryptostream.state.interval === '1m' && "
                  "window.cryptostream.state.loaded", timeout=30, message="1m again")
    newest = max(bar_times(page))
    # The feed picks up where it stopped (a new seed: new trade ids).
    restart_at = datetime.fromtimestamp(newest + 60, UTC).isoformat().replace("+00:00", "Z")
    pipeline.producer.start(restart_at, seed=2)
    wait_until(lambda: max(bar_times(page)) > newest + 60, timeout=60,
               message="the restarted feed's candles on the chart")
    wait_until(lambda: panel_state(page) == "ok", timeout=120,
               message="the panel to turn green again")
    shot = screenshot_path()
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    if os.environ.get("DASHBOARD_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["DASHBOARD_SCREENSHOT"])
    assert page.errors == []


def error_text(page) -> str:
    return js(page, "(e => e.hidden ? '' : e.textContent)(document.getElementById('error'))")


def test_the_page_says_clickhouse_is_down_and_recovers(page, pipeline):
    pipeline.producer.stop()
    pipeline.job.process.send_signal(signal.SIGTERM)
    assert pipeline.job.wait(120) == 0, pipeline.job.log
    bars = len(bar_times(page))
    control.stop("clickhouse")
    try:
        wait_until(lambda: "ClickHouse cannot be asked" in error_text(page), timeout=30,
                   message="the live page to say ClickHouse is down")
        assert panel_state(page) == "down"
        assert len(bar_times(page)) == bars, "the chart should keep the last data it read"
        page.reload()
        wait_until(lambda: "ClickHouse cannot be asked" in error_text(page), timeout=30,
                   message="a freshly loaded page to say ClickHouse is down")
    finally:
        control.start("clickhouse")
    wait_until(lambda: error_text(page) == "" and js(page, "window.cryptostream.state.loaded"),
               timeout=60, message="the page to recover once ClickHouse is back")
    assert len(bar_times(page)) >= 2
