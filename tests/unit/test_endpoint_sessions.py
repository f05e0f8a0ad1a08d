"""Session bookkeeping of the local endpoint (clock injected)."""

import pytest

from clickhouse.endpoint.errors import ClickHouseError
from clickhouse.endpoint.sessions import SessionStore


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_session_state_survives_between_requests():
    store = SessionStore(FakeClock())
    session = store.acquire("app", "s1", 60, check=False)
    session.settings["max_threads"] = "1"
    store.release(session)
    again = store.acquire("app", "s1", 60, check=True)
    assert again.settings == {"max_threads": "1"}


def test_sessions_are_per_user():
    store = SessionStore(FakeClock())
    store.release(store.acquire("app", "s1", 60, check=False))
    with pytest.raises(ClickHouseError) as caught:
        store.acquire("other", "s1", 60, check=True)
    assert caught.value.name == "SESSION_NOT_FOUND"


def test_session_expires_after_its_timeout_since_last_use():
    clock = FakeClock()
    store = SessionStore(clock)
    store.release(store.acquire("app", "s1", 10, check=False))
    clock.now += 9
    store.release(store.acquire("app", "s1", 10, check=True))
    clock.now += 10.5
    with pytest.raises(ClickHouseError) as caught:
        store.acquire("app", "s1", 10, check=True)
    assert caught.value.code == 372


def test_concurrent_use_of_one_session_is_refused():
    store = SessionStore(FakeClock())
    store.acquire("app", "s1", 60, check=False)
    with pytest.raises(ClickHouseError) as caught:
        store.acquire("app", "s1", 60, check=False)
    assert caught.value.name == "SESSION_IS_LOCKED"


def test_busy_session_is_not_expired():
    clock = FakeClock()
    store = SessionStore(clock)
    busy = store.acquire("app", "s1", 1, check=False)
    clock.now += 100
    store.release(store.acquire("app", "other", 1, check=False))  # triggers expiry
    store.release(busy)
    assert store.acquire("app", "s1", 1, check=True) is busy
