"""ClickHouse exceptions as the HTTP interface shows them (pure, no I/O).

Codes and names are the engine's own (checked against chDB's errorCodeToName in the
integration tests); the HTTP status mapping transcribes ClickHouse's
src/Server/HTTP/exceptionCodeToHTTPStatus.cpp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ERROR_CODES: dict[str, int] = {
    "CANNOT_PARSE_TEXT": 6,
    "THERE_IS_NO_COLUMN": 8,
    "DUPLICATE_COLUMN": 15,
    "CANNOT_PARSE_ESCAPE_SEQUENCE": 25,
    "CANNOT_PARSE_QUOTED_STRING": 26,
    "CANNOT_PARSE_INPUT_ASSERTION_FAILED": 27,
    "BAD_ARGUMENTS": 36,
    "UNKNOWN_ELEMENT_IN_AST": 37,
    "CANNOT_PARSE_DATE": 38,
    "CANNOT_PARSE_DATETIME": 41,
    "ILLEGAL_COLUMN": 44,
    "UNKNOWN_FUNCTION": 46,
    "UNKNOWN_IDENTIFIER": 47,
    "NOT_IMPLEMENTED": 48,
    "UNKNOWN_TYPE": 50,
    "TYPE_MISMATCH": 53,
    "UNKNOWN_STORAGE": 56,
    "UNKNOWN_TABLE": 60,
    "SYNTAX_ERROR": 62,
    "UNKNOWN_AGGREGATE_FUNCTION": 63,
    "CANNOT_PARSE_NUMBER": 72,
    "UNKNOWN_FORMAT": 73,
    "CANNOT_OPEN_FILE": 76,
    "UNKNOWN_TYPE_OF_QUERY": 78,
    "UNKNOWN_DATABASE": 81,
    "UNKNOWN_COMPRESSION_METHOD": 89,
    "UNKNOWN_SETTING": 115,
    "INCORRECT_DATA": 117,
    "UNKNOWN_TYPE_OF_AST_NODE": 123,
    "UNKNOWN_DIRECTION_OF_SORTING": 152,
    "TIMEOUT_EXCEEDED": 159,
    "READONLY": 164,
    "TOO_DEEP_AST": 167,
    "TOO_BIG_AST": 168,
    "UNKNOWN_USER": 192,
    "WRONG_PASSWORD": 193,
    "REQUIRED_PASSWORD": 194,
    "SOCKET_TIMEOUT": 209,
    "UNEXPECTED_AST_STRUCTURE": 223,
    "QUERY_IS_TOO_LARGE": 229,
    "ABORTED": 236,
    "CANNOT_DECOMPRESS": 271,
    "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE": 321,
    "UNKNOWN_DATABASE_ENGINE": 336,
    "SESSION_NOT_FOUND": 372,
    "SESSION_IS_LOCKED": 373,
    "INVALID_SESSION_TIMEOUT": 374,
    "CANNOT_PARSE_UUID": 376,
    "HTTP_LENGTH_REQUIRED": 381,
    "CANNOT_COMPILE_REGEXP": 427,
    "CANNOT_SCHEDULE_TASK": 439,
    "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING": 441,
    "ACCESS_DENIED": 497,
    "UNKNOWN_ROLE": 511,
    "SET_NON_GRANTED_ROLE": 512,
    "AUTHENTICATION_FAILED": 516,
    "CANNOT_PARSE_IPV4": 675,
    "CANNOT_PARSE_IPV6": 676,
    "UNSUPPORTED_MEDIA_TYPE": 779,
    "STD_EXCEPTION": 1001,
    "UNKNOWN_EXCEPTION": 1002,
}

_BAD_REQUEST = {
    "BAD_ARGUMENTS",
    "CANNOT_COMPILE_REGEXP",
    "CANNOT_PARSE_TEXT",
    "CANNOT_PARSE_ESCAPE_SEQUENCE",
    "CANNOT_PARSE_QUOTED_STRING",
    "CANNOT_PARSE_DATE",
    "CANNOT_PARSE_DATETIME",
    "CANNOT_PARSE_NUMBER",
    "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
    "CANNOT_PARSE_IPV4",
    "CANNOT_PARSE_IPV6",
    "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    "CANNOT_PARSE_UUID",
    "DUPLICATE_COLUMN",
    "ILLEGAL_COLUMN",
    "UNKNOWN_ELEMENT_IN_AST",
    "UNKNOWN_TYPE_OF_AST_NODE",
    "THERE_IS_NO_COLUMN",
    "TOO_DEEP_AST",
    "TOO_BIG_AST",
    "UNEXPECTED_AST_STRUCTURE",
    "SYNTAX_ERROR",
    "INCORRECT_DATA",
    "TYPE_MISMATCH",
    "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
}
_NOT_FOUND = {
    "UNKNOWN_TABLE",
    "UNKNOWN_FUNCTION",
    "UNKNOWN_IDENTIFIER",
    "UNKNOWN_TYPE",
    "UNKNOWN_STORAGE",
    "UNKNOWN_DATABASE",
    "UNKNOWN_SETTING",
    "UNKNOWN_DIRECTION_OF_SORTING",
    "UNKNOWN_AGGREGATE_FUNCTION",
    "UNKNOWN_FORMAT",
    "UNKNOWN_DATABASE_ENGINE",
    "UNKNOWN_TYPE_OF_QUERY",
    "UNKNOWN_ROLE",
}
_FORBIDDEN = {
    "UNKNOWN_USER",
    "WRONG_PASSWORD",
    "AUTHENTICATION_FAILED",
    "SET_NON_GRANTED_ROLE",
    "ACCESS_DENIED",
}
_SINGLE_STATUS = {
    "REQUIRED_PASSWORD": 401,
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "CANNOT_SCHEDULE_TASK": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}
_NAME_BY_CODE = {code: name for name, code in ERROR_CODES.items()}

# "Code: 60. DB::Exception: <message>. (UNKNOWN_TABLE) (version 26.9.2.1)" as chDB raises it;
# the version suffix is present on some errors only.
_ENGINE_ERROR = re.compile(
    r"Code:\s*(?P<code>\d+)\.\s*DB::Exception:\s*(?P<message>.*?)"
    r"(?:\s*\((?P<name>[A-Z][A-Z0-9_]*)\))?(?:\s*\(version [^\n]*\))?\s*$",
    re.DOTALL,
)


@dataclass
class ClickHouseError(Exception):
    """An error with ClickHouse's code, name and message (message without the trailing name)."""

    code: int
    name: str
    message: str

    def __str__(self) -> str:
        return f"Code: {self.code}. DB::Exception: {self.message}. ({self.name})"

    @classmethod
    def of(cls, name: str, message: str) -> ClickHouseError:
        return cls(ERROR_CODES[name], name, message)


def http_status_for(error: ClickHouseError) -> int:
    """The HTTP status ClickHouse's HTTP handler answers with for this exception."""
    name = error.name or _NAME_BY_CODE.get(error.code, "")
    if name in _SINGLE_STATUS:
        return _SINGLE_STATUS[name]
    if name in _FORBIDDEN:
        return 403
    if name in _BAD_REQUEST:
        return 400
    if name in _NOT_FOUND:
        return 404
    return 500


def parse_engine_error(text: str) -> ClickHouseError:
    """Turn the text of a chDB exception into a ClickHouseError, keeping ClickHouse's message."""
    match = _ENGINE_ERROR.search(text)
    if not match:
        return ClickHouseError.of("UNKNOWN_EXCEPTION", text.strip().rstrip("."))
    code = int(match["code"])
    name = match["name"] or _NAME_BY_CODE.get(code, "UNKNOWN_EXCEPTION")
    message = match["message"].rstrip()
    if message.endswith("."):
        message = message[:-1]
    return ClickHouseError(code, name, message)


def error_body(error: ClickHouseError, version: str) -> bytes:
    """The response body exactly as ClickHouse writes it for a failed query."""
    return f"{error} (version {version})\n".encode()
