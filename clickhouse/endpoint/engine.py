"""The chDB engine behind one lock, with per-request settings and database.

chDB gives one connection per data path and runs one statement at a time on it (a
second concurrent statement fails with "another statement already active"), so every
call is serialized. Settings and the current database are connection state in chDB:
each request applies its own and restores the baseline before releasing the lock, so
nothing leaks into the next request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import chdb

from .errors import ClickHouseError, parse_engine_error
from .sqltext import quote_identifier, string_literal

DEFAULT_DATABASE = "default"


@dataclass
class Outcome:
    data: bytes = b""
    stats: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What a request runs with: settings as SQL literal text, and a database."""

    settings: dict[str, str] = field(default_factory=dict)
    database: str | None = None


class Engine:
    def __init__(self, data_path: str):
        self._lock = threading.Lock()
        self._conn = chdb.connect(data_path)
        self._closed = False
        rows = self._raw("SELECT version(), timezone()").decode().rstrip("\n").split("\t")
        self.version, self.timezone = rows[0], rows[1]
        self._baseline = self._changed_settings()
        self.http_compression_default = (
            self._raw("SELECT value FROM system.settings WHERE name = 'enable_http_compression'")
            .decode()
            .strip()
        )

    # -- public API, each call holds the lock -------------------------------------------------

    def query(self, sql: str, fmt: str, params: dict[str, str], ctx: Context) -> Outcome:
        with self._lock:
            self._ensure_open()
            with self._context(ctx):
                started = time.monotonic_ns()
                result = self._call(lambda: self._conn.query(sql, fmt, params=params))
                return Outcome(result.bytes(), _stats(result, started))

    def insert(self, head: str, fmt: str, chunks: Iterable[bytes], ctx: Context) -> Outcome:
        with self._lock:
            self._ensure_open()
            with self._context(ctx):
                started = time.monotonic_ns()
                inserter = self._call(lambda: self._conn.send_insert(head, fmt))
                try:
                    for chunk in chunks:
                        self._call(lambda c=chunk: inserter.append(c))
                    done = self._call(inserter.finish)
                except BaseException:
                    _cancel_quietly(inserter)
                    raise
                return Outcome(
                    b"",
                    {
                        "read_rows": 0,
                        "read_bytes": 0,
                        "written_rows": done.rows_written,
                        "written_bytes": done.bytes_written,
                        "elapsed_ns": time.monotonic_ns() - started,
                    },
                )

    def validate(self, ctx: Context) -> None:
        """Raise the engine's error if ctx's settings or database cannot be applied."""
        with self._lock:
            self._ensure_open()
            with self._context(ctx):
                pass

    def classify(self, sql: str) -> tuple[bool, int]:
        """(reads only, statement count) as the engine's own parser sees sql."""
        with self._lock:
            self._ensure_open()
            info = self._conn._conn.classify_query(sql)
        return info["query_class"].name == "READ_ONLY", int(info["statement_count"])

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    # -- internals (lock held) -----------------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._closed:
            raise ClickHouseError.of("ABORTED", "Server is shutting down")

    def _call(self, fn):
        try:
            return fn()
        except ClickHouseError:
            raise
        except Exception as exc:  # chDB raises RuntimeError/ChdbError with ClickHouse's text
            raise parse_engine_error(str(exc)) from None

    def _raw(self, sql: str) -> bytes:
        return self._call(lambda: self._conn.query(sql, "TabSeparated").bytes())

    def _changed_settings(self) -> dict[str, str]:
        """Settings chDB itself sets differently from ClickHouse's defaults."""
        text = self._raw("SELECT name, value FROM system.settings WHERE changed FORMAT TSVRaw")
        pairs = (line.split("\t", 1) for line in text.decode().splitlines() if line)
        return {name: value for name, value in pairs if name != "database"}

    def _baseline_literal(self, name: str) -> str:
        value = self._baseline.get(name)
        return "DEFAULT" if value is None else string_literal(value)

    def _context(self, ctx: Context):
        return _AppliedContext(self, ctx)

    def _restore_settings(self, names: Iterable[str]) -> None:
        names = list(names)
        try:
            self._raw("SET " + ", ".join(f"{n} = {self._baseline_literal(n)}" for n in names))
            return
        except ClickHouseError:
            pass  # an unknown name among them: restore the known ones one by one
        for name in names:
            try:
                self._raw(f"SET {name} = {self._baseline_literal(name)}")
            except ClickHouseError as exc:
                if exc.name != "UNKNOWN_SETTING":
                    raise


class _AppliedContext:
    """Applies a Context on enter, restores the baseline on exit (lock already held)."""

    def __init__(self, engine: Engine, ctx: Context):
        self._engine = engine
        self._ctx = ctx

    def __enter__(self):
        engine, ctx = self._engine, self._ctx
        if ctx.database and ctx.database != DEFAULT_DATABASE:
            engine._raw(f"USE {quote_identifier(ctx.database)}")
        if ctx.settings:
            assignments = ", ".join(f"{k} = {v}" for k, v in ctx.settings.items())
            try:
                engine._raw(f"SET {assignments}")
            except BaseException:
                self.__exit__(None, None, None)
                raise
        return self

    def __exit__(self, *exc_info):
        engine, ctx = self._engine, self._ctx
        if ctx.settings:
            engine._restore_settings(ctx.settings)
        if ctx.database and ctx.database != DEFAULT_DATABASE:
            engine._raw(f"USE {DEFAULT_DATABASE}")
        return False


def _stats(result, started_ns: int) -> dict[str, int]:
    return {
        "read_rows": result.rows_read(),
        "read_bytes": result.bytes_read(),
        "written_rows": result.rows_written(),
        "written_bytes": result.bytes_written(),
        "elapsed_ns": time.monotonic_ns() - started_ns,
    }


def _cancel_quietly(inserter) -> None:
    try:
        inserter.cancel()
    except Exception:  # the original error is the one worth reporting
        pass
