"""I/O: what the dashboard reads from ClickHouse (candles, markets, new windows, the job's
progress, rejected records) and from Kafka (topic end offsets, the newest dead letters).
Blocking calls; the server runs them in threads. Every query is read-only (readonly=2),
bounded in time (max_execution_time) and in rows (LIMIT)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from decimal import Decimal
from functools import partial

from confluent_kafka import Consumer, TopicPartition

from clickhouse.client import connect
from dashboard.config import Settings
from dashboard.params import INTERVALS, WINDOW_INTERVAL, CandleRequest, Market
from dashboard.pipeline import Batch, NewestWindow, ProducerCounters, Reading, Reason
from runtime import kafka_topics
from runtime.topology import Topology
from spark_jobs.config import REJECTED_METRIC, WINDOWS_QUERY

KAFKA_TIMEOUT_S = 2
REASONS_SHOWN = 3
CANDLE_COLUMNS = ("open", "high", "low", "close", "volume", "notional", "buy_volume",
                  "sell_volume")


def iso_utc(moment) -> str:
    """ClickHouse's UTC DateTime64 arrives naive from clickhouse-connect: say it is UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"


def plain_decimal(value: Decimal) -> str:
    """'42000.5', not '42000.500000000000000000' or '4.20005E+4'."""
    return format(value.normalize(), "f")


def candle_json(row: tuple) -> dict:
    """Decimals as exact strings (as Coinbase's API sends prices), vwap as a float."""
    time_s, *decimals, vwap, trade_count = row
    return {"time": time_s,
            **{name: plain_decimal(v) for name, v in zip(CANDLE_COLUMNS, decimals, strict=True)},
            "vwap": vwap, "trade_count": trade_count}


class ClickHouseReader:
    def __init__(self, topo: Topology, password: str, settings: Settings):
        self.db = topo.clickhouse_database
        self.windows = f"{self.db}.{topo.windows_table}"
        self.rejected = f"{self.db}.{topo.rejected_table}_final"
        self.progress = f"{self.db}.{topo.progress_table}"
        self.producer_stats = f"{self.db}.{topo.producer_stats_table}"
        self._connect = partial(
            connect, topo.clickhouse_url, topo.clickhouse_user, password, client_options={
                "autogenerate_session_id": False,  # one client shared by the server's threads
                "connect_timeout": 2,
                "send_receive_timeout": settings.query_timeout_s + 5})
        self._client = None  # made at the first query: the server starts while ClickHouse is down
        self.settings = {"readonly": 2, "max_execution_time": settings.query_timeout_s}
        self.max_rows = settings.max_candles

    def query(self, sql: str, **parameters) -> list[tuple]:
        if self._client is None:
            self._client = self._connect()
        return self._client.query(sql, parameters=parameters, settings=self.settings).result_rows

    def markets(self) -> list[tuple[Market, int, int]]:
        """Each market with windows, and its first and last window start (unix s)."""
        rows = self.query(f"SELECT exchange, product_id, toUnixTimestamp(min(window_start)), "
                          f"toUnixTimestamp(max(window_start)) FROM {self.windows} "
                          f"GROUP BY exchange, product_id ORDER BY exchange, product_id "
                          f"LIMIT 10000")
        return [(Market(exchange, product), first, last) for exchange, product, first, last in rows]

    def candles_source(self, interval: str) -> tuple[str, str]:
        """(table expression, start column) for an interval: the job's windows as they are,
        or migration 005's candles view (seconds come from the fixed list of intervals)."""
        if interval == WINDOW_INTERVAL:
            return f"{self.windows}_final", "window_start"
        return f"{self.db}.candles(seconds = {INTERVALS[interval]})", "candle_start"

    def candles_query(self, request: CandleRequest) -> tuple[str, dict]:
        """The SQL and its server-side parameters ({name:Type}) for a checked request."""
        source, start = self.candles_source(request.interval)
        sql = (f"SELECT toUnixTimestamp({start}), {', '.join(CANDLE_COLUMNS)}, vwap, trade_count"
               f" FROM {source} WHERE exchange = {{exchange:String}}"
               f" AND product_id = {{product:String}}"
               f" AND {start} >= {{start:DateTime64(3)}} AND {start} < {{end:DateTime64(3)}}"
               f" ORDER BY {start} LIMIT {{limit:UInt32}}")
        return sql, {"exchange": request.market.exchange, "product": request.market.product,
                     "start": request.start, "end": request.end, "limit": self.max_rows}

    def candles(self, request: CandleRequest) -> list[dict]:
        sql, parameters = self.candles_query(request)
        return [candle_json(row) for row in self.query(sql, **parameters)]

    def newest_update_ms(self) -> int:
        return int(self.query(f"SELECT toUnixTimestamp64Milli(max(updated_at)) "
                              f"FROM {self.windows}")[0][0] or 0)

    def updates_since(self, since_ms: int) -> list[tuple]:
        """(exchange, product, window start unix s, version, updated_at ms) of rows written at
        or after since_ms."""
        return self.query(
            f"SELECT exchange, product_id, toUnixTimestamp(window_start), version, "
            f"toUnixTimestamp64Milli(updated_at) FROM {self.windows} "
            f"WHERE toUnixTimestamp64Milli(updated_at) >= {{since:Int64}} LIMIT 100000",
            since=since_ms)

    def newest_batch(self) -> Batch | None:
        rows = self.query(
            f"SELECT batch_id, dateDiff('millisecond', timestamp, now64(3)) / 1000, "
            f"batch_duration_ms, input_rows, "
            f"JSONExtractUInt(progress_json, 'observedMetrics', {{metric:String}}, 'count'), "
            f"JSONExtractRaw(progress_json, 'sources', 1, 'endOffset') "
            f"FROM {self.progress} WHERE query_name = {{query:String}} "
            f"ORDER BY timestamp DESC LIMIT 1", metric=REJECTED_METRIC, query=WINDOWS_QUERY)
        if not rows:
            return None
        batch_id, age, duration, rows_in, rejected, end = rows[0]
        return Batch(int(batch_id), float(age), int(duration), int(rows_in), int(rejected),
                     json.loads(end) if end else {})

    def newest_window(self) -> NewestWindow | None:
        rows = self.query(
            f"SELECT window_start, dateDiff('millisecond', updated_at, now64(3)) / 1000 "
            f"FROM {self.windows} ORDER BY updated_at DESC, window_start DESC LIMIT 1")
        return NewestWindow(iso_utc(rows[0][0]), float(rows[0][1])) if rows else None

    def producer_counters(self) -> ProducerCounters | None:
        """The producer's newest counters; None when it does not write them (--stats-table
        off) or the table is not there."""
        try:
            rows = self.query(
                f"SELECT dateDiff('millisecond', recorded_at, now64(3)) / 1000, gaps, "
                f"gaps_filled, gaps_unfillable, trades_backfilled, backfill_latency_max_ms, "
                f"reconnects FROM {self.producer_stats} ORDER BY recorded_at DESC LIMIT 1")
        except Exception:  # noqa: BLE001 - optional: ClickHouse itself is checked elsewhere
            return None
        return ProducerCounters(float(rows[0][0]), *map(int, rows[0][1:])) if rows else None

    def rejected_summary(self) -> tuple[int, tuple[Reason, ...]]:
        count = self.query(f"SELECT count() FROM {self.rejected}")[0][0]
        latest = self.query(f"SELECT received_at, reason FROM {self.rejected} "
                            f"ORDER BY received_at DESC LIMIT {REASONS_SHOWN}")
        return int(count), tuple(Reason(iso_utc(at), reason) for at, reason in latest)


class KafkaReader:
    def __init__(self, topo: Topology):
        self.trades, self.dead_letter = topo.trades_topic, topo.dead_letter_topic
        self.consumer = Consumer(kafka_topics.client_config(
            topo.kafka_bootstrap, {"group.id": "cryptostream-dashboard",
                                   "enable.auto.commit": False}))
        self._dead_letter_ends: dict | None = None
        self._reasons: tuple[Reason, ...] = ()

    def watermarks(self, topic: str) -> dict[tuple[str, str], tuple[int, int]]:
        """{(topic, partition): (low, high)}; a topic that does not exist has none."""
        meta = self.consumer.list_topics(topic, timeout=KAFKA_TIMEOUT_S).topics.get(topic)
        if meta is None or meta.error is not None:
            return {}
        return {(topic, str(p)): self.consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=KAFKA_TIMEOUT_S, cached=False)
                for p in meta.partitions}

    def trade_offsets(self) -> dict[tuple[str, str], int]:
        return {key: high for key, (_, high) in self.watermarks(self.trades).items()}

    def dead_letters(self) -> tuple[int, tuple[Reason, ...]]:
        """How many dead letters the topic holds, and the newest reasons (read again only
        when the topic has grown)."""
        ends = self.watermarks(self.dead_letter)
        if ends != self._dead_letter_ends:
            self._reasons = self._newest_reasons(ends)
            self._dead_letter_ends = ends
        return sum(high - low for low, high in ends.values()), self._reasons

    def _newest_reasons(self, ends: Mapping) -> tuple[Reason, ...]:
        wanted = {int(p): (max(low, high - REASONS_SHOWN), high)
                  for (_, p), (low, high) in ends.items() if high > low}
        if not wanted:
            return ()
        self.consumer.assign([TopicPartition(self.dead_letter, p, start)
                              for p, (start, _) in wanted.items()])
        found, deadline = [], time.monotonic() + KAFKA_TIMEOUT_S
        pending = sum(high - start for start, high in wanted.values())
        while pending and time.monotonic() < deadline:
            message = self.consumer.poll(0.2)
            if message is None or message.error():
                continue
            pending -= 1
            found.append(dead_letter_reason(message.value()))
        self.consumer.unassign()
        return tuple(sorted(found, key=lambda r: r.at, reverse=True)[:REASONS_SHOWN])

    def close(self) -> None:
        self.consumer.close()


def dead_letter_reason(value: bytes | None) -> Reason:
    """The producer's dead-letter record (producer.schema.DeadLetter) as (received_at, reason)."""
    try:
        record = json.loads(value or b"")
        return Reason(str(record.get("received_at", "")), str(record["reason"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return Reason("", "unreadable dead letter")


def read_pipeline(clickhouse: ClickHouseReader, kafka: KafkaReader) -> Reading:
    """One Reading; a service that fails is named in it, the others are still read."""
    kafka_part: dict = {}
    try:
        dead, reasons = kafka.dead_letters()
        kafka_part = {"trade_offsets": kafka.trade_offsets(), "dead_letters": dead,
                      "dead_letter_reasons": reasons}
    except Exception as error:  # noqa: BLE001 - shown on the panel, read again next time
        kafka_part = {"kafka_error": error_text(error)}
    try:
        rejected, rejected_reasons = clickhouse.rejected_summary()
        clickhouse_part = {"batch": clickhouse.newest_batch(),
                           "newest_window": clickhouse.newest_window(),
                           "rejected": rejected, "rejected_reasons": rejected_reasons,
                           "producer": clickhouse.producer_counters()}
    except Exception as error:  # noqa: BLE001 - shown on the panel, read again next time
        clickhouse_part = {"clickhouse_error": error_text(error)}
    return Reading(at=time.monotonic(), **kafka_part, **clickhouse_part)
