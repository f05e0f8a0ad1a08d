"""HTTP Content-Encoding for request bodies and responses, as ClickHouse names them.

lz4 is the LZ4 frame format (what clickhouse-connect sends); deflate is the zlib stream.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable

import lz4.frame
import zstandard

from .errors import ClickHouseError

try:  # brotli is optional: only offered/accepted when the package is installed
    import brotli
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

# The order ClickHouse checks Accept-Encoding in when a client offers several.
_RESPONSE_PREFERENCE = ["zstd", "br", "lz4", "gzip", "deflate", "xz", "bz2"]


class Decoder:
    """Incremental decoder: feed(bytes) -> bytes, then finish() -> bytes.

    Clients may send several concatenated frames/members (clickhouse-connect compresses
    each insert block as its own LZ4 frame), so a finished frame starts a new one.
    """

    def __init__(self, factory: Callable[[], object]):
        self._factory = factory
        self._obj = factory()

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self._obj.decompress(data))
            if not getattr(self._obj, "eof", False):
                break
            data = self._obj.unused_data
            self._obj = self._factory()
        return b"".join(out)

    def finish(self) -> bytes:
        flush = getattr(self._obj, "flush", None)
        return flush() if flush else b""


class _BrotliStream:
    def __init__(self):
        self._obj = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        return self._obj.process(data)


_DECODERS: dict[str, Callable[[], object]] = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "deflate": lambda: zlib.decompressobj(zlib.MAX_WBITS),
    "lz4": lz4.frame.LZ4FrameDecompressor,
    "zstd": lambda: zstandard.ZstdDecompressor().decompressobj(),
    "xz": lzma.LZMADecompressor,
    "bz2": bz2.BZ2Decompressor,
}
if brotli is not None:  # pragma: no branch
    _DECODERS["br"] = _BrotliStream


def _encode_zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


_ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: zlib.compress(data, 3, wbits=16 + zlib.MAX_WBITS),
    "deflate": lambda data: zlib.compress(data, 3),
    "lz4": lambda data: lz4.frame.compress(data),
    "zstd": _encode_zstd,
    "xz": lzma.compress,
    "bz2": bz2.compress,
}
if brotli is not None:  # pragma: no branch
    _ENCODERS["br"] = lambda data: brotli.compress(data, quality=3)


def body_decoder(content_encoding: str | None) -> Decoder | None:
    """A decoder for the request body's Content-Encoding, None when it is not encoded."""
    name = (content_encoding or "").strip().lower()
    if name in ("", "identity", "none"):
        return None
    if name not in _DECODERS:
        supported = ", ".join(sorted(_DECODERS))
        raise ClickHouseError.of(
            "UNKNOWN_COMPRESSION_METHOD",
            f"Unsupported Content-Encoding '{name}' of the request body (supported: {supported})",
        )
    return Decoder(_DECODERS[name])


def choose_response_encoding(accept_encoding: str | None) -> str | None:
    """The best encoding offered by Accept-Encoding that this server can produce."""
    offered = {}
    for part in (accept_encoding or "").split(","):
        name, _, params = part.strip().lower().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if name:
            offered[name] = quality
    if offered.get("x-gzip", 0) > 0 and "gzip" not in offered:
        offered["gzip"] = offered["x-gzip"]
    for name in _RESPONSE_PREFERENCE:
        if offered.get(name, 0) > 0 and name in _ENCODERS:
            return name
    return None


def encode(data: bytes, encoding: str) -> bytes:
    return _ENCODERS[encoding](data)
