"""The health gate's judgement (runtime.health_gate): thresholds from the environment, Kafka lag
from Spark's progress report, and which conditions fail with what message."""

from __future__ import annotations

import json

import pytest

from runtime.health_gate import Observation, Thresholds, evaluate, lag_from_progress

HEALTHY = Observation(newest_window_age_s=55, progress_age_s=4, lag=120, records_read=20_000,
                      records_rejected=3)


def test_a_healthy_pipeline_passes():
    assert evaluate(HEALTHY, Thresholds()) == []


@pytest.mark.parametrize(("change", "named"), [
    ({"newest_window_age_s": None}, "no window"),
    ({"newest_window_age_s": 400}, "started 400 s ago (limit 180 s)"),
    ({"progress_age_s": None}, "never reported progress"),
    ({"progress_age_s": 300}, "300 s old (limit 120 s)"),
    ({"lag": None}, "lag: unknown"),
    ({"lag": 60_001}, "60001 records behind the topic's end (limit 50000)"),
    ({"records_rejected": 400}, "400 of 20000 records read in the last 600 s (2.00%; limit 1.00%)"),
    ({"records_read": 0}, "3 of 0 records read"),
])
def test_each_condition_fails_naming_what_was_seen_and_the_limit(change, named):
    failures = evaluate(Observation(**{**HEALTHY.__dict__, **change}), Thresholds())
    assert len(failures) == 1 and named in failures[0], failures


def test_thresholds_come_from_the_environment():
    limits = Thresholds.from_env({"GATE_MAX_LAG": "10", "GATE_MAX_REJECTED_RATIO": "0",
                                  "GATE_LOOKBACK_S": "", "OTHER": "x"})
    assert (limits.max_lag, limits.max_rejected_ratio, limits.lookback_s) == (10, 0.0, 600)
    assert evaluate(HEALTHY, limits) != []


@pytest.mark.parametrize("value", ["ten", "-1"])
def test_a_malformed_threshold_is_an_error_naming_it(value):
    with pytest.raises(ValueError, match="GATE_MAX_LAG"):
        Thresholds.from_env({"GATE_MAX_LAG": value})


def test_lag_sums_latest_minus_end_over_partitions():
    progress = {"sources": [{
        "endOffset": {"trades": {"0": 100, "1": 250}},
        "latestOffset": {"trades": {"0": 130, "1": 250, "2": 7}},
    }]}
    assert lag_from_progress(progress) == 30 + 0 + 7


def test_lag_reads_offsets_given_as_json_text_and_is_unknown_without_them():
    as_text = {"sources": [{"endOffset": json.dumps({"t": {"0": 5}}),
                            "latestOffset": json.dumps({"t": {"0": 9}})}]}
    assert lag_from_progress(as_text) == 4
    no_latest = {"sources": [{"endOffset": {"t": {"0": 5}}, "latestOffset": None}]}
    assert lag_from_progress(no_latest) is None
    assert lag_from_progress({}) is None
