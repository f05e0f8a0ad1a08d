"""The simulator and the real Coinbase client code talking over a real socket (no Kafka)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import defaultdict

from websockets.asyncio.client import connect

from producer.client import BackoffPolicy, FeedClient
from producer.feeds.coinbase import CoinbaseExchangeFeed
from producer.pipeline import MemorySink, Pipeline
from producer.simulator import Market, Misbehaviour, SimConfig, SimTrade, Simulator
from producer.simulator.rest import RestFaults
from producer.stats import Stats

PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD"]
FAST = BackoffPolicy(initial=0.05, maximum=0.2, jitter=0.05)


async def until(condition, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


class Harness:
    """A simulator, the Exchange feed client connected to it, and an in-memory sink."""

    def __init__(self, config: SimConfig, misbehaviour: Misbehaviour | None = None,
                 watchdog: float = 5.0, port: int = 0, rest: RestFaults | None = None):
        self.sim = Simulator(config, misbehaviour, port=port, rest=rest)
        self.sink, self.stats = MemorySink(), Stats()
        self.feed = CoinbaseExchangeFeed(config.products, exchange="simulator")
        self.pipeline = Pipeline(self.feed, self.sink, self.stats, source="simulator")
        self.watchdog = watchdog
        self.client: FeedClient | None = None
        self.task: asyncio.Task | None = None

    async def start(self, start_server: bool = True) -> None:
        if start_server:
            await self.sim.start()
        self.client = FeedClient(self.sim.url, self.feed, self.pipeline, self.stats,
                                 watchdog_timeout=self.watchdog, backoff=FAST)
        self.task = asyncio.create_task(self.client.run())

    async def stop(self) -> None:
        self.client.stop()
        await asyncio.wait_for(self.task, 5)
        await self.sim.stop()

    def trades(self) -> list[dict]:
        return [json.loads(value) for _, value in self.sink.trades]


def expected(trade: SimTrade) -> tuple:
    return (trade.product_id, str(trade.trade_id), trade.price, trade.size, trade.taker_side,
            trade.time, trade.sequence)


def observed(trade: dict) -> tuple:
    return (trade["product_id"], trade["trade_id"], trade["price"], trade["size"],
            trade["side"], trade["event_time"], trade["sequence"])


def test_every_generated_trade_arrives_once_in_per_product_order():
    async def scenario():
        h = Harness(SimConfig(PRODUCTS, rate=3000, seed=7, max_trades=600))
        await h.start()
        await until(lambda: len(h.sink.trades) >= 600, what="600 trades")
        await h.stop()
        return h

    h = asyncio.run(scenario())
    assert [observed(t) for t in h.trades()] == [expected(t) for t in h.sim.generated]
    assert all(key == json.loads(value)["product_id"] for key, value in h.sink.trades)
    assert all(t["exchange"] == "simulator" for t in h.trades())
    assert (h.stats.duplicates, h.stats.gaps, h.stats.dead_letters) == (0, 0, 0)


def test_the_same_seed_generates_the_same_trades():
    first = [expected(t)[:5] + (t.sequence,) for t in Market(PRODUCTS, seed=3).take(300)]
    again = [expected(t)[:5] + (t.sequence,) for t in Market(PRODUCTS, seed=3).take(300)]
    other = [expected(t)[:5] + (t.sequence,) for t in Market(PRODUCTS, seed=4).take(300)]
    assert first == again and first != other
    per_product = defaultdict(list)
    for product, trade_id, price, size, side, _ in first:
        per_product[product].append(int(trade_id))
        assert float(price) > 0 and float(size) > 0 and side in ("buy", "sell")
    for ids in per_product.values():
        assert ids == list(range(ids[0], ids[0] + len(ids)))


def test_drops_duplicates_skips_and_garbage_lose_nothing_unreported():
    bad = Misbehaviour(drop_after=150, max_drops=2, duplicate_every=17, skip_every=41,
                       malformed_every=53)

    async def scenario():
        h = Harness(SimConfig(PRODUCTS, rate=1500, seed=11, max_trades=1200), bad)
        await h.start()
        await until(h.sim.finished.is_set, what="the simulator to finish")
        last = {t.product_id: t.trade_id for t in h.sim.generated}
        await until(lambda: all(h.pipeline.gaps._last_trade.get(p) == i
                                for p, i in last.items()), what="the last trades")
        await h.stop()
        return h

    h = asyncio.run(scenario())
    got = [(t["product_id"], int(t["trade_id"])) for t in h.trades()]
    assert len(got) == len(set(got)), "a duplicate reached the sink"
    assert h.stats.duplicates >= len(h.sim.duplicated) > 0
    assert h.sim.drops == 2 and h.stats.reconnects == 2
    # Every generated trade was produced, or lies inside a gap the producer reported.
    reported = {(g.scope, n) for g in h.pipeline.gaps.gaps for n in range(g.first, g.last + 1)}
    generated = {(t.product_id, t.trade_id) for t in h.sim.generated}
    assert generated - set(got) <= reported
    assert {(t.product_id, t.trade_id) for t in h.sim.skipped} <= reported
    assert h.stats.gaps >= 1 and h.stats.missing >= len(h.sim.skipped)
    # Per product, trades stay in trade-id order.
    for product in PRODUCTS:
        ids = [n for p, n in got if p == product]
        assert ids == sorted(ids)
    reasons = [json.loads(v)["reason"] for _, v in h.sink.dead_letters]
    assert len(reasons) == len(h.sim.malformed) > 0
    assert reasons[:4] == [
        "not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        "missing field: price",
        "invalid size: '-1.0' (expected a positive decimal string)",
        "unknown message type: 'mystery'",
    ]


def test_watchdog_reconnects_a_stalled_connection():
    bad = Misbehaviour(stall_after=40, stall_seconds=3.0)

    async def scenario():
        h = Harness(SimConfig(PRODUCTS, rate=400, seed=5), bad, watchdog=0.5)
        await h.start()
        await until(lambda: h.stats.watchdog_timeouts >= 1, what="the watchdog")
        produced = h.stats.produced
        await until(lambda: h.stats.produced > produced + 50, what="trades after reconnect")
        await h.stop()
        return h

    h = asyncio.run(scenario())
    assert h.stats.watchdog_timeouts == 1 and h.stats.reconnects >= 1
    assert h.sim.connections >= 2
    assert h.stats.gaps >= 1  # trades made during the stall are missed, and reported


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_client_retries_with_backoff_until_the_server_appears():
    async def scenario():
        h = Harness(SimConfig(PRODUCTS, rate=500, seed=1), port=free_port())
        await h.start(start_server=False)
        await until(lambda: h.client.failed_attempts >= 3, what="failed attempts")
        assert h.stats.connections == 0
        await h.sim.start()
        await until(lambda: h.stats.produced >= 20, what="trades once the server is up")
        await h.stop()
        return h

    h = asyncio.run(scenario())
    assert h.stats.connections == 1 and h.stats.reconnects == 0


async def exchange_session(sim: Simulator, requests: list, count: int) -> list[dict]:
    async with connect(sim.url) as ws:
        for request in requests:
            await ws.send(request if isinstance(request, str) else json.dumps(request))
        return [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(count)]


def test_simulator_speaks_the_exchange_protocol():
    async def scenario():
        async with Simulator(SimConfig(PRODUCTS, rate=200, seed=2,
                                       heartbeat_interval=0.2)) as sim:
            bad = await exchange_session(sim, [
                "{nope",
                {"type": "subscribe", "product_ids": ["FOO-BAR"], "channels": ["matches"]},
                {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["level9"]},
                {"type": "publish"},
            ], 4)
            first = await exchange_session(sim, [
                {"type": "subscribe", "product_ids": ["BTC-USD"],
                 "channels": ["matches", {"name": "heartbeat", "product_ids": ["BTC-USD"]}]},
            ], 40)
            await until(lambda: sim.market.books["ETH-USD"].last is not None)
            second = await exchange_session(sim, [
                {"type": "subscribe", "product_ids": ["ETH-USD"], "channels": ["matches"]},
                {"type": "unsubscribe", "product_ids": ["ETH-USD"], "channels": ["matches"]},
            ], 3)
            return bad, first, second

    bad, first, second = asyncio.run(scenario())
    assert [m["type"] for m in bad] == ["error"] * 4
    assert [m["reason"] for m in bad[1:]] == [
        "FOO-BAR is not a valid product", "level9 is not a valid channel",
        "'publish' is not a valid type"]
    assert first[0] == {"type": "subscriptions", "channels": [
        {"name": "matches", "product_ids": ["BTC-USD"]},
        {"name": "heartbeat", "product_ids": ["BTC-USD"]}]}
    kinds = {m["type"] for m in first[1:]}
    assert kinds <= {"match", "heartbeat"} and "heartbeat" in kinds and "match" in kinds
    matches = [m for m in first if m["type"] == "match"]
    assert all(m["product_id"] == "BTC-USD" for m in matches)
    assert [m["trade_id"] for m in matches] == list(
        range(matches[0]["trade_id"], matches[0]["trade_id"] + len(matches)))
    seen = 0
    for message in first[1:]:  # a heartbeat never announces a trade not yet sent
        if message["type"] == "match":
            seen = message["trade_id"]
        elif seen:
            assert message["last_trade_id"] == seen
    assert second[0]["type"] == "subscriptions"
    assert second[1]["type"] == "last_match" and second[1]["product_id"] == "ETH-USD"
    assert second[2] == {"type": "subscriptions", "channels": []}


def test_advanced_trade_client_over_a_socket_subscribes_and_reports_sequence_gaps():
    """A scripted Advanced Trade server (documented message shapes) and the real client."""
    from websockets.asyncio.server import serve

    from producer.feeds.coinbase_advanced import CoinbaseAdvancedFeed

    requests: list[dict] = []

    def envelope(channel: str, sequence: int, events: list) -> str:
        return json.dumps({"channel": channel, "client_id": "", "sequence_num": sequence,
                           "timestamp": "2024-01-01T00:00:00.000000001Z", "events": events})

    def trade(trade_id: int, side: str) -> dict:
        return {"trade_id": str(trade_id), "product_id": "BTC-USD", "price": "43000.10",
                "size": "0.01", "side": side, "time": "2024-01-01T00:00:00.123456789Z"}

    async def handler(ws):
        requests.extend([json.loads(await ws.recv()), json.loads(await ws.recv())])
        await ws.send(envelope("subscriptions", 0, [{"subscriptions": {
            "market_trades": ["BTC-USD"], "heartbeats": ["heartbeats"]}}]))
        await ws.send(envelope("market_trades", 1, [{"type": "snapshot",
                                                     "trades": [trade(101, "BUY")]}]))
        await ws.send(envelope("market_trades", 2, [{"type": "update", "trades": [
            trade(103, "SELL"), trade(102, "BUY")]}]))
        await ws.send(envelope("market_trades", 5, [{"type": "update", "trades": [
            trade(104, "BUY")]}]))  # messages 3 and 4 never came
        await ws.send(envelope("heartbeats", 6, [{"current_time": "now",
                                                  "heartbeat_counter": "1"}]))
        await ws.wait_closed()

    async def scenario():
        async with serve(handler, "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            sink, stats = MemorySink(), Stats()
            feed = CoinbaseAdvancedFeed(["BTC-USD"])
            pipeline = Pipeline(feed, sink, stats)
            client = FeedClient(url, feed, pipeline, stats, backoff=FAST)
            task = asyncio.create_task(client.run())
            await until(lambda: stats.received >= 5, what="five messages")
            client.stop()
            await asyncio.wait_for(task, 5)
            return sink, stats, pipeline

    sink, stats, pipeline = asyncio.run(scenario())
    assert requests == [
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "market_trades"},
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "heartbeats"}]
    trades = [json.loads(v) for _, v in sink.trades]
    assert [(t["trade_id"], t["side"], t["sequence"]) for t in trades] == [
        ("101", "sell", 1), ("102", "sell", 2), ("103", "buy", 2), ("104", "sell", 5)]
    assert trades[0]["event_time"] == "2024-01-01T00:00:00.123456Z"
    assert [(g.scope, g.first, g.last) for g in pipeline.gaps.gaps] == [("connection", 3, 4)]
    assert stats.gaps == 1 and stats.dead_letters == 0


def test_a_simulated_clock_spaces_event_times_by_the_step_whatever_the_send_rate():
    from datetime import UTC, datetime, timedelta

    start = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)

    async def scenario():
        h = Harness(SimConfig(PRODUCTS, rate=5000, seed=1, max_trades=400,
                              start_time=start, time_step=0.25))
        await h.start()
        await until(lambda: len(h.sink.trades) >= 400, what="400 trades")
        await h.stop()
        return h

    h = asyncio.run(scenario())
    times = [datetime.fromisoformat(t["event_time"].replace("Z", "+00:00")) for t in h.trades()]
    assert times[0] == start
    assert times[-1] == start + timedelta(seconds=399 * 0.25)
    assert all(b - a == timedelta(seconds=0.25) for a, b in zip(times, times[1:], strict=False))


def test_continued_ids_never_repeat_across_a_restart():
    """A producer restarted by a deploy starts a new simulator: on the wall clock its ids must
    continue past the earlier run's (as an exchange's do), or the job would count a repeated id
    as a new trade once the first is older than the watermark."""
    config = SimConfig(PRODUCTS, rate=50, seed=3, continue_ids=True)
    first = Market(PRODUCTS, 3, config.id_offset(now=1_000.0)).take(5_000)
    restarted = Market(PRODUCTS, 3, config.id_offset(now=1_010.0)).take(50)
    last_of_first = {}
    for trade in first:
        last_of_first[trade.product_id] = trade.trade_id
    for trade in restarted:
        assert trade.trade_id > last_of_first[trade.product_id], trade.product_id
    fixed = SimConfig(PRODUCTS, seed=3)
    assert fixed.id_offset(now=1_000.0) == fixed.id_offset(now=2_000.0) == 0
