"""The simulator's REST side: Coinbase Exchange's public ``GET /products/{product_id}/trades``
and Advanced Trade's public ``GET /api/v3/brokerage/market/products/{product_id}/ticker`` over
the same trade history as its WebSocket feed (every trade the market made, those withheld from
or never sent to a connection included), with Coinbase's shapes, cursor pagination and rate
limiting, and faults on demand.

Advanced Trade: ``limit`` (required, 1..1000), ``start`` and ``end`` (UNIX seconds, inclusive)
→ ``{"trades": [...newest first, at most limit], "best_bid", "best_ask"}``; trades as on its
WebSocket (``simulator/advanced.py``).

- Each trade: ``{"time", "trade_id", "price", "size", "side"}``, ``side`` the MAKER's (as the
  REST reference documents). Newest first; ``limit`` 1..1000 (default 1000); ``after=C``: the
  page of ids below C (older); ``before=C``: the page of ids just above C (newer). Headers
  ``CB-BEFORE`` (the page's newest id) and ``CB-AFTER`` (its oldest).
- Errors as Coinbase sends them: ``{"message": ...}`` with 400 (bad parameter), 404 (unknown
  product), 429 past the rate limit (a token bucket: ``rate`` requests a second, bursts of
  ``burst``; with ``Retry-After``).
- Faults (``RestFaults``): slow pages, a 5xx with an HTML body every n-th request, a garbled
  page every n-th request, and a history that keeps only the newest n trades per product.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from producer.backfill import MAX_PAGE, TokenBucket
from producer.simulator import advanced
from producer.simulator.market import SimTrade

RATE_LIMITED = {"message": "Public rate limit exceeded"}


@dataclass
class RestFaults:
    rate: float = 10.0  # requests per second (Coinbase's public limit) ...
    burst: float = 15.0  # ... and bursts up to this many
    delay_s: float = 0.0  # every page answered this late
    fail_every: int | None = None  # every n-th request: 503 with an HTML body
    garble_every: int | None = None  # every n-th request: a page cut off mid-JSON
    history: int | None = None  # only the newest n trades per product are kept


@dataclass
class TradeHistory:
    """Per product, the trades in id order."""

    ids: dict[str, list[int]] = field(default_factory=dict)
    trades: dict[str, list[SimTrade]] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)  # unix seconds, ascending

    def add(self, trade: SimTrade) -> None:
        self.ids.setdefault(trade.product_id, []).append(trade.trade_id)
        self.trades.setdefault(trade.product_id, []).append(trade)
        self.times.setdefault(trade.product_id, []).append(unix_seconds(trade.time))

    def between(self, product: str, start: float | None, end: float | None, limit: int,
                keep: int | None) -> list[SimTrade]:
        """The newest ``limit`` trades with start <= time <= end, newest first (Advanced
        Trade's market trades)."""
        times, trades = self.times.get(product, []), self.trades.get(product, [])
        oldest_kept = max(0, len(times) - keep) if keep is not None else 0
        low = max(oldest_kept, bisect.bisect_left(times, start) if start is not None else 0)
        high = bisect.bisect_right(times, end) if end is not None else len(times)
        return trades[max(low, high - limit):high][::-1]

    def page(self, product: str, limit: int, after: int | None, before: int | None,
             keep: int | None) -> list[SimTrade]:
        ids, trades = self.ids.get(product, []), self.trades.get(product, [])
        oldest_kept = max(0, len(ids) - keep) if keep is not None else 0
        if before is not None:
            start = max(bisect.bisect_right(ids, before), oldest_kept)
            chosen = trades[start:start + limit]
        else:
            end = bisect.bisect_left(ids, after) if after is not None else len(ids)
            chosen = trades[max(oldest_kept, end - limit):end]
        return chosen[::-1]


def unix_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rest_json(trade: SimTrade) -> dict:
    return {"time": trade.time, "trade_id": trade.trade_id, "price": trade.price,
            "size": trade.size, "side": trade.maker_side}


class RestServer:
    def __init__(self, history: TradeHistory, products: list[str], faults: RestFaults):
        self.history, self.products, self.faults = history, set(products), faults
        self.bucket = TokenBucket(faults.rate, faults.burst)
        self.requests = 0
        self.rate_limited = 0
        self.failed = 0
        self.garbled = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, host: str) -> str:
        app = web.Application()
        app.router.add_get("/products/{product_id}/trades", self.trades)
        app.router.add_get("/api/v3/brokerage/market/products/{product_id}/ticker",
                           self.market_trades)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def refusal(self, request: web.Request) -> web.Response | None:
        """The answer for a request refused before it is served (rate limit, a 5xx fault,
        an unknown product), or None."""
        self.requests += 1
        wait = self.bucket.delay(time.monotonic())
        if wait > 0:
            self.bucket.tokens += 1  # a refused request costs nothing
            self.rate_limited += 1
            return web.json_response(RATE_LIMITED, status=429,
                                     headers={"Retry-After": str(math.ceil(wait))})
        if self.faults.fail_every and self.requests % self.faults.fail_every == 0:
            self.failed += 1
            return web.Response(status=503, content_type="text/html",
                                text="<html><body><h1>503 Service Unavailable</h1></body></html>")
        if request.match_info["product_id"] not in self.products:
            return web.json_response({"message": "NotFound"}, status=404)
        return None

    async def answer(self, body: str, headers: dict | None = None) -> web.Response:
        if self.faults.delay_s:
            await asyncio.sleep(self.faults.delay_s)
        if self.faults.garble_every and self.requests % self.faults.garble_every == 0:
            self.garbled += 1
            body = body[: len(body) // 2]
        return web.Response(text=body, content_type="application/json", headers=headers)

    async def trades(self, request: web.Request) -> web.Response:
        """Exchange: GET /products/{product_id}/trades."""
        refused = self.refusal(request)
        if refused is not None:
            return refused
        try:
            limit, after, before = _page_parameters(request.query)
        except ValueError as error:
            return web.json_response({"message": str(error)}, status=400)
        page = self.history.page(request.match_info["product_id"], limit, after, before,
                                 self.faults.history)
        headers = {"CB-BEFORE": str(page[0].trade_id), "CB-AFTER": str(page[-1].trade_id)} \
            if page else {}
        return await self.answer(json.dumps([rest_json(t) for t in page]), headers)

    async def market_trades(self, request: web.Request) -> web.Response:
        """Advanced Trade: GET /api/v3/brokerage/market/products/{product_id}/ticker."""
        refused = self.refusal(request)
        if refused is not None:
            return refused
        try:
            limit, start, end = _interval_parameters(request.query)
        except ValueError as error:
            return web.json_response({"error": "INVALID_ARGUMENT", "message": str(error)},
                                     status=400)
        product = request.match_info["product_id"]
        trades = self.history.between(product, start, end, limit, self.faults.history)
        last = self.history.trades.get(product, [None])[-1]
        return await self.answer(json.dumps({
            "trades": [advanced.trade_json(t) for t in trades],
            "best_bid": last.price if last else "", "best_ask": last.price if last else ""}))


def _interval_parameters(query) -> tuple[int, float | None, float | None]:
    text = query.get("limit", "")
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise ValueError("limit is required: 1..1000")

    def moment(name: str) -> float | None:
        value = query.get(name)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{name} must be a UNIX timestamp") from None

    return int(text), moment("start"), moment("end")


def _page_parameters(query) -> tuple[int, int | None, int | None]:
    def number(name: str) -> int | None:
        text = query.get(name)
        if text is None:
            return None
        if not text.isdigit():
            raise ValueError(f"Invalid {name}")
        return int(text)

    limit = number("limit")
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise ValueError("Invalid limit")
    after, before = number("after"), number("before")
    if after is not None and before is not None:
        raise ValueError("Only one of before and after may be given")
    return limit or MAX_PAGE, after, before
