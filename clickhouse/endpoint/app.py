"""One HTTP request in, one ClickHouse-shaped reply out (no sockets here)."""

from __future__ import annotations

import email.parser
import email.policy
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from . import codecs
from .engine import Context, Engine, Outcome
from .errors import ClickHouseError, error_body, http_status_for
from .protocol import (
    Principal,
    RequestParams,
    authenticate,
    content_type_for,
    extract_credentials,
    readonly_error,
    split_params,
    summary_header,
)
from .sessions import Session, SessionStore
from .sqltext import (
    InsertWithData,
    format_clause,
    is_read_only,
    is_setting_name,
    is_statement,
    parse_insert_with_data,
    parse_set,
    string_literal,
    tokens,
)

DEFAULT_FORMAT = "TabSeparated"
INSERT_HEAD_PREFIX = 1 << 20  # an INSERT head with inline data must start within this prefix
CHUNK = 1 << 20
OK_PATHS = {"/ping", "/replicas_status"}


@dataclass
class Request:
    method: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    # Reads the whole body through a decoder into a rewindable file; None without a body.
    read_body: Callable[[codecs.Decoder | None], BinaryIO | None]


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    user: str = "-"
    query_id: str = "-"
    query: str = ""
    unexpected: Exception | None = None


@dataclass
class _Statement:
    sql: str | None = None
    insert: InsertWithData | None = None
    data: Callable[[], Iterator[bytes]] | None = None


class Endpoint:
    def __init__(self, engine: Engine, user: str, password: str, display_name: str):
        self.engine = engine
        self.user = user
        self.password = password
        self.display_name = display_name
        self.sessions = SessionStore()

    def handle(self, req: Request) -> Reply:
        reply = Reply(200, b"")
        query_id = str(uuid.uuid4())
        try:
            bare_get = req.path == "/" and req.method == "GET" and not _has_query(req)
            if req.path in OK_PATHS or bare_get:
                return _ok_reply()
            if req.path != "/":
                raise ClickHouseError.of("UNKNOWN_TYPE_OF_QUERY", f"There is no handle {req.path}")
            params = dict(req.params)
            creds = extract_credentials(req.headers, params)
            reply.user = creds.user
            principal = authenticate(creds, self.user, self.password)
            reply.user = principal.user
            body = req.read_body(codecs.body_decoder(req.headers.get("content-encoding")))
            pairs, body = _merge_form(req, body)
            rp = split_params(pairs)
            query_id = rp.query_id or query_id
            reply = self._with_session(req, rp, principal, body, reply)
        except ClickHouseError as error:
            reply = self._error(error, reply)
        except Exception as exc:  # an endpoint bug must still answer like a server; logged
            reply = self._error(
                ClickHouseError.of("UNKNOWN_EXCEPTION", f"{type(exc).__name__}: {exc}"), reply
            )
            reply.unexpected = exc
        reply.query_id = query_id
        reply.headers["X-ClickHouse-Query-Id"] = query_id
        return reply

    # -- request flow ----------------------------------------------------------------------

    def _with_session(self, req, rp: RequestParams, principal, body, reply: Reply) -> Reply:
        session = None
        if rp.session_id:
            session = self.sessions.acquire(
                principal.user, rp.session_id, rp.session_timeout, rp.session_check
            )
        try:
            return self._run(req, rp, principal, session, body, reply)
        finally:
            if session is not None:
                self.sessions.release(session)

    def _run(self, req, rp, principal: Principal, session: Session | None, body, reply: Reply):
        read_only = principal.read_only or req.method == "GET"
        readonly_param = rp.settings.pop("readonly", None)
        if readonly_param not in (None, "0") or (session is not None and session.read_only):
            read_only = True
        ctx = Context(
            settings={
                **(session.settings if session else {}),
                **{k: string_literal(v) for k, v in rp.settings.items()},
            },
            database=rp.database or (session.database if session else None),
        )
        stmt = _statement(rp.query, body)
        reply.query = stmt.sql or (stmt.insert.head if stmt.insert else "")
        if stmt.sql is None and stmt.insert is None:
            if req.method == "GET":
                return _ok_reply(reply.user)
            raise ClickHouseError.of("SYNTAX_ERROR", "Empty query")
        fmt = rp.default_format or DEFAULT_FORMAT
        if stmt.insert is not None:
            if read_only:
                raise readonly_error(principal.user, req.method)
            insert = stmt.insert
            outcome = self.engine.insert(insert.head, insert.input_format, stmt.data(), ctx)
        elif is_statement(stmt.sql, "SET"):
            outcome = self._set(stmt.sql, session, ctx, read_only, principal.user)
        elif is_statement(stmt.sql, "USE"):
            outcome = self._use(stmt.sql, session, ctx)
        else:
            self._check_statement(stmt.sql, read_only, principal.user, req.method)
            fmt = format_clause(stmt.sql) or fmt
            outcome = self.engine.query(stmt.sql, fmt, rp.query_params, ctx)
        return self._success(outcome, fmt, req, rp, session, reply)

    def _check_statement(self, sql: str, read_only: bool, user: str, method: str) -> None:
        engine_read_only, count = self.engine.classify(sql)
        if count > 1:
            raise ClickHouseError.of(
                "SYNTAX_ERROR", "Syntax error (Multi-statements are not allowed)"
            )
        # count == 0: the engine cannot parse it; running it returns ClickHouse's syntax error.
        if read_only and count > 0 and not (is_read_only(sql) and engine_read_only):
            raise readonly_error(user, method)

    def _set(self, sql, session, ctx: Context, read_only: bool, user: str):
        try:
            assignments = parse_set(sql)
        except ValueError as exc:
            raise ClickHouseError.of("SYNTAX_ERROR", f"Syntax error: {exc}") from None
        changes: dict[str, str] = {}
        make_read_only = False
        for name, literal in assignments:
            if not is_setting_name(name):
                raise ClickHouseError.of("SYNTAX_ERROR", f"Syntax error: bad setting name {name}")
            if name == "readonly":
                level = literal.strip("'\" ")
                if read_only and level == "0":
                    raise ClickHouseError.of(
                        "READONLY", "Cannot modify 'readonly' setting in readonly mode"
                    )
                make_read_only = level != "0"
            else:
                changes[name] = literal
        self.engine.validate(Context({**ctx.settings, **changes}, ctx.database))
        # Without a session, SET lasts for this request only, as in ClickHouse.
        if session is not None:
            session.settings.update(changes)
            session.read_only = session.read_only or make_read_only
        return Outcome()

    def _use(self, sql: str, session, ctx: Context):
        words = list(tokens(sql))
        if len(words) != 2 or words[1].kind not in ("word", "ident"):
            raise ClickHouseError.of("SYNTAX_ERROR", "Syntax error: expected USE <database>")
        database = words[1].text.strip('`"')
        self.engine.validate(Context(ctx.settings, database))
        if session is not None:
            session.database = database
        return Outcome()

    # -- replies -----------------------------------------------------------------------------

    def _base_headers(self) -> dict[str, str]:
        return {
            "X-ClickHouse-Server-Display-Name": self.display_name,
            "X-ClickHouse-Timezone": self.engine.timezone,
        }

    def _success(self, outcome, fmt: str, req: Request, rp, session, reply: Reply) -> Reply:
        headers = self._base_headers()
        headers["Content-Type"] = content_type_for(fmt)
        headers["X-ClickHouse-Format"] = fmt
        body = outcome.data
        stats = dict(outcome.stats)
        stats["result_bytes"] = len(body)
        headers["X-ClickHouse-Summary"] = summary_header(stats)
        encoding = self._response_encoding(req, rp, session)
        if encoding and body:
            body = codecs.encode(body, encoding)
            headers["Content-Encoding"] = encoding
        return Reply(200, body, headers, reply.user, query=reply.query)

    def _response_encoding(self, req: Request, rp: RequestParams, session) -> str | None:
        setting = rp.settings.get("enable_http_compression")
        if setting is None and session is not None:
            setting = session.settings.get("enable_http_compression")
        if setting is None:
            setting = self.engine.http_compression_default
        if setting.strip("'\" ").lower() not in ("1", "true"):
            return None
        return codecs.choose_response_encoding(req.headers.get("accept-encoding"))

    def _error(self, error: ClickHouseError, reply: Reply) -> Reply:
        headers = self._base_headers()
        headers["Content-Type"] = "text/plain; charset=UTF-8"
        headers["X-ClickHouse-Exception-Code"] = str(error.code)
        body = error_body(error, self.engine.version)
        return Reply(http_status_for(error), body, headers, reply.user, query=reply.query)


def _ok_reply(user: str = "-") -> Reply:
    return Reply(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"}, user)


def _has_query(req: Request) -> bool:
    return any(k == "query" for k, _ in req.params)


def _merge_form(req: Request, body: BinaryIO | None):
    """Fold a multipart form body into the parameters, as ClickHouse does.

    Other bodies are the query or its data whatever their Content-Type (curl --data-binary
    sends application/x-www-form-urlencoded, and ClickHouse treats that body as the query).
    """
    content_type = req.headers.get("content-type", "")
    pairs = list(req.params)
    if body is None or req.method != "POST":
        return pairs, body
    if content_type.startswith("multipart/form-data"):
        raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body.read()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                raise ClickHouseError.of(
                    "NOT_IMPLEMENTED",
                    f"External data (file field '{name}') is not supported by this endpoint",
                )
            pairs.append((name, part.get_payload(decode=True).decode()))
        return pairs, None
    return pairs, body


def _statement(url_query: str | None, body: BinaryIO | None) -> _Statement:
    """Find the statement and any inline INSERT data in the URL query and the body."""
    if url_query:
        insert = parse_insert_with_data(url_query)
        if insert is not None:
            tail = url_query[insert.data_offset :].encode()
            return _Statement(insert=insert, data=lambda: _chunks(body, 0, tail))
        if body is not None:
            rest = _utf8(body.read())
            return _Statement(sql=url_query + ("\n" + rest if rest else ""))
        return _Statement(sql=url_query)
    if body is None:
        return _Statement()
    prefix = body.read(INSERT_HEAD_PREFIX).decode("latin-1")
    insert = parse_insert_with_data(prefix)
    if insert is not None:
        head = prefix[: len(insert.head)].encode("latin-1").decode("utf-8")
        insert = InsertWithData(head, insert.input_format, insert.data_offset)
        return _Statement(insert=insert, data=lambda: _chunks(body, insert.data_offset, b""))
    sql = _utf8(prefix.encode("latin-1") + body.read())
    return _Statement(sql=sql if sql.strip() else None)


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClickHouseError.of(
            "BAD_ARGUMENTS", f"The query is not valid UTF-8 (byte {exc.start})"
        ) from None


def _chunks(body: BinaryIO | None, offset: int, first: bytes) -> Iterator[bytes]:
    if first:
        yield first + (b"\n" if body is not None else b"")
    if body is None:
        return
    body.seek(offset)
    while chunk := body.read(CHUNK):
        yield chunk
