"""Replaying a gap backfill without the network: the REST answers kept in a recording
(``recording.read_rest_answers``) become a small history per product, and the backfill's
questions are answered from it with the APIs' own paging, so a replay fills the same gaps even
when its timing joins them differently from the live run. A question the recording cannot
answer gets an empty page: the rest of that gap is unfillable, counted and logged, as live."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from producer.backfill import unix_time
from producer.recording import RestAnswer
from producer.rest import Answer, RestError

EXCHANGE_TRADES = re.compile(r"/products/(?P<product>[^/]+)/trades")
ADVANCED_TRADES = re.compile(r"/api/v3/brokerage/market/products/(?P<product>[^/]+)/ticker")


class RecordedRest:
    """Stands in for ``rest.RestClient`` during a replay."""

    def __init__(self, answers: Iterable[RestAnswer]):
        # product -> trade id -> (item, received_at); product -> [(time, item, received_at)]
        self.by_id: dict[str, dict[int, tuple[dict, str]]] = {}
        self.by_time: dict[str, dict[str, tuple[float, dict, str]]] = {}
        for answer in answers:
            self._learn(answer)

    def _learn(self, answer: RestAnswer) -> None:
        try:
            body = json.loads(answer.body)
        except ValueError:
            return  # a garbled answer the live run retried
        if match := EXCHANGE_TRADES.fullmatch(answer.path):
            known = self.by_id.setdefault(match["product"], {})
            for item in body if isinstance(body, list) else []:
                if isinstance(item, dict) and isinstance(item.get("trade_id"), int):
                    known.setdefault(item["trade_id"], (item, answer.received_at))
        elif match := ADVANCED_TRADES.fullmatch(answer.path):
            known = self.by_time.setdefault(match["product"], {})
            trades = body.get("trades") if isinstance(body, dict) else None
            for item in trades if isinstance(trades, list) else []:
                try:
                    known.setdefault(str(item["trade_id"]),
                                     (unix_time(item["time"]), item, answer.received_at))
                except (KeyError, TypeError, ValueError):
                    continue

    async def get_json(self, path: str, params: dict) -> Answer:
        if match := EXCHANGE_TRADES.fullmatch(path):
            return self._exchange_page(match["product"], params)
        if match := ADVANCED_TRADES.fullmatch(path):
            return self._advanced_page(match["product"], params)
        raise RestError(f"GET {path}: not a question a recording can answer")

    def _exchange_page(self, product: str, params: dict) -> Answer:
        known = self.by_id.get(product, {})
        after, limit = int(params["after"]), int(params["limit"])
        ids = sorted((i for i in known if i < after), reverse=True)[:limit]
        page = [known[i] for i in ids]
        headers = {"CB-BEFORE": str(ids[0]), "CB-AFTER": str(ids[-1])} if ids else {}
        return Answer([item for item, _ in page], headers, _latest(page))

    def _advanced_page(self, product: str, params: dict) -> Answer:
        known = self.by_time.get(product, {}).values()
        start, end, limit = float(params["start"]), float(params["end"]), int(params["limit"])
        inside = sorted((t for t in known if start <= t[0] <= end), key=lambda t: -t[0])[:limit]
        page = [(item, received_at) for _, item, received_at in inside]
        return Answer({"trades": [item for item, _ in page]}, {}, _latest(page))

    async def close(self) -> None:
        pass


def _latest(page: list[tuple[dict, str]]) -> str:
    """When the recorded answers holding this page's trades arrived (the latest of them)."""
    return max((received_at for _, received_at in page), default="")
