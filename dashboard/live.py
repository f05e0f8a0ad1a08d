"""New window rows, found by polling ClickHouse, for the page's live updates.

Each window row carries updated_at (ClickHouse's insert time). A poll asks for rows written
since a little before the newest updated_at seen, and keeps what it has announced in that
overlap, so a row is announced once even when a slower insert commits behind a faster one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

# New rows are looked for this far behind the newest updated_at already seen: an insert's
# rows carry the time it started, and a long insert can commit after a shorter later one.
CHANGES_LOOKBACK_MS = 10_000

Row = tuple  # (exchange, product, window start unix s, version, updated_at ms)


class WindowChanges:
    def __init__(self, lookback_ms: int = CHANGES_LOOKBACK_MS):
        self.lookback_ms = lookback_ms
        self.newest_ms: int | None = None
        self.announced: dict[tuple, int] = {}  # (exchange, product, start, version) -> updated_at

    def since_ms(self) -> int | None:
        """Where the next poll starts; None: ask for the newest updated_at first (prime)."""
        return None if self.newest_ms is None else self.newest_ms - self.lookback_ms

    def prime(self, newest_ms: int, rows: Iterable[Row]) -> None:
        """Start from what is already there: `rows` are those written since newest_ms minus
        the lookback, not to be announced; a row in that span that commits later is."""
        self.newest_ms = newest_ms
        self.fresh(rows)

    def fresh(self, rows: Iterable[Row]) -> list[Row]:
        """The rows not announced before; remembers them."""
        new = []
        for exchange, product, start, version, updated_ms in rows:
            key = (exchange, product, start, version)
            if key not in self.announced:
                self.announced[key] = updated_ms
                new.append((exchange, product, start, version, updated_ms))
            self.newest_ms = max(self.newest_ms or 0, updated_ms)
        horizon = (self.newest_ms or 0) - self.lookback_ms
        self.announced = {k: t for k, t in self.announced.items() if t >= horizon}
        return new


def windows_event(rows: Iterable[Row]) -> list[dict]:
    """Per market, the earliest and latest window start touched (the page re-reads that span
    at its own interval)."""
    spans: dict[tuple[str, str], list[int]] = defaultdict(list)
    for exchange, product, start, *_ in rows:
        spans[(exchange, product)].append(int(start))
    return [{"exchange": exchange, "product": product, "from": min(starts), "to": max(starts)}
            for (exchange, product), starts in sorted(spans.items())]
