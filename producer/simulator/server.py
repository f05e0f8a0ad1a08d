"""A local WebSocket server speaking the Coinbase Exchange protocol, with misbehaviour on demand,
and the REST API's trade history beside it (simulator/rest.py).

Clients subscribe exactly as to ws-feed.exchange.coinbase.com: ``subscribe`` / ``unsubscribe``
with ``product_ids`` and ``channels`` (names or ``{"name","product_ids"}`` objects); the server
replies ``subscriptions``, sends ``last_match`` per product on subscribing to ``matches``, then
``match`` (or ``ticker``) messages and a ``heartbeat`` per product every second. Bad requests
get ``{"type":"error","message":...,"reason":...}``.

The market starts on the first subscription and stops after ``max_trades``. ``generated`` holds
every trade made, ``skipped`` those deliberately withheld, ``malformed`` the broken messages sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from producer.simulator import advanced
from producer.simulator.market import Market, SimTrade
from producer.simulator.rest import RestFaults, RestServer, TradeHistory

log = logging.getLogger(__name__)

CHANNELS = ("matches", "ticker", "heartbeat")
CONTINUED_IDS_PER_SECOND = 1000
MALFORMED = (
    "{not json",
    '{"type":"match","trade_id":1,"sequence":1,"side":"buy","size":"1.0",'
    '"product_id":"BTC-USD","time":"2024-01-01T00:00:00.000000Z"}',
    '{"type":"match","trade_id":2,"sequence":2,"side":"buy","size":"-1.0","price":"100.00",'
    '"product_id":"BTC-USD","time":"2024-01-01T00:00:00.000000Z"}',
    '{"type":"mystery","product_id":"BTC-USD"}',
)


@dataclass
class SimConfig:
    products: list[str]
    rate: float = 50.0  # trades per second over all products
    seed: int = 0
    max_trades: int | None = None
    heartbeat_interval: float = 1.0
    # A simulated event clock: trade n happens at start_time + n * time_step, however fast
    # trades are sent, so a short run can span many windows. None: the wall clock.
    start_time: datetime | None = None
    time_step: float = 0.01
    # Trade ids that keep growing across restarts, as an exchange's do: each product's first id
    # is offset by CONTINUED_IDS_PER_SECOND x the wall clock (s), so a restarted simulator
    # (a producer restarted by a deploy) never repeats an earlier run's ids while it makes fewer
    # than that many trades a second per product. Off: the n-th trade of a seed is always the
    # same, ids included (tests).
    continue_ids: bool = False
    # The WebSocket protocol: "exchange" (ws-feed.exchange.coinbase.com) or "advanced"
    # (advanced-trade-ws.coinbase.com, market_trades and heartbeats; simulator/advanced.py).
    protocol: str = "exchange"

    def __post_init__(self):
        if self.protocol not in ("exchange", "advanced"):
            raise ValueError(f"protocol must be 'exchange' or 'advanced', got {self.protocol!r}")

    def id_offset(self, now: float | None = None) -> int:
        if not self.continue_ids:
            return 0
        return int((time.time() if now is None else now) * CONTINUED_IDS_PER_SECOND)

    def event_time(self, index: int) -> datetime | None:
        if self.start_time is None:
            return None
        return self.start_time + timedelta(seconds=index * self.time_step)


@dataclass
class Misbehaviour:
    """Counts are per connection, in messages (or trades) sent on it."""

    drop_after: int | None = None  # close the connection after this many messages ...
    max_drops: int = 1  # ... this many times in total
    drop_seconds: float = 0.0  # ... and refuse new connections for this long after each drop
    stall_after: int | None = None  # stop sending (TCP stays open) after this many messages ...
    stall_seconds: float = 0.0  # ... for this long
    max_stalls: int = 1
    malformed_every: int | None = None  # after every n-th trade, send one broken message
    duplicate_every: int | None = None  # send every n-th trade twice
    skip_every: int | None = None  # withhold every n-th trade (a gap)


@dataclass(eq=False)
class _Client:
    ws: ServerConnection
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    subscriptions: dict[str, set[str]] = field(default_factory=dict)
    sent: int = 0
    trades_seen: int = 0
    sequence_num: int = 0  # Advanced Trade: the next message's number on this connection


class Simulator:
    def __init__(self, config: SimConfig, misbehaviour: Misbehaviour | None = None,
                 host: str = "127.0.0.1", port: int = 0, rest: RestFaults | None = None):
        self.config = config
        self.misbehaviour = misbehaviour or Misbehaviour()
        self.history = TradeHistory()
        self.rest = RestServer(self.history, config.products, rest or RestFaults())
        self.refused = 0
        self._down_until = 0.0
        self.market = Market(config.products, config.seed, config.id_offset())
        self.host, self.port = host, port
        self.generated: list[SimTrade] = []
        self.skipped: list[SimTrade] = []
        self.duplicated: list[SimTrade] = []
        self.malformed: list[str] = []
        self.connections = 0
        self.drops = 0
        self.stalls = 0
        self.finished = asyncio.Event()
        self._clients: set[_Client] = set()
        self._server: Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._market_task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """The REST API's base URL (simulator.rest), once started."""
        return self.rest.url

    async def start(self) -> str:
        self._server = await serve(self._handle, self.host, self.port, max_size=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        await self.rest.start(self.host)
        self._spawn(self._heartbeats())
        log.info("simulator listening on %s (REST %s)", self.url, self.rest_url)
        return self.url

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await self.rest.stop()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- the market -----------------------------------------------------------------------

    async def _run_market(self) -> None:
        rate, limit = self.config.rate, self.config.max_trades
        started = time.monotonic()
        while limit is None or len(self.generated) < limit:
            due = int((time.monotonic() - started) * rate) + 1
            while len(self.generated) < due and (limit is None or len(self.generated) < limit):
                now = self.config.event_time(len(self.generated))
                self._publish(self.market.next_trade(now))
            await asyncio.sleep(min(0.01, 1.0 / rate))
        self.finished.set()
        log.info("simulator market finished after %d trades", len(self.generated))

    def _publish(self, trade: SimTrade) -> None:
        self.generated.append(trade)
        self.history.add(trade)
        for client in self._clients:
            for channel in ("matches", "ticker", "market_trades"):
                if trade.product_id in client.subscriptions.get(channel, ()):
                    client.queue.put_nowait((channel, trade))

    async def _heartbeats(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            beats += 1
            for client in self._clients:
                if "heartbeats" in client.subscriptions:
                    client.queue.put_nowait(("control", advanced.heartbeat(beats)))
                for product in sorted(client.subscriptions.get("heartbeat", ())):
                    client.queue.put_nowait(("heartbeat", self.market.heartbeat(product)))

    # -- connections ----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        if time.monotonic() < self._down_until:  # a simulated outage after a drop
            self.refused += 1
            await ws.close(code=1013, reason="simulated outage: try again later")
            return
        client = _Client(ws)
        self.connections += 1
        self._clients.add(client)
        sender = self._spawn(self._send_loop(client))
        try:
            async for request in ws:
                await self._on_request(client, request)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            sender.cancel()

    async def _on_request(self, client: _Client, request: str | bytes) -> None:
        try:
            msg = json.loads(request)
            if not isinstance(msg, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            await self._error(client, "Failed to parse request", str(exc))
            return
        if self.config.protocol == "advanced":
            await self._on_advanced_request(client, msg)
            return
        kind = msg.get("type")
        if kind not in ("subscribe", "unsubscribe"):
            await self._error(client, "Failed to subscribe", f"{kind!r} is not a valid type")
            return
        try:
            wanted = _requested(msg, set(self.config.products))
        except ValueError as exc:
            await self._error(client, "Failed to subscribe", str(exc))
            return
        new_matches: set[str] = set()
        for channel, products in wanted.items():
            current = client.subscriptions.setdefault(channel, set())
            if kind == "subscribe":
                if channel == "matches":
                    new_matches = products - current
                current |= products
            else:
                current -= products
        await client.queue.put(("control", _subscriptions(client)))
        self._queue_last_matches(client, sorted(new_matches))
        if kind == "subscribe" and self._market_task is None:
            self._market_task = self._spawn(self._run_market())

    async def _on_advanced_request(self, client: _Client, msg: dict) -> None:
        try:
            kind, channel, products = advanced.requested(msg, set(self.config.products))
        except ValueError as exc:
            await client.queue.put(("control", advanced.error(f"Failed to subscribe: {exc}")))
            return
        current = client.subscriptions.setdefault(channel, set())
        new = products - current if kind == "subscribe" else set()
        if kind == "subscribe":
            current |= products
        else:
            current -= products
        await client.queue.put(("control", advanced.subscriptions(client.subscriptions)))
        if channel == "market_trades" and new:
            recent = [t for p in sorted(new) for t in self.history.trades.get(p, [])[-50:]]
            await client.queue.put(("control", advanced.snapshot(recent[::-1])))
        if kind == "subscribe" and channel == "market_trades" and self._market_task is None:
            self._market_task = self._spawn(self._run_market())

    def _queue_last_matches(self, client: _Client, products: list[str]) -> None:
        for product in products:
            last = self.market.books[product].last
            if last is not None:
                client.queue.put_nowait(("control", last.match_message("last_match")))

    async def _error(self, client: _Client, message: str, reason: str) -> None:
        await client.queue.put(("control", {"type": "error", "message": message,
                                            "reason": reason}))

    async def _send_loop(self, client: _Client) -> None:
        bad = self.misbehaviour
        try:
            while True:
                kind, item = await client.queue.get()
                if kind in ("matches", "ticker", "market_trades"):
                    client.trades_seen += 1
                    n = client.trades_seen
                    if _every(bad.skip_every, n):
                        self.skipped.append(item)
                        client.sequence_num += kind == "market_trades"  # a lost frame
                        continue
                    text = self._trade_text(client, kind, item)
                    await self._send(client, text)
                    if _every(bad.duplicate_every, n):
                        self.duplicated.append(item)
                        await self._send(client, text)
                    if _every(bad.malformed_every, n):
                        broken = MALFORMED[len(self.malformed) % len(MALFORMED)]
                        self.malformed.append(broken)
                        await self._send(client, broken)
                elif "channel" in item:  # an Advanced Trade message: numbered in an envelope
                    await self._send(client, json.dumps(self._envelope(client, item)))
                else:
                    await self._send(client, json.dumps(item))
        except (ConnectionClosed, _Dropped):
            pass

    def _trade_text(self, client: _Client, kind: str, trade: SimTrade) -> str:
        if kind == "matches":
            return json.dumps(trade.match_message())
        if kind == "ticker":
            return json.dumps(_ticker(trade))
        return json.dumps(self._envelope(client, advanced.update(trade)))

    @staticmethod
    def _envelope(client: _Client, body: dict) -> dict:
        client.sequence_num += 1
        return advanced.envelope(body, client.sequence_num - 1)

    async def _send(self, client: _Client, text: str) -> None:
        bad = self.misbehaviour
        await client.ws.send(text)
        client.sent += 1
        if bad.stall_after and client.sent == bad.stall_after and self.stalls < bad.max_stalls:
            self.stalls += 1
            log.info("simulator stalling a connection for %.1fs", bad.stall_seconds)
            await asyncio.sleep(bad.stall_seconds)
        if bad.drop_after and client.sent == bad.drop_after and self.drops < bad.max_drops:
            self.drops += 1
            self._down_until = time.monotonic() + bad.drop_seconds
            log.info("simulator dropping a connection after %d messages (down for %.1fs)",
                     client.sent, bad.drop_seconds)
            with contextlib.suppress(ConnectionClosed):
                await client.ws.close(code=1011, reason="simulated failure")
            raise _Dropped


class _Dropped(Exception):
    """The simulator closed this connection on purpose."""


def _every(n: int | None, count: int) -> bool:
    return bool(n) and count % n == 0


def _requested(msg: dict, known: set[str]) -> dict[str, set[str]]:
    """channel -> products asked for, validating names like the Exchange does."""
    top = msg.get("product_ids", [])
    channels = msg.get("channels")
    if not isinstance(channels, list) or not channels or not isinstance(top, list):
        raise ValueError("channels must be a non-empty list")
    wanted: dict[str, set[str]] = {}
    for channel in channels:
        if isinstance(channel, str):
            name, products = channel, top
        elif isinstance(channel, dict):
            name, products = channel.get("name"), channel.get("product_ids", top)
        else:
            raise ValueError(f"{channel!r} is not a valid channel")
        if name not in CHANNELS:
            raise ValueError(f"{name} is not a valid channel")
        for product in products:
            if product not in known:
                raise ValueError(f"{product} is not a valid product")
        if not products:
            raise ValueError(f"no product ids for channel {name}")
        wanted.setdefault(name, set()).update(products)
    return wanted


def _subscriptions(client: _Client) -> dict:
    return {
        "type": "subscriptions",
        "channels": [
            {"name": name, "product_ids": sorted(products)}
            for name, products in client.subscriptions.items()
            if products
        ],
    }


def _ticker(trade: SimTrade) -> dict:
    return {
        "type": "ticker",
        "sequence": trade.sequence,
        "product_id": trade.product_id,
        "price": trade.price,
        "side": trade.taker_side,
        "time": trade.time,
        "trade_id": trade.trade_id,
        "last_size": trade.size,
    }
