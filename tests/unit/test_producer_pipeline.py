"""The pipeline (normalize -> dedupe -> gaps -> sink) and recordings, with an in-memory sink."""

from __future__ import annotations

import asyncio
import json
import random
import time
from decimal import Decimal

import pytest

from producer.feeds.coinbase import CoinbaseExchangeFeed
from producer.pipeline import MemorySink, Pipeline
from producer.recording import (
    Entry,
    Recorder,
    RecordingError,
    read_entries,
    read_entry_runs,
    read_header,
)
from producer.runner import replay
from producer.schema import is_positive_decimal
from producer.stats import Reporter, Stats

T0 = "2024-01-01T00:00:00.000000Z"


def match(trade_id: int, product: str = "BTC-USD", side: str = "sell", kind: str = "match"):
    return json.dumps({
        "type": kind, "trade_id": trade_id, "sequence": 1000 + trade_id * 3,
        "maker_order_id": "m", "taker_order_id": "t", "time": "2024-01-01T00:00:00.000001Z",
        "product_id": product, "size": "0.5", "price": f"{40000 + trade_id}.01", "side": side,
    })


def pipeline(**kwargs) -> tuple[Pipeline, MemorySink, Stats]:
    sink, stats = MemorySink(), Stats()
    feed = CoinbaseExchangeFeed(["BTC-USD", "ETH-USD"])
    return Pipeline(feed, sink, stats, **kwargs), sink, stats


def test_trades_are_keyed_by_product_and_serialized():
    p, sink, stats = pipeline()
    p.on_raw(match(1), T0)
    p.on_raw(match(7, "ETH-USD"), T0)
    assert [key for key, _ in sink.trades] == ["BTC-USD", "ETH-USD"]
    first = json.loads(sink.trades[0][1])
    assert (first["trade_id"], first["side"], first["received_at"]) == ("1", "buy", T0)
    assert (stats.received, stats.trades, stats.produced) == (2, 2, 2)


def test_last_match_after_reconnect_and_repeated_messages_are_suppressed():
    p, sink, stats = pipeline()
    for raw in (match(1), match(2), match(2), match(2, kind="last_match"), match(3)):
        p.on_raw(raw, T0)
    assert [json.loads(v)["trade_id"] for _, v in sink.trades] == ["1", "2", "3"]
    assert (stats.duplicates, stats.gaps) == (2, 0)


def test_gaps_are_counted_and_the_trades_still_flow():
    p, sink, stats = pipeline()
    for trade_id in (1, 2, 5, 6):
        p.on_raw(match(trade_id), T0)
    p.on_raw(json.dumps({"type": "heartbeat", "sequence": 1, "last_trade_id": 9,
                         "product_id": "BTC-USD", "time": T0}), T0)
    assert len(sink.trades) == 4
    assert (stats.gaps, stats.missing) == (2, 2 + 3)
    assert [(g.first, g.last) for g in p.gaps.gaps] == [(3, 4), (7, 9)]


def test_ticker_trade_ids_skip_by_design_so_no_gaps_are_reported():
    sink, stats = MemorySink(), Stats()
    p = Pipeline(CoinbaseExchangeFeed(["BTC-USD"], channel="ticker"), sink, stats)
    for trade_id in (1, 5, 9):
        p.on_raw(json.dumps({"type": "ticker", "trade_id": trade_id, "sequence": trade_id,
                             "product_id": "BTC-USD", "price": "1.5", "last_size": "2",
                             "side": "buy", "time": T0}), T0)
    assert (len(sink.trades), stats.gaps) == (3, 0)


def test_unusable_messages_become_dead_letters_with_reason_and_raw_text():
    p, sink, stats = pipeline()
    p.on_raw('{"type":"match"', T0)
    p.on_raw(b"\xff\xfe binary", T0)
    p.on_raw(json.dumps({"type": "error", "message": "Failed to subscribe"}), T0)
    assert stats.dead_letters == 2 and stats.feed_errors == 1 and not sink.trades
    records = [json.loads(value) for _, value in sink.dead_letters]
    assert records[0]["reason"].startswith("not valid JSON: ")
    assert records[0]["raw"] == '{"type":"match"'
    assert records[1]["reason"] == "binary frame is not UTF-8 text"
    assert records[1]["raw"] == "\\xff\\xfe binary"


def test_limit_fires_once_when_reached():
    p, sink, _ = pipeline()
    reached = []
    p.limit(2, lambda: reached.append(len(sink.trades)))
    for trade_id in (1, 2, 3):
        p.on_raw(match(trade_id), T0)
    assert reached == [2]


def test_limit_reached_inside_a_stretch_of_messages_stops_there():
    p, sink, stats = pipeline()
    reached = []
    p.limit(3, lambda: reached.append(len(sink.trades)))
    p.on_messages([(T0, match(n)) for n in range(1, 11)])
    p.on_messages([(T0, match(n)) for n in range(11, 13)])
    assert reached == [3] and len(sink.trades) == stats.produced == 3


def test_a_stretch_of_messages_gives_what_one_message_at_a_time_gives():
    raws = [match(1), match(2), match(2), "{bad", b"\xff binary", match(2, "ETH-USD").encode(),
            match(5), json.dumps({"type": "heartbeat", "sequence": 1, "last_trade_id": 9,
                                  "product_id": "BTC-USD", "time": T0}),
            match(4), match(3, kind="last_match"), json.dumps({"type": "subscriptions"})]
    one_by_one, one_sink, one_stats = pipeline()
    for raw in raws:
        one_by_one.on_raw(raw, T0)
    at_once, sink, stats = pipeline()
    at_once.on_messages([(T0, raw) for raw in raws])
    assert sink.trades == one_sink.trades and sink.dead_letters == one_sink.dead_letters
    assert stats.snapshot() == one_stats.snapshot()
    assert (stats.produced, stats.duplicates, stats.late, stats.dead_letters) == (6, 1, 2, 2)


def test_summary_line_names_every_counter():
    stats = Stats(received=10, produced=8, delivered=7, dead_letters=1, duplicates=2, gaps=1,
                  reconnects=3, delivery_errors=0)
    line = Reporter(stats).line()
    for part in ("received=10", "produced=8", "delivered=7", "dlq=1", "duplicates=2", "gaps=1",
                 "reconnects=3", "delivery_errors=0", "/s"):
        assert part in line
    assert Reporter(stats).final().startswith("final: received=10 ")


# -- recordings --------------------------------------------------------------------------------


def record(path, entries) -> None:
    recorder = Recorder(path, feed="coinbase", exchange="coinbase", channel="matches",
                        products=["BTC-USD", "ETH-USD"])
    for kind, payload, at in entries:
        if kind == "connect":
            recorder.write_connect(payload, at)
        else:
            recorder.write(payload, at)
    recorder.close()


def test_recording_round_trip_keeps_every_message_exactly(tmp_path):
    path = tmp_path / "rec.jsonl"
    raws = [match(1), "not json at all \u00e9", '{"spaced" :  [1, 2] }', '{"multi":\n1}',
            '{"bad": "ctrl\x01"}', match(2, "ETH-USD"), '"just a string"']
    record(path, [("connect", "ws://x", T0)] + [("raw", r, T0) for r in raws])
    assert read_header(path)["feed"] == "coinbase"
    entries = [Entry(*e) for e in read_entries(path)]
    assert entries[0] == Entry(T0, None, "ws://x")
    assert [e.raw for e in entries[1:]] == raws
    assert all(e.received_at == T0 for e in entries)
    lines = path.read_text().splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)  # valid JSON lines
    assert lines[2] == f'{{"received_at":"{T0}","raw":{match(1)}}}'  # embedded verbatim
    assert json.loads(lines[3])["text"] == raws[1]


def test_replay_goes_through_the_same_path_and_gives_the_same_records(tmp_path):
    path = tmp_path / "rec.jsonl"
    live, live_sink, _ = pipeline(recorder=Recorder(
        path, feed="coinbase", exchange="coinbase", channel="matches", products=["BTC-USD"]))
    live.on_connect("ws://x", T0)
    for raw in (match(1), match(1), "{bad", match(3)):
        live.on_raw(raw, "2024-01-01T00:00:00.500000Z")
    live.recorder.close()

    replayed, replay_sink, stats = pipeline()
    asyncio.run(replay(path, replayed, 0, asyncio.Event()))
    assert replay_sink.trades == live_sink.trades
    assert replay_sink.dead_letters == live_sink.dead_letters
    assert (stats.duplicates, stats.gaps, stats.dead_letters) == (1, 1, 1)


def test_replay_at_full_speed_keeps_connect_events_in_their_place(tmp_path):
    path = tmp_path / "rec.jsonl"
    entries = [("raw", match(n), T0) for n in range(1, 2_501)]
    entries[1_234:1_234] = [("connect", "ws://again", T0)]
    record(path, entries)
    p, sink, stats = pipeline()
    seen_at_connect = []
    p.on_connect = lambda url, at: seen_at_connect.append((url, stats.received))
    asyncio.run(replay(path, p, 0, asyncio.Event()))
    assert seen_at_connect == [("ws://again", 1_234)]
    assert [json.loads(v)["trade_id"] for _, v in sink.trades] == [str(n) for n in range(1, 2_501)]


def test_replay_speed_follows_the_recorded_timing(tmp_path):
    path = tmp_path / "rec.jsonl"
    record(path, [("raw", match(1), "2024-01-01T00:00:00.000000Z"),
                  ("raw", match(2), "2024-01-01T00:00:00.600000Z")])
    p, sink, _ = pipeline()
    started = time.monotonic()
    asyncio.run(replay(path, p, 2.0, asyncio.Event()))
    elapsed = time.monotonic() - started
    assert len(sink.trades) == 2
    assert 0.3 <= elapsed < 1.0  # 0.6 s of recording at twice the speed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format":"other"}\n', "line 1 is not a cryptostream-recording header"),
        ('{"format":"cryptostream-recording","version":9}\n', "unsupported recording version 9"),
    ],
)
def test_bad_recording_headers_are_rejected(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(RecordingError, match=message):
        read_header(path)


@pytest.mark.parametrize("text", ["1", "10", "0.1", "007.500", "43250.12", "0.00000001"])
def test_plain_positive_decimals_are_accepted(text):
    assert is_positive_decimal(text) and Decimal(text) > 0


@pytest.mark.parametrize("text", ["0", "0.0", "000.000", "-1", "NaN", "inf", "Infinity", "1e5",
                                  " 1", "1.", ".5", "1.2.3", "", "+1", "1_000", "\u0661"])
def test_zero_negative_non_finite_and_unusual_spellings_are_rejected(text):
    assert not is_positive_decimal(text)


def test_decimal_grammar_check_agrees_with_decimal_on_its_grammar():
    rng = random.Random(0)
    for _ in range(5000):
        whole = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 4)))
        fraction = "".join(rng.choice("00123456789") for _ in range(rng.randint(0, 4)))
        text = f"{whole}.{fraction}" if fraction else whole
        assert is_positive_decimal(text) == (Decimal(text) > 0), text


def test_a_corrupt_recording_line_names_its_line_number(tmp_path):
    path = tmp_path / "rec.jsonl"
    record(path, [("raw", match(1), T0)])
    with path.open("a") as file:
        file.write('{"received_at": "x"}\n')
    with pytest.raises(RecordingError, match=r"rec.jsonl:3: expected raw, text or event"):
        list(read_entries(path))


def mixed_recording(path) -> list[Entry]:
    """Every kind of line, some with CRLF breaks and blank lines between; the entries expected."""
    raws = [match(n) for n in range(1, 40)] + ["not json \u00e9", '{"multi":\n1}']
    record(path, [("raw", raw, T0) for raw in raws[:20]] + [("connect", "ws://b", T0)]
           + [("raw", raw, T0) for raw in raws[20:]] + [("connect", "ws://c", T0)])
    text = path.read_text()
    head, body = text.split("\n", 1)
    body = body.replace(f"\n{{\"received_at\":\"{T0}\",\"raw\":{match(5)}", f"\r\n\n \n"
                        f"{{\"received_at\":\"{T0}\",\"raw\":{match(5)}")
    path.write_text(f"{head}\n{body}")
    return ([Entry(T0, raw) for raw in raws[:20]] + [Entry(T0, None, "ws://b")]
            + [Entry(T0, raw) for raw in raws[20:]] + [Entry(T0, None, "ws://c")])


@pytest.mark.parametrize("chunk_bytes", [1, 7, 100, 4096, 1 << 18])
def test_reading_in_chunks_gives_the_same_entries_wherever_a_chunk_ends(tmp_path, chunk_bytes):
    path = tmp_path / "rec.jsonl"
    expected = mixed_recording(path)
    runs = list(read_entry_runs(path, chunk_bytes))
    assert [Entry(*entry) for run in runs for entry in run] == expected
    # a connect event is alone in its run; no run is empty
    assert all(len(run) == 1 for run in runs if any(entry[1] is None for entry in run))
    assert all(runs)


def test_a_line_that_is_not_utf8_is_named_by_its_line_number(tmp_path):
    path = tmp_path / "rec.jsonl"
    record(path, [("raw", match(1), T0), ("raw", match(2), T0)])
    with path.open("ab") as file:
        file.write(b'{"received_at":"' + T0.encode() + b'","text":"\xff"}\n')
    with pytest.raises(RecordingError, match=r"rec.jsonl:4: not UTF-8"):
        list(read_entries(path))


def test_a_recording_cut_mid_line_loses_nothing_before_and_dead_letters_the_rest(tmp_path):
    path = tmp_path / "rec.jsonl"
    record(path, [("raw", match(1), T0), ("raw", match(2), T0)])
    path.write_text(path.read_text()[:-40])  # the recorder was killed while writing
    p, sink, stats = pipeline()
    asyncio.run(replay(path, p, 0, asyncio.Event()))
    assert [json.loads(v)["trade_id"] for _, v in sink.trades] == ["1"]
    assert stats.dead_letters == 1
    assert json.loads(sink.dead_letters[0][1])["reason"].startswith("not valid JSON")
