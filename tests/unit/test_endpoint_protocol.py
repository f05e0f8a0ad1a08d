"""Request parameters, credentials and response headers of the local endpoint."""

import base64
import json

import pytest

from clickhouse.endpoint.errors import ClickHouseError
from clickhouse.endpoint.protocol import (
    Credentials,
    authenticate,
    content_type_for,
    extract_credentials,
    readonly_error,
    split_params,
    summary_header,
)


def test_params_split_into_handler_params_query_params_and_settings():
    rp = split_params(
        [
            ("query", "SELECT {x:UInt8}"),
            ("database", "db"),
            ("default_format", "JSON"),
            ("query_id", "q1"),
            ("session_id", "s1"),
            ("session_timeout", "120"),
            ("session_check", "1"),
            ("param_x", "7"),
            ("param_name_with_underscores", "a'b"),
            ("max_threads", "1"),
            ("insert_deduplication_token", "tok"),
            ("client_protocol_version", "54405"),
            ("wait_end_of_query", "1"),
        ]
    )
    assert (rp.query, rp.database, rp.default_format, rp.query_id) == (
        "SELECT {x:UInt8}",
        "db",
        "JSON",
        "q1",
    )
    assert (rp.session_id, rp.session_timeout, rp.session_check) == ("s1", 120, True)
    assert rp.query_params == {"x": "7", "name_with_underscores": "a'b"}
    assert rp.settings == {"max_threads": "1", "insert_deduplication_token": "tok"}


def test_defaults_without_params():
    rp = split_params([])
    assert (rp.query, rp.session_id, rp.session_timeout, rp.session_check) == (
        None,
        None,
        60,
        False,
    )
    assert rp.settings == {} and rp.query_params == {}


@pytest.mark.parametrize("raw", ["abc", "-1", "3601"])
def test_bad_session_timeout_is_refused(raw):
    with pytest.raises(ClickHouseError) as caught:
        split_params([("session_timeout", raw)])
    assert caught.value.name == "INVALID_SESSION_TIMEOUT"


def test_setting_names_that_could_inject_sql_are_refused():
    with pytest.raises(ClickHouseError) as caught:
        split_params([("max_threads = 1; DROP TABLE t; --", "1")])
    assert caught.value.name == "UNKNOWN_SETTING"


def test_internal_block_compression_is_refused_clearly():
    with pytest.raises(ClickHouseError) as caught:
        split_params([("compress", "1")])
    assert caught.value.name == "NOT_IMPLEMENTED" and "Accept-Encoding" in caught.value.message


def _basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("headers", "params", "expected"),
    [
        ({}, {}, Credentials("default", "", False)),
        ({"authorization": _basic("app", "p:w")}, {}, Credentials("app", "p:w", True)),
        (
            {"x-clickhouse-user": "app", "x-clickhouse-key": "pw"},
            {},
            Credentials("app", "pw", True),
        ),
        ({}, {"user": "app", "password": "pw"}, Credentials("app", "pw", True)),
        ({}, {"password": "pw"}, Credentials("default", "pw", True)),
    ],
)
def test_credentials_from_each_scheme(headers, params, expected):
    assert extract_credentials(headers, params) == expected


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"authorization": _basic("a", "b"), "x-clickhouse-user": "a"}, {}),
        ({"authorization": _basic("a", "b")}, {"user": "a"}),
        ({"x-clickhouse-user": "a"}, {"password": "b"}),
        ({"authorization": "Bearer token"}, {}),
        ({"authorization": "Basic !!!"}, {}),
    ],
)
def test_mixed_or_malformed_credentials_fail(headers, params):
    with pytest.raises(ClickHouseError) as caught:
        extract_credentials(headers, params)
    assert caught.value.name == "AUTHENTICATION_FAILED"


def test_configured_user_with_its_password_has_full_access():
    principal = authenticate(Credentials("app", "s3cret", True), "app", "s3cret")
    assert (principal.user, principal.read_only) == ("app", False)


@pytest.mark.parametrize(
    "creds", [Credentials("default", "", False), Credentials("default", "", True)]
)
def test_default_without_password_is_read_only(creds):
    principal = authenticate(creds, "app", "s3cret")
    assert (principal.user, principal.read_only) == ("default", True)


def test_no_credentials_is_read_only_even_when_default_is_the_configured_user():
    principal = authenticate(Credentials("default", "", False), "default", "s3cret")
    assert principal.read_only


@pytest.mark.parametrize(
    "creds",
    [
        Credentials("app", "wrong", True),
        Credentials("app", "", True),
        Credentials("someone", "s3cret", True),
        Credentials("default", "s3cret", True),
    ],
)
def test_wrong_credentials_fail_with_516(creds):
    with pytest.raises(ClickHouseError) as caught:
        authenticate(creds, "app", "s3cret")
    assert caught.value.code == 516
    assert caught.value.message.startswith(f"{creds.user}: Authentication failed")


def test_readonly_error_explains_get():
    assert "method GET implies readonly" in readonly_error("u", "GET").message
    assert readonly_error("u", "POST").code == 164


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("TabSeparated", "text/tab-separated-values; charset=UTF-8"),
        ("TSVWithNamesAndTypes", "text/tab-separated-values; charset=UTF-8"),
        ("CSV", "text/csv; charset=UTF-8; header=absent"),
        ("CSVWithNames", "text/csv; charset=UTF-8; header=present"),
        ("JSON", "application/json; charset=UTF-8"),
        ("JSONCompact", "application/json; charset=UTF-8"),
        ("JSONEachRow", "application/x-ndjson; charset=UTF-8"),
        ("Native", "application/octet-stream"),
        ("RowBinaryWithNamesAndTypes", "application/octet-stream"),
        ("Parquet", "application/octet-stream"),
        ("ArrowStream", "application/octet-stream"),
        ("Pretty", "text/plain; charset=UTF-8"),
    ],
)
def test_content_type_by_format(fmt, content_type):
    assert content_type_for(fmt) == content_type


def test_summary_values_are_strings():
    assert json.loads(summary_header({"read_rows": 3, "written_rows": 0})) == {
        "read_rows": "3",
        "written_rows": "0",
    }
