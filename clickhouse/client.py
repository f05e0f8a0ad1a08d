"""Open a clickhouse-connect client from one URL, the way every component configures ClickHouse.

http(s)://host:port talks to a ClickHouse server (or the local chDB endpoint) over HTTP;
chdb:///abs/path opens an embedded chDB engine in this process (tests, one-off tools).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client


def connect(url: str, user: str = "default", password: str = "", database: str | None = None,
            client_options: Mapping | None = None, **settings) -> Client:
    """`settings` are ClickHouse settings for every query; `client_options` are
    clickhouse-connect's own (timeouts, sessions)."""
    options = dict(client_options or {})
    if url.startswith("chdb:"):
        return clickhouse_connect.get_client(dsn=url, database=database, settings=settings,
                                             **options)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"ClickHouse URL {url!r} must be http(s)://host[:port] or chdb:///path")
    secure = parts.scheme == "https"
    return clickhouse_connect.get_client(
        host=parts.hostname,
        port=parts.port or (8443 if secure else 8123),
        interface=parts.scheme,
        username=user,
        password=password,
        database=database or "",
        settings=settings,
        **options,
    )
