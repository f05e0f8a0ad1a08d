-- One row per micro-batch of each streaming query, from spark_jobs.progress (a
-- StreamingQueryListener). late_rows_dropped sums Spark's numRowsDroppedByWatermark over the
-- query's stateful operators: trades older than the watermark, dropped and counted here.
-- progress_json keeps Spark's full progress report for anything without a column.
CREATE TABLE IF NOT EXISTS ${database}.${progress_table}
(
    query_id String,
    run_id String,
    query_name LowCardinality(String),
    batch_id UInt64,
    timestamp DateTime64(3, 'UTC'),
    input_rows UInt64,
    input_rows_per_second Float64,
    processed_rows_per_second Float64,
    batch_duration_ms UInt64,
    watermark Nullable(DateTime64(3, 'UTC')),
    late_rows_dropped UInt64,
    state_rows UInt64,
    progress_json String,
    recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (query_name, timestamp, batch_id)
TTL toDateTime(timestamp) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 1000;
