"""The threaded HTTP server: sockets, bodies, logging and shutdown around app.Endpoint."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO
from urllib.parse import parse_qsl, urlsplit

from .app import Endpoint, Reply, Request
from .codecs import Decoder
from .errors import ClickHouseError

log = logging.getLogger("clickhouse.endpoint")

SPOOL_IN_MEMORY = 16 << 20  # request bodies above this go to a temporary file
READ_CHUNK = 1 << 20


class EndpointServer(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not block shutdown
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], endpoint: Endpoint):
        self.endpoint = endpoint
        self._in_flight = 0
        self._idle = threading.Condition()
        super().__init__(address, Handler)

    def track(self, delta: int) -> None:
        with self._idle:
            self._in_flight += delta
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes; avoid 40 ms stalls
    server_version = "ClickHouse-chDB-endpoint"
    server: EndpointServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        log.debug(format, *args)

    def _serve(self) -> None:
        self.server.track(+1)
        started = time.monotonic()
        self._body_consumed = False
        try:
            url = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=url.path,
                params=parse_qsl(url.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                read_body=self._read_body,
            )
            reply = self.server.endpoint.handle(request)
            if not self._body_consumed and self._has_body():
                self.close_connection = True  # the unread body would be taken for a request
            self._send(reply)
            _log_request(self.command, reply, time.monotonic() - started)
        finally:
            self.server.track(-1)

    # -- request body ---------------------------------------------------------------------------

    _body_consumed = False
    timeout = 30  # seconds an idle keep-alive connection is kept (clients are told 10)

    def _has_body(self) -> bool:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        return chunked or int(self.headers.get("Content-Length") or 0) > 0

    def _read_body(self, decoder: Decoder | None) -> BinaryIO | None:
        self._body_consumed = True
        if not self._has_body():
            return None
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = int(self.headers.get("Content-Length") or 0)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        pieces = self._chunked_pieces() if chunked else self._length_pieces(length)
        try:
            for piece in pieces:
                spool.write(decoder.feed(piece) if decoder else piece)
            if decoder:
                spool.write(decoder.finish())
        except ClickHouseError:
            raise
        except Exception as exc:  # zlib.error, LZ4/zstd errors: all mean a corrupt body
            for _ in pieces:  # drain so the connection stays usable
                pass
            raise ClickHouseError.of(
                "CANNOT_DECOMPRESS", f"Cannot decode request body: {type(exc).__name__}: {exc}"
            ) from None
        spool.seek(0)
        return spool

    def _length_pieces(self, length: int):
        remaining = length
        while remaining > 0:
            piece = self.rfile.read(min(READ_CHUNK, remaining))
            if not piece:
                raise ConnectionError("client closed the connection mid-body")
            remaining -= len(piece)
            yield piece

    def _chunked_pieces(self):
        while True:
            size_line = self.rfile.readline(1024)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            yield self.rfile.read(size)
            self.rfile.readline(16)  # CRLF after each chunk

    # -- response -------------------------------------------------------------------------------

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        else:
            self.send_header("Keep-Alive", "timeout=10")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


def _log_request(method: str, reply: Reply, seconds: float) -> None:
    query = " ".join(reply.query[:200].split())
    log.info(
        "%s user=%s query_id=%s status=%d %.1fms %s",
        method,
        reply.user,
        reply.query_id,
        reply.status,
        seconds * 1000,
        query,
    )
    if reply.unexpected is not None:
        log.error(
            "unexpected error:\n%s",
            "".join(traceback.format_exception(reply.unexpected)),
        )
