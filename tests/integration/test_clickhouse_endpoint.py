"""The local ClickHouse HTTP endpoint over chDB, driven like a real server.

Each test module run starts `python -m clickhouse.endpoint` on a free port with a fresh
data path, then talks to it with clickhouse-connect and raw urllib.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import clickhouse_connect
import lz4.frame
import pytest
import zstandard
from clickhouse_connect.driver.exceptions import DatabaseError

from clickhouse.endpoint import codecs
from clickhouse.endpoint.errors import ERROR_CODES

pytestmark = pytest.mark.integration

USER = "app"
PASSWORD = "p@ss:w0rd'\\"
ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 60


@dataclass
class Endpoint:
    port: int
    data_path: Path
    log_path: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def client(self, **kwargs):
        kwargs.setdefault("compress", True)
        return clickhouse_connect.get_client(
            host="127.0.0.1", port=self.port, username=USER, password=PASSWORD, **kwargs
        )

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_endpoint(data_path: Path) -> Endpoint:
    port = _free_port()
    log_path = data_path.parent / f"{data_path.name}-{port}.log"
    env = {**os.environ, "CLICKHOUSE_PASSWORD": PASSWORD}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clickhouse.endpoint",
                "--data-path",
                str(data_path),
                "--port",
                str(port),
                "--user",
                USER,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = Endpoint(port, data_path, log_path, process)
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"endpoint exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(endpoint.url + "ping", timeout=2) as resp:
                if resp.read() == b"Ok.\n":
                    return endpoint
        except OSError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(
        f"endpoint not answering /ping after {START_DEADLINE_S}s:\n{log_path.read_text()[-3000:]}"
    )


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    ep = start_endpoint(tmp_path_factory.mktemp("chdb") / "data")
    yield ep
    if ep.process.poll() is None:
        assert ep.stop() == 0


@pytest.fixture(scope="module")
def client(endpoint):
    return endpoint.client()


def http(endpoint, sql=None, *, body=None, params=None, headers=None, auth=True, method=None):
    """A raw request; returns (status, headers, body) for success and error alike."""
    query = dict(params or {})
    if sql is not None:
        query["query"] = sql
    url = endpoint.url + ("?" + urllib.parse.urlencode(query) if query else "")
    req = urllib.request.Request(
        url, data=body, method=method or ("POST" if body is not None else "GET")
    )
    if auth:
        req.add_header("X-ClickHouse-User", USER)
        req.add_header("X-ClickHouse-Key", PASSWORD)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


ERROR_BODY = re.compile(
    r"^Code: (\d+)\. DB::Exception: (.+)\. \(([A-Z_0-9]+)\) \(version 26\.9[0-9.]*\)\n$", re.S
)

# ---------------------------------------------------------------- plain HTTP, curl style


def test_root_and_ping_answer_ok(endpoint):
    for path in ("", "ping"):
        with urllib.request.urlopen(endpoint.url + path) as resp:
            assert resp.status == 200 and resp.read() == b"Ok.\n"


def test_curl_style_anonymous_select(endpoint):
    status, headers, body = http(endpoint, "SELECT 1", auth=False)
    assert (status, body) == (200, b"1\n")
    assert headers["X-ClickHouse-Format"] == "TabSeparated"
    assert headers["Content-Type"].startswith("text/tab-separated-values")


@pytest.mark.parametrize(
    ("sql", "auth", "method"),
    [
        ("CREATE TABLE anon_t (a Int8) ENGINE = Memory", False, "POST"),
        ("CREATE TABLE get_t (a Int8) ENGINE = Memory", True, "GET"),
    ],
)
def test_writes_are_refused_when_read_only(endpoint, sql, auth, method):
    body = sql.encode() if method == "POST" else None
    status, headers, text = http(
        endpoint, None if body else sql, body=body, auth=auth, method=method
    )
    match = ERROR_BODY.match(text.decode())
    assert status == 500 and match and match[1] == "164" and match[3] == "READONLY"
    assert headers["X-ClickHouse-Exception-Code"] == "164"


@pytest.mark.parametrize(
    ("sql", "params", "status", "code", "name"),
    [
        ("SELEC 1", {}, 400, 62, "SYNTAX_ERROR"),
        ("SELECT * FROM no_such_table", {}, 404, 60, "UNKNOWN_TABLE"),
        ("SELECT 1", {"database": "no_such_db"}, 404, 81, "UNKNOWN_DATABASE"),
        ("SELECT 1", {"no_such_setting": "1"}, 404, 115, "UNKNOWN_SETTING"),
        ("SELECT toUInt8('x')", {}, 400, 6, "CANNOT_PARSE_TEXT"),
        ("SELECT throwIf(1, 'boom')", {}, 500, 395, "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO"),
    ],
)
def test_error_shape_and_status(endpoint, sql, params, status, code, name):
    got_status, headers, body = http(endpoint, body=sql.encode(), params=params)
    match = ERROR_BODY.match(body.decode())
    assert match, body
    assert (got_status, int(match[1]), match[3]) == (status, code, name)
    assert headers["X-ClickHouse-Exception-Code"] == str(code)


def test_wrong_password_is_403_with_516(endpoint):
    req_headers = {"Authorization": "Basic " + base64.b64encode(b"app:nope").decode()}
    status, headers, body = http(endpoint, body=b"SELECT 1", auth=False, headers=req_headers)
    assert status == 403 and headers["X-ClickHouse-Exception-Code"] == "516"
    assert b"app: Authentication failed" in body


def test_error_code_table_matches_the_engine(client):
    names = client.query(
        "SELECT arrayMap(c -> errorCodeToName(c), {codes:Array(UInt32)})",
        parameters={"codes": list(ERROR_CODES.values())},
    ).result_rows[0][0]
    assert names == list(ERROR_CODES)


def test_response_headers(endpoint):
    status, headers, body = http(
        endpoint,
        body=b"SELECT number FROM numbers(5) FORMAT JSONEachRow",
        params={"query_id": "my-query-1"},
    )
    assert status == 200 and body.count(b"\n") == 5
    assert headers["X-ClickHouse-Query-Id"] == "my-query-1"
    assert headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert headers["X-ClickHouse-Timezone"]
    assert headers["X-ClickHouse-Server-Display-Name"] == socket.gethostname()
    summary = json.loads(headers["X-ClickHouse-Summary"])
    assert summary["read_rows"] == "5" and summary["result_bytes"] == str(len(body))


@pytest.mark.parametrize(
    "encoding", ["gzip", "deflate", "zstd", "lz4"] + (["br"] if codecs.brotli else [])
)
def test_response_compression(endpoint, encoding):
    sql = b"SELECT number, toString(number) FROM numbers(10000)"
    _, _, plain = http(
        endpoint,
        body=sql,
        params={"enable_http_compression": "0"},
        headers={"Accept-Encoding": encoding},
    )
    status, headers, packed = http(
        endpoint,
        body=sql,
        params={"enable_http_compression": "1"},
        headers={"Accept-Encoding": encoding},
    )
    assert status == 200 and headers["Content-Encoding"] == encoding
    decoders = {
        "gzip": gzip.decompress,
        "deflate": zlib.decompress,
        "zstd": zstandard.decompress,
        "lz4": lz4.frame.decompress,
        "br": lambda b: codecs.brotli.decompress(b),
    }
    assert decoders[encoding](packed) == plain and plain.count(b"\n") == 10000


# ---------------------------------------------------------------- INSERT bodies


@pytest.fixture(scope="module")
def source_rows(client):
    client.command(
        "CREATE TABLE src (id UInt32, name String, price Decimal(18, 6), tags Array(String)) "
        "ENGINE = MergeTree ORDER BY id"
    )
    client.command(
        "INSERT INTO src SELECT number, concat('n\\t', toString(number), '\\'\"'), "
        "toDecimal64(number / 7, 6), [toString(number), 'x'] FROM numbers(2000)"
    )
    return client.query("SELECT * FROM src ORDER BY id").result_rows


@pytest.mark.parametrize(
    "fmt",
    [
        "Native",
        "RowBinary",
        "RowBinaryWithNamesAndTypes",
        "TabSeparated",
        "CSV",
        "JSONEachRow",
        "Arrow",
        "Parquet",
    ],
)
@pytest.mark.parametrize("encoding", [None, "gzip", "deflate", "zstd", "lz4"])
def test_insert_body_in_format_and_encoding(endpoint, client, source_rows, fmt, encoding):
    table = f"dst_{fmt}_{encoding or 'plain'}".lower()
    client.command(f"CREATE TABLE {table} AS src")
    _, _, data = http(endpoint, body=f"SELECT * FROM src ORDER BY id FORMAT {fmt}".encode())
    headers = {}
    if encoding:
        data = codecs.encode(data, encoding)
        headers["Content-Encoding"] = encoding
    status, resp_headers, body = http(
        endpoint,
        f"INSERT INTO {table} (id, name, price, tags) FORMAT {fmt}",
        body=data,
        headers=headers,
    )
    assert status == 200, body
    assert json.loads(resp_headers["X-ClickHouse-Summary"])["written_rows"] == str(len(source_rows))
    assert client.query(f"SELECT * FROM {table} ORDER BY id").result_rows == source_rows


def test_insert_with_statement_and_data_in_body(endpoint, client):
    client.command("CREATE TABLE body_ins (a UInt8, s String) ENGINE = MergeTree ORDER BY a")
    assert http(endpoint, body=b"INSERT INTO body_ins FORMAT CSV\n1,x\n2,y\n")[0] == 200
    assert http(endpoint, body=b"INSERT INTO body_ins VALUES (3, 'z')")[0] == 200
    assert client.query("SELECT * FROM body_ins ORDER BY a").result_rows == [
        (1, "x"),
        (2, "y"),
        (3, "z"),
    ]


def test_bad_insert_data_is_a_clear_error_and_nothing_is_written(endpoint, client):
    client.command("CREATE TABLE bad_ins (a UInt8) ENGINE = MergeTree ORDER BY a")
    status, _, body = http(endpoint, "INSERT INTO bad_ins FORMAT CSV", body=b"1\nnot-a-number\n")
    match = ERROR_BODY.match(body.decode())
    assert status == 400 and match and "not-a-numb" in match[2], body
    assert client.command("SELECT count() FROM bad_ins") == 0


def test_unsupported_body_encoding_is_refused(endpoint):
    status, _, body = http(endpoint, "SELECT 1", body=b"x", headers={"Content-Encoding": "snappy"})
    assert status == 500 and b"Unsupported Content-Encoding 'snappy'" in body


def test_insert_deduplication_token_inserts_once(client):
    client.command(
        "CREATE TABLE dedup (k UInt32, v String) ENGINE = ReplacingMergeTree ORDER BY k "
        "SETTINGS non_replicated_deduplication_window = 100"
    )
    rows = [[1, "a"], [2, "b"]]
    client.insert("dedup", rows, settings={"insert_deduplication_token": "batch-1"})
    client.insert("dedup", rows, settings={"insert_deduplication_token": "batch-1"})
    assert client.command("SELECT count() FROM dedup") == 2
    client.insert("dedup", [[3, "c"]], settings={"insert_deduplication_token": "batch-2"})
    assert client.command("SELECT count() FROM dedup") == 3


# ---------------------------------------------------------------- clickhouse-connect API

N_ROWS = 100_000
ODD_STRING = "a\x00b\tc\n'\"\\ é ☃ \x7f"


def _typed_rows(n):
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return [
        [
            i,
            Decimal(f"{i}.{i:018d}")
            if i % 7
            else Decimal("-12345678901234567890.123456789012345678"),
            base + dt.timedelta(microseconds=i * 1_234_567),
            ODD_STRING + str(i),
            None if i % 3 == 0 else -i,
            f"lc{i % 5}",
            [i, -i] if i % 2 else [],
        ]
        for i in range(n)
    ]


@pytest.mark.parametrize("compress", [True, False, "zstd", "gzip"])
def test_100k_typed_rows_round_trip(endpoint, compress):
    client = endpoint.client(compress=compress)
    table = f"typed_{str(compress).lower()}"
    client.command(
        f"CREATE TABLE {table} (id UInt64, d Decimal(38, 18), ts DateTime64(6, 'UTC'), "
        "s String, n Nullable(Int64), lc LowCardinality(String), arr Array(Int64)) "
        "ENGINE = MergeTree ORDER BY id"
    )
    rows = _typed_rows(N_ROWS)
    summary = client.insert(table, rows)
    assert summary.written_rows == N_ROWS
    got = client.query(f"SELECT * FROM {table} ORDER BY id").result_rows
    assert len(got) == N_ROWS
    for want, have in zip(rows, got, strict=True):
        ts = have[2] if have[2].tzinfo else have[2].replace(tzinfo=dt.UTC)
        assert (have[0], have[1], ts, have[3], have[4], have[5], have[6]) == tuple(want)


def test_query_df_and_arrow(client):
    df = client.query_df("SELECT number AS n, toString(number) AS s FROM numbers(1000)")
    assert list(df.columns) == ["n", "s"] and df["n"].sum() == sum(range(1000))
    table = client.query_arrow("SELECT number AS n, toDecimal128(number, 4) AS d FROM numbers(10)")
    assert table.num_rows == 10 and table.column("n").to_pylist() == list(range(10))


def test_server_side_parameters(client):
    client.command("CREATE TABLE param_t (a UInt8) ENGINE = Memory")
    client.command("INSERT INTO param_t VALUES (1), (2)")
    row = client.query(
        "SELECT {s:String}, {arr:Array(String)}, {ts:DateTime64(6, 'UTC')}, count() "
        "FROM {tbl:Identifier}",
        parameters={
            "s": "it's a \\ 'quoted' \"thing\"\n",
            "arr": ["x'y", "back\\slash"],
            "ts": dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
            "tbl": "param_t",
        },
    ).result_rows[0]
    assert row[0] == "it's a \\ 'quoted' \"thing\"\n"
    assert row[1] == ["x'y", "back\\slash"]
    assert row[2].replace(tzinfo=None) == dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    assert row[3] == 2


def test_large_parameters_go_through_multipart_form(client):
    big = "x" * 200_000
    assert client.query("SELECT length({p:String})", parameters={"p": big}).result_rows == [
        (200_000,)
    ]


def test_settings_apply_to_one_request_only(endpoint, client):
    baseline = client.command("SELECT getSetting('max_threads')")
    assert client.command("SELECT getSetting('max_threads')", settings={"max_threads": 1}) == 1
    assert client.command("SELECT getSetting('max_threads')") == baseline
    _, _, body = http(endpoint, "SELECT getSetting('max_threads')", params={"max_threads": "1"})
    assert body == b"1\n"
    _, _, body = http(endpoint, "SELECT getSetting('max_threads')")
    assert body == f"{baseline}\n".encode()


def test_session_set_persists_for_that_session_only(endpoint):
    a, b = endpoint.client(), endpoint.client()
    baseline = b.command("SELECT getSetting('max_threads')")
    a.command("SET max_threads = 1")
    assert a.command("SELECT getSetting('max_threads')") == 1
    assert b.command("SELECT getSetting('max_threads')") == baseline
    _, _, body = http(endpoint, "SELECT getSetting('max_threads')")
    assert body == f"{baseline}\n".encode()
    # SET without a session lasts for that request only
    http(endpoint, body=b"SET max_threads = 1")
    assert http(endpoint, "SELECT getSetting('max_threads')")[2] == f"{baseline}\n".encode()


def test_session_check_for_unknown_session(endpoint):
    status, headers, _ = http(
        endpoint, "SELECT 1", params={"session_id": "nope", "session_check": "1"}
    )
    assert status == 500 and headers["X-ClickHouse-Exception-Code"] == "372"


def test_database_parameter_and_session_use(endpoint):
    client = endpoint.client()
    client.command("CREATE DATABASE IF NOT EXISTS other_db")
    client.command("CREATE TABLE other_db.only_here (a UInt8) ENGINE = Memory")
    scoped = endpoint.client(database="other_db")
    assert scoped.command("SELECT currentDatabase()") == "other_db"
    assert scoped.command("EXISTS TABLE only_here") == 1
    client.command("USE other_db")
    assert client.command("SELECT currentDatabase()") == "other_db"
    assert http(endpoint, "SELECT currentDatabase()")[2] == b"default\n"


def test_bad_query_raises_database_error_with_clickhouse_text(client):
    with pytest.raises(DatabaseError) as caught:
        client.query("SELECT * FROM definitely_missing")
    text = str(caught.value)
    assert "Code: 60" in text and "UNKNOWN_TABLE" in text and "definitely_missing" in text


def test_wrong_password_raises_database_error(endpoint):
    with pytest.raises(DatabaseError) as caught:
        clickhouse_connect.get_client(
            host="127.0.0.1", port=endpoint.port, username=USER, password="x"
        )
    assert "516" in str(caught.value) and "AUTHENTICATION_FAILED" in str(caught.value)


# ---------------------------------------------------------------- concurrency and restarts


def _worker(port: int, worker: int, batches: int, result_queue) -> None:
    try:
        client = clickhouse_connect.get_client(
            host="127.0.0.1", port=port, username=USER, password=PASSWORD, compress=worker % 2 == 0
        )
        for batch in range(batches):
            client.insert("conc", [[worker, batch, i] for i in range(1000)])
            client.query(
                "SELECT count(), sum(i) FROM conc WHERE w = {w:UInt8}", parameters={"w": worker}
            )
        result_queue.put((worker, "ok"))
    except Exception as exc:  # reported to the parent, which fails the test
        result_queue.put((worker, repr(exc)))


def test_two_processes_insert_and_query_at_once(endpoint, client):
    client.command(
        "CREATE TABLE conc (w UInt8, b UInt32, i UInt32) ENGINE = MergeTree ORDER BY (w, b, i)"
    )
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(endpoint.port, w, 20, queue)) for w in (1, 2)]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=300) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
    assert results == {1: "ok", 2: "ok"}
    assert client.query("SELECT w, count() FROM conc GROUP BY w ORDER BY w").result_rows == [
        (1, 20_000),
        (2, 20_000),
    ]


def test_data_survives_restart_and_shutdown_is_clean(tmp_path):
    first = start_endpoint(tmp_path / "data")
    client = first.client()
    client.command("CREATE TABLE kept (a UInt32) ENGINE = MergeTree ORDER BY a")
    client.insert("kept", [[i] for i in range(1234)])
    assert first.stop() == 0
    assert "stopped" in first.log_path.read_text()
    second = start_endpoint(tmp_path / "data")
    try:
        rows = second.client().query("SELECT count(), sum(a) FROM kept").result_rows
        assert rows == [(1234, sum(range(1234)))]
    finally:
        assert second.stop() == 0


def test_one_log_line_per_request(endpoint):
    http(endpoint, "SELECT 'log-marker-42'", params={"query_id": "log-q-1"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [line for line in endpoint.log_path.read_text().splitlines() if "log-q-1" in line]
        if lines:
            break
        time.sleep(0.05)
    assert len(lines) == 1
    assert "GET user=app query_id=log-q-1 status=200" in lines[0] and "log-marker-42" in lines[0]
