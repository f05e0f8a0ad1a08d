"""The demo's view: newest window per product, formatted in columns."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from demo.view import COLUMNS, HEADER, latest_windows_sql, render


def row(product, minute, count=3):
    start = datetime(2026, 1, 1, 12, minute, 30, tzinfo=UTC)
    return (product, start, count, Decimal("1.5"), 100.25, 100.3, Decimal("100"),
            Decimal("101"), Decimal("99.5"), Decimal("100.75"))


def test_rows_are_sorted_by_product_and_formatted_in_header_order():
    text = render([row("ETH-USD", 1), row("BTC-USD", 2, count=42)], "status line")
    lines = text.splitlines()

    assert lines[0] == "status line"
    assert lines[2] == HEADER
    assert lines[3].split()[:4] == ["BTC-USD", "2026-01-01", "12:02:30", "42"]
    assert lines[4].startswith("ETH-USD")
    assert "100.2500" in lines[3] and "99.50" in lines[3]


def test_empty_view_says_so():
    assert "(no windows yet)" in render([], "s")


def test_query_reads_the_newest_window_per_product_from_the_read_view():
    sql = latest_windows_sql("db", "trade_windows_final")
    assert "FROM db.trade_windows_final" in sql
    assert "LIMIT 1 BY exchange, product_id" in sql
    assert sql.index("window_start DESC") < sql.index("LIMIT 1 BY")
    assert all(column in sql for column in COLUMNS)
