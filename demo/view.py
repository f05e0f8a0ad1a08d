"""The demo's terminal view of the latest windows per product (pure formatting)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

COLUMNS = ("product_id", "window_start", "trade_count", "volume", "average_price", "vwap",
           "open", "high", "low", "close")
HEADER = (f"{'product':<10} {'window (UTC)':<19} {'trades':>7} {'volume':>14} {'avg price':>14} "
          f"{'vwap':>14} {'open':>12} {'high':>12} {'low':>12} {'close':>12}")


def latest_windows_sql(database: str, read_view: str) -> str:
    """Newest window per (exchange, product) from the one-row-per-window read view."""
    return (
        f"SELECT {', '.join(COLUMNS)} FROM {database}.{read_view} "
        "ORDER BY window_start DESC LIMIT 1 BY exchange, product_id"
    )


def _number(value, width: int, places: int) -> str:
    return f"{Decimal(str(value)):>{width},.{places}f}"


def format_row(row: Sequence) -> str:
    product, start, count, volume, average, vwap, *ohlc = row
    start_text = start.strftime("%Y-%m-%d %H:%M:%S") if isinstance(start, datetime) else str(start)
    prices = " ".join(_number(p, 12, 2) for p in ohlc)
    return (f"{product:<10} {start_text:<19} {count:>7} {_number(volume, 14, 6)} "
            f"{_number(average, 14, 4)} {_number(vwap, 14, 4)} {prices}")


def render(rows: Sequence[Sequence], status: str) -> str:
    body = [format_row(r) for r in sorted(rows, key=lambda r: r[0])] or ["(no windows yet)"]
    footer = "Ctrl-C stops the producer, the job and the dashboard."
    return "\n".join([status, "", HEADER, *body, "", footer])
