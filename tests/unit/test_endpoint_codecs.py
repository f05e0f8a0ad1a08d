"""Content-Encoding handling of the local endpoint."""

import pytest

from clickhouse.endpoint import codecs
from clickhouse.endpoint.errors import ClickHouseError

PAYLOAD = b"1,abc\n" * 50_000 + bytes(range(256))
ENCODINGS = ["gzip", "deflate", "zstd", "lz4", "xz", "bz2"] + (["br"] if codecs.brotli else [])


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_body_decoder_reverses_the_encoding_fed_in_pieces(encoding):
    encoded = codecs.encode(PAYLOAD, encoding)
    decoder = codecs.body_decoder(encoding)
    pieces = [decoder.feed(encoded[i : i + 777]) for i in range(0, len(encoded), 777)]
    assert b"".join(pieces) + decoder.finish() == PAYLOAD


@pytest.mark.parametrize("encoding", ["lz4", "zstd", "gzip"])
def test_concatenated_frames_decode_like_clickhouse_connect_sends_them(encoding):
    from clickhouse_connect.driver.compression import get_compressor

    compressor = get_compressor(encoding)
    blocks = [PAYLOAD[:100_000], PAYLOAD[100_000:]]
    encoded = b"".join(compressor.compress_block(block) for block in blocks)
    encoded += compressor.flush() or b""
    decoder = codecs.body_decoder(encoding)
    pieces = [decoder.feed(encoded[i : i + 5000]) for i in range(0, len(encoded), 5000)]
    assert b"".join(pieces) + decoder.finish() == PAYLOAD


@pytest.mark.parametrize("value", [None, "", "identity"])
def test_plain_bodies_need_no_decoder(value):
    assert codecs.body_decoder(value) is None


def test_unknown_encoding_is_a_clear_error():
    with pytest.raises(ClickHouseError) as caught:
        codecs.body_decoder("snappy")
    assert caught.value.name == "UNKNOWN_COMPRESSION_METHOD"
    assert "snappy" in caught.value.message and "gzip" in caught.value.message


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("gzip", "gzip"),
        ("lz4,zstd,gzip,deflate", "zstd"),
        ("gzip, deflate;q=0.5", "gzip"),
        ("gzip;q=0, deflate", "deflate"),
        ("identity", None),
        (None, None),
        ("x-gzip", "gzip"),
    ],
)
def test_response_encoding_choice(accept, chosen):
    assert codecs.choose_response_encoding(accept) == chosen
