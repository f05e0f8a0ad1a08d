-- Candles at coarser intervals than the job's windows, derived in ClickHouse from the final
-- window rows (${windows_table}_final) when read:
--   ${database}.candles(seconds = N)     any interval that is a multiple of the job's window
--   candles_1m, candles_5m, candles_15m, candles_1h, candles_1d
-- open = the first window's open, close = the last window's close, high/low, volume, notional,
-- trade_count, buy/sell volume summed exactly (Decimal(38,18)), vwap = notional / volume.
-- Intervals start at multiples of N seconds since the epoch (1d = UTC midnight).
--
-- Views, not materialized views into AggregatingMergeTree, on purpose: the windows table
-- holds several versions of a window (update mode rewrites it at every batch; a replayed
-- batch after a restart inserts it again under a new token), and an insert trigger would add
-- each version into the rollup. Reading through _final counts every window once, whatever
-- was inserted and whatever the merges have done. A day of 1m candles for one product reads
-- 2880 window rows.
CREATE OR REPLACE VIEW ${database}.candles AS
SELECT
    exchange,
    product_id,
    toStartOfInterval(window_start, toIntervalSecond({seconds:UInt32})) AS candle_start,
    candle_start + toIntervalSecond({seconds:UInt32}) AS candle_end,
    argMin(open, window_start) AS open,
    max(high) AS high,
    min(low) AS low,
    argMax(close, window_start) AS close,
    sum(volume) AS volume,
    sum(notional) AS notional,
    toFloat64(notional) / toFloat64(volume) AS vwap,
    sum(trade_count) AS trade_count,
    sum(buy_volume) AS buy_volume,
    sum(sell_volume) AS sell_volume,
    count() AS windows
FROM ${database}.${windows_table}_final
GROUP BY exchange, product_id, candle_start;

CREATE OR REPLACE VIEW ${database}.candles_1m AS SELECT * FROM ${database}.candles(seconds = 60);
CREATE OR REPLACE VIEW ${database}.candles_5m AS SELECT * FROM ${database}.candles(seconds = 300);
CREATE OR REPLACE VIEW ${database}.candles_15m AS SELECT * FROM ${database}.candles(seconds = 900);
CREATE OR REPLACE VIEW ${database}.candles_1h AS SELECT * FROM ${database}.candles(seconds = 3600);
CREATE OR REPLACE VIEW ${database}.candles_1d AS SELECT * FROM ${database}.candles(seconds = 86400);
