"""HTTP sessions (session_id): per-session settings, current database and readonly level.

The engine is one chDB connection, so a session is endpoint-side state re-applied on
each of its requests; see README.md for what that does and does not isolate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import ClickHouseError


@dataclass
class Session:
    session_id: str
    timeout: int
    expires_at: float
    settings: dict[str, str] = field(default_factory=dict)  # name -> SQL literal text
    database: str | None = None
    read_only: bool = False
    busy: threading.Lock = field(default_factory=threading.Lock)


class SessionStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._sessions: dict[tuple[str, str], Session] = {}
        self._lock = threading.Lock()

    def acquire(self, user: str, session_id: str, timeout: int, check: bool) -> Session:
        """Get (or create) the user's session and lock it for one request."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            key = (user, session_id)
            session = self._sessions.get(key)
            if session is None:
                if check:
                    raise ClickHouseError.of("SESSION_NOT_FOUND", f"Session {session_id} not found")
                session = Session(session_id, timeout, now + timeout)
                self._sessions[key] = session
            if not session.busy.acquire(blocking=False):
                raise ClickHouseError.of(
                    "SESSION_IS_LOCKED", f"Session {session_id} is locked by a concurrent client"
                )
            session.timeout = timeout
            return session

    def release(self, session: Session) -> None:
        session.expires_at = self._clock() + session.timeout
        session.busy.release()

    def _expire(self, now: float) -> None:
        expired = [
            key for key, s in self._sessions.items() if s.expires_at <= now and not s.busy.locked()
        ]
        for key in expired:
            del self._sessions[key]

    def __len__(self) -> int:
        return len(self._sessions)
