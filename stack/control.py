"""Start and stop single services, for tests that inject faults (broker down, ClickHouse down)."""

from __future__ import annotations

from stack import lifecycle


def stop(name: str) -> None:
    lifecycle.stop([name])


def start(name: str) -> None:
    """Start the service and wait until it is healthy."""
    lifecycle.up([name])
