"""The simulator's REST side: Coinbase Exchange's public ``GET /products/{product_id}/trades``
over the same trade history as its WebSocket feed (every trade the market made, those withheld
from or never sent to a connection included), with Coinbase's shapes, cursor pagination and
rate limiting, and faults on demand.

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

from aiohttp import web

from producer.backfill import MAX_PAGE, TokenBucket
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

    def add(self, trade: SimTrade) -> None:
        self.ids.setdefault(trade.product_id, []).append(trade.trade_id)
        self.trades.setdefault(trade.product_id, []).append(trade)

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

    async def trades(self, request: web.Request) -> web.Response:
        self.requests += 1
        wait = self.bucket.delay(time.monotonic())
        if wait > 0:
            self.bucket.tokens += 1  # a refused request costs nothing
            self.rate_limited += 1
            return web.json_response(RATE_LIMITED, status=429,
                                     headers={"Retry-After": str(math.ceil(wait))})
        faults = self.faults
        if faults.fail_every and self.requests % faults.fail_every == 0:
            self.failed += 1
            return web.Response(status=503, content_type="text/html",
                                text="<html><body><h1>503 Service Unavailable</h1></body></html>")
        product = request.match_info["product_id"]
        if product not in self.products:
            return web.json_response({"message": "NotFound"}, status=404)
        try:
            limit, after, before = _page_parameters(request.query)
        except ValueError as error:
            return web.json_response({"message": str(error)}, status=400)
        if faults.delay_s:
            await asyncio.sleep(faults.delay_s)
        page = self.history.page(product, limit, after, before, faults.history)
        body = json.dumps([rest_json(t) for t in page])
        if faults.garble_every and self.requests % faults.garble_every == 0:
            self.garbled += 1
            body = body[: len(body) // 2]
        headers = {"CB-BEFORE": str(page[0].trade_id), "CB-AFTER": str(page[-1].trade_id)} \
            if page else {}
        return web.Response(text=body, content_type="application/json", headers=headers)


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
