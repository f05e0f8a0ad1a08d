"""The producer's output values and the field checks every feed shares.

A feed turns one raw WebSocket message into a list of events:

- ``Trade``: one normalized trade, serialized as the topic's schema (version 1);
- ``DeadLetter``: the message (or part of it) could not be normalized; carries the exact reason
  and the raw text, and goes to the dead-letter topic;
- ``Heartbeat``: the Exchange heartbeat (per-product sequence and last trade id);
- ``MessageSequence``: the Advanced Trade per-connection message counter;
- ``Control``: subscriptions acknowledgements and other protocol chatter (not trades, not errors);
- ``FeedError``: an ``error`` message sent by the exchange (logged with the feed's message).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

SCHEMA_VERSION = 1
SIDES = ("buy", "sell")

# Digits, optionally one point and more digits, with a non-zero digit somewhere.
_POSITIVE_DECIMAL = re.compile(r"(?=[0-9.]*[1-9])[0-9]+(?:\.[0-9]+)?")
# Product ids: BTC-USD, ETH-PERP-INTX, BIT-30AUG24-CDE ... never anything needing JSON escapes.
_PRODUCT_ID = re.compile(r"[A-Za-z0-9]{1,32}(?:-[A-Za-z0-9]{1,32}){1,3}")
_TRADE_ID_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_CANONICAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})"
)


class NormalizationError(ValueError):
    """A message cannot be turned into trades; the text is the dead-letter reason."""


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~1 us per trade on the hot path
class Trade:
    exchange: str
    product_id: str
    trade_id: str
    price: str
    size: str
    side: str
    event_time: str
    sequence: int | None
    received_at: str
    # The trade id as an int, from feeds that number trades consecutively per product: what
    # gap and duplicate checks compare. Not part of the record.
    number: int | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return self.product_id

    def to_dict(self) -> dict:
        return {
            "v": SCHEMA_VERSION,
            "exchange": self.exchange,
            "product_id": self.product_id,
            "trade_id": self.trade_id,
            "price": self.price,
            "size": self.size,
            "side": self.side,
            "event_time": self.event_time,
            "sequence": self.sequence,
            "received_at": self.received_at,
        }

    def to_json(self) -> str:
        # Every string field was validated against a charset that needs no JSON escaping
        # (see check_* below), so a template is exact and much cheaper than json.dumps.
        sequence = "null" if self.sequence is None else str(self.sequence)
        return (
            f'{{"v":1,"exchange":"{self.exchange}","product_id":"{self.product_id}",'
            f'"trade_id":"{self.trade_id}","price":"{self.price}","size":"{self.size}",'
            f'"side":"{self.side}","event_time":"{self.event_time}","sequence":{sequence},'
            f'"received_at":"{self.received_at}"}}'
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    raw: str
    product_id: str | None = None

    def to_json(self, source: str, received_at: str) -> str:
        return json.dumps(
            {
                "v": SCHEMA_VERSION,
                "source": source,
                "reason": self.reason,
                "product_id": self.product_id,
                "received_at": received_at,
                "raw": self.raw,
            },
            ensure_ascii=False,
        )


@dataclass(frozen=True, slots=True)
class Heartbeat:
    product_id: str
    sequence: int
    last_trade_id: int


@dataclass(frozen=True, slots=True)
class MessageSequence:
    sequence_num: int


@dataclass(frozen=True, slots=True)
class Control:
    kind: str
    detail: object = None


@dataclass(frozen=True, slots=True)
class FeedError:
    message: str
    reason: str | None = None


Event = Trade | DeadLetter | Heartbeat | MessageSequence | Control | FeedError


def require(msg: dict, field: str, where: str = ""):
    try:
        return msg[field]
    except KeyError:
        raise NormalizationError(f"missing field{where}: {field}") from None


def is_positive_decimal(value: str) -> bool:
    """Plain decimal text (digits, optionally one point and more digits) that is not zero.

    Stricter than ``Decimal(value)``, which also takes "NaN", "Infinity", "1e5", " 1 " and
    "-1": within this grammar the value is finite, and it is > 0 exactly when some digit is
    not 0, so no Decimal needs building on the hot path (a unit test checks the equivalence).
    """
    return _POSITIVE_DECIMAL.fullmatch(value) is not None


def _is_canonical_time(value: str) -> bool:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` and a real moment: what ``check_time`` returns as is
    (producer/fastpath/src/exchange_match.rs holds the same rule)."""
    if _CANONICAL_TIME.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def check_decimal(value: object, field: str, where: str = "") -> str:
    """A positive, finite decimal string, returned with the exchange's own digits."""
    if type(value) is not str:
        raise NormalizationError(f"invalid {field}{where}: {value!r} (expected a decimal string)")
    if not is_positive_decimal(value):
        raise NormalizationError(
            f"invalid {field}{where}: {value!r} (expected a positive decimal string)"
        )
    return value


def is_product_id(value: object) -> bool:
    return type(value) is str and _PRODUCT_ID.fullmatch(value) is not None


def check_product_id(value: object, where: str = "") -> str:
    if not is_product_id(value):
        raise NormalizationError(f"invalid product_id{where}: {value!r}")
    return value


def check_int(value: object, field: str, where: str = "") -> int:
    if type(value) is not int or value < 0:
        raise NormalizationError(
            f"invalid {field}{where}: {value!r} (expected a non-negative integer)"
        )
    return value


def check_trade_id_text(value: object, where: str = "") -> str:
    if type(value) is not str or _TRADE_ID_TEXT.fullmatch(value) is None:
        raise NormalizationError(f"invalid trade_id{where}: {value!r}")
    return value


def format_utc(moment: datetime) -> str:
    """UTC, always six fractional digits: 2024-01-01T00:00:00.123456Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_time(value: object, field: str = "time", where: str = "") -> str:
    """An ISO-8601 timestamp with a zone, as UTC with exactly 6 fractional digits.

    Digits beyond microseconds (Advanced Trade sends nanoseconds) are truncated, not rounded,
    so a trade never moves into the next microsecond (or window).
    """
    if type(value) is not str:
        raise NormalizationError(f"invalid {field}{where}: {value!r} (expected an ISO-8601 string)")
    if _is_canonical_time(value):  # the common Exchange form: validated, the text kept
        return value
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        raise NormalizationError(f"invalid {field}{where}: {value!r} (expected ISO-8601 with zone)")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros,
            tzinfo=_zone(zone),
        )
    except ValueError as exc:
        raise NormalizationError(f"invalid {field}{where}: {value!r} ({exc})") from None
    return format_utc(moment)


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(sign * offset)


_scan_json = json.JSONDecoder().scan_once


def load_object(raw: str) -> dict:
    try:  # the C scanner directly: json.loads adds ~1 us of Python wrapping per message
        msg, end = _scan_json(raw, 0)
        if end == len(raw) and type(msg) is dict:
            return msg
    except (StopIteration, ValueError):
        pass
    try:  # the slow path gives json's exact error text, and allows surrounding whitespace
        msg = json.loads(raw)
    except ValueError as exc:
        raise NormalizationError(f"not valid JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise NormalizationError(f"not a JSON object: {type(msg).__name__}")
    return msg
