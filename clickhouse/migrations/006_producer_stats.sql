-- The producer's counters (producer.stats.Stats), one row per stats interval per run, written
-- by the producer itself when --stats-table is on (producer/stats_table.py): what its stats
-- line says, queryable. Counters are totals since the run started (run_id); the gap backfill's
-- figures are here: gaps (seen), gaps_filled, gaps_unfillable, trades_backfilled,
-- backfill_latency_ms (the last filled gap) and backfill_latency_max_ms.
-- A unit test checks these columns against the Stats fields.
CREATE TABLE IF NOT EXISTS ${database}.${producer_stats_table}
(
    recorded_at DateTime64(3, 'UTC'),
    run_id String,
    source LowCardinality(String),
    received UInt64,
    trades UInt64,
    produced UInt64,
    delivered UInt64,
    dead_letters UInt64,
    dead_letters_delivered UInt64,
    duplicates UInt64,
    gaps UInt64,
    missing UInt64,
    late UInt64,
    feed_errors UInt64,
    connections UInt64,
    reconnects UInt64,
    watchdog_timeouts UInt64,
    delivery_errors UInt64,
    backpressure UInt64,
    backfill_requests UInt64,
    backfill_rate_limited UInt64,
    gaps_filled UInt64,
    gaps_unfillable UInt64,
    trades_backfilled UInt64,
    backfill_already_had UInt64,
    backfill_latency_ms UInt64,
    backfill_latency_max_ms UInt64
)
ENGINE = MergeTree
ORDER BY (source, recorded_at)
TTL toDateTime(recorded_at) + INTERVAL 30 DAY;
