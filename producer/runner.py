"""Wires a source (live feed, simulator, replay) to the pipeline and the sink, and runs it
until the feed ends, a bound is reached or a signal arrives; then flushes and summarizes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time

from producer.backfill import BackfillLimits
from producer.client import BackoffPolicy, FeedClient
from producer.config import Settings
from producer.feeds import make_feed
from producer.feeds.coinbase import CoinbaseExchangeFeed
from producer.feeds.coinbase_advanced import CoinbaseAdvancedFeed
from producer.kafka_writer import KafkaWriter
from producer.pipeline import Pipeline, Sink
from producer.recording import (
    Recorder,
    read_entries,
    read_entry_runs,
    read_header,
    read_rest_answers,
    seconds,
)
from producer.rest import Backfiller, RestClient, RestPolicy, TimeBackfiller
from producer.rest_replay import RecordedRest
from producer.simulator import Misbehaviour, SimConfig, Simulator, product_names
from producer.simulator.rest import RestFaults
from producer.stats import Reporter, Stats
from producer.stats_table import StatsTable
from runtime import topology

log = logging.getLogger("producer")
IMMEDIATE_EXIT_CODE = 130


class StdoutSink:
    """Trades as JSON lines on stdout, dead letters on stderr (no Kafka)."""

    backlogged = False

    def send_trade(self, key: str, value: str) -> None:
        sys.stdout.write(value + "\n")

    def send_dead_letter(self, key: str | None, value: str) -> None:
        sys.stderr.write(f"DLQ {value}\n")

    def submit(self) -> None:
        pass

    def poll(self) -> None:
        sys.stdout.flush()

    async def drain(self) -> None:
        pass

    async def flush(self) -> None:
        sys.stdout.flush()


class Run:
    """One producer run. ``sink`` may be injected (tests); otherwise built from settings."""

    def __init__(self, settings: Settings, sink: Sink | None = None):
        self.settings = settings
        self.stats = Stats()
        self.sink = sink or self._build_sink()
        self.reporter = Reporter(self.stats)
        self.stats_table = (StatsTable(topology.load(), os.environ.get("CLICKHOUSE_PASSWORD", ""),
                                       settings.source)
                            if settings.stats_table == "on" else None)
        self.simulator: Simulator | None = None
        self.client: FeedClient | None = None
        self.pipeline: Pipeline | None = None
        self.backfiller: Backfiller | None = None
        self._backfill_task: asyncio.Task | None = None
        self.stopping = asyncio.Event()
        self._stats_write: asyncio.Task | None = None
        self._signals = 0

    def _build_sink(self) -> Sink:
        s = self.settings
        if s.sink == "stdout":
            return StdoutSink()
        return KafkaWriter(s.bootstrap_servers, s.topic, s.dlq_topic, self.stats, s.kafka_config)

    def stop(self, why: str) -> None:
        if not self.stopping.is_set():
            log.info("stopping: %s", why)
            self.stopping.set()
        if self.client is not None:
            self.client.stop()

    def on_signal(self, signum: int) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second %s: exiting now without flushing", signal.Signals(signum).name)
            os._exit(IMMEDIATE_EXIT_CODE)
        self.stop(f"{signal.Signals(signum).name}; flushing (send it again to exit at once)")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.on_signal, signum)
        source = asyncio.create_task(self._source())
        monitor = asyncio.create_task(self._monitor())
        stopped = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({source, stopped}, return_when=asyncio.FIRST_COMPLETED)
        self.stop("source finished" if source.done() else "requested")
        code = 0
        try:
            await source
        except Exception:
            log.exception("source failed")
            code = 1
        stopped.cancel()
        log.info("flushing %s", "sink")
        await self.sink.flush()
        monitor.cancel()
        await self._close()
        log.info(self.reporter.final())
        if self.stats_table is not None:
            if self._stats_write is not None:
                await self._stats_write
            await asyncio.to_thread(self.stats_table.write, self.stats.snapshot())
        if isinstance(self.sink, KafkaWriter) and self.sink.fatal is not None:
            code = 1
        return code

    async def _source(self) -> None:
        s = self.settings
        if s.source == "replay":
            await self._replay()
            return
        if s.source == "simulator":
            products = product_names(s.sim_products)
            self.simulator = Simulator(
                SimConfig(products, rate=s.sim_rate, seed=s.sim_seed, max_trades=s.max_trades,
                          start_time=s.sim_start_time, time_step=s.sim_time_step,
                          # on the wall clock, ids continue across restarts like an exchange's
                          continue_ids=s.sim_start_time is None, protocol=s.sim_protocol),
                Misbehaviour(
                    drop_after=s.sim_drop_after, drop_seconds=s.sim_drop_seconds,
                    duplicate_every=s.sim_duplicate_every,
                    skip_every=s.sim_skip_every, malformed_every=s.sim_malformed_every,
                    stall_after=s.sim_stall_after, stall_seconds=s.sim_stall_seconds,
                ),
                rest=RestFaults(rate=s.sim_rest_rate, burst=s.sim_rest_rate * 1.5,
                                history=s.sim_rest_history),
            )
            url = await self.simulator.start()
            feed = (CoinbaseAdvancedFeed(products, exchange="simulator")
                    if s.sim_protocol == "advanced"
                    else CoinbaseExchangeFeed(products, channel=s.channel, exchange="simulator"))
        else:
            feed = make_feed(s.source, s.products, s.channel)
            url = s.feed_url()
        recorder = None
        if s.record:
            recorder = Recorder(s.record, feed=feed.name, exchange=feed.exchange,
                                channel=feed.channel, products=feed.products, source=s.source)
        self.pipeline = self._pipeline(feed, recorder, source=s.source)
        self._start_backfill(feed)
        self.client = FeedClient(
            url, feed, self.pipeline, self.stats,
            watchdog_timeout=s.watchdog_timeout,
            backoff=BackoffPolicy(initial=s.reconnect_initial_delay,
                                  maximum=s.reconnect_max_delay),
        )
        if self.stopping.is_set():
            return
        await self.client.run()

    def _start_backfill(self, feed, client=None) -> None:
        """Backfill for ``feed`` from ``client``: by default the REST API (the simulator's
        own for --source simulator); a replay passes the recording's answers."""
        s = self.settings
        if s.backfill != "on":
            return
        if feed.name == "coinbase" and feed.channel != "matches":
            log.info("backfill: off for the ticker channel (its trade ids skip by design)")
            return
        if client is None:
            url = self.simulator.rest_url if self.simulator is not None else s.rest_base_url()
            client = RestClient(url, RestPolicy(rate=s.backfill_rate, burst=s.backfill_burst),
                                self.stats, recorder=self.pipeline.recorder)
        options = {"limits": BackfillLimits(max_gap_trades=s.backfill_max_gap),
                   "max_delay_s": s.backfill_max_delay}
        if feed.name == "coinbase":
            self.backfiller = Backfiller(client, self.pipeline, feed.exchange, **options)
            self.pipeline.gaps.on_gap = self.backfiller.on_gap
        else:
            self.backfiller = TimeBackfiller(client, self.pipeline, feed.exchange, **options)
            self.backfiller.attach(self.pipeline)
        self._backfill_task = asyncio.create_task(self.backfiller.run())
        log.info("backfill: %s fills from %s", type(self.backfiller).__name__,
                 getattr(client, "base_url", "the recording"))

    def _pipeline(self, feed, recorder, source: str) -> Pipeline:
        pipeline = Pipeline(feed, self.sink, self.stats, source=source, recorder=recorder,
                            dedupe_capacity=self.settings.dedupe_capacity)
        if self.settings.max_trades:
            pipeline.limit(self.settings.max_trades,
                           lambda: self.stop(f"{self.settings.max_trades} trades produced"))
        return pipeline

    async def _replay(self) -> None:
        s = self.settings
        header = read_header(s.file)
        feed = make_feed(header["feed"], header["products"], header["channel"],
                         exchange=header["exchange"])
        source = header.get("source", header["feed"])
        self.pipeline = pipeline = self._pipeline(feed, None, source=source)
        self._start_backfill(feed, RecordedRest(read_rest_answers(s.file)))
        await replay(s.file, pipeline, s.speed, self.stopping)
        await self._settle_backfill()

    async def _settle_backfill(self) -> None:
        """Let the backfill finish what the replay's gaps asked for (bounded by its delay)."""
        if self.backfiller is None:
            return
        deadline = time.monotonic() + self.settings.backfill_max_delay
        while not self.backfiller.idle and time.monotonic() < deadline:
            if self.stopping.is_set():
                return
            await asyncio.sleep(0.01)

    async def _monitor(self) -> None:
        s = self.settings
        started = time.monotonic()
        next_report = started + s.stats_interval
        while True:
            await asyncio.sleep(0.05)
            self.sink.poll()
            now = time.monotonic()
            if s.duration is not None and now - started >= s.duration:
                self.stop(f"duration of {s.duration}s reached")
            if getattr(self.sink, "fatal", None) is not None:
                self.stop("fatal Kafka producer error")
            if now >= next_report:
                next_report = now + s.stats_interval
                log.info(self.reporter.line())
                self._write_stats_row()
                if self.pipeline is not None and self.pipeline.recorder is not None:
                    self.pipeline.recorder.flush()

    def _write_stats_row(self) -> None:
        """The counters to the stats table, in a thread, never two writes at once (a slow
        ClickHouse skips rows rather than piling them up)."""
        if self.stats_table is None:
            return
        if self._stats_write is not None and not self._stats_write.done():
            return
        self._stats_write = asyncio.create_task(
            asyncio.to_thread(self.stats_table.write, self.stats.snapshot()))

    async def _close(self) -> None:
        if self._backfill_task is not None:
            self._backfill_task.cancel()
            await asyncio.gather(self._backfill_task, return_exceptions=True)
            self.backfiller.abandon()
            await self.backfiller.client.close()
        if self.pipeline is not None and self.pipeline.recorder is not None:
            self.pipeline.recorder.close()
        if self.simulator is not None:
            await self.simulator.stop()


async def replay(path, pipeline: Pipeline, speed: float, stopping: asyncio.Event) -> None:
    """Feed a recording through ``pipeline``: at ``speed`` times the recorded pace, or as fast
    as possible when ``speed`` is 0."""
    if speed > 0:
        await _replay_paced(path, pipeline, speed, stopping)
    else:
        await _replay_at_once(path, pipeline, stopping)


async def _replay_paced(path, pipeline: Pipeline, speed: float, stopping: asyncio.Event) -> None:
    sink = pipeline.sink
    first: float | None = None
    started = time.monotonic()
    for entry in read_entries(path):
        if stopping.is_set():
            return
        received_at, raw, url = entry
        at = seconds(received_at)
        first = at if first is None else first
        delay = (at - first) / speed - (time.monotonic() - started)
        if delay > 0:
            sink.submit()
            await asyncio.sleep(delay)
        if raw is None:
            pipeline.on_connect(url, received_at)
        else:
            pipeline.on_messages((entry,))
        if sink.backlogged:
            await sink.drain()


async def _replay_at_once(path, pipeline: Pipeline, stopping: asyncio.Event) -> None:
    """A run of messages at a time (what one chunk of the file holds, up to a connect event),
    yielding to the event loop and serving backpressure between runs."""
    sink = pipeline.sink
    for run in read_entry_runs(path):
        received_at, raw, url = run[0]
        if raw is None:
            pipeline.on_connect(url, received_at)
            continue
        pipeline.on_messages(run)
        if sink.backlogged:
            await sink.drain()
        await asyncio.sleep(0)
        if stopping.is_set():
            return
