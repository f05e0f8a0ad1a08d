"""The ClickHouse HTTP request model: parameters, credentials, response headers (pure)."""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass, field

from .errors import ClickHouseError
from .sqltext import is_setting_name

# URL parameters the HTTP handler consumes itself; every other one is a setting.
RESERVED_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "close_session",
        "user",
        "password",
        "quota_key",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "stacktrace",
        "role",
        "client_protocol_version",
        "http_response_headers",
        "max_result_bytes_in_buffer",
        "query_kind",
    }
)
DEFAULT_SESSION_TIMEOUT = 60
MAX_SESSION_TIMEOUT = 3600
ANONYMOUS_USER = "default"


@dataclass
class RequestParams:
    query: str | None = None
    database: str | None = None
    default_format: str | None = None
    query_id: str | None = None
    session_id: str | None = None
    session_timeout: int = DEFAULT_SESSION_TIMEOUT
    session_check: bool = False
    query_params: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)


def _is_true(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _session_timeout(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_SESSION_TIMEOUT
    if not raw.strip().isdigit():
        raise ClickHouseError.of("INVALID_SESSION_TIMEOUT", f"Invalid session timeout: '{raw}'")
    value = int(raw)
    if value > MAX_SESSION_TIMEOUT:
        raise ClickHouseError.of(
            "INVALID_SESSION_TIMEOUT",
            f"Session timeout '{raw}' is larger than max_session_timeout: {MAX_SESSION_TIMEOUT}. "
            "Maximum session timeout could be modified in configuration file",
        )
    return value


def split_params(pairs: list[tuple[str, str]]) -> RequestParams:
    """Sort URL/form parameters into handler parameters, query parameters and settings."""
    raw: dict[str, str] = {}
    query_params: dict[str, str] = {}
    settings: dict[str, str] = {}
    for key, value in pairs:
        if key.startswith("param_"):
            query_params[key[len("param_") :]] = value
        elif key in RESERVED_PARAMS:
            raw[key] = value
        elif is_setting_name(key):
            settings[key] = value
        else:
            raise ClickHouseError.of("UNKNOWN_SETTING", f"Unknown setting '{key}'")
    compress_flags = [k for k in ("compress", "decompress") if _is_true(raw.get(k, "0"))]
    if compress_flags:
        raise ClickHouseError.of(
            "NOT_IMPLEMENTED",
            f"Parameter '{compress_flags[0]}' (ClickHouse's internal block compression) is not "
            "supported by this endpoint; use HTTP Content-Encoding / Accept-Encoding instead",
        )
    return RequestParams(
        query=raw.get("query"),
        database=raw.get("database") or None,
        default_format=raw.get("default_format") or None,
        query_id=raw.get("query_id") or None,
        session_id=raw.get("session_id") or None,
        session_timeout=_session_timeout(raw.get("session_timeout")),
        session_check=_is_true(raw.get("session_check", "0")),
        query_params=query_params,
        settings=settings,
    )


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    supplied: bool  # False when the request carried no credentials at all


def extract_credentials(headers: dict[str, str], params: dict[str, str]) -> Credentials:
    """Credentials from X-ClickHouse-User/Key, HTTP basic auth or user/password parameters.

    Mixing schemes is refused, as ClickHouse does.
    """
    header_user = headers.get("x-clickhouse-user", "")
    header_key = headers.get("x-clickhouse-key", "")
    authorization = headers.get("authorization", "")
    in_params = "user" in params or "password" in params
    in_headers = bool(header_user or header_key)
    if in_headers and (authorization or in_params):
        raise ClickHouseError.of(
            "AUTHENTICATION_FAILED",
            "Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers and "
            "other authentication methods simultaneously",
        )
    if authorization and in_params:
        raise ClickHouseError.of(
            "AUTHENTICATION_FAILED",
            "Invalid authentication: it is not allowed to use Authorization HTTP header and "
            "authentication via parameters simultaneously",
        )
    if in_headers:
        return Credentials(header_user or ANONYMOUS_USER, header_key, True)
    if authorization:
        return _basic_credentials(authorization)
    if in_params:
        return Credentials(params.get("user") or ANONYMOUS_USER, params.get("password", ""), True)
    return Credentials(ANONYMOUS_USER, "", False)


def _basic_credentials(authorization: str) -> Credentials:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise ClickHouseError.of(
            "AUTHENTICATION_FAILED",
            f"Invalid authentication: '{scheme}' HTTP Authorization scheme is not supported",
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClickHouseError.of(
            "AUTHENTICATION_FAILED", "Invalid authentication: malformed Basic credentials"
        ) from exc
    user, _, password = decoded.partition(":")
    return Credentials(user or ANONYMOUS_USER, password, True)


@dataclass(frozen=True)
class Principal:
    user: str
    read_only: bool


def authenticate(creds: Credentials, user: str, password: str) -> Principal:
    """Decide who the request runs as.

    The configured user with its password gets full access. Anyone else presenting
    'default' with no password is the anonymous read-only user; all other credentials fail.
    """
    if creds.user == user and hmac.compare_digest(creds.password.encode(), password.encode()):
        return Principal(user, read_only=False)
    if creds.user == ANONYMOUS_USER and creds.password == "" and user != ANONYMOUS_USER:
        return Principal(ANONYMOUS_USER, read_only=True)
    if creds.user == ANONYMOUS_USER and not creds.supplied:
        return Principal(ANONYMOUS_USER, read_only=True)
    raise ClickHouseError.of(
        "AUTHENTICATION_FAILED",
        f"{creds.user}: Authentication failed: password is incorrect, or there is no user with "
        "such name",
    )


def readonly_error(user: str, method: str) -> ClickHouseError:
    message = f"{user}: Cannot execute query in readonly mode"
    if method == "GET":
        message += (
            ". For queries over HTTP, method GET implies readonly. "
            "You should use method POST for modifying queries"
        )
    return ClickHouseError.of("READONLY", message)


_TEXT = "text/plain; charset=UTF-8"
_CONTENT_TYPES = {
    "tabseparated": "text/tab-separated-values; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
    "csv": "text/csv; charset=UTF-8; header=absent",
    "csvwithnames": "text/csv; charset=UTF-8; header=present",
    "csvwithnamesandtypes": "text/csv; charset=UTF-8; header=present",
    "xml": "application/xml; charset=UTF-8",
    "jsoneachrow": "application/x-ndjson; charset=UTF-8",
    "ndjson": "application/x-ndjson; charset=UTF-8",
    "jsonlines": "application/x-ndjson; charset=UTF-8",
    "markdown": "text/markdown; charset=UTF-8",
}
_BINARY_PREFIXES = (
    "native",
    "rowbinary",
    "arrow",
    "parquet",
    "orc",
    "avro",
    "protobuf",
    "capnproto",
    "msgpack",
    "bson",
    "npy",
    "raw",
    "lineasstring",
)


def content_type_for(fmt: str) -> str:
    """The Content-Type ClickHouse sends for an output format."""
    key = fmt.lower()
    if key in _CONTENT_TYPES:
        return _CONTENT_TYPES[key]
    if key.startswith("tabseparated") or key.startswith("tsv"):
        return _CONTENT_TYPES["tsv"]
    if key.startswith("json"):
        return "application/json; charset=UTF-8"
    if key.startswith(_BINARY_PREFIXES):
        return "application/octet-stream"
    return _TEXT


def summary_header(stats: dict[str, int]) -> str:
    """X-ClickHouse-Summary: a JSON object whose values are strings, as ClickHouse writes it."""
    return json.dumps({k: str(int(v)) for k, v in stats.items()}, separators=(",", ":"))
