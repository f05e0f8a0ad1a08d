"""No trade lost across disconnects, end to end on the local stack, for both feeds: the
producer, as its own process on the simulator (Exchange or Advanced Trade protocol), loses its
connection for seconds (trading goes on) and has frames withheld; it fills every hole from the
simulator's REST API. The trades topic then holds the
simulator's full trade list exactly (rebuilt here from the seed: none missing, none twice), and
the job's windows in ClickHouse equal a recomputation from that list."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest

from clickhouse.client import connect
from producer.simulator import Market, SimConfig, product_names
from tests.integration import recompute
from tests.integration.test_pipeline_e2e import (
    JobRun,
    checkpoint,
    final_windows,
    migrate,
    python_module,
    run_to_completion,
)
from tests.integration.test_stack_kafka import consume_all, create_topic

TRADES, PRODUCTS, SEED = 20_000, 3, 31
START, STEP = "2024-02-01T00:00:00Z", 0.01


def full_trade_list() -> set[tuple]:
    """What the simulator's market makes for this seed and clock, whatever was sent."""
    config = SimConfig(product_names(PRODUCTS), seed=SEED,
                       start_time=datetime.fromisoformat(START.replace("Z", "+00:00")),
                       time_step=STEP)
    market = Market(config.products, SEED)
    return {(t.product_id, str(t.trade_id), t.price, t.size, t.taker_side, t.time)
            for t in (market.next_trade(config.event_time(i)) for i in range(TRADES))}


@pytest.fixture(scope="module", params=["exchange", "advanced"])
def backfilled(stack, request):
    """The same market through each feed: Exchange (gaps by trade id) and Advanced Trade
    (holes by time)."""
    name = f"backfill_{request.param}_{uuid.uuid4().hex[:8]}"
    topic = f"{name}_trades"
    create_topic(stack.kafka_bootstrap, topic, stack.kafka_partitions)
    create_topic(stack.kafka_bootstrap, f"{topic}.dlq", 1)
    migrate(name)
    run_to_completion(python_module(
        "producer", "--source", "simulator", "--sim-products", str(PRODUCTS),
        "--sim-seed", str(SEED), "--sim-rate", "2000", "--max-trades", str(TRADES),
        "--sim-start-time", START, "--sim-time-step", str(STEP),
        "--sim-protocol", request.param,
        "--sim-drop-after", "4000", "--sim-drop-seconds", "2", "--sim-skip-every", "97",
        "--topic", topic, "--dlq-topic", f"{topic}.dlq",
        "--bootstrap-servers", stack.kafka_bootstrap, "--stats-interval", "1",
        "--stats-table", "on",
    ), timeout=300, log_name=f"backfill-producer-{request.param}",
        env={"CLICKHOUSE_DATABASE": name})
    records = consume_all(stack.kafka_bootstrap, topic, TRADES, timeout=120)
    return name, topic, [value.encode() for _, value, _ in records]


def test_the_topic_holds_the_full_trade_list_exactly(backfilled):
    _, _, values = backfilled
    trades = [json.loads(v) for v in values]
    got = [(t["product_id"], t["trade_id"], t["price"], t["size"], t["side"], t["event_time"])
           for t in trades]
    assert len(got) == len(set(got)), "a trade is in the topic twice"
    assert set(got) == full_trade_list()
    # Some came over REST (no WebSocket sequence): the drop and the withheld frames.
    assert sum(t["sequence"] is None for t in trades) >= TRADES // 97


def test_the_windows_equal_a_recomputation_from_the_full_list(stack, credentials, backfilled):
    name, topic, values = backfilled
    # Backfilled trades reach Kafka after later live ones: a watermark longer than the run
    # (update mode writes every window) keeps every one of them in its window.
    job = JobRun(name, name, topic, checkpoint(stack, name), "--available-now",
                 "--output-mode", "update", "--watermark", "1 hour")
    assert job.start().wait() == 0, job.log
    client = connect(stack.clickhouse_url, stack.clickhouse_user,
                     credentials["CLICKHOUSE_PASSWORD"])
    recompute.assert_matches(final_windows(client, name), recompute.windows(values))


def test_the_producer_wrote_its_backfill_counters_to_its_stats_table(stack, credentials,
                                                                    backfilled):
    name, _, values = backfilled
    client = connect(stack.clickhouse_url, stack.clickhouse_user,
                     credentials["CLICKHOUSE_PASSWORD"])
    rows = client.query(
        f"SELECT produced, gaps_filled, gaps_unfillable, trades_backfilled, reconnects "
        f"FROM {name}.producer_stats ORDER BY recorded_at DESC LIMIT 1").result_rows
    produced, filled, unfillable, backfilled_trades, reconnects = rows[0]
    in_topic = sum(json.loads(v)["sequence"] is None for v in values)
    assert (produced, unfillable) == (TRADES, 0) and reconnects >= 1
    assert filled >= 1 and backfilled_trades == in_topic
    history = client.query(f"SELECT count() FROM {name}.producer_stats").result_rows[0][0]
    assert history >= 2, "one row per stats interval, and the final one"
