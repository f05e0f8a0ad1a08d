"""Is this environment's pipeline healthy enough to promote the release it runs?

    python -m runtime.health_gate          (ansible/health_gate.yml runs it on the app host)

Three conditions, read from ClickHouse (what the job wrote, so what a user of the data sees):

  windows arriving   the newest 30 s window starts at most GATE_MAX_WINDOW_AGE_S seconds ago
                     (default 180: a window is written once its end plus the watermark has
                     passed, at the next trigger, so a healthy feed keeps it about a minute old)
  consumer lag       the job's newest progress report (pipeline_progress, query trade_windows)
                     is at most GATE_MAX_PROGRESS_AGE_S old (default 120) and was at most
                     GATE_MAX_LAG Kafka records behind the topic's end (default 50000; Spark's
                     latestOffset minus endOffset, summed over the partitions)
  rejected records   at most GATE_MAX_REJECTED_RATIO (default 0.01) of the records the job read
                     in the last GATE_LOOKBACK_S seconds (default 600) were rejected

Output: the LAST stdout line is one JSON object, {"passed", "failures", "observed",
"thresholds"}; each failure names the condition, what was seen and the limit. Exit status 0
when the gate passes, 3 when it fails, 2 when ClickHouse cannot be asked (the error on stderr).
ClickHouse settings as for every component: CLICKHOUSE_URL, CLICKHOUSE_DATABASE,
CLICKHOUSE_USER, CLICKHOUSE_PASSWORD.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from clickhouse.client import connect
from runtime import env_settings, topology
from spark_jobs.config import WINDOWS_QUERY

EXIT_FAILED = 3
EXIT_ERROR = 2


@dataclass(frozen=True)
class Thresholds:
    max_window_age_s: float = 180
    max_progress_age_s: float = 120
    max_lag: int = 50_000
    max_rejected_ratio: float = 0.01
    lookback_s: int = 600

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Thresholds:
        """GATE_<FIELD> overrides each default; a malformed value is an error naming it."""
        return env_settings.from_env(cls(), env, "GATE_")


@dataclass(frozen=True)
class Observation:
    newest_window_age_s: float | None  # None: no window at all
    progress_age_s: float | None       # None: the job never reported
    lag: int | None                    # None: no Kafka offsets in the newest report
    records_read: int                  # in the lookback
    records_rejected: int              # in the lookback


def lag_from_progress(progress: Mapping) -> int | None:
    """Records between where the batch ended and the topic's end when it was planned, summed
    over the Kafka sources' partitions (Spark's progress: sources[].endOffset, latestOffset)."""
    total, seen = 0, False
    for source in progress.get("sources") or []:
        end = offsets_by_partition(source.get("endOffset"))
        latest = offsets_by_partition(source.get("latestOffset"))
        if end is None or latest is None:
            continue
        for key, offset in latest.items():
            total += max(0, offset - end.get(key, 0))
            seen = True
    return total if seen else None


def offsets_by_partition(value) -> dict[tuple[str, str], int] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, Mapping):
        return None
    return {(topic, partition): int(offset)
            for topic, partitions in value.items() if isinstance(partitions, Mapping)
            for partition, offset in partitions.items()}


def evaluate(seen: Observation, limits: Thresholds) -> list[str]:
    """The conditions that fail, each naming what was seen and the limit; empty = passed."""
    failures = []
    if seen.newest_window_age_s is None:
        failures.append("windows arriving: no window in ClickHouse")
    elif seen.newest_window_age_s > limits.max_window_age_s:
        failures.append(f"windows arriving: the newest window started "
                        f"{seen.newest_window_age_s:.0f} s ago "
                        f"(limit {limits.max_window_age_s:.0f} s)")
    if seen.progress_age_s is None:
        failures.append("consumer lag: the job has never reported progress")
    elif seen.progress_age_s > limits.max_progress_age_s:
        failures.append(f"consumer lag: the job's newest progress report is "
                        f"{seen.progress_age_s:.0f} s old "
                        f"(limit {limits.max_progress_age_s:.0f} s): is the job running?")
    elif seen.lag is None:
        failures.append("consumer lag: unknown "
                        "(no Kafka offsets in the job's newest progress report)")
    elif seen.lag > limits.max_lag:
        failures.append(f"consumer lag: {seen.lag} records behind the topic's end "
                        f"(limit {limits.max_lag})")
    if seen.records_rejected:
        ratio = seen.records_rejected / seen.records_read if seen.records_read else float("inf")
        if ratio > limits.max_rejected_ratio:
            failures.append(
                f"rejected records: {seen.records_rejected} of {seen.records_read} records read "
                f"in the last {limits.lookback_s} s ({ratio:.2%}; limit "
                f"{limits.max_rejected_ratio:.2%})")
    return failures


def observe(client, topo: topology.Topology, lookback_s: int) -> Observation:
    """Read the observation from ClickHouse (ages by ClickHouse's clock)."""
    db = topo.clickhouse_database
    window_age = client.query(
        f"SELECT dateDiff('millisecond', max(window_start), now64(3)) / 1000, count() "
        f"FROM {db}.{topo.windows_table}").result_rows[0]
    newest = client.query(
        f"SELECT dateDiff('millisecond', timestamp, now64(3)) / 1000, progress_json "
        f"FROM {db}.{topo.progress_table} WHERE query_name = %(query)s "
        f"ORDER BY timestamp DESC LIMIT 1", parameters={"query": WINDOWS_QUERY}).result_rows
    read = client.command(
        f"SELECT sum(input_rows) FROM {db}.{topo.progress_table} WHERE query_name = %(query)s "
        f"AND timestamp >= now64(3) - toIntervalSecond(%(lookback)s)",
        parameters={"query": WINDOWS_QUERY, "lookback": lookback_s})
    rejected = client.command(
        f"SELECT count() FROM {db}.{topo.rejected_table} "
        f"WHERE rejected_at >= now64(3) - toIntervalSecond(%(lookback)s)",
        parameters={"lookback": lookback_s})
    return Observation(
        newest_window_age_s=float(window_age[0]) if window_age[1] else None,
        progress_age_s=float(newest[0][0]) if newest else None,
        lag=lag_from_progress(json.loads(newest[0][1])) if newest else None,
        records_read=int(read or 0),
        records_rejected=int(rejected or 0),
    )


def main(env: Mapping[str, str] = os.environ) -> int:
    try:
        limits = Thresholds.from_env(env)
        topo = topology.load()
        client = connect(topo.clickhouse_url, topo.clickhouse_user,
                         env.get("CLICKHOUSE_PASSWORD", ""))
        seen = observe(client, topo, limits.lookback_s)
    except Exception as error:  # any failure to ask is reported, named
        print(f"health gate: cannot ask ClickHouse: {type(error).__name__}: {error}",
              file=sys.stderr)
        return EXIT_ERROR
    failures = evaluate(seen, limits)
    print(json.dumps({"passed": not failures, "failures": failures,
                      "observed": asdict(seen), "thresholds": asdict(limits)}))
    return EXIT_FAILED if failures else 0


if __name__ == "__main__":
    sys.exit(main())
