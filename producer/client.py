"""The WebSocket feed client: connect, subscribe, read, reconnect.

Reconnects use tenacity (``wait_exponential_jitter``) rather than websockets' own reconnecting
iterator: that iterator takes its backoff only from process-wide environment variables and
decides by itself which errors are retryable, whereas a tenacity policy is an explicit value per
client, testable on its own, and lets us reset the backoff after a healthy session.

- A session is *healthy* once it has delivered at least one trade. When a healthy session ends
  (server closed, network error, watchdog) we reconnect at once with a fresh backoff; a session
  that ends before any trade counts as a failed attempt and the next one waits
  ``initial * 2**(n-1) + uniform(0, jitter)`` seconds, capped at ``maximum``.
- The watchdog: if nothing (trade, heartbeat, anything) arrives within ``watchdog_timeout``
  seconds the connection is closed and re-established. Heartbeats come every second, so a
  quiet market does not trip it.
- Every connection sends the feed's subscribe messages again (resubscribe on reconnect).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never
from tenacity.wait import wait_exponential_jitter
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from producer.pipeline import Feed, Pipeline
from producer.schema import format_utc
from producer.stats import Stats

log = logging.getLogger(__name__)


class SessionFailed(Exception):
    """A connection ended before it delivered a trade; retried with backoff."""


RETRYABLE = (SessionFailed, OSError, TimeoutError, InvalidHandshake, ConnectionClosed)


@dataclass(frozen=True)
class BackoffPolicy:
    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 1.0

    def wait(self) -> wait_exponential_jitter:
        return wait_exponential_jitter(initial=self.initial, max=self.maximum, exp_base=2,
                                       jitter=self.jitter)


def now_text() -> str:
    return format_utc(datetime.now(UTC))


class FeedClient:
    def __init__(self, url: str, feed: Feed, pipeline: Pipeline, stats: Stats, *,
                 watchdog_timeout: float = 10.0, backoff: BackoffPolicy | None = None,
                 open_timeout: float = 10.0):
        if url.startswith(("http://", "https://")) or "://" not in url:
            raise InvalidURI(url, "expected a ws:// or wss:// URL")
        self.url = url
        self.feed = feed
        self.pipeline = pipeline
        self.stats = stats
        self.watchdog_timeout = watchdog_timeout
        self.backoff = backoff or BackoffPolicy()
        self.open_timeout = open_timeout
        self.failed_attempts = 0
        self._stopping = asyncio.Event()
        self._ws: ClientConnection | None = None

    def stop(self) -> None:
        """Stop reading: close the connection; ``run()`` returns once it has."""
        self._stopping.set()
        if self._ws is not None:
            asyncio.ensure_future(self._ws.close())

    async def run(self) -> None:
        while not self._stopping.is_set():
            retrying = AsyncRetrying(
                wait=self.backoff.wait(),
                retry=retry_if_exception_type(RETRYABLE),
                stop=stop_never,
                sleep=self._sleep,
                before_sleep=self._log_retry,
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    await self._session()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    def _log_retry(self, state: RetryCallState) -> None:
        self.failed_attempts += 1
        exc = state.outcome.exception() if state.outcome else None
        log.warning("feed %s: attempt %d failed (%s: %s); retrying in %.2fs", self.url,
                    state.attempt_number, type(exc).__name__, exc,
                    state.next_action.sleep if state.next_action else 0.0)

    async def _session(self) -> None:
        if self._stopping.is_set():
            return
        trades_before = self.stats.trades
        try:
            async with connect(self.url, open_timeout=self.open_timeout, max_size=1 << 24,
                               close_timeout=2) as ws:
                self._ws = ws
                self._on_connected()
                for message in self.feed.subscribe_messages():
                    await ws.send(message)
                await self._read(ws)
        except (ConnectionClosed, OSError, TimeoutError) as exc:
            if self._stopping.is_set():
                return
            if self.stats.trades == trades_before:
                raise
            log.warning("feed %s: connection lost (%s: %s); reconnecting", self.url,
                        type(exc).__name__, exc)
            return
        finally:
            self._ws = None
        if not self._stopping.is_set() and self.stats.trades == trades_before:
            raise SessionFailed("connection closed before any trade")

    def _on_connected(self) -> None:
        self.stats.connections += 1
        if self.stats.connections > 1:
            self.stats.reconnects += 1
        log.info("feed %s: connected (connection %d), subscribing", self.url,
                 self.stats.connections)
        self.pipeline.on_connect(self.url, now_text())

    async def _read(self, ws: ClientConnection) -> None:
        pipeline, sink = self.pipeline, self.pipeline.sink
        while True:
            try:
                async with asyncio.timeout(self.watchdog_timeout):
                    raw = await ws.recv()
            except TimeoutError:
                if self._stopping.is_set():
                    return
                self.stats.watchdog_timeouts += 1
                log.warning("feed %s: nothing received for %.1fs; reconnecting", self.url,
                            self.watchdog_timeout)
                raise
            pipeline.on_raw(raw, now_text())
            sink.submit()
            if sink.backlogged:
                await sink.drain()
            if self._stopping.is_set():
                return
