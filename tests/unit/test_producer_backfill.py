"""Gap backfill over REST: the cursor arithmetic and page checks (pure), the simulator's REST
API (shapes, pagination, rate limit), and the producer filling real gaps (dropped connections,
withheld frames) from it over real sockets: every trade the market made arrives exactly once."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from urllib.request import urlopen

import pytest
from test_producer_cli import finished, producer
from test_producer_simulator import FAST, PRODUCTS, Harness, until

from producer.backfill import BackfillLimits, GapFill, PageError, TimeFill, TokenBucket
from producer.feeds.coinbase import CoinbaseExchangeFeed, rest_trade
from producer.feeds.coinbase_advanced import CoinbaseAdvancedFeed
from producer.pipeline import MemorySink, Pipeline
from producer.rest import Answer, Backfiller, RestClient, RestPolicy, TimeBackfiller
from producer.schema import NormalizationError
from producer.simulator import Misbehaviour, SimConfig
from producer.simulator.advanced import trade_json as advanced_trade_json
from producer.simulator.rest import RestFaults, rest_json
from producer.stats import Stats
from producer.tracking import Gap

QUICK = RestPolicy(rate=50, burst=50, attempts=5, timeout_s=5, backoff=FAST)


def item(trade_id: int, side: str = "buy", price: str = "10.5") -> dict:
    return {"time": "2024-01-01T00:00:00.000001Z", "trade_id": trade_id, "price": price,
            "size": "0.1", "side": side}


# --- pure: the walk through a gap --------------------------------------------------------

def test_a_gap_is_walked_newest_first_with_just_enough_per_page():
    fill = GapFill([Gap("BTC-USD", 100, 2600, "trade_id")], detected_at=0)
    limits = BackfillLimits(page_size=1000)
    asked = []
    while not fill.done:
        request = fill.request(limits)
        asked.append(request)
        top = request["after"] - 1
        page = [item(i) for i in range(top, top - request["limit"], -1)]
        wanted, rejected = fill.take(page, str(page[-1]["trade_id"]), "coinbase", "now")
        assert rejected == [] and all(100 <= t.number <= 2600 for t in wanted)
    assert asked == [{"after": 2601, "limit": 1000}, {"after": 1601, "limit": 1000},
                     {"after": 601, "limit": 501}]
    assert (fill.found, fill.missing, fill.pages) == (2501, 0, 3)


def test_trades_outside_the_gap_on_a_page_are_not_taken():
    fill = GapFill([Gap("BTC-USD", 10, 12, "trade_id")], detected_at=0)
    wanted, _ = fill.take([item(i) for i in (12, 11, 10, 9, 8)], "8", "coinbase", "now")
    assert [t.number for t in wanted] == [12, 11, 10] and fill.done


def test_close_gaps_of_a_product_share_their_pages_and_only_their_ids_are_taken():
    limits = BackfillLimits(page_size=100)
    fill = GapFill([Gap("BTC-USD", 10, 11, "trade_id")], detected_at=0)
    assert fill.joins(Gap("BTC-USD", 50, 50, "trade_id"), limits)
    assert not fill.joins(Gap("ETH-USD", 50, 50, "trade_id"), limits)
    assert not fill.joins(Gap("BTC-USD", 200, 200, "trade_id"), limits)  # beyond one page
    fill.gaps.append(Gap("BTC-USD", 50, 50, "trade_id"))
    assert (fill.count, fill.request(limits)) == (3, {"after": 51, "limit": 41})
    wanted, _ = fill.take([item(i) for i in range(50, 9, -1)], "10", "coinbase", "now")
    assert [t.number for t in wanted] == [50, 11, 10] and fill.done and fill.found == 3


@pytest.mark.parametrize(("page", "cb_after", "message"), [
    ({"message": "oops"}, None, "not a JSON array"),
    ([item(5), item(7)], "7", "not strictly descending"),
    ([item(7), item(7)], "7", "not strictly descending"),
    ([item(13), item(12)], "12", "does not cover the range asked"),
    ([item(12), item(11)], "12", "CB-AFTER '12' is above the page's oldest id 11"),
    (["junk"], None, "no usable trade on the page"),
])
def test_a_page_that_does_not_answer_the_request_moves_nothing(page, cb_after, message):
    fill = GapFill([Gap("BTC-USD", 10, 12, "trade_id")], detected_at=0)
    with pytest.raises(PageError, match=message):
        fill.take(page, cb_after, "coinbase", "now")
    assert (fill.cursor, fill.found, fill.pages) == (13, 0, 0)


def test_unusable_trades_are_set_aside_with_their_reason_and_the_walk_goes_on():
    fill = GapFill([Gap("BTC-USD", 10, 12, "trade_id")], detected_at=0)
    wanted, rejected = fill.take([item(12), item(11, price="-1"), {"trade_id": 10}], "10",
                                 "coinbase", "now")
    assert [t.number for t in wanted] == [12]
    assert [reason for reason, _ in rejected] == [
        "invalid price: '-1' (expected a positive decimal string)", "missing field: side"]
    assert fill.cursor == 10 and fill.done and fill.found == 1


def test_an_empty_page_leaves_the_rest_of_the_gap_missing():
    fill = GapFill([Gap("BTC-USD", 10, 12, "trade_id")], detected_at=0)
    assert fill.take([], None, "coinbase", "now") == ([], [])
    assert (fill.done, fill.missing, fill.pages) == (False, 3, 1)


def test_rest_trades_carry_the_makers_side_which_becomes_the_takers():
    trade = rest_trade("coinbase", "BTC-USD", item(7, side="sell"), "now")
    assert (trade.side, trade.trade_id, trade.sequence, trade.number) == ("buy", "7", None, 7)
    assert rest_trade("coinbase", "BTC-USD", item(7, side="buy"), "now").side == "sell"
    with pytest.raises(NormalizationError, match="invalid side"):
        rest_trade("coinbase", "BTC-USD", item(7, side="BUY"), "now")


def test_the_token_bucket_allows_a_burst_then_spaces_requests_by_the_rate():
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.delay(0.0) for _ in range(3)] == [0, 0, 0]
    assert bucket.delay(0.0) == pytest.approx(0.5)
    assert bucket.delay(0.0) == pytest.approx(1.0)
    assert bucket.delay(10.0) == 0  # refilled, up to the burst


def test_backfill_limits_check_the_page_size():
    with pytest.raises(ValueError, match="page size must be 1..1000"):
        BackfillLimits(page_size=1001)


# --- the simulator's REST API ------------------------------------------------------------

def fetch(url: str) -> tuple[int, dict, object]:
    try:
        with urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), json.load(response)
    except Exception as error:  # urllib's HTTPError carries the answer
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def test_the_simulated_rest_api_pages_the_websockets_history_like_coinbase():
    async def scenario():
        h = Harness(SimConfig(PRODUCTS, rate=3000, seed=5, max_trades=900),
                    rest=RestFaults(rate=1000, burst=1000))
        await h.start()
        await until(h.sim.finished.is_set, what="the market to finish")
        btc = [t for t in h.sim.generated if t.product_id == "BTC-USD"]
        first, base = btc[0].trade_id, f"{h.sim.rest_url}/products"
        answers = await asyncio.to_thread(lambda: [
            fetch(f"{base}/BTC-USD/trades?limit=5"),
            fetch(f"{base}/BTC-USD/trades?limit=5&after={first + 3}"),
            fetch(f"{base}/BTC-USD/trades?limit=2&before={first}"),
            fetch(f"{base}/BTC-USD/trades?limit=1001"),
            fetch(f"{base}/BTC-USD/trades?after=1&before=2"),
            fetch(f"{base}/DOGE-EUR/trades"),
        ])
        await h.stop()
        return btc, answers

    btc, answers = asyncio.run(scenario())
    first = btc[0].trade_id
    (s1, h1, newest), (s2, h2, older), (s3, _, newer), *refusals = answers
    assert s1 == 200 and newest == [rest_json(t) for t in btc[::-1][:5]]
    assert newest[0]["side"] == btc[-1].maker_side  # the maker's side, as Coinbase documents
    assert (h1["CB-BEFORE"], h1["CB-AFTER"]) == (str(btc[-1].trade_id), str(btc[-5].trade_id))
    assert s2 == 200 and [t["trade_id"] for t in older] == [first + 2, first + 1, first]
    assert h2["CB-AFTER"] == str(first)
    assert s3 == 200 and [t["trade_id"] for t in newer] == [first + 2, first + 1]
    assert [(status, body) for status, _, body in refusals] == [
        (400, {"message": "Invalid limit"}),
        (400, {"message": "Only one of before and after may be given"}),
        (404, {"message": "NotFound"})]


def test_past_the_rate_limit_the_simulated_api_answers_429_with_retry_after():
    async def scenario():
        h = Harness(SimConfig(PRODUCTS, rate=100, seed=5, max_trades=10),
                    rest=RestFaults(rate=1, burst=2))
        await h.start()
        url = f"{h.sim.rest_url}/products/BTC-USD/trades?limit=1"
        answers = await asyncio.to_thread(lambda: [fetch(url) for _ in range(3)])
        await h.stop()
        return answers

    statuses = [(status, headers.get("Retry-After"), body)
                for status, headers, body in asyncio.run(scenario())]
    assert [s for s, _, _ in statuses[:2]] == [200, 200]
    assert statuses[2] == (429, "1", {"message": "Public rate limit exceeded"})


# --- the producer filling gaps from it -----------------------------------------------------

class BackfillHarness(Harness):
    def __init__(self, *args, policy: RestPolicy = QUICK, max_delay_s: float = 60, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy, self.max_delay_s = policy, max_delay_s
        self.backfiller: Backfiller | None = None
        self.backfill_task: asyncio.Task | None = None

    async def start(self, start_server: bool = True) -> None:
        await super().start(start_server)
        client = RestClient(self.sim.rest_url, self.policy, self.stats)
        self.backfiller = Backfiller(client, self.pipeline, "simulator",
                                     max_delay_s=self.max_delay_s)
        self.pipeline.gaps.on_gap = self.backfiller.on_gap
        self.backfill_task = asyncio.create_task(self.backfiller.run())

    async def stop(self) -> None:
        self.backfill_task.cancel()
        await asyncio.gather(self.backfill_task, return_exceptions=True)
        await self.backfiller.client.close()
        await super().stop()

    def settled(self) -> bool:
        """The market finished, its last trades arrived, and no backfill is pending."""
        last = {t.product_id: t.trade_id for t in self.sim.generated}
        return (self.sim.finished.is_set() and self.backfiller.idle and
                all(self.pipeline.gaps._last_trade.get(p) == i for p, i in last.items()))


class AdvancedHarness(BackfillHarness):
    """The simulator speaking Advanced Trade, the Advanced Trade feed, the time backfill."""

    def __init__(self, config: SimConfig, misbehaviour: Misbehaviour | None = None, **kwargs):
        config.protocol = "advanced"
        super().__init__(config, misbehaviour, **kwargs)
        self.feed = CoinbaseAdvancedFeed(config.products, exchange="simulator")
        self.pipeline = Pipeline(self.feed, self.sink, self.stats, source="simulator")

    async def start(self, start_server: bool = True) -> None:
        await Harness.start(self, start_server)
        client = RestClient(self.sim.rest_url, self.policy, self.stats)
        self.backfiller = TimeBackfiller(client, self.pipeline, "simulator",
                                         max_delay_s=self.max_delay_s)
        self.backfiller.attach(self.pipeline)
        self.backfill_task = asyncio.create_task(self.backfiller.run())


def settled(h: BackfillHarness, timeout: float, what: str) -> BackfillHarness:
    """Run ``h`` until the market finished and every hole it made was filled (or given up)."""
    async def scenario():
        await h.start()
        await until(h.settled, timeout=timeout, what=what)
        await h.stop()

    asyncio.run(scenario())
    return h


def produced_ids(h: Harness) -> list[tuple[str, int]]:
    return [(t["product_id"], int(t["trade_id"])) for t in h.trades()]


def assert_every_trade_once(h: Harness) -> None:
    got = produced_ids(h)
    assert len(got) == len(set(got)), "a trade was produced twice"
    by_id = {(t["product_id"], int(t["trade_id"])): t for t in h.trades()}
    for trade in h.sim.generated:
        record = by_id.get((trade.product_id, trade.trade_id))
        assert record is not None, f"trade {trade.product_id} {trade.trade_id} is missing"
        assert (record["price"], record["size"], record["side"], record["event_time"]) == \
            (trade.price, trade.size, trade.taker_side, trade.time)
    assert len(got) == len(h.sim.generated)


OUTAGE = {"drop_after": 300, "max_drops": 2, "drop_seconds": 0.6}
LOST_FRAMES = {"skip_every": 37}
FAULTS = {"outage": OUTAGE, "lost frames": LOST_FRAMES, "both": {**OUTAGE, **LOST_FRAMES}}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("harness", [BackfillHarness, AdvancedHarness],
                         ids=["exchange", "advanced"])
def test_a_dropped_connection_and_lost_frames_are_filled_exactly(harness, fault):
    """The simulator drops the connection and refuses it for a while as trading goes on,
    and (separately, then together) withholds frames; duplicates come on top."""
    bad = Misbehaviour(duplicate_every=29, **FAULTS[fault])
    h = settled(harness(SimConfig(PRODUCTS, rate=1500, seed=13, max_trades=3000), bad),
                timeout=60, what="every hole filled")
    assert h.sim.drops == (2 if "drop_after" in FAULTS[fault] else 0)
    assert len(h.sim.skipped) > 0 or "skip_every" not in FAULTS[fault]
    assert_every_trade_once(h)
    assert h.stats.gaps_unfillable == 0 and h.stats.gaps_filled >= 2
    assert h.stats.trades_backfilled >= len(h.sim.skipped) and h.stats.trades_backfilled > 0
    assert h.stats.backfill_latency_max_ms > 0


def test_under_a_tight_rate_limit_the_backfill_slows_and_completes_while_live_flows():
    bad = Misbehaviour(skip_every=10)  # ~30 one-trade gaps, one request each
    tight = RestFaults(rate=5, burst=2)
    policy = RestPolicy(rate=20, burst=20, attempts=20, timeout_s=5, backoff=FAST)

    h = settled(
        BackfillHarness(SimConfig(PRODUCTS, rate=100, seed=17, max_trades=300), bad,
                        rest=tight, policy=policy),
        timeout=120, what="every gap filled under the rate limit")
    assert_every_trade_once(h)
    assert h.sim.rest.rate_limited > 0 and h.stats.backfill_rate_limited > 0
    assert h.stats.gaps_unfillable == 0
    # The live stream kept its pace: no long pause between consecutive live trades.
    live = [t for t in h.trades() if t["sequence"] is not None]
    times = [time.mktime(time.strptime(t["received_at"][:19], "%Y-%m-%dT%H:%M:%S"))
             + float("0." + t["received_at"][20:26]) for t in live]
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) < 1.0


def test_an_aged_out_history_makes_the_gap_unfillable_counted_and_the_producer_goes_on():
    bad = Misbehaviour(drop_after=200, drop_seconds=0.5)

    h = settled(
        BackfillHarness(SimConfig(PRODUCTS, rate=1500, seed=19, max_trades=2000), bad,
                        rest=RestFaults(rate=1000, burst=1000, history=5)),
        timeout=60, what="the market to finish")
    got = produced_ids(h)
    assert len(got) == len(set(got))
    assert h.stats.gaps_unfillable >= 1
    assert len(got) < len(h.sim.generated)  # the hole stays, reported
    last = {t.product_id: t.trade_id for t in h.sim.generated}
    assert all((p, i) in set(got) for p, i in last.items()), "the producer stopped early"


def test_error_pages_and_garbled_pages_are_retried_until_the_gap_is_filled():
    bad = Misbehaviour(skip_every=25)
    faulty = RestFaults(rate=1000, burst=1000, fail_every=3, garble_every=4)

    h = settled(
        BackfillHarness(SimConfig(PRODUCTS, rate=1000, seed=23, max_trades=800), bad,
                        rest=faulty),
        timeout=60, what="every gap filled through the faults")
    assert h.sim.rest.failed > 0 and h.sim.rest.garbled > 0
    assert_every_trade_once(h)
    assert h.stats.gaps_unfillable == 0


# --- Advanced Trade: holes by time ---------------------------------------------------------

def test_the_simulated_advanced_trade_api_answers_a_time_span_newest_first():
    async def scenario():
        h = AdvancedHarness(SimConfig(PRODUCTS, rate=2000, seed=3, max_trades=600,
                                      start_time=datetime(2024, 1, 1, tzinfo=UTC),
                                      time_step=0.5))
        await h.start()
        await until(h.sim.finished.is_set, what="the market to finish")
        base = f"{h.sim.rest_url}/api/v3/brokerage/market/products"
        answers = await asyncio.to_thread(lambda: [
            fetch(f"{base}/ETH-USD/ticker?limit=3&start=1704067210&end=1704067230"),
            fetch(f"{base}/ETH-USD/ticker?limit=0"),
        ])
        await h.stop()
        return h, answers

    h, ((status, _, body), (refused, _, error)) = asyncio.run(scenario())
    eth = [t for t in h.sim.generated if t.product_id == "ETH-USD"
           and "2024-01-01T00:00:10" <= t.time <= "2024-01-01T00:00:30.000000Z"]
    assert status == 200 and body["trades"] == [advanced_trade_json(t) for t in eth[::-1][:3]]
    assert body["trades"][0]["side"] in ("BUY", "SELL")
    assert refused == 400 and "limit is required" in error["message"]


def test_a_time_span_walks_down_by_full_pages_and_refuses_trades_outside_it():
    limits = BackfillLimits(page_size=2)
    fill = TimeFill("BTC-USD", start=100.0, end=200.5, detected_at=0)
    assert fill.request(limits) == {"limit": 2, "start": "100", "end": "201"}

    def at(seconds: float, trade_id: int) -> dict:
        moment = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {"trade_id": str(trade_id), "product_id": "BTC-USD", "price": "1", "size": "1",
                "side": "BUY", "time": moment}

    wanted, _ = fill.take({"trades": [at(200, 9), at(150, 8)]}, "cb", "now", limits)
    assert [t.trade_id for t in wanted] == ["9", "8"] and not fill.done and fill.end == 150
    wanted, _ = fill.take({"trades": [at(120, 7)]}, "cb", "now", limits)
    assert [t.trade_id for t in wanted] == ["7"] and fill.done and fill.found == 3
    with pytest.raises(PageError, match="outside the asked span"):
        TimeFill("BTC-USD", 100.0, 200.0, 0).take({"trades": [at(300, 1)]}, "cb", "now", limits)
    with pytest.raises(PageError, match="no 'trades' array"):
        TimeFill("BTC-USD", 100.0, 200.0, 0).take({"error": "x"}, "cb", "now", limits)
    _, rejected = TimeFill("BTC-USD", 100.0, 200.0, 0).take(
        {"trades": [{**at(150, 1), "product_id": "ETH-USD"}]}, "cb", "now", limits)
    assert rejected[0][0] == "a trade for ETH-USD in the page of BTC-USD"


# --- recordings keep the REST answers ------------------------------------------------------

@pytest.mark.parametrize("protocol", ["exchange", "advanced"])
def test_a_replay_fills_the_same_holes_from_the_recording_without_the_network(tmp_path,
                                                                              protocol):
    recording = tmp_path / "sim.jsonl"
    code, live, err = finished(producer(
        "--source", "simulator", "--sim-protocol", protocol, "--sink", "stdout",
        "--max-trades", "1500", "--sim-rate", "1500", "--sim-seed", "41",
        "--sim-start-time", "2024-01-01T00:00:00Z", "--sim-drop-after", "300",
        "--sim-drop-seconds", "0.5", "--sim-skip-every", "31", "--record", str(recording)))
    assert code == 0, err
    produced = [identity(line) for line in live.splitlines()]
    assert len(produced) == len(set(produced)) == 1500
    assert '"event": "rest"' in recording.read_text()

    # The simulator (and its REST API) is gone: the replay has only the recording.
    code, replayed, err = finished(producer(
        "--source", "replay", "--file", str(recording), "--speed", "0", "--sink", "stdout"))
    assert code == 0, err
    again = [identity(line) for line in replayed.splitlines()]
    assert len(again) == len(set(again)) and set(again) == set(produced)
    assert "gaps_unfillable=0" in err and "trades_backfilled=0" not in err


def identity(line: str) -> tuple:
    t = json.loads(line)
    return (t["product_id"], t["trade_id"], t["price"], t["size"], t["side"], t["event_time"])


class ScriptedClient:
    """Answers every question with the same page (a stub for the worker's own logic)."""

    def __init__(self, body, headers=None):
        self.answer = Answer(body, headers or {}, "2024-01-01T00:00:00.000000Z")
        self.asked = 0

    async def get_json(self, path, params):
        self.asked += 1
        return self.answer


def test_a_page_that_never_answers_is_asked_again_then_dead_lettered_and_counted():
    sink, stats = MemorySink(), Stats()
    pipeline = Pipeline(CoinbaseExchangeFeed(["BTC-USD"]), sink, stats)
    client = ScriptedClient([item(500), item(499)], {"CB-AFTER": "499"})  # above the gap
    worker = Backfiller(client, pipeline, "coinbase", attempts=3)
    asyncio.run(worker.fill(GapFill([Gap("BTC-USD", 10, 12, "trade_id")], time.monotonic())))
    assert client.asked == 3
    assert (stats.gaps_unfillable, stats.gaps_filled, len(sink.trades)) == (1, 0, 0)
    [(key, value)] = sink.dead_letters
    letter = json.loads(value)
    assert key == "BTC-USD" and "does not cover the range asked" in letter["reason"]
    assert json.loads(letter["raw"]) == [item(500), item(499)]


def test_slow_pages_delay_the_fill_not_the_live_stream():
    bad = Misbehaviour(skip_every=50)

    h = settled(
        BackfillHarness(SimConfig(PRODUCTS, rate=300, seed=37, max_trades=600), bad,
                        rest=RestFaults(rate=1000, burst=1000, delay_s=0.3)),
        timeout=60, what="every gap filled through slow pages")
    assert_every_trade_once(h)
    assert h.stats.backfill_latency_max_ms >= 300
