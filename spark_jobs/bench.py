"""`make bench-pipeline`: the streaming job's throughput, latency and sustained load, against
baselines measured in the same run. Phases (--phases, default all three):

1. throughput. The producer replays producer.bench's cached recording (--batches x --trades,
   default 2 x 1M) into a fresh topic; the job runs on the standalone cluster with
   --available-now --output-mode update --max-offsets-per-trigger <trades> into a fresh
   database, so its first batch of --trades runs on cold JVMs (the JIT compilers compete with
   the tasks for the cores) and the next ones on warm JVMs, as a long-running job does.
   Measured: each batch's duration and the job's processing time from pipeline_progress (first
   batch start to last batch end), apart from it start-up (submit to first batch) and shutdown
   (last batch end to exit), and where the machine's CPU went while the job processed
   (spark_jobs.bench_cpu). Reference, in the same run: the same Kafka records copied
   into ClickHouse (not timed), which then computes the same windows in SQL, once from the raw
   JSON (parse + dedupe + windows: the job's work) and once from typed columns. Both must agree
   with the job on every window's trade count, volumes, notional and OHLC; a mismatch is
   printed loudly (exit 1).
2. latency. The producer's simulator feeds a fresh topic at a steady rate with wall-clock event
   times while the job runs in append mode; the `_final` view is polled every 0.5 s and each
   window's first sighting is compared with its window_end, and with the floor the configured
   watermark and trigger allow (bench_common.Floor).
3. sustained. A paced feeder writes trades at fixed rates, a step of minutes each, while one job
   runs; per step: latency percentiles, Kafka lag, state memory and the JVMs' RSS over time,
   and the highest rate the job sustains (spark_jobs.bench_sustained).

Topics, databases and the S3 checkpoint prefix the run creates are removed at the end.
Credentials come from the environment: `make bench-pipeline` runs it under `python -m stack run`.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from clickhouse.migrate import default_names, migrate
from producer.bench import ensure_recording, run_producer
from runtime import topology
from runtime.kafka_topics import create_topics, delete_topics, read_topic
from runtime.object_storage import s3_client
from spark_jobs import bench_cpu, bench_sustained
from spark_jobs.bench_common import (
    Batch,
    Context,
    batches_of,
    first_data_batch,
    job_floor,
    latency_stats,
    poll_first_seen,
    start_job,
    start_module,
    stop,
    wait_for,
    window_ends_between,
)

PHASES = ("throughput", "latency", "sustained")
FULL_BATCH = 0.9  # a batch with at least this share of --trades counts as a measured batch
LATENCY_HORIZON = 30.0  # a window not readable this long after its end counts as missing
REFERENCE_RUNS = 3
INSERT_CHUNK = 200_000
COMPARED = ("trade_count", "volume", "notional", "open", "high", "low", "close",
            "buy_volume", "sell_volume")

# The job's parse of one Kafka value (spark_jobs.transformations: same decimal types).
PARSED_TRADES = """
SELECT JSONExtractString(value, 'exchange') AS exchange,
       JSONExtractString(value, 'product_id') AS product_id,
       JSONExtractString(value, 'trade_id') AS trade_id,
       toDecimal64(JSONExtractString(value, 'price'), 10) AS price,
       toDecimal128(JSONExtractString(value, 'size'), 8) AS size,
       JSONExtractString(value, 'side') AS side,
       parseDateTime64BestEffort(JSONExtractString(value, 'event_time'), 6, 'UTC') AS event_time
FROM {table}"""


# --- pure logic -------------------------------------------------------------------------------


def window_sql(source: str, window_seconds: int) -> str:
    """The job's windows in ClickHouse SQL over `source` (a table or a subquery of trades).

    Duplicates (same exchange, product, trade id) count once; open/close are the first/last
    trade by (event_time, trade id), integer trade ids compared as numbers, as in the job.
    """
    order = "(event_time, toUInt64OrZero(trade_id), trade_id)"
    return f"""
SELECT exchange, product_id,
       toDateTime64(toStartOfInterval(event_time, INTERVAL {window_seconds} SECOND), 3, 'UTC')
           AS window_start,
       count() AS trade_count,
       sum(size) AS volume,
       sum(price * size) AS notional,
       toFloat64(notional) / toFloat64(volume) AS vwap,
       avg(price) AS average_price,
       argMin(price, {order}) AS open,
       max(price) AS high,
       min(price) AS low,
       argMax(price, {order}) AS close,
       sumIf(size, side = 'buy') AS buy_volume,
       sumIf(size, side = 'sell') AS sell_volume
FROM (SELECT * FROM ({source}) LIMIT 1 BY exchange, product_id, trade_id)
GROUP BY exchange, product_id, window_start
ORDER BY exchange, product_id, window_start"""


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def keyed_windows(rows: Iterable[Mapping]) -> dict[tuple, tuple]:
    """Rows with exchange, product_id, window_start and COMPARED -> {window key: values}."""
    return {(r["exchange"], r["product_id"], _utc(r["window_start"])):
            tuple(r[column] for column in COMPARED) for r in rows}


def compare_windows(job: Mapping[tuple, tuple], reference: Mapping[tuple, tuple],
                    limit: int = 5) -> list[str]:
    """Differences between two {window key: COMPARED values} maps, at most `limit` described."""
    problems = []
    if set(job) != set(reference):
        problems.append(f"{len(set(reference) - set(job))} window(s) only in the reference, "
                        f"{len(set(job) - set(reference))} only in the job")
    differing = [key for key in sorted(set(job) & set(reference)) if job[key] != reference[key]]
    for key in differing[:limit]:
        columns = [f"{name} {a} != {b}"
                   for name, a, b in zip(COMPARED, job[key], reference[key], strict=True) if a != b]
        problems.append(f"{key}: job vs reference: {', '.join(columns)}")
    if len(differing) > limit:
        problems.append(f"... and {len(differing) - limit} more differing window(s)")
    return problems


def measured_batches(batches: Sequence[Batch], trades: int) -> tuple[Batch | None, list[Batch]]:
    """(the first batch, on cold JVMs; the later ones of a full --trades, on warm JVMs)."""
    if not batches:
        return None, []
    full = [batch for batch in batches[1:] if batch.rows >= FULL_BATCH * trades]
    return batches[0], full


# --- I/O helpers ------------------------------------------------------------------------------


def windows_of(client, sql: str) -> dict[tuple, tuple]:
    return keyed_windows(client.query(sql).named_results())


# --- the three measurements -------------------------------------------------------------------


def measure_throughput(ctx: Context, client, args, database: str, topic: str) -> dict:
    path = ensure_recording(args.trades * args.batches, args.products, args.seed)
    count, seconds, _ = run_producer(path, ctx.topo.kafka_bootstrap, topic)
    print(f"loaded {count:,} trades into {topic} in {seconds:.1f}s (replay of {path.name})",
          flush=True)
    migrate(client, default_names(database))
    extra = ["--available-now", "--output-mode", "update"]
    if args.batches > 1:
        extra += ["--max-offsets-per-trigger", str(args.trades)]
    sampler = bench_cpu.CpuSampler()
    sampler.start()
    submitted = time.time()
    job = start_job(ctx, "throughput", topic, database, *extra)
    try:
        code = job.wait(args.job_timeout)
    finally:
        exited = time.time()
        sampler.stop()
    if code != 0:
        raise SystemExit(f"job exited {code}; see {ctx.log('throughput')}")
    batches = batches_of(client, database, ctx.topo.progress_table)
    if not batches:
        raise SystemExit(f"the job exited 0 but recorded no batch; see {ctx.log('throughput')}")
    first_start, last_end = batches[0].start, max(batch.end for batch in batches)
    cold, warm = measured_batches(batches, args.trades)
    figures = {"trades": count, "wall": exited - submitted, "processing": last_end - first_start,
               "startup": first_start - submitted, "shutdown": exited - last_end,
               "cold": cold, "warm": warm}
    print(f"job: {count:,} trades in {len(batches)} batches, wall {figures['wall']:.1f}s = "
          f"{count / figures['wall']:,.0f} trades/s end to end; processing "
          f"{figures['processing']:.1f}s = {count / figures['processing']:,.0f} trades/s; "
          f"start-up {figures['startup']:.1f}s, shutdown {figures['shutdown']:.1f}s", flush=True)
    for batch in batches:
        print(f"  batch {batch.batch_id}: {batch.rows:,} trades in {batch.seconds:.1f}s",
              flush=True)
    figures["cpu"] = sampler.account(first_start, last_end)
    print("\n".join(bench_cpu.describe(figures["cpu"], figures["processing"], os.cpu_count())),
          flush=True)
    figures["batch_cpu"] = {batch.batch_id: sampler.account(batch.start, batch.end)
                            for batch in [cold, *warm] if batch}
    return figures


def load_reference(client, database: str, values: list[bytes]) -> None:
    client.command(f"CREATE TABLE {database}.raw_trades (value String) "
                   "ENGINE = MergeTree ORDER BY tuple()")
    for offset in range(0, len(values), INSERT_CHUNK):
        chunk = pa.table({"value": pa.array(values[offset:offset + INSERT_CHUNK], pa.binary())})
        client.insert_arrow(f"{database}.raw_trades", chunk)
    client.command(f"CREATE TABLE {database}.trades ENGINE = MergeTree "
                   "ORDER BY (exchange, product_id, event_time) AS "
                   + PARSED_TRADES.format(table=f"{database}.raw_trades"))


def time_query(client, sql: str) -> tuple[float, dict[tuple, tuple]]:
    """Best wall time of REFERENCE_RUNS runs, and the result."""
    best = float("inf")
    for _ in range(REFERENCE_RUNS):
        started = time.perf_counter()
        result = windows_of(client, sql)
        best = min(best, time.perf_counter() - started)
    return best, result


def measure_reference(ctx: Context, client, database: str, topic: str, window_seconds: int,
                      job_windows: dict) -> dict:
    values = [value for _, _, value in read_topic(ctx.topo.kafka_bootstrap, topic)]
    load_reference(client, database, values)
    raw_sql = window_sql(PARSED_TRADES.format(table=f"{database}.raw_trades"), window_seconds)
    typed_sql = window_sql(f"SELECT * FROM {database}.trades", window_seconds)
    figures = {"rows": len(values), "job_windows": len(job_windows), "mismatches": []}
    for label, sql in (("raw", raw_sql), ("typed", typed_sql)):
        seconds, reference = time_query(client, sql)
        figures[label] = seconds
        print(f"ClickHouse from {label} {'JSON' if label == 'raw' else 'columns'}: "
              f"{len(values):,} rows -> {len(reference)} windows in {seconds:.3f}s "
              f"= {len(values) / seconds:,.0f} rows/s (best of {REFERENCE_RUNS})", flush=True)
        for problem in compare_windows(job_windows, reference):
            figures["mismatches"].append(f"{label}: {problem}")
    for problem in figures["mismatches"]:
        print(f"!!! MISMATCH job vs ClickHouse {problem}", flush=True)
    return figures


def measure_latency(ctx: Context, client, args, database: str, topic: str) -> dict:
    floor = job_floor()
    migrate(client, default_names(database))
    producer = start_module(ctx, "latency-producer", "producer", "--source", "simulator",
                            "--sim-rate", str(args.latency_rate),
                            "--sim-products", str(args.products), "--topic", topic,
                            "--dlq-topic", f"{topic}.dlq", "--stats-interval", "60")
    job = start_job(ctx, "latency", topic, database)
    first_seen: dict[tuple, float] = {}
    try:
        wait_for(lambda: first_data_batch(client, database, ctx.topo.progress_table), 300,
                 "the latency job's first batch")
        warm = time.time() + floor.window  # one window of warm-up after the first batch
        until = warm + args.latency_seconds
        poll_first_seen(client, database, ctx.topo.windows_table, until, first_seen)
    finally:
        stop(producer)
        job_code = stop(job)
    pairs = {key[:2] for key in first_seen}
    ends = window_ends_between(warm, until - LATENCY_HORIZON, floor.window)
    stats = latency_stats(first_seen, [(*pair, end) for pair in pairs for end in ends])
    print(f"latency at {args.latency_rate:g} trades/s, {len(pairs)} products, delay "
          f"window_end -> readable: {stats.describe()}; {floor.derivation()}", flush=True)
    if stats.missing or not stats.windows or job_code != 0:
        print(f"!!! LATENCY: {stats.missing} of {stats.windows} windows not readable within "
              f"{LATENCY_HORIZON:.0f}s of their end; job exit {job_code}", flush=True)
    return {"stats": stats, "floor": floor}


# --- wiring -----------------------------------------------------------------------------------


def cleanup(ctx: Context, client, databases: list[str], topics: list[str]) -> None:
    for database in databases:
        client.command(f"DROP DATABASE IF EXISTS {database}")
    delete_topics(ctx.topo.kafka_bootstrap, topics)
    s3 = s3_client(ctx.topo)
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=ctx.topo.checkpoint_bucket, Prefix=ctx.checkpoint_prefix)
    for page in pages:
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=ctx.topo.checkpoint_bucket, Delete={"Objects": keys})


def summary(throughput: dict | None, reference: dict | None, latency: dict | None,
            sustained: dict | None) -> str:
    lines = ["=== bench-pipeline summary ==="]
    if throughput and reference:
        trades, wall, busy = throughput["trades"], throughput["wall"], throughput["processing"]
        raw = reference["raw"]
        lines += [
            f"trades                       {trades:,} ({reference['job_windows']} windows)",
            f"job processing (batches)     {busy:.1f}s  {trades / busy:,.0f} trades/s",
            *batch_lines(throughput["cold"], throughput["warm"], trades / raw,
                         throughput["batch_cpu"]),
            f"job start-up / shutdown      {throughput['startup']:.1f}s / "
            f"{throughput['shutdown']:.1f}s",
            f"job end to end (wall)        {wall:.1f}s  {trades / wall:,.0f} trades/s",
            f"ClickHouse SQL, raw JSON     {raw:.3f}s  {trades / raw:,.0f} rows/s",
            f"ClickHouse SQL, typed        {reference['typed']:.3f}s  "
            f"{trades / reference['typed']:,.0f} rows/s",
            f"ratio job/ClickHouse (raw)   {busy / raw:.1f}x processing, {wall / raw:.1f}x wall",
            f"CPU in processing (core-s)   {_cpu_brief(throughput['cpu'], busy)}",
            f"windows job vs ClickHouse    "
            f"{'identical' if not reference['mismatches'] else 'MISMATCH'}",
        ]
    if latency:
        stats, floor = latency["stats"], latency["floor"]
        lines.append(f"latency window_end->row      {stats.describe()}; floor "
                     f"{floor.seconds:g}s, median - floor "
                     f"{(stats.median or 0) - floor.seconds:+.1f}s, p95 - floor "
                     f"{(stats.p95 or 0) - floor.seconds:+.1f}s")
    if sustained:
        lines += bench_sustained.summary_lines(sustained)
    lines.append(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return "\n".join(lines)


def batch_lines(cold: Batch | None, warm: Sequence[Batch], reference_rate: float,
                cpu: Mapping[int, Mapping[str, float]]) -> list[str]:
    """The first (cold) batch and the median later (warm) one: time, rate, ratio to ClickHouse
    computing as many rows (reference_rate: its raw JSON rows/s) and the CPU account."""
    lines = []
    chosen = [("first batch (cold JVMs)", cold, "")]
    if warm:
        median = sorted(warm, key=lambda batch: batch.seconds)[(len(warm) - 1) // 2]
        chosen.append(("later batches (warm JVMs)", median, f", median of {len(warm)}"))
    for label, batch, note in chosen:
        if batch is None or batch.seconds <= 0:
            continue
        ratio = batch.seconds / (batch.rows / reference_rate)
        lines += [f"  {label:27s}{batch.seconds:.1f}s  {batch.rate:,.0f} trades/s "
                  f"({batch.rows:,} trades{note}); {ratio:.1f}x ClickHouse on as many rows",
                  f"    CPU (core-s)               "
                  f"{_cpu_brief(cpu.get(batch.batch_id, {}), batch.seconds)}"]
    return lines


def _cpu_brief(seconds: dict[str, float], span: float) -> str:
    shown = (bench_cpu.EXECUTOR_TASKS, bench_cpu.EXECUTOR_JIT, bench_cpu.EXECUTOR_GC)
    parts = [f"{role.removeprefix('executor ')} {seconds.get(role, 0.0):.1f}" for role in shown]
    rest = sum(used for role, used in seconds.items() if role not in shown)
    return f"{', '.join(parts)}, everything else {rest:.1f}; of {span * os.cpu_count():.1f}"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1")
    return value


def _phases(text: str) -> tuple[str, ...]:
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in chosen if name not in PHASES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"{text!r}: phases are a comma-separated subset of {', '.join(PHASES)}")
    return chosen


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m spark_jobs.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", type=_phases, default=env.get("BENCH_PHASES", ",".join(PHASES)),
                        help="which measurements, comma-separated [BENCH_PHASES] "
                             f"(default: {','.join(PHASES)})")
    parser.add_argument("--trades", type=int, default=int(env.get("BENCH_TRADES", 1_000_000)),
                        help="trades per batch of the throughput run [BENCH_TRADES]")
    parser.add_argument("--products", type=int, default=int(env.get("BENCH_PRODUCTS", 5)),
                        help="products in the recording and the feeds [BENCH_PRODUCTS]")
    parser.add_argument("--seed", type=int, default=1, help="the recording's market seed")
    parser.add_argument("--batches", type=_positive, default=env.get("BENCH_BATCHES", "2"),
                        help="batches of --trades each in the throughput run: the first on "
                             "cold JVMs, the others warm; 1: one batch of everything "
                             "[BENCH_BATCHES]")
    parser.add_argument("--latency-seconds", type=float,
                        default=float(env.get("BENCH_LATENCY_SECONDS", 150)),
                        help="steady-feed measurement length [BENCH_LATENCY_SECONDS]")
    parser.add_argument("--latency-rate", type=float,
                        default=float(env.get("BENCH_LATENCY_RATE", 200)),
                        help="simulator trades/s during the latency run [BENCH_LATENCY_RATE]")
    bench_sustained.add_arguments(parser, env)
    parser.add_argument("--job-timeout", type=float, default=1800,
                        help="seconds the throughput job may take")
    parser.add_argument("--log-dir", type=Path, default=Path(env.get("BENCH_LOG_DIR", ".")),
                        help="where the producer's and the job's logs go [BENCH_LOG_DIR]")
    args = parser.parse_args(argv)
    if isinstance(args.phases, str):  # argparse converts string defaults with `type` too
        args.phases = _phases(args.phases)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx = Context(topology.load(), uuid.uuid4().hex[:8], args.log_dir)
    ctx.log_dir.mkdir(parents=True, exist_ok=True)
    names = {phase: f"bench_{phase}_{ctx.run_id}" for phase in args.phases}
    topics = [*names.values(), *(f"{topic}.dlq" for topic in names.values())]
    create_topics(ctx.topo.kafka_bootstrap, topics, ctx.topo.kafka_partitions)
    client = ctx.client()
    throughput = reference = latency = sustained = None
    try:
        if "throughput" in names:
            name = names["throughput"]
            throughput = measure_throughput(ctx, client, args, name, name)
            job_windows = windows_of(client, f"SELECT * FROM {name}."
                                             f"{ctx.topo.windows_table}_final")
            reference = measure_reference(ctx, client, name, name,
                                          int(job_floor().window), job_windows)
        if "latency" in names:
            latency = measure_latency(ctx, client, args, names["latency"], names["latency"])
        if "sustained" in names:
            name = names["sustained"]
            sustained = bench_sustained.measure(ctx, client, args, name, name)
    finally:
        cleanup(ctx, client, list(names.values()), topics)
        client.close()
    print(summary(throughput, reference, latency, sustained))
    failed = (reference and reference["mismatches"]) or (sustained and sustained["mismatches"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
