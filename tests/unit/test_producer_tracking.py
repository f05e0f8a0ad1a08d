"""Duplicate suppression, gap detection and the reconnect backoff policy."""

from __future__ import annotations

import pytest
from tenacity import RetryCallState

from producer.client import BackoffPolicy
from producer.tracking import Deduplicator, Gap, GapDetector


def test_duplicates_are_recognized_per_product():
    dedupe = Deduplicator(capacity=10)
    assert not dedupe.is_duplicate("BTC-USD", "1")
    assert dedupe.is_duplicate("BTC-USD", "1")
    assert not dedupe.is_duplicate("ETH-USD", "1")


def test_dedupe_memory_is_bounded_and_forgets_the_oldest_first():
    dedupe = Deduplicator(capacity=3)
    for trade_id in "1234":
        assert not dedupe.is_duplicate("BTC-USD", trade_id)
    assert len(dedupe) == 3
    assert dedupe.is_duplicate("BTC-USD", "4")
    assert dedupe.is_duplicate("BTC-USD", "2")
    assert not dedupe.is_duplicate("BTC-USD", "1")  # forgotten, so accepted again


def test_dedupe_capacity_must_be_positive():
    with pytest.raises(ValueError):
        Deduplicator(capacity=0)


def test_consecutive_trade_ids_are_new_and_not_gaps():
    gaps = GapDetector()
    assert [gaps.observe_trade("BTC-USD", n) for n in (5, 6, 7)] == [True, True, True]
    assert gaps.gap_count == gaps.missing == gaps.late == 0


def test_a_jump_in_trade_ids_is_reported_with_its_range():
    gaps = GapDetector()
    gaps.observe_trade("BTC-USD", 10)
    gaps.observe_trade("ETH-USD", 500)
    assert gaps.observe_trade("BTC-USD", 14) is True
    gap = Gap("BTC-USD", 11, 13, "trade_id")
    assert gap.count == 3
    assert gaps.observe_trade("ETH-USD", 501) is True
    assert (gaps.gap_count, gaps.missing, list(gaps.gaps)) == (1, 3, [gap])
    assert str(gap) == "BTC-USD: 3 missing (11..13), detected by trade_id"


def test_trades_at_or_below_the_highest_id_are_duplicates_however_old():
    gaps = GapDetector()
    for n in range(1, 300_001):
        gaps.observe_trade("BTC-USD", n)
    gaps.observe_trade("ETH-USD", 7)
    assert [gaps.observe_trade("BTC-USD", n) for n in (300_000, 1, 150_000)] == [False] * 3
    assert gaps.observe_trade("ETH-USD", 7) is False
    assert (gaps.gap_count, gaps.late) == (0, 0)


def test_a_trade_arriving_after_its_gap_is_late_and_new_once_then_a_duplicate():
    gaps = GapDetector()
    gaps.observe_trade("BTC-USD", 10)
    gaps.observe_trade("BTC-USD", 15)  # 11..14 missing
    assert gaps.observe_trade("BTC-USD", 12) is True  # splits the open gap: 11 and 13..14
    assert gaps.observe_trade("BTC-USD", 12) is False
    assert [gaps.observe_trade("BTC-USD", n) for n in (14, 11, 13)] == [True, True, True]
    assert [gaps.observe_trade("BTC-USD", n) for n in (11, 13, 14)] == [False, False, False]
    assert (gaps.gap_count, gaps.missing, gaps.late) == (1, 4, 4)
    assert gaps.observe_trade("BTC-USD", 16) is True


def test_ids_older_than_the_first_trade_seen_are_new_once():
    gaps = GapDetector()
    gaps.observe_trade("BTC-USD", 100)
    assert gaps.observe_trade("BTC-USD", 98) is True
    assert gaps.observe_trade("BTC-USD", 98) is False
    assert (gaps.gap_count, gaps.late) == (0, 1)


def test_open_gaps_are_bounded_and_the_oldest_forgotten_first(caplog):
    gaps = GapDetector(max_open_gaps=2)
    for n in (1, 3, 5, 7):  # gaps 2, 4, 6
        gaps.observe_trade("BTC-USD", n)
    assert "trades 2..2 will count as duplicates" in caplog.text
    assert gaps.observe_trade("BTC-USD", 2) is False
    assert gaps.observe_trade("BTC-USD", 4) is True and gaps.observe_trade("BTC-USD", 6) is True
    assert gaps.gap_count == 3


def test_heartbeat_reveals_trades_that_never_arrived():
    gaps = GapDetector()
    assert gaps.observe_heartbeat("BTC-USD", 9) is None  # nothing to compare with yet
    gaps.observe_trade("BTC-USD", 10)
    assert gaps.observe_heartbeat("BTC-USD", 10) is None
    assert gaps.observe_heartbeat("BTC-USD", 12) == Gap("BTC-USD", 11, 12, "heartbeat")
    # the next trade continues from the heartbeat's id, so the gap is not reported twice
    assert gaps.observe_trade("BTC-USD", 13) is True
    assert gaps.missing == 2 and gaps.gap_count == 1
    assert gaps.observe_trade("BTC-USD", 11) is True  # the heartbeat's gap is open: late
    assert gaps.late == 1


def test_advanced_message_sequence_gaps_are_per_connection():
    gaps = GapDetector()
    assert [gaps.observe_message_sequence(n) for n in (0, 1, 2)] == [None, None, None]
    assert gaps.observe_message_sequence(5) == Gap("connection", 3, 4, "sequence_num")
    gaps.new_connection()
    assert gaps.observe_message_sequence(0) is None
    assert gaps.gap_count == 1


def retry_state(attempt: int) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    return state


@pytest.mark.parametrize(("attempt", "base"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (7, 30.0)])
def test_backoff_is_exponential_with_bounded_jitter_and_a_cap(attempt, base):
    wait = BackoffPolicy(initial=0.5, maximum=30.0, jitter=1.0).wait()
    delays = [wait(retry_state(attempt)) for _ in range(200)]
    assert all(base <= d <= min(base + 1.0, 30.0) for d in delays)
    if base < 30.0:
        assert max(delays) - min(delays) > 0.5  # the jitter really varies
