"""SQL routing helpers of the local ClickHouse endpoint."""

import pytest

from clickhouse.endpoint.sqltext import (
    format_clause,
    is_read_only,
    parse_insert_with_data,
    parse_set,
    string_literal,
)


@pytest.mark.parametrize(
    ("sql", "head", "fmt", "data"),
    [
        ("INSERT INTO t FORMAT CSV\n1,2\n", "INSERT INTO t", "CSV", "1,2\n"),
        ("insert into db.t (a, b) format Native", "insert into db.t (a, b)", "Native", ""),
        # whitespace before the first newline is skipped; data starts after that newline
        ("INSERT INTO t FORMAT TSV  \n\t1\n", "INSERT INTO t", "TSV", "\t1\n"),
        # without a newline, data starts after all whitespace
        ("INSERT INTO t FORMAT CSV   1,2", "INSERT INTO t", "CSV", "1,2"),
        ("INSERT INTO t VALUES (1, 'a')", "INSERT INTO t", "Values", " (1, 'a')"),
        (
            "INSERT INTO t SETTINGS insert_deduplication_token='FORMAT x' FORMAT JSONEachRow\n{}",
            "INSERT INTO t SETTINGS insert_deduplication_token='FORMAT x'",
            "JSONEachRow",
            "{}",
        ),
        ("INSERT INTO `format` FORMAT CSV\n1", "INSERT INTO `format`", "CSV", "1"),
        ("INSERT INTO format FORMAT CSV\n1", "INSERT INTO format", "CSV", "1"),
        (
            "INSERT INTO FUNCTION file('x.csv', 'CSV') FORMAT CSV\n1",
            "INSERT INTO FUNCTION file('x.csv', 'CSV')",
            "CSV",
            "1",
        ),
        (
            "/* c */ INSERT INTO t -- x\n FORMAT RowBinary\n\x00\n",
            "/* c */ INSERT INTO t -- x",
            "RowBinary",
            "\x00\n",
        ),
    ],
)
def test_insert_with_inline_data_is_split_at_the_data(sql, head, fmt, data):
    parsed = parse_insert_with_data(sql)
    assert parsed is not None
    assert (parsed.head, parsed.input_format, sql[parsed.data_offset :]) == (head, fmt, data)


def test_binary_data_bytes_after_the_newline_are_kept():
    # A Native block for 10 columns starts with 0x0A, a newline: it must stay data.
    sql = "INSERT INTO t FORMAT Native\n\n\t\x01"
    parsed = parse_insert_with_data(sql)
    assert sql[parsed.data_offset :] == "\n\t\x01"


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t SELECT * FROM u",
        "INSERT INTO t (a) SELECT 1",
        "INSERT INTO t WITH 1 AS x SELECT x",
        "SELECT 'INSERT INTO t FORMAT CSV'",
        "",
    ],
)
def test_statements_without_inline_data_are_not_split(sql):
    assert parse_insert_with_data(sql) is None


@pytest.mark.parametrize(
    ("sql", "fmt"),
    [
        ("SELECT 1 FORMAT JSONEachRow", "JSONEachRow"),
        ("SELECT 1 FORMAT Native;", "Native"),
        ("SELECT 1 FORMAT CSV SETTINGS max_threads = 1", "CSV"),
        ("SELECT format FROM t", None),
        ("SELECT 'FORMAT JSON'", None),
        ("SELECT * FROM (SELECT 1 FORMAT JSON)", None),
        ("SELECT 1", None),
    ],
)
def test_format_clause(sql, fmt):
    assert format_clause(sql) == fmt


@pytest.mark.parametrize(
    ("sql", "read_only"),
    [
        ("SELECT 1", True),
        ("  (SELECT 1) UNION ALL (SELECT 2)", True),
        ("with 1 as x select x", True),
        ("SHOW TABLES", True),
        ("DESCRIBE TABLE t", True),
        ("DESC t", True),
        ("EXISTS TABLE t", True),
        ("EXPLAIN SELECT 1", True),
        ("-- comment\nSELECT 1", True),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", False),
        ("INSERT INTO t VALUES (1)", False),
        ("CREATE TABLE t (a Int8) ENGINE = Memory", False),
        ("DROP TABLE t", False),
        ("OPTIMIZE TABLE t FINAL", False),
        ("SET max_threads = 1", False),
        ("SELECT * FROM file('/etc/passwd', 'LineAsString')", False),
        ("SELECT 1 FROM t AS a JOIN url('http://x', CSV) AS b ON 1", False),
        ("SELECT count() FROM system.tables WHERE name IN ('a')", True),
        ("SELECT toDate(now()) FROM t", True),
        ("", False),
    ],
)
def test_read_only_classification(sql, read_only):
    assert is_read_only(sql) is read_only


def test_set_assignments_keep_literal_text():
    sql = "SET max_threads = 1, log_comment = 'a, b', additional_table_filters = {'t': 'x=1'};"
    assert parse_set(sql) == [
        ("max_threads", "1"),
        ("log_comment", "'a, b'"),
        ("additional_table_filters", "{'t': 'x=1'}"),
    ]


@pytest.mark.parametrize("sql", ["SET", "SET x", "SET x =", "SET = 1", "SELECT 1"])
def test_malformed_set_is_refused(sql):
    with pytest.raises(ValueError):
        parse_set(sql)


def test_string_literal_escapes_quotes_and_backslashes():
    assert string_literal("it's a \\ test") == "'it\\'s a \\\\ test'"
