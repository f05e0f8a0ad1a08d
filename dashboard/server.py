"""The dashboard's HTTP server: the page and its assets, the JSON API and a server-sent-event
stream that pushes new windows and the pipeline panel.

    GET /                     the page
    GET /api/products         markets with windows: [{"exchange", "product", "first", "last"}]
                              (first and last window start, unix seconds)
    GET /api/candles          ?product=&interval=&from=&to=[&exchange=] (dashboard.params)
    GET /api/health           the pipeline panel; HTTP 200 when ok, 503 when stalled or down
    GET /api/stream           text/event-stream: `windows` (new rows per market), `health`
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from dashboard import params, pipeline
from dashboard.config import WEB_DIR, Settings
from dashboard.live import WindowChanges, windows_event
from dashboard.sources import ClickHouseReader, KafkaReader, error_text, read_pipeline

log = logging.getLogger("dashboard")

CHART_LIBRARY = WEB_DIR / "node_modules" / "lightweight-charts" / "dist" / \
    "lightweight-charts.standalone.production.js"
MARKETS_TTL_S = 5
SUBSCRIBER_BACKLOG = 256
KEEPALIVE_S = 15
# Everything the page loads comes from this server; nothing from a CDN.
CONTENT_SECURITY_POLICY = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                           "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class Dashboard:
    def __init__(self, settings: Settings, clickhouse: ClickHouseReader, kafka: KafkaReader):
        self.settings, self.clickhouse, self.kafka = settings, clickhouse, kafka
        self.subscribers: set[asyncio.Queue] = set()
        self.health: dict = {"state": pipeline.DOWN, "problems": ["starting"]}
        self.rate = pipeline.ProducerRate(settings.rate_window_s)
        self.changes = WindowChanges()
        self._markets: tuple[float, list] = (0.0, [])

    # --- API ----------------------------------------------------------------------------

    async def markets(self) -> list[tuple[params.Market, int, int]]:
        """(market, first window start, last window start), cached for MARKETS_TTL_S."""
        fetched_at, markets = self._markets
        if time.monotonic() - fetched_at > MARKETS_TTL_S:
            markets = await asyncio.to_thread(self.clickhouse.markets)
            self._markets = (time.monotonic(), markets)
        return markets

    async def products(self, _: web.Request) -> web.Response:
        try:
            markets = await self.markets()
        except Exception as error:  # noqa: BLE001 - answered, named
            return json_error(503, f"ClickHouse cannot be asked: {error_text(error)}")
        return web.json_response([{"exchange": m.exchange, "product": m.product,
                                   "first": first, "last": last}
                                  for m, first, last in markets])

    async def candles(self, request: web.Request) -> web.Response:
        try:
            markets = await self.markets()
            asked = params.candle_request(
                request.query, [m for m, _, _ in markets], datetime.now(UTC),
                self.settings.max_candles, self.settings.default_candles)
            rows = await asyncio.to_thread(self.clickhouse.candles, asked)
        except params.BadRequest as error:
            return json_error(400, str(error))
        except Exception as error:  # noqa: BLE001 - answered, named
            return json_error(503, f"ClickHouse cannot be asked: {error_text(error)}")
        return web.json_response({
            "exchange": asked.market.exchange, "product": asked.market.product,
            "interval": asked.interval, "seconds": asked.seconds,
            "from": int(asked.start.timestamp()), "to": int(asked.end.timestamp()),
            "candles": rows})

    async def health_report(self, _: web.Request) -> web.Response:
        status = 200 if self.health["state"] == pipeline.OK else 503
        return web.json_response(self.health, status=status)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        queue: asyncio.Queue = asyncio.Queue(SUBSCRIBER_BACKLOG)
        queue.put_nowait(("health", self.health))
        self.subscribers.add(queue)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if item is None:  # shutting down, or this subscriber fell behind
                    break
                event, data = item
                await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
        except ConnectionResetError:  # the page went away
            pass
        finally:
            self.subscribers.discard(queue)
        return response

    def publish(self, event: str, data) -> None:
        for queue in list(self.subscribers):
            try:
                queue.put_nowait((event, data))
            except asyncio.QueueFull:  # a stalled page: end its stream, it reconnects
                self.subscribers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)

    # --- background loops -----------------------------------------------------------------

    async def poll_windows(self) -> None:
        """One look for new window rows; the first one only learns what is already there."""
        since = self.changes.since_ms()
        if since is None:
            newest = await asyncio.to_thread(self.clickhouse.newest_update_ms)
            self.changes.prime(newest, await asyncio.to_thread(
                self.clickhouse.updates_since, newest - self.changes.lookback_ms))
            return
        fresh = self.changes.fresh(await asyncio.to_thread(self.clickhouse.updates_since, since))
        if fresh:
            self.publish("windows", windows_event(fresh))

    async def watch_windows(self) -> None:
        while True:
            try:
                await self.poll_windows()
            except Exception as error:  # noqa: BLE001 - the health loop reports ClickHouse
                log.debug("window poll failed: %s", error_text(error))
            await asyncio.sleep(self.settings.poll_interval_s)

    async def watch_pipeline(self) -> None:
        while True:
            try:
                await self.refresh_health()
            except Exception:  # a bug here must not end the panel's updates silently
                log.exception("the pipeline panel could not be refreshed")
            await asyncio.sleep(self.settings.health_interval_s)

    async def refresh_health(self) -> None:
        reading = await asyncio.to_thread(read_pipeline, self.clickhouse, self.kafka)
        if reading.trade_offsets is not None:
            self.rate.add(reading.at, sum(reading.trade_offsets.values()))
        self.health = pipeline.panel(reading, self.rate, self.settings.stall_after_s)
        self.publish("health", self.health)

    async def run_loops(self, app: web.Application):
        # Before the server listens: what is in ClickHouse now is not news to a page that
        # connects next (when ClickHouse is down, the loop primes once it is back).
        with contextlib.suppress(Exception):
            await self.poll_windows()
        tasks = [asyncio.create_task(self.watch_windows()),
                 asyncio.create_task(self.watch_pipeline())]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def end_streams(self, _: web.Application) -> None:
        for queue in list(self.subscribers):
            queue.put_nowait(None)


def static_file(path: Path):
    async def handler(_: web.Request) -> web.FileResponse:
        return web.FileResponse(path, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})
    return handler


def check_assets() -> None:
    if not CHART_LIBRARY.is_file():
        raise FileNotFoundError(f"{CHART_LIBRARY} is missing: run `make dashboard-assets` "
                                "(npm ci from dashboard/web/package-lock.json)")


def make_app(dashboard: Dashboard) -> web.Application:
    check_assets()
    app = web.Application()
    app.router.add_get("/", static_file(WEB_DIR / "static" / "index.html"))
    app.router.add_get("/vendor/lightweight-charts.js", static_file(CHART_LIBRARY))
    app.router.add_static("/static/", WEB_DIR / "static")
    app.router.add_get("/api/products", dashboard.products)
    app.router.add_get("/api/candles", dashboard.candles)
    app.router.add_get("/api/health", dashboard.health_report)
    app.router.add_get("/api/stream", dashboard.stream)
    app.cleanup_ctx.append(dashboard.run_loops)
    app.on_shutdown.append(dashboard.end_streams)
    return app
