"""Helpers shared by the test suites."""

from __future__ import annotations

import time


def wait_until(condition, timeout: float, interval: float = 0.2, message: str = "condition"):
    """Poll `condition` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        if interval:
            time.sleep(interval)


def wait_until_no_difference(difference, timeout: float, interval: float = 0.2,
                             message: str = "no difference"):
    """Poll `difference` (a description, '' when there is none) until it returns ''; fail
    after `timeout` seconds with the last description."""
    seen = []
    try:
        wait_until(lambda: not seen.append(difference()) and not seen[-1], timeout, interval,
                   message)
    except AssertionError as error:
        raise AssertionError(f"{error}; last difference: {seen[-1]}") from None
