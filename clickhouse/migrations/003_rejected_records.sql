-- Kafka records the job could not parse: the reason and the record's bytes, untouched.
-- received_at is the Kafka record timestamp; (topic, partition, offset) locate the record.
-- Each batch is written with an insert_deduplication_token, so a replayed batch adds nothing;
-- the ReplacingMergeTree key is the record's Kafka identity (its timestamp included, so that a
-- re-created topic's reused offsets stay distinct), so even a second job reading the topic
-- with a fresh checkpoint leaves one row per rejected record in the read path below.
CREATE TABLE IF NOT EXISTS ${database}.${rejected_table}
(
    received_at DateTime64(3, 'UTC'),
    reason LowCardinality(String),
    raw_value String,
    raw_key Nullable(String),
    topic LowCardinality(String),
    partition Int32,
    offset Int64,
    batch_id UInt64,
    rejected_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset, received_at)
SETTINGS non_replicated_deduplication_window = 1000;

-- The documented read path: one row per rejected Kafka record.
CREATE OR REPLACE VIEW ${database}.${rejected_table}_final AS
SELECT received_at, reason, raw_value, raw_key, topic, partition, offset, batch_id, rejected_at
FROM ${database}.${rejected_table} FINAL;
