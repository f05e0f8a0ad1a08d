"""The dashboard's pure logic: request checking, the pipeline verdict, the live-change
bookkeeping, and the shapes the API sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard import config, params, pipeline
from dashboard.live import WindowChanges, windows_event
from dashboard.sources import candle_json, dead_letter_reason, plain_decimal
from runtime import env_settings

NOW = datetime(2026, 1, 2, 12, 0, 7, tzinfo=UTC)
BTC = params.Market("coinbase", "BTC-USD")
MARKETS = [BTC, params.Market("coinbase", "ETH-USD")]


def ask(**query):
    return params.candle_request(query, MARKETS, NOW, max_candles=1000, default_candles=100)


# --- /api/candles parameters -------------------------------------------------------------

def test_defaults_are_the_last_default_candles_of_one_minute_up_to_now():
    request = ask(product="BTC-USD")
    assert (request.market, request.interval, request.end) == (BTC, "1m", NOW)
    assert request.start == datetime(2026, 1, 2, 10, 20, tzinfo=UTC)  # floored to the minute
    assert request.span == 101


@pytest.mark.parametrize("text", ["1704067200", "1704067200.0", "2024-01-01T00:00:00Z",
                                  "2024-01-01T00:00:00+00:00", "2024-01-01 00:00:00",
                                  "2024-01-01T01:00:00+01:00"])
def test_times_are_unix_seconds_or_iso_8601_in_utc(text):
    assert params.parse_time(text, "from") == datetime(2024, 1, 1, tzinfo=UTC)


def test_from_is_floored_to_the_interval_and_to_is_kept():
    request = ask(product="BTC-USD", interval="1h", **{"from": "2024-01-01T10:59:59Z",
                                                      "to": "2024-01-01T12:30:00Z"})
    assert request.start == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert request.end == datetime(2024, 1, 1, 12, 30, tzinfo=UTC)
    assert (request.seconds, request.span) == (3600, 3)


def test_an_exchange_narrows_a_product_traded_on_several():
    markets = [BTC, params.Market("kraken", "BTC-USD")]
    with pytest.raises(params.BadRequest, match="several exchanges.*coinbase, kraken"):
        params.candle_request({"product": "BTC-USD"}, markets, NOW, 1000, 100)
    chosen = params.candle_request({"product": "BTC-USD", "exchange": "kraken"}, markets, NOW,
                                   1000, 100)
    assert chosen.market == params.Market("kraken", "BTC-USD")


@pytest.mark.parametrize(("query", "message"), [
    ({}, "product is required"),
    ({"product": "DOGE-USD"}, "unknown product 'DOGE-USD'; known products: BTC-USD, ETH-USD"),
    ({"product": "BTC-USD", "exchange": "kraken"}, "unknown product 'BTC-USD' on exchange"),
    ({"product": "BTC-USD", "interval": "2m"}, "unknown interval '2m'; use one of 30s, 1m"),
    ({"product": "BTC-USD", "from": "yesterday"}, "from='yesterday' is neither"),
    ({"product": "BTC-USD", "to": "1e400"}, "to='1e400' is neither"),
    ({"product": "BTC-USD", "from": "2024-01-02", "to": "2024-01-01"}, "must be before to"),
    ({"product": "BTC-USD", "from": "2024-01-01", "to": "2024-01-01"}, "must be before to"),
    ({"product": "BTC-USD", "from": "0"}, "before 2010-01-01"),
    ({"product": "BTC-USD", "to": "2999-01-01"}, "more than a day in the future"),
    ({"product": "BTC-USD", "from": "2025-01-01"}, r"spans \d+ 1m candles; at most 1000"),
])
def test_bad_requests_name_what_is_wrong(query, message):
    with pytest.raises(params.BadRequest, match=message):
        ask(**query)


def test_a_range_touching_one_more_candle_than_allowed_is_refused():
    with pytest.raises(params.BadRequest, match="spans 1001 1m candles"):
        ask(product="BTC-USD", **{"from": (NOW - timedelta(minutes=1000)).isoformat()})
    assert ask(product="BTC-USD",
               **{"from": (NOW - timedelta(minutes=999)).isoformat()}).span == 1000


# --- the pipeline panel ------------------------------------------------------------------

def batch(age_s=1.0, offsets=None):
    return pipeline.Batch(7, age_s, 420, 1000, 2, offsets or {"t": {"0": 10, "1": 20}})


def reading(at=100.0, **fields):
    base = {"trade_offsets": {("t", "0"): 10, ("t", "1"): 20}, "batch": batch(),
            "dead_letters": 0, "rejected": 0}
    return pipeline.Reading(at=at, **{**base, **fields})


def fed_rate(*samples, window_s=10.0):
    rate = pipeline.ProducerRate(window_s)
    for at, total in samples:
        rate.add(at, total)
    return rate


def test_the_producer_rate_is_records_per_second_over_the_window():
    rate = fed_rate((0, 0), (5, 500), (10, 1000), (15, 2500))
    assert rate.per_second() == pytest.approx(200.0)  # 2000 records over the last 10 s
    assert rate.idle_s(15) == 0


def test_idle_time_counts_from_the_last_change_or_the_first_sample():
    assert fed_rate((3, 100), (4, 100), (9, 100)).idle_s(9) == 6
    assert fed_rate((3, 100), (4, 150), (9, 150)).idle_s(12) == 8
    assert pipeline.ProducerRate(10).idle_s(5) is None
    assert pipeline.ProducerRate(10).per_second() is None


def test_live_lag_is_the_topic_end_past_the_newest_batch_per_partition():
    offsets = {("t", "0"): 15, ("t", "1"): 20, ("t", "2"): 4}
    assert pipeline.live_lag(offsets, batch()) == 5 + 0 + 4
    assert pipeline.live_lag(offsets, None) is None
    assert pipeline.live_lag(None, batch()) is None


def test_a_moving_pipeline_is_ok():
    state, found = pipeline.problems(reading(), fed_rate((95, 0), (100, 30)), stall_after_s=20)
    assert (state, found) == (pipeline.OK, [])


def test_a_producer_silent_past_the_limit_stalls_the_pipeline():
    rate = fed_rate((70, 30), (100, 30))
    state, found = pipeline.problems(reading(), rate, stall_after_s=20)
    assert state == pipeline.STALLED
    assert found == ["no trade reached Kafka for 30 s: is the producer running?"]
    assert pipeline.problems(reading(), rate, stall_after_s=31)[0] == pipeline.OK


def test_a_job_without_recent_batches_stalls_only_while_records_wait():
    rate = fed_rate((99, 0), (100, 30))
    behind = reading(trade_offsets={("t", "0"): 12, ("t", "1"): 20}, batch=batch(age_s=60))
    state, found = pipeline.problems(behind, rate, stall_after_s=20)
    assert state == pipeline.STALLED
    assert found == ["the job's last batch was 60 s ago and it is 2 records behind: "
                     "is the job running?"]
    caught_up = reading(batch=batch(age_s=60))
    assert pipeline.problems(caught_up, rate, stall_after_s=20)[0] == pipeline.OK
    never = reading(batch=None)
    assert pipeline.problems(never, rate, 20)[1] == ["the job has not reported a batch yet"]


def test_a_service_that_cannot_be_asked_is_down_and_named():
    rate = fed_rate((99, 0), (100, 30))
    state, found = pipeline.problems(
        pipeline.Reading(at=100, clickhouse_error="ConnectionRefusedError: refused"), rate, 20)
    assert state == pipeline.DOWN
    assert found == ["ClickHouse cannot be asked: ConnectionRefusedError: refused"]
    state, found = pipeline.problems(
        reading(kafka_error="KafkaException: timed out", trade_offsets=None), rate, 20)
    assert (state, found) == (pipeline.DOWN, ["Kafka cannot be asked: KafkaException: timed out"])


def test_the_panel_carries_every_figure_the_page_shows():
    seen = reading(dead_letters=3,
                   dead_letter_reasons=(pipeline.Reason("2026-01-01T00:00:00Z", "bad JSON"),),
                   rejected=5, newest_window=pipeline.NewestWindow("2024-01-01T00:00:00.000Z",
                                                                   2.04))
    panel = pipeline.panel(seen, fed_rate((90, 0), (100, 1000)), 20)
    assert panel["state"] == "ok"
    assert panel["producer"] == {"records_per_s": 100.0, "idle_s": 0}
    assert panel["kafka"] == {"lag": 0, "dead_letters": 3, "dead_letter_reasons": [
        {"at": "2026-01-01T00:00:00Z", "reason": "bad JSON"}]}
    assert panel["job"] == {"batch_id": 7, "age_s": 1.0, "duration_ms": 420,
                            "input_rows": 1000, "rejected": 2}
    assert panel["rejected"] == {"count": 5, "reasons": []}
    assert panel["newest_window"] == {"window_start": "2024-01-01T00:00:00.000Z",
                                      "written_age_s": 2.0}
    assert panel["backfill"] is None
    counters = pipeline.ProducerCounters(3.04, 5, 4, 1, 120, 800, 2)
    assert pipeline.panel(reading(producer=counters), fed_rate((0, 0)), 20)["backfill"] == {
        "age_s": 3.0, "gaps": 5, "gaps_filled": 4, "gaps_unfillable": 1,
        "trades_backfilled": 120, "backfill_latency_max_ms": 800, "reconnects": 2}


# --- live changes ------------------------------------------------------------------------

def test_each_window_version_is_announced_once_across_overlapping_polls():
    changes = WindowChanges(lookback_ms=1000)
    assert changes.since_ms() is None
    changes.prime(5000, [])
    assert changes.since_ms() == 4000
    first = [("cb", "BTC-USD", 60, 1, 5100), ("cb", "ETH-USD", 60, 1, 5200)]
    assert changes.fresh(first) == first
    assert changes.since_ms() == 4200
    # the next poll overlaps: the same rows again, one new version, one late-committed row
    again = [*first, ("cb", "BTC-USD", 60, 2, 5300), ("cb", "BTC-USD", 90, 2, 4900)]
    assert changes.fresh(again) == again[2:]
    assert changes.fresh(again) == []


def test_rows_there_at_the_start_are_not_announced_but_late_commits_in_their_span_are():
    changes = WindowChanges(lookback_ms=1000)
    there = [("cb", "BTC-USD", 60, 1, 4500), ("cb", "BTC-USD", 90, 1, 5000)]
    changes.prime(5000, there)
    late = ("cb", "ETH-USD", 60, 1, 4700)  # an insert that started earlier, committed later
    assert changes.fresh([*there, late]) == [late]


def test_what_fell_behind_the_lookback_is_forgotten():
    changes = WindowChanges(lookback_ms=1000)
    changes.prime(0, [])
    changes.fresh([("cb", "BTC-USD", 60, 1, 1000)])
    changes.fresh([("cb", "BTC-USD", 90, 1, 3000)])
    assert list(changes.announced) == [("cb", "BTC-USD", 90, 1)]


def test_the_windows_event_spans_each_market_touched():
    rows = [("cb", "BTC-USD", 120, 1, 0), ("cb", "BTC-USD", 60, 1, 0), ("cb", "ETH-USD", 90, 3, 0)]
    assert windows_event(rows) == [
        {"exchange": "cb", "product": "BTC-USD", "from": 60, "to": 120},
        {"exchange": "cb", "product": "ETH-USD", "from": 90, "to": 90}]


# --- shapes --------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "text"), [
    (Decimal("42000.500000000000000000"), "42000.5"), (Decimal("4.2E+4"), "42000"),
    (Decimal("0.000000000000000001"), "0.000000000000000001"), (Decimal("0E-18"), "0")])
def test_decimals_are_sent_as_plain_exact_strings(value, text):
    assert plain_decimal(value) == text


def test_a_candle_row_becomes_the_api_object():
    row = (60, *(Decimal(f"{i}.10") for i in range(1, 9)), 2.5, 17)
    assert candle_json(row) == {
        "time": 60, "open": "1.1", "high": "2.1", "low": "3.1", "close": "4.1",
        "volume": "5.1", "notional": "6.1", "buy_volume": "7.1", "sell_volume": "8.1",
        "vwap": 2.5, "trade_count": 17}


def test_dead_letters_show_their_reason_or_say_they_are_unreadable():
    value = b'{"v": 1, "reason": "no price", "received_at": "2026-01-01T00:00:00Z", "raw": "x"}'
    assert dead_letter_reason(value) == pipeline.Reason("2026-01-01T00:00:00Z", "no price")
    for broken in (b"{", b"[]", b'{"v": 1}', None, b"\xff"):
        assert dead_letter_reason(broken) == pipeline.Reason("", "unreadable dead letter")


# --- settings ------------------------------------------------------------------------------

def test_settings_come_from_dashboard_variables_with_the_topologys_port():
    settings = config.load({"DASHBOARD_MAX_CANDLES": "600", "DASHBOARD_STALL_AFTER_S": "4.5"})
    assert (settings.max_candles, settings.stall_after_s, settings.port) == (600, 4.5, 8050)


@pytest.mark.parametrize(("env", "message"), [
    ({"DASHBOARD_PORT": "http"}, "DASHBOARD_PORT='http' is not a int"),
    ({"DASHBOARD_QUERY_TIMEOUT_S": "-1"}, "must not be negative"),
    ({"DASHBOARD_DEFAULT_CANDLES": "600", "DASHBOARD_MAX_CANDLES": "500"}, "between 1 and"),
])
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(ValueError, match=message):
        config.load(env)


def test_env_settings_keep_defaults_for_unset_and_empty_variables():
    @dataclass(frozen=True)
    class Example:
        name: str = "a"
        count: int = 1

    assert env_settings.from_env(Example(), {"X_NAME": "", "X_COUNT": "3"}, "X_") == \
        Example("a", 3)
