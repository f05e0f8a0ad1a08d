-- The documented read path: exactly one row per window, the highest version (FINAL merges
-- ReplacingMergeTree duplicates at read time, whatever the background merges have done).
CREATE OR REPLACE VIEW ${database}.${windows_table}_final AS
SELECT
    exchange, product_id, window_start, window_end, trade_count, volume, notional, vwap,
    average_price, open, high, low, close, buy_volume, sell_volume, version, updated_at
FROM ${database}.${windows_table} FINAL;

-- The seed's compatibility view: its four columns, over the final rows.
CREATE OR REPLACE VIEW ${database}.${legacy_view} AS
SELECT window_start, window_end, product_id, average_price
FROM ${database}.${windows_table}_final;
