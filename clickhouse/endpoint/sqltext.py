"""Just enough SQL lexing to route a request (pure, no I/O).

The engine parses every statement itself; this module only finds what the HTTP layer
must know before running it: where an INSERT's inline data starts and in which format,
the FORMAT clause of a query, whether a statement only reads, and SET assignments.
Text is handled as str; binary request bodies are decoded as latin-1 so that character
offsets equal byte offsets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z0-9_$\x80-\U0010ffff]+")
_READ_ONLY_KEYWORDS = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN"}
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Token:
    kind: str  # word | string | ident (quoted identifier) | punct
    text: str
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def _skip_quoted(sql: str, pos: int, quote: str) -> int:
    """Index just past the closing quote (backslash escapes and doubled quotes allowed)."""
    i = pos + 1
    while i < len(sql):
        ch = sql[i]
        if ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < len(sql) and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return len(sql)


def _skip_space_and_comments(sql: str, pos: int) -> int:
    while pos < len(sql):
        if sql[pos].isspace():
            pos += 1
        elif sql.startswith("--", pos) or sql.startswith("#", pos):
            newline = sql.find("\n", pos)
            pos = len(sql) if newline < 0 else newline + 1
        elif sql.startswith("/*", pos):
            close = sql.find("*/", pos + 2)
            pos = len(sql) if close < 0 else close + 2
        else:
            return pos
    return pos


def tokens(sql: str, start: int = 0) -> Iterator[Token]:
    """Lazily lex sql from start; stops at the end (callers stop early on large bodies)."""
    pos = start
    while True:
        pos = _skip_space_and_comments(sql, pos)
        if pos >= len(sql):
            return
        ch = sql[pos]
        if ch == "'":
            end = _skip_quoted(sql, pos, ch)
            yield Token("string", sql[pos:end], pos, end)
        elif ch in '`"':
            end = _skip_quoted(sql, pos, ch)
            yield Token("ident", sql[pos:end], pos, end)
        elif match := _WORD.match(sql, pos):
            end = match.end()
            yield Token("word", match.group(), pos, end)
        else:
            end = pos + 1
            yield Token("punct", ch, pos, end)
        pos = end


@dataclass(frozen=True)
class InsertWithData:
    """An INSERT whose rows follow the statement: head runs, data_offset starts the rows."""

    head: str  # "INSERT INTO t (a, b) [SETTINGS ...]", without FORMAT/VALUES
    input_format: str
    data_offset: int


def _data_start(sql: str, pos: int) -> int:
    """ClickHouse: data starts after the first newline if one follows, else after whitespace."""
    i = pos
    while i < len(sql) and sql[i] in " \t\r\n\f\v":
        if sql[i] == "\n":
            return i + 1
        i += 1
    return i


def parse_insert_with_data(sql: str) -> InsertWithData | None:
    """Split "INSERT INTO t [(cols)] [SETTINGS ..] FORMAT F <data>" or "... VALUES <data>".

    Returns None for anything else (including INSERT ... SELECT, which runs as a query).
    """
    lexed = tokens(sql)
    first = next(lexed, None)
    if first is None or not first.is_word("INSERT"):
        return None
    depth = 0
    after_target = False
    for tok in lexed:
        if tok.kind == "punct" and tok.text == "(":
            depth += 1
        elif tok.kind == "punct" and tok.text == ")":
            depth -= 1
        elif depth == 0 and tok.is_word("FORMAT") and after_target:
            fmt = next(lexed, None)
            if fmt is None or fmt.kind != "word":
                return None
            return InsertWithData(sql[: tok.start].rstrip(), fmt.text, _data_start(sql, fmt.end))
        elif depth == 0 and tok.is_word("VALUES") and after_target:
            return InsertWithData(sql[: tok.start].rstrip(), "Values", tok.end)
        elif depth == 0 and after_target and tok.is_word("SELECT", "WITH"):
            return None
        if depth == 0 and not tok.is_word("INTO", "TABLE", "FUNCTION") and tok.text != ".":
            after_target = True
    return None


def format_clause(sql: str) -> str | None:
    """The output format named by a trailing "FORMAT X" clause of a query, if any.

    A FORMAT clause is followed only by the end, ";" or SETTINGS, which keeps a column
    called "format" from being taken for one.
    """
    found = None
    depth = 0
    lexed = list(tokens(sql))
    for i, tok in enumerate(lexed):
        if tok.kind == "punct" and tok.text in "()":
            depth += 1 if tok.text == "(" else -1
            continue
        if depth or not tok.is_word("FORMAT") or i + 1 >= len(lexed):
            continue
        name = lexed[i + 1]
        follower = lexed[i + 2] if i + 2 < len(lexed) else None
        if name.kind == "word" and (
            follower is None or follower.text == ";" or follower.is_word("SETTINGS")
        ):
            found = name.text
    return found


def is_read_only(sql: str) -> bool:
    """True for statements ClickHouse allows in readonly mode (SELECT, SHOW, DESCRIBE, ...)."""
    words = []
    for tok in tokens(sql):
        if tok.kind == "punct" and tok.text == "(" and not words:
            continue
        words.append(tok)
    if not words or not words[0].is_word(*_READ_ONLY_KEYWORDS):
        return False
    return not any(
        (a.is_word("INTO") and b.is_word("OUTFILE")) or _is_table_function(a, b, c)
        for a, b, c in zip(words, words[1:], words[2:], strict=False)
    )


def _is_table_function(before, name, paren) -> bool:
    """`FROM file(...)`, `JOIN url(...)`: table functions are refused in readonly mode, as in
    ClickHouse; chDB would otherwise let an anonymous SELECT read any file the process can."""
    return (
        before.is_word("FROM", "JOIN")
        and name.kind == "word"
        and paren.kind == "punct"
        and paren.text == "("
    )


def is_statement(sql: str, keyword: str) -> bool:
    first = next(tokens(sql), None)
    return first is not None and first.is_word(keyword)


def parse_set(sql: str) -> list[tuple[str, str]]:
    """ "SET a = 1, b = 'x'" -> [("a", "1"), ("b", "'x'")] with values as SQL literal text."""
    lexed = list(tokens(sql))
    if not lexed or not lexed[0].is_word("SET"):
        raise ValueError("not a SET statement")
    assignments: list[tuple[str, str]] = []
    i = 1
    while i < len(lexed):
        name, equals = lexed[i], lexed[i + 1] if i + 1 < len(lexed) else None
        if name.kind != "word" or equals is None or equals.text != "=":
            raise ValueError(f"cannot parse SET near position {name.start}")
        depth, j = 0, i + 2
        while j < len(lexed) and not (depth == 0 and lexed[j].text in (",", ";")):
            if lexed[j].kind == "punct" and lexed[j].text in "([{":
                depth += 1
            elif lexed[j].kind == "punct" and lexed[j].text in ")]}":
                depth -= 1
            j += 1
        if j == i + 2:
            raise ValueError(f"SET {name.text} has no value")
        assignments.append((name.text, sql[lexed[i + 2].start : lexed[j - 1].end]))
        if j < len(lexed) and lexed[j].text == ";":
            break
        i = j + 1
    if not assignments:
        raise ValueError("SET without assignments")
    return assignments


def is_setting_name(name: str) -> bool:
    return bool(_SETTING_NAME.match(name))


def string_literal(value: str) -> str:
    """A ClickHouse single-quoted string literal for value."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
