"""The producer's counters into ClickHouse (``--stats-table on``): one row per stats interval,
in the table of migration 006 (topology: clickhouse.tables.producer_stats), so what the stats
line says, the gap backfill's figures included, can be queried and shown on the dashboard.

A failed write is logged (once per failure streak) and the producer carries on: the stats line
still has the counters, and producing trades never waits on ClickHouse."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from clickhouse.client import connect
from runtime.topology import Topology

log = logging.getLogger(__name__)


class StatsTable:
    def __init__(self, topo: Topology, password: str, source: str):
        self.table = f"{topo.clickhouse_database}.{topo.producer_stats_table}"
        self.url, self.user, self.password = topo.clickhouse_url, topo.clickhouse_user, password
        self.source = source
        self.run_id = str(uuid.uuid4())
        self._client = None
        self._failing = False

    def write(self, snapshot: dict) -> bool:
        """One row of counters; False (logged) when ClickHouse did not take it."""
        row = {"recorded_at": datetime.now(UTC), "run_id": self.run_id, "source": self.source,
               **snapshot}
        try:
            if self._client is None:
                self._client = connect(self.url, self.user, self.password,
                                       client_options={"connect_timeout": 2,
                                                       "send_receive_timeout": 10})
            self._client.insert(self.table, [list(row.values())], column_names=list(row))
        except Exception as error:  # noqa: BLE001 - counters must never stop the producer
            if not self._failing:
                log.warning("stats table %s: cannot write (%s: %s); the stats line goes on",
                            self.table, type(error).__name__, str(error).splitlines()[0][:200])
            self._failing = True
            self._client = None
            return False
        if self._failing:
            log.info("stats table %s: writing again", self.table)
        self._failing = False
        return True
