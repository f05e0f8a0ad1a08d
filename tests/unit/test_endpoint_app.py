"""Request routing of the local endpoint against a recording fake engine."""

import base64
import io

import pytest

from clickhouse.endpoint.app import Endpoint, Request
from clickhouse.endpoint.engine import Context, Outcome
from clickhouse.endpoint.errors import ClickHouseError

AUTH = {"authorization": "Basic " + base64.b64encode(b"app:pw").decode()}


class FakeEngine:
    version = "26.9.2.1"
    timezone = "Etc/UTC"
    http_compression_default = "1"

    def __init__(self):
        self.calls = []

    def query(self, sql, fmt, params, ctx):
        self.calls.append(("query", sql, fmt, params, ctx))
        return Outcome(b"result\n", {"read_rows": 1})

    def insert(self, head, fmt, chunks, ctx):
        data = b"".join(chunks)
        self.calls.append(("insert", head, fmt, data, ctx))
        return Outcome(b"", {"written_rows": 2})

    def validate(self, ctx):
        if "bogus" in ctx.settings:
            raise ClickHouseError.of("UNKNOWN_SETTING", "Unknown setting 'bogus'")
        self.calls.append(("validate", ctx))

    def classify(self, sql):
        if sql.startswith("SELEC "):
            return False, 0
        if ";" in sql.rstrip(";"):
            return False, 2
        first = sql.split()[0].upper()
        return first in ("SELECT", "SHOW", "WITH"), 1


def request(method="POST", params=(), body=None, headers=None):
    headers = dict(AUTH if headers is None else headers)
    return Request(
        method=method,
        path="/",
        params=list(params),
        headers=headers,
        read_body=lambda decoder: None if body is None else io.BytesIO(body),
    )


@pytest.fixture
def endpoint():
    return Endpoint(FakeEngine(), "app", "pw", "host1")


def test_query_in_body_with_default_format_and_headers(endpoint):
    reply = endpoint.handle(request(body=b"SELECT 1", params=[("query_id", "q-1")]))
    assert reply.status == 200 and reply.body == b"result\n"
    assert endpoint.engine.calls == [("query", "SELECT 1", "TabSeparated", {}, Context({}, None))]
    assert reply.headers["X-ClickHouse-Query-Id"] == "q-1"
    assert reply.headers["X-ClickHouse-Format"] == "TabSeparated"
    assert reply.headers["X-ClickHouse-Server-Display-Name"] == "host1"


def test_format_clause_wins_over_default_format(endpoint):
    reply = endpoint.handle(
        request(body=b"SELECT 1 FORMAT JSONEachRow", params=[("default_format", "CSV")])
    )
    assert reply.headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert endpoint.engine.calls[0][2] == "JSONEachRow"


def test_url_query_insert_takes_the_whole_body_as_data(endpoint):
    data = b"\n\t\x00binary"  # starts with bytes that look like whitespace
    endpoint.handle(request(params=[("query", "INSERT INTO t (a) FORMAT Native")], body=data))
    assert endpoint.engine.calls == [
        ("insert", "INSERT INTO t (a)", "Native", data, Context({}, None))
    ]


def test_body_insert_data_starts_after_the_format_line(endpoint):
    endpoint.handle(request(body=b"INSERT INTO t FORMAT CSV\n1,\xc3\xa9\n"))
    assert endpoint.engine.calls[0][1:4] == ("INSERT INTO t", "CSV", b"1,\xc3\xa9\n")


def test_settings_and_params_are_passed_per_request(endpoint):
    endpoint.handle(
        request(
            body=b"SELECT {x:String}",
            params=[("param_x", "it's"), ("max_threads", "1"), ("database", "db1")],
        )
    )
    _, _, _, params, ctx = endpoint.engine.calls[0]
    assert params == {"x": "it's"}
    assert ctx == Context({"max_threads": "'1'"}, "db1")


def test_session_set_persists_only_in_that_session(endpoint):
    assert (
        endpoint.handle(request(body=b"SET max_threads = 1", params=[("session_id", "s")])).status
        == 200
    )
    endpoint.handle(request(body=b"SELECT 1", params=[("session_id", "s")]))
    endpoint.handle(request(body=b"SELECT 1", params=[("session_id", "other")]))
    endpoint.handle(request(body=b"SELECT 1"))
    contexts = [c[4] for c in endpoint.engine.calls if c[0] == "query"]
    assert contexts == [Context({"max_threads": "1"}, None), Context({}, None), Context({}, None)]


def test_set_without_session_does_not_persist(endpoint):
    endpoint.handle(request(body=b"SET max_threads = 1"))
    endpoint.handle(request(body=b"SELECT 1"))
    assert endpoint.engine.calls[-1][4] == Context({}, None)


def test_invalid_session_set_is_rejected_and_not_stored(endpoint):
    reply = endpoint.handle(request(body=b"SET bogus = 1", params=[("session_id", "s")]))
    assert reply.status == 404 and b"(UNKNOWN_SETTING)" in reply.body
    endpoint.handle(request(body=b"SELECT 1", params=[("session_id", "s")]))
    assert endpoint.engine.calls[-1][4] == Context({}, None)


def test_session_use_sets_the_database(endpoint):
    endpoint.handle(request(body=b"USE `db2`", params=[("session_id", "s")]))
    endpoint.handle(request(body=b"SELECT 1", params=[("session_id", "s")]))
    assert endpoint.engine.calls[-1][4].database == "db2"


@pytest.mark.parametrize(
    ("method", "headers", "sql"),
    [
        ("POST", {}, b"CREATE TABLE t (a Int8) ENGINE = Memory"),
        ("POST", {}, b"INSERT INTO t FORMAT CSV\n1\n"),
        ("GET", AUTH, b"DROP TABLE t"),
        ("POST", {}, b"SELECT 1 INTO OUTFILE '/tmp/x'"),
    ],
)
def test_read_only_requests_refuse_writes(endpoint, method, headers, sql):
    params = [("query", sql.decode())] if method == "GET" else []
    body = None if method == "GET" else sql
    reply = endpoint.handle(request(method, params, body, headers))
    assert reply.status == 500 and reply.headers["X-ClickHouse-Exception-Code"] == "164"
    assert not [c for c in endpoint.engine.calls if c[0] in ("query", "insert")]


def test_anonymous_get_select_runs(endpoint):
    reply = endpoint.handle(request("GET", [("query", "SELECT 1")], headers={}))
    assert reply.status == 200 and reply.user == "default"


def test_readonly_setting_param_makes_the_request_read_only(endpoint):
    reply = endpoint.handle(request(body=b"DROP TABLE t", params=[("readonly", "1")]))
    assert reply.headers["X-ClickHouse-Exception-Code"] == "164"


def test_unparseable_query_reaches_the_engine_for_its_syntax_error(endpoint):
    endpoint.handle(request("GET", [("query", "SELEC 1")], headers={}))
    assert endpoint.engine.calls[0][1] == "SELEC 1"


def test_multi_statements_are_refused(endpoint):
    reply = endpoint.handle(request(body=b"SELECT 1; DROP TABLE t"))
    assert reply.status == 400 and b"Multi-statements are not allowed" in reply.body


def test_wrong_password(endpoint):
    headers = {"authorization": "Basic " + base64.b64encode(b"app:nope").decode()}
    reply = endpoint.handle(request(body=b"SELECT 1", headers=headers))
    assert reply.status == 403 and reply.headers["X-ClickHouse-Exception-Code"] == "516"


def test_bare_get_and_ping_answer_ok(endpoint):
    assert endpoint.handle(request("GET", headers={})).body == b"Ok.\n"
    ping = request("GET", headers={})
    ping.path = "/ping"
    assert endpoint.handle(ping).body == b"Ok.\n"


def test_empty_post_is_a_syntax_error(endpoint):
    reply = endpoint.handle(request(body=b"  "))
    assert reply.headers["X-ClickHouse-Exception-Code"] == "62"


def test_response_compressed_only_when_enabled_and_accepted(endpoint):
    headers = {**AUTH, "accept-encoding": "gzip"}
    on = endpoint.handle(request(body=b"SELECT 1", headers=headers))
    off = endpoint.handle(
        request(body=b"SELECT 1", headers=headers, params=[("enable_http_compression", "0")])
    )
    assert on.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in off.headers and off.body == b"result\n"


def test_multipart_form_fields_become_params(endpoint):
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="query"\r\n\r\n'
        "SELECT {x:String}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="param_x"\r\n\r\n'
        "long value\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    headers = {**AUTH, "content-type": f"multipart/form-data; boundary={boundary}"}
    endpoint.handle(request(body=body, headers=headers))
    assert endpoint.engine.calls[0][1:4] == (
        "SELECT {x:String}",
        "TabSeparated",
        {"x": "long value"},
    )
