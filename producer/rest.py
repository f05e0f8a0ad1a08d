"""Gap backfill over Coinbase's public REST API (I/O): a rate-limited, retrying client and the
worker that fills each reported gap without holding up the live stream.

- Rate: a token bucket (``RestPolicy.rate`` requests a second, bursts of ``burst``), below
  Coinbase's public limit; a 429 empties the bucket and waits at least its ``Retry-After``.
- Retries: tenacity with the WebSocket client's backoff policy (``client.BackoffPolicy``), for
  429, 5xx, connection errors, timeouts and bodies that are not JSON (an HTML error page);
  other 4xx are not retried. A page that does not answer what was asked (backfill.PageError)
  is asked again; after ``attempts`` it is dead-lettered with its reason.
- The workers (``Backfiller``: Exchange trade-id gaps; ``TimeBackfiller``: Advanced Trade
  spans of time) take one fill at a time from a queue, joined with the queued fills of the same
  product that can share its pages. Live messages keep flowing meanwhile: the HTTP calls are
  awaited, and a page's trades go through the pipeline's own dedupe and gap bookkeeping
  (``Pipeline.accept_backfilled``).
- Bounds: a gap of more than ``max_gap_trades`` ids, or one not filled within ``max_delay_s``
  of its detection, is unfillable: counted (``gaps_unfillable``) and logged with why. The trades
  already fetched are produced. Backfilled trades are late for the streaming job: those behind
  its watermark are dropped there (counted in pipeline_progress.late_rows_dropped), so the
  job's watermark should exceed ``max_delay_s`` where exact windows matter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from producer.backfill import (
    BackfillLimits,
    GapFill,
    PageError,
    TimeFill,
    TokenBucket,
    too_large,
    unix_time,
)
from producer.client import BackoffPolicy, now_text
from producer.pipeline import Pipeline
from producer.recording import Recorder
from producer.schema import DeadLetter, Trade
from producer.stats import Stats
from producer.tracking import Gap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestPolicy:
    rate: float = 5.0  # requests a second (Coinbase's public limit is 10)
    burst: float = 10.0
    attempts: int = 5  # per request
    timeout_s: float = 10.0
    backoff: BackoffPolicy = field(default_factory=lambda: BackoffPolicy(0.5, 10.0, 0.5))


class RestError(Exception):
    """A request that failed for good; the text says how."""


class Retryable(RestError):
    retry_after: float = 0.0


class RateLimited(Retryable):
    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class Answer(NamedTuple):
    body: object  # the JSON body
    headers: dict[str, str]
    received_at: str


class RestClient:
    """``recorder``: each 200 answer is kept in the recording, so a replay can answer the
    same questions without the network (``producer.rest_replay``)."""

    def __init__(self, base_url: str, policy: RestPolicy, stats: Stats,
                 recorder: Recorder | None = None):
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.stats = stats
        self.recorder = recorder
        self.bucket = TokenBucket(policy.rate, policy.burst)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get_json(self, path: str, params: dict) -> Answer:
        """The JSON body and the headers of a 200 answer, after the retries the policy allows."""
        retrying = AsyncRetrying(
            wait=self._wait, stop=stop_after_attempt(self.policy.attempts),
            retry=retry_if_exception_type(Retryable), before_sleep=self._log_retry,
            reraise=True)
        async for attempt in retrying:
            with attempt:
                return await self._get_once(path, params)
        raise AssertionError("unreachable")  # reraise=True: the last error is raised

    async def _get_once(self, path: str, params: dict) -> Answer:
        await asyncio.sleep(self.bucket.delay(time.monotonic()))
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.policy.timeout_s))
        self.stats.backfill_requests += 1
        url = f"{self.base_url}{path}"
        try:
            async with self._session.get(url, params=params) as response:
                text = await response.text()
                headers = dict(response.headers)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise Retryable(f"GET {url}: {type(error).__name__}: {error}") from error
        if status == 429:
            self.stats.backfill_rate_limited += 1
            self.bucket.tokens = min(self.bucket.tokens, 0.0)
            raise RateLimited(f"GET {url}: 429 {text[:200]}", _seconds(headers.get("Retry-After")))
        if status >= 500:
            raise Retryable(f"GET {url}: HTTP {status}: {text[:200]}")
        if status != 200:
            raise RestError(f"GET {url}: HTTP {status}: {text[:200]}")
        try:
            body = json.loads(text)
        except ValueError as error:
            raise Retryable(f"GET {url}: the body is not JSON ({error}): {text[:200]!r}") from None
        received_at = now_text()
        if self.recorder is not None:
            self.recorder.write_rest(received_at, path, params, text)
        return Answer(body, headers, received_at)

    def _wait(self, state: RetryCallState) -> float:
        backoff = self.policy.backoff.wait()(state)
        error = state.outcome.exception() if state.outcome else None
        return max(backoff, getattr(error, "retry_after", 0.0))

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("backfill: %s; attempt %d, retrying in %.2fs", error, state.attempt_number,
                    state.next_action.sleep if state.next_action else 0.0)


def _seconds(text: str | None) -> float:
    try:
        return max(0.0, float(text)) if text else 0.0
    except ValueError:
        return 0.0


class BackfillWorker:
    """A queue of fills (``backfill.GapFill`` by trade id, ``backfill.TimeFill`` by time)
    worked one at a time beside the live stream, joining the queued fills that can share
    pages; the walk through each fill's pages; the counters."""

    def __init__(self, client: RestClient, pipeline: Pipeline, exchange: str,
                 limits: BackfillLimits | None = None, max_delay_s: float = 120.0,
                 attempts: int = 3, max_span_s: float = 600.0):
        self.client, self.pipeline, self.exchange = client, pipeline, exchange
        self.stats = pipeline.stats
        self.limits = limits or BackfillLimits()
        self.max_delay_s = max_delay_s
        self.max_span_s = max_span_s
        self.attempts = attempts
        self.queue: asyncio.Queue = asyncio.Queue()
        self.busy = False

    @property
    def idle(self) -> bool:
        return self.queue.empty() and not self.busy

    async def run(self) -> None:
        while True:
            fill = self.joined(await self.queue.get())
            self.busy = True
            try:
                await self.fill(fill)
            except Exception:  # a bug in one fill must not end backfilling
                log.exception("backfill of %s failed", fill.describe())
                self._unfillable(fill.describe(), None, "an internal error", fill.gap_count)
            finally:
                self.busy = False

    def joined(self, fill):
        """``fill`` joined by the queued fills that can share its pages (many small holes,
        few requests); the others stay queued, in order."""
        rest = []
        while not self.queue.empty():
            other = self.queue.get_nowait()
            if not fill.absorb(other, self.limits, self.max_span_s):
                rest.append(other)
        for other in rest:
            self.queue.put_nowait(other)
        return fill

    async def fill(self, fill) -> None:
        found: list[Trade] = []
        reason = None
        while not fill.done and reason is None:
            reason = self.expired(fill)
            if reason is not None:
                break
            try:
                page = await self._page(fill)
            except RestError as error:
                reason = str(error)
                break
            if page is None:
                reason = fill.exhausted()
                break
            found.extend(page)
        await self._produce(found)
        if reason is None and not fill.unfound:
            self._filled(fill)
        else:
            self._unfillable(fill.describe(), fill.unfound,
                             reason or "some trades were unusable", fill.gap_count)

    async def _page(self, fill) -> list[Trade] | None:
        """The next page's trades for ``fill``; None when the history has nothing older. A
        page that does not answer the request is asked again, then dead-lettered."""
        for attempt in range(1, self.attempts + 1):
            body, headers, received_at = await self.client.get_json(
                fill.path, fill.request(self.limits))
            try:
                taken = fill.take_answer(body, headers, received_at, self.exchange, self.limits)
            except PageError as error:
                if attempt == self.attempts:
                    self.pipeline.dead_letter(DeadLetter(
                        f"backfill page for {fill.describe()}: {error}",
                        json.dumps(body)[:100_000], fill.product), received_at)
                    raise RestError(f"unusable page: {error}") from None
                log.warning("backfill: unusable page (%s); asking again", error)
                continue
            if taken is None:
                return None
            wanted, rejected = taken
            for why, item in rejected:
                self.pipeline.dead_letter(DeadLetter(f"backfill: {why}", json.dumps(item),
                                                     fill.product), received_at)
            return wanted
        return None

    def expired(self, fill) -> str | None:
        if time.monotonic() - fill.detected_at > self.max_delay_s:
            return f"not filled within {self.max_delay_s:.0f} s of its detection"
        return None

    async def _produce(self, trades: list[Trade]) -> None:
        if trades:
            trades.sort(key=lambda t: (t.event_time, t.number or 0))
            self.stats.trades_backfilled += self.pipeline.accept_backfilled(trades)
            sink = self.pipeline.sink
            sink.submit()
            if sink.backlogged:
                await sink.drain()

    def _filled(self, fill) -> None:
        self.stats.gaps_filled += fill.gap_count
        latency = int((time.monotonic() - fill.detected_at) * 1000)
        self.stats.backfill_latency_ms = latency
        self.stats.backfill_latency_max_ms = max(self.stats.backfill_latency_max_ms, latency)
        log.info("backfill: %s filled in %d ms (%d pages, %d trades)", fill.describe(), latency,
                 fill.pages, fill.found)

    def abandon(self) -> None:
        """At shutdown: the fills still queued are unfillable (counted and logged)."""
        while not self.queue.empty():
            fill = self.queue.get_nowait()
            self._unfillable(fill.describe(), fill.unfound, "the producer stopped first",
                             fill.gap_count)

    def _unfillable(self, what: str, missing: int | None, reason: str, gaps: int = 1) -> None:
        self.stats.gaps_unfillable += gaps
        count = "" if missing is None else f"{missing} trades "
        log.warning("backfill: %s: %sunfillable: %s", what, count, reason)


class Backfiller(BackfillWorker):
    """Fills the Exchange feed's trade-id gaps from ``GET /products/{id}/trades``."""

    def on_gap(self, gap: Gap) -> None:
        if too_large(gap, self.limits):
            self._unfillable(str(gap), gap.count, f"larger than the "
                             f"{self.limits.max_gap_trades} trades a backfill may fetch")
            return
        self.queue.put_nowait(GapFill([gap], time.monotonic()))


class TimeBackfiller(BackfillWorker):
    """Fills Advanced Trade's holes by time: after a reconnect or a lost message, each
    product's span from its last trade seen to its next trade is fetched from the public
    market trades endpoint, and the dedupe drops what was already sent. A span longer than
    ``max_span_s`` is unfillable. Which trades a span missed cannot be known from times alone,
    so an aged-out history shows as missing trade ids (when ids are numeric), not here."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_seen: dict[str, float] = {}  # product -> newest event time produced
        self.suspects: dict[str, float] = {}  # product -> start of a span to fetch
        self.connections = 0

    def attach(self, pipeline: Pipeline) -> None:
        pipeline.on_trade = self.on_trade
        pipeline.on_connection = self.on_connection
        pipeline.on_message_gap = lambda gap: self.suspect_all()

    def on_connection(self) -> None:
        self.connections += 1
        if self.connections > 1:
            self.suspect_all()

    def suspect_all(self) -> None:
        for product, moment in self.last_seen.items():
            self.suspects.setdefault(product, moment)

    def on_trade(self, trade: Trade) -> None:
        moment, product = unix_time(trade.event_time), trade.product_id
        start = self.suspects.get(product)
        if start is not None and moment > start:
            del self.suspects[product]
            fill = TimeFill(product, start, moment, time.monotonic())
            if moment - start > self.max_span_s:
                self._unfillable(fill.describe(), None,
                                 f"a span longer than {self.max_span_s:.0f} s")
            else:
                self.queue.put_nowait(fill)
        if moment > self.last_seen.get(product, float("-inf")):
            self.last_seen[product] = moment
