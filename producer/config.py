"""The producer's configuration: command-line flags, each with an environment variable.

Precedence: flag > environment variable > default. Kafka defaults come from the shared
topology (runtime.topology.load(), which itself honours KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC and
KAFKA_DLQ_TOPIC). Kafka client security (SASL_SSL) is set by environment variables only
(runtime.kafka_security), so the password never appears on a command line.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from producer.feeds.coinbase import DEFAULT_URL as EXCHANGE_URL
from producer.feeds.coinbase import REST_URL as EXCHANGE_REST_URL
from producer.feeds.coinbase_advanced import DEFAULT_URL as ADVANCED_URL
from producer.feeds.coinbase_advanced import REST_URL as ADVANCED_REST_URL
from runtime import kafka_security, topology

SOURCES = ("coinbase", "coinbase-advanced", "simulator", "replay")
SINKS = ("kafka", "stdout")


@dataclass
class Settings:
    source: str
    products: list[str]
    channel: str
    url: str | None
    bootstrap_servers: str
    topic: str
    dlq_topic: str
    kafka_config: dict
    sink: str
    record: str | None
    file: str | None
    speed: float
    sim_rate: float
    sim_products: int
    sim_seed: int
    sim_drop_after: int | None
    sim_duplicate_every: int | None
    sim_skip_every: int | None
    sim_malformed_every: int | None
    sim_stall_after: int | None
    sim_stall_seconds: float
    sim_start_time: datetime | None
    sim_time_step: float
    max_trades: int | None
    duration: float | None
    watchdog_timeout: float
    reconnect_initial_delay: float
    reconnect_max_delay: float
    dedupe_capacity: int
    backfill: str
    rest_url: str | None
    backfill_rate: float
    backfill_burst: float
    backfill_max_gap: int
    backfill_max_delay: float
    sim_drop_seconds: float
    sim_protocol: str
    sim_rest_rate: float
    sim_rest_history: int | None
    stats_interval: float
    stats_table: str
    log_level: str

    def rest_base_url(self) -> str:
        if self.rest_url:
            return self.rest_url
        return ADVANCED_REST_URL if self.source == "coinbase-advanced" else EXCHANGE_REST_URL

    def feed_url(self) -> str:
        if self.url:
            return self.url
        if self.source == "coinbase-advanced":
            return os.environ.get("COINBASE_ADVANCED_WS_URL", ADVANCED_URL)
        return os.environ.get("COINBASE_WS_URL", EXCHANGE_URL)


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _utc_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _products(text: str) -> list[str]:
    products = [p.strip() for p in text.split(",") if p.strip()]
    if not products:
        raise argparse.ArgumentTypeError("expected a comma-separated list such as BTC-USD,ETH-USD")
    return products


def _key_values(text: str) -> dict:
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected key=value, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _non_negative(kind):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value
    return parse


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    topo = topology.load()
    parser = argparse.ArgumentParser(
        prog="python -m producer",
        description="Coinbase trades (live, simulated or replayed) -> normalized JSON -> Kafka. "
        "Every flag can also be set by the environment variable shown in [brackets].",
        epilog="Kafka client security: KAFKA_SECURITY_PROTOCOL (PLAINTEXT | SASL_SSL), "
        "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CA_FILE "
        "(environment only; see runtime/kafka_security.py).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )

    def add(group, flag, env, help_text, default=None, **kwargs):
        kwargs.setdefault("type", str)
        raw = _env(env)
        value = default
        if raw is not None:
            try:
                value = kwargs["type"](raw)
            except (ValueError, argparse.ArgumentTypeError) as exc:
                parser.error(f"{env}={raw!r}: {exc}")
            if value not in kwargs.get("choices", (value,)):
                parser.error(f"{env}={raw!r}: expected one of {kwargs['choices']}")
        group.add_argument(flag, default=value, help=f"{help_text} [{env}]", **kwargs)

    feed = parser.add_argument_group("feed")
    add(feed, "--source", "PRODUCER_SOURCE", "where trades come from", "coinbase",
        choices=SOURCES)
    add(feed, "--products", "PRODUCTS", "comma-separated product ids",
        _products("BTC-USD,ETH-USD"), type=_products)
    add(feed, "--channel", "COINBASE_CHANNEL",
        "Exchange channel (coinbase-advanced always uses market_trades)", "matches",
        choices=("matches", "ticker"))
    add(feed, "--url", "FEED_URL",
        f"WebSocket URL; default per source: $COINBASE_WS_URL or {EXCHANGE_URL} (coinbase), "
        f"$COINBASE_ADVANCED_WS_URL or {ADVANCED_URL} (coinbase-advanced)")
    add(feed, "--watchdog-timeout", "WATCHDOG_TIMEOUT",
        "reconnect when nothing arrives for this many seconds", 10.0, type=_positive(float))
    add(feed, "--reconnect-initial-delay", "RECONNECT_INITIAL_DELAY",
        "first reconnect backoff in seconds (doubles per failed attempt, plus up to 1 s jitter)",
        0.5, type=_positive(float))
    add(feed, "--reconnect-max-delay", "RECONNECT_MAX_DELAY", "backoff cap in seconds", 30.0,
        type=_positive(float))
    add(feed, "--dedupe-capacity", "DEDUPE_CAPACITY",
        "how many recent (product, trade id) pairs to remember for duplicate suppression where "
        "trade ids are not consecutive numbers (ticker channel, non-numeric ids)",
        200_000, type=_positive(int))

    backfill = parser.add_argument_group("gap backfill over REST (Exchange matches)")
    add(backfill, "--backfill", "BACKFILL",
        "fetch what the WebSocket missed from the REST API: each trade-id gap (Exchange), "
        "each span after a reconnect or a lost message (Advanced Trade)", "on",
        choices=("on", "off"))
    add(backfill, "--rest-url", "COINBASE_REST_URL",
        f"REST API base URL; default per source: {EXCHANGE_REST_URL} (coinbase), "
        f"{ADVANCED_REST_URL} (coinbase-advanced); the simulator serves its own")
    add(backfill, "--backfill-rate", "BACKFILL_RATE", "REST requests per second at most", 5.0,
        type=_positive(float))
    add(backfill, "--backfill-burst", "BACKFILL_BURST", "REST requests in a burst at most",
        10.0, type=_positive(float))
    add(backfill, "--backfill-max-gap", "BACKFILL_MAX_GAP",
        "a gap of more trades is unfillable (counted, logged)", 10_000, type=_positive(int))
    add(backfill, "--backfill-max-delay", "BACKFILL_MAX_DELAY",
        "seconds after its detection a gap is given up (unfillable); keep the job's watermark "
        "above it where exact windows matter", 120.0, type=_positive(float))

    kafka = parser.add_argument_group("kafka")
    add(kafka, "--sink", "PRODUCER_SINK", "kafka, or stdout (trade JSON lines, no Kafka)",
        "kafka", choices=SINKS)
    add(kafka, "--bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS", "Kafka bootstrap servers",
        topo.kafka_bootstrap)
    add(kafka, "--topic", "KAFKA_TOPIC", "trades topic", topo.trades_topic)
    add(kafka, "--dlq-topic", "KAFKA_DLQ_TOPIC", "dead-letter topic", topo.dead_letter_topic)
    add(kafka, "--kafka-config", "KAFKA_PRODUCER_CONFIG",
        "extra librdkafka settings, key=value,key=value", {}, type=_key_values)

    rec = parser.add_argument_group("recording and replay")
    add(rec, "--record", "RECORD_FILE", "write every raw message received to this JSON-lines file")
    add(rec, "--file", "REPLAY_FILE", "recording to replay (--source replay)")
    add(rec, "--speed", "REPLAY_SPEED",
        "replay speed factor relative to the recorded timing; 0 = as fast as possible", 1.0,
        type=_non_negative(float))

    sim = parser.add_argument_group("simulator (--source simulator)")
    add(sim, "--sim-rate", "SIM_RATE", "trades per second over all products", 50.0,
        type=_positive(float))
    add(sim, "--sim-products", "SIM_PRODUCTS", "number of simulated products", 3,
        type=_positive(int))
    add(sim, "--sim-seed", "SIM_SEED", "random seed (same seed, same trades)", 0, type=int)
    add(sim, "--sim-drop-after", "SIM_DROP_AFTER",
        "drop the connection once after this many messages", type=_positive(int))
    add(sim, "--sim-duplicate-every", "SIM_DUPLICATE_EVERY", "send every n-th trade twice",
        type=_positive(int))
    add(sim, "--sim-skip-every", "SIM_SKIP_EVERY", "withhold every n-th trade (a gap)",
        type=_positive(int))
    add(sim, "--sim-malformed-every", "SIM_MALFORMED_EVERY",
        "send a malformed message after every n-th trade", type=_positive(int))
    add(sim, "--sim-protocol", "SIM_PROTOCOL",
        "the WebSocket protocol the simulator speaks (the matching feed connects)", "exchange",
        choices=("exchange", "advanced"))
    add(sim, "--sim-drop-seconds", "SIM_DROP_SECONDS",
        "after the drop, refuse connections for this many seconds (trading goes on)", 0.0,
        type=_non_negative(float))
    add(sim, "--sim-rest-rate", "SIM_REST_RATE",
        "the simulated REST API's rate limit, requests per second (bursts of 1.5x)", 10.0,
        type=_positive(float))
    add(sim, "--sim-rest-history", "SIM_REST_HISTORY",
        "the simulated REST API keeps only the newest n trades per product", type=_positive(int))
    add(sim, "--sim-stall-after", "SIM_STALL_AFTER",
        "stall the connection once after this many messages", type=_positive(int))
    add(sim, "--sim-stall-seconds", "SIM_STALL_SECONDS", "stall length in seconds", 0.0,
        type=_non_negative(float))
    add(sim, "--sim-start-time", "SIM_START_TIME",
        "event time of the first trade (ISO 8601, UTC); default: the wall clock",
        type=_utc_time)
    add(sim, "--sim-time-step", "SIM_TIME_STEP",
        "with --sim-start-time: event seconds between consecutive trades", 0.01,
        type=_positive(float))

    run = parser.add_argument_group("run")
    add(run, "--max-trades", "MAX_TRADES",
        "stop after producing this many trades (the simulator also generates only this many)",
        type=_positive(int))
    add(run, "--duration", "DURATION", "stop after this many seconds", type=_positive(float))
    add(run, "--stats-interval", "STATS_INTERVAL", "seconds between summary lines", 10.0,
        type=_positive(float))
    add(run, "--stats-table", "PRODUCER_STATS_TABLE",
        "also write the counters to ClickHouse's producer_stats table every stats interval "
        "(CLICKHOUSE_URL, CLICKHOUSE_DATABASE, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD)", "off",
        choices=("on", "off"))
    add(run, "--log-level", "LOG_LEVEL", "logging level", "INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def parse(argv: list[str] | None = None) -> Settings:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.source == "replay" and not args.file:
        parser.error("--source replay needs --file (or REPLAY_FILE)")
    if args.source == "replay" and args.record:
        parser.error("--record applies to live sources, not to replay")
    if args.sink == "kafka":
        try:
            kafka_security.librdkafka_config()  # fail here, with usage, rather than mid-run
        except ValueError as error:
            parser.error(str(error))
    return Settings(**vars(args))
