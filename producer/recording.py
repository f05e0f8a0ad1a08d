"""Recordings of raw WebSocket traffic: JSON lines, replayable through the same pipeline.

Line 1 is a header ``{"format":"cryptostream-recording","version":1,"source":...,"feed":...,
"exchange":...,"channel":...,"products":[...]}`` (``feed`` names the protocol that normalizes
it). Then one line per received message and one per connection:

- ``{"received_at":"2024-01-01T00:00:00.123456Z","raw":<the message>}``: a message that is a
  single-line JSON document is embedded verbatim, so its exact text is the slice between
  ``"raw":`` and the closing brace (no escaping, and replay needs no second JSON decode);
- ``{"received_at":"...","text":"<the message as a JSON string>"}``: any other message (not
  JSON, multi-line, binary frames decoded with backslash escapes);
- ``{"received_at":"...","event":"connect","url":"ws://..."}``: a new connection;
- ``{"received_at":"...","event":"rest","path":"/products/BTC-USD/trades","params":{...},
  "body":"<the answer's text>"}``: an answer a gap backfill received (producer.rest); replay
  passes these to the backfill (producer.rest_replay), not to the pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, NamedTuple

from cryptostream_fastpath import split_recording

FORMAT = "cryptostream-recording"
VERSION = 1
_PREFIX = '{"received_at":"'
_RAW_KEY = '","raw":'
CHUNK_BYTES = 1 << 18  # read at a time on replay: about 800 lines of Exchange matches
_scan_json = json.JSONDecoder().scan_once


class RecordingError(ValueError):
    pass


class Entry(NamedTuple):
    received_at: str
    raw: str | None  # None for a connect event
    url: str | None = None


def is_embeddable(raw: str) -> bool:
    """True when ``raw`` is one complete JSON document on a single line."""
    if "\n" in raw or "\r" in raw:
        return False
    try:
        _, end = _scan_json(raw, 0)
    except (StopIteration, ValueError):
        return False
    return end == len(raw)


class Recorder:
    def __init__(self, path: str | Path, *, feed: str, exchange: str, channel: str,
                 products: list[str], source: str | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("w", encoding="utf-8", buffering=1 << 20)
        header = {"format": FORMAT, "version": VERSION, "source": source or feed, "feed": feed,
                  "exchange": exchange, "channel": channel, "products": products}
        self._file.write(json.dumps(header) + "\n")
        self.lines = 0

    def write(self, raw: str | bytes, received_at: str) -> None:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "backslashreplace")
        if len(received_at) == 27 and is_embeddable(raw):
            self._file.write(f'{_PREFIX}{received_at}{_RAW_KEY}{raw}}}\n')
        else:
            self._file.write(json.dumps({"received_at": received_at, "text": raw},
                                        ensure_ascii=False) + "\n")
        self.lines += 1

    def write_connect(self, url: str, received_at: str) -> None:
        self._file.write(json.dumps({"received_at": received_at, "event": "connect",
                                     "url": url}) + "\n")

    def write_rest(self, received_at: str, path: str, params: dict, body: str) -> None:
        self._file.write(json.dumps({"received_at": received_at, "event": "rest", "path": path,
                                     "params": params, "body": body}) + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def read_header(path: str | Path) -> dict:
    with Path(path).open(encoding="utf-8") as file:
        first = file.readline()
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(f"{path}: line 1 is not a {FORMAT} header")
    if header.get("version") != VERSION:
        raise RecordingError(f"{path}: unsupported recording version {header.get('version')!r}")
    return header


def read_entries(path: str | Path) -> Iterator[tuple[str, str | None, str | None]]:
    """The lines after the header, in order, as (received_at, raw, url) (see ``Entry``)."""
    for run in read_entry_runs(path):
        yield from run


def read_entry_runs(path: str | Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[list[tuple]]:
    """The same entries, as runs: a list of messages, or a connect event alone in its list.

    The file is read in chunks; the native splitter (producer/fastpath) slices the lines that
    embed their message, and every other line is parsed here, named by its line number if
    it is not a valid entry.
    """
    with Path(path).open("rb") as file:
        file.readline()
        number, rest = 2, b""
        while True:
            chunk = file.read(chunk_bytes)
            buffer = rest + chunk
            entries, others, lines, consumed = split_recording(buffer, not chunk)
            for index, offset, line in others:
                entries[index] = _parse_line(line, f"{path}:{number + offset}")
            if any(entries[index] is None for index, _, _ in others):
                entries = [entry for entry in entries if entry is not None]
                connects = [i for i, entry in enumerate(entries) if entry[1] is None]
            else:
                connects = [index for index, _, _ in others if entries[index][1] is None]
            yield from _runs(entries, connects)
            if not chunk:
                return
            number, rest = number + lines, buffer[consumed:]


def _runs(entries: list[tuple], connects: list[int]) -> Iterator[list[tuple]]:
    start = 0
    for index in connects:
        if index > start:
            yield entries[start:index]
        yield [entries[index]]
        start = index + 1
    if start < len(entries):
        yield entries[start:] if start else entries


def _parse_line(line: bytes, where: str) -> Entry | None:
    """The entry of a line that is not an embedded message; None for a REST answer."""
    try:
        entry = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RecordingError(f"{where}: not UTF-8 ({exc})") from None
    except ValueError as exc:
        raise RecordingError(f"{where}: not JSON ({exc})") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("received_at"), str):
        raise RecordingError(f"{where}: expected an object with received_at")
    if isinstance(entry.get("text"), str):
        return Entry(entry["received_at"], entry["text"])
    if "raw" in entry:  # embedded JSON written by hand or another tool: re-serialized
        return Entry(entry["received_at"], json.dumps(entry["raw"], ensure_ascii=False))
    if entry.get("event") == "connect":
        return Entry(entry["received_at"], None, entry.get("url", ""))
    if entry.get("event") == "rest":
        return None
    raise RecordingError(f"{where}: expected raw, text or event")


class RestAnswer(NamedTuple):
    received_at: str
    path: str
    params: dict
    body: str


def read_rest_answers(path: str | Path) -> list[RestAnswer]:
    """The REST answers kept in a recording, in order."""
    answers = []
    with Path(path).open(encoding="utf-8") as file:
        file.readline()
        for line in file:
            if '"event": "rest"' not in line:
                continue
            entry = json.loads(line)
            answers.append(RestAnswer(entry["received_at"], entry["path"], entry["params"],
                                      entry["body"]))
    return answers


def seconds(received_at: str) -> float:
    return datetime.fromisoformat(received_at).timestamp()
