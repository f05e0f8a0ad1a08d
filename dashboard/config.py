"""The dashboard's settings: one place, each overridable by DASHBOARD_<FIELD> in the environment.

| variable | default | what |
|---|---|---|
| DASHBOARD_HOST | 127.0.0.1 | address to listen on |
| DASHBOARD_PORT | topology | port to listen on (runtime/topology.yaml: 8050) |
| DASHBOARD_MAX_CANDLES | 5000 | most candles one /api/candles request may span |
| DASHBOARD_DEFAULT_CANDLES | 500 | candles returned when `from` is not given |
| DASHBOARD_QUERY_TIMEOUT_S | 5 | ClickHouse max_execution_time of every query |
| DASHBOARD_POLL_INTERVAL_S | 0.25 | how often new window rows are looked for (live push) |
| DASHBOARD_HEALTH_INTERVAL_S | 1 | how often the pipeline panel is refreshed |
| DASHBOARD_STALL_AFTER_S | 20 | red: no trade into Kafka, or no job batch while behind, this long |
| DASHBOARD_RATE_WINDOW_S | 10 | producer rate: records per second over this window |

ClickHouse and Kafka are found as by every component: CLICKHOUSE_URL, CLICKHOUSE_DATABASE,
CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_DLQ_TOPIC
(runtime/topology.py) and the Kafka security variables (runtime/kafka_security.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime import env_settings, topology

WEB_DIR = Path(__file__).resolve().with_name("web")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 0  # load() takes the topology's dashboard port
    max_candles: int = 5000
    default_candles: int = 500
    query_timeout_s: float = 5.0
    poll_interval_s: float = 0.25
    health_interval_s: float = 1.0
    stall_after_s: float = 20.0
    rate_window_s: float = 10.0

    @property
    def url(self) -> str:
        """Where a browser on this machine finds the page."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/"


def load(env: Mapping[str, str] = os.environ) -> Settings:
    settings = env_settings.from_env(
        Settings(port=topology.load().dashboard_port), env, "DASHBOARD_")
    if settings.max_candles < 1 or not 1 <= settings.default_candles <= settings.max_candles:
        raise ValueError("DASHBOARD_DEFAULT_CANDLES must be between 1 and DASHBOARD_MAX_CANDLES")
    return settings
