"""ClickHouse error shape and HTTP status mapping of the local endpoint."""

import pytest

from clickhouse.endpoint.errors import (
    ClickHouseError,
    error_body,
    http_status_for,
    parse_engine_error,
)


def test_engine_error_keeps_code_name_and_message():
    text = (
        "Code: 60. DB::Exception: Unknown table expression identifier 'nosuch'. "
        "In scope SELECT * FROM nosuch. (UNKNOWN_TABLE)"
    )
    error = parse_engine_error(text)
    assert (error.code, error.name) == (60, "UNKNOWN_TABLE")
    assert (
        error.message
        == "Unknown table expression identifier 'nosuch'. In scope SELECT * FROM nosuch"
    )


def test_engine_error_with_version_and_wrapper_prefix():
    text = (
        "Streaming insert append failed: Code: 27. DB::Exception: Cannot parse input: "
        "expected ',' (at row 1)\n: While executing CSVRowInputFormat. "
        "(CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 26.9.2.1)"
    )
    error = parse_engine_error(text)
    assert (error.code, error.name) == (27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED")
    assert error.message.startswith("Cannot parse input: expected ','")
    assert error.message.endswith("While executing CSVRowInputFormat")


def test_unrecognised_engine_text_becomes_unknown_exception():
    error = parse_engine_error("segfault-ish nonsense.")
    assert (error.code, error.name, error.message) == (
        1002,
        "UNKNOWN_EXCEPTION",
        "segfault-ish nonsense",
    )


def test_error_body_is_clickhouse_shaped():
    body = error_body(
        ClickHouseError.of("SYNTAX_ERROR", "Syntax error: failed at position 1"), "26.9"
    )
    assert body == (
        b"Code: 62. DB::Exception: Syntax error: failed at position 1. (SYNTAX_ERROR) "
        b"(version 26.9)\n"
    )


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("SYNTAX_ERROR", 400),
        ("CANNOT_PARSE_INPUT_ASSERTION_FAILED", 400),
        ("TYPE_MISMATCH", 400),
        ("UNKNOWN_TABLE", 404),
        ("UNKNOWN_DATABASE", 404),
        ("UNKNOWN_SETTING", 404),
        ("REQUIRED_PASSWORD", 401),
        ("AUTHENTICATION_FAILED", 403),
        ("ACCESS_DENIED", 403),
        ("READONLY", 500),
        ("TIMEOUT_EXCEEDED", 408),
        ("NOT_IMPLEMENTED", 501),
        ("QUERY_IS_TOO_LARGE", 413),
        ("SESSION_IS_LOCKED", 500),
    ],
)
def test_http_status_follows_clickhouse(name, status):
    assert http_status_for(ClickHouseError.of(name, "x")) == status


def test_http_status_from_code_when_name_missing():
    assert http_status_for(ClickHouseError(81, "", "x")) == 404
