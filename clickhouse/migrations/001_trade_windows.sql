-- One row per (exchange, product_id, window_start): the job's event-time window statistics.
-- Written by spark_jobs.clickhouse_sink with version = Spark batch id and an
-- insert_deduplication_token per (query, table, batch): a replayed batch is dropped by the
-- token, and in update mode a later batch's row replaces the earlier one (higher version).
-- Read through ${windows_table}_final (migration 002) for exactly one row per window.
--
-- Types: volume, notional, buy/sell volume and open/high/low/close are exact Decimal(38,18)
-- (prices and sizes are decimal strings; OHLC are real trade prices, nothing to round).
-- vwap and average_price are ratios, not finite decimals: Float64 divided from the exact sums
-- (relative error < 1e-15); exact vwap = notional / volume is always recomputable.
CREATE TABLE IF NOT EXISTS ${database}.${windows_table}
(
    exchange LowCardinality(String),
    product_id LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    trade_count UInt64,
    volume Decimal(38, 18),
    notional Decimal(38, 18),
    vwap Float64,
    average_price Float64,
    open Decimal(38, 18),
    high Decimal(38, 18),
    low Decimal(38, 18),
    close Decimal(38, 18),
    buy_volume Decimal(38, 18),
    sell_volume Decimal(38, 18),
    version UInt64,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (exchange, product_id, window_start)
SETTINGS non_replicated_deduplication_window = 1000;
