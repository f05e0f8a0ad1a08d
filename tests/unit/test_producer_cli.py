"""`python -m producer` as a process: flags, env vars, bounded runs, record/replay, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from producer.config import parse

ROOT = Path(__file__).resolve().parents[2]


def producer(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "producer", *args], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
        **kwargs,
    )


def finished(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_for_text(proc: subprocess.Popen, text: str, timeout: float = 30) -> str:
    """Read stderr lines until one contains ``text``."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if text in line:
            return "".join(seen)
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"{text!r} not seen in stderr:\n{''.join(seen)}")


def test_help_documents_every_flag_with_its_environment_variable():
    code, out, _ = finished(producer("--help", env={"COLUMNS": "250"}))
    assert code == 0
    for flag, env in [("--source", "PRODUCER_SOURCE"), ("--products", "PRODUCTS"),
                      ("--channel", "COINBASE_CHANNEL"), ("--url", "FEED_URL"),
                      ("--bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS"),
                      ("--topic", "KAFKA_TOPIC"), ("--dlq-topic", "KAFKA_DLQ_TOPIC"),
                      ("--record", "RECORD_FILE"), ("--file", "REPLAY_FILE"),
                      ("--speed", "REPLAY_SPEED"), ("--sim-rate", "SIM_RATE"),
                      ("--sim-products", "SIM_PRODUCTS"), ("--sim-seed", "SIM_SEED"),
                      ("--max-trades", "MAX_TRADES"), ("--duration", "DURATION")]:
        assert flag in out and f"[{env}]" in out, flag
    assert "wss://ws-feed.exchange.coinbase.com" in out
    assert "wss://advanced-trade-ws.coinbase.com" in out


def test_flags_beat_environment_which_beats_defaults(monkeypatch):
    monkeypatch.setenv("PRODUCTS", "SOL-USD, ADA-USD")
    monkeypatch.setenv("KAFKA_TOPIC", "from_env")
    monkeypatch.setenv("COINBASE_WS_URL", "ws://example.invalid/feed")
    settings = parse(["--topic", "from_flag"])
    assert settings.products == ["SOL-USD", "ADA-USD"]
    assert settings.topic == "from_flag"
    assert settings.feed_url() == "ws://example.invalid/feed"
    assert parse(["--source", "coinbase-advanced"]).feed_url() == (
        "wss://advanced-trade-ws.coinbase.com")


def test_bad_configuration_is_named(monkeypatch, capsys):
    monkeypatch.setenv("SIM_RATE", "fast")
    with pytest.raises(SystemExit) as exit_info:
        parse([])
    assert exit_info.value.code == 2
    assert "SIM_RATE='fast'" in capsys.readouterr().err
    monkeypatch.delenv("SIM_RATE")
    with pytest.raises(SystemExit):
        parse(["--source", "replay"])
    assert "--source replay needs --file" in capsys.readouterr().err


def test_simulator_run_is_bounded_and_replay_of_its_recording_gives_the_same_output(tmp_path):
    recording = tmp_path / "sim.jsonl"
    code, live, err = finished(producer(
        "--source", "simulator", "--sink", "stdout", "--max-trades", "120", "--sim-rate", "600",
        "--sim-seed", "9", "--sim-duplicate-every", "10", "--record", str(recording)))
    assert code == 0, err
    lines = live.splitlines()
    assert len(lines) == 120
    assert len({(json.loads(x)["product_id"], json.loads(x)["trade_id"]) for x in lines}) == 120
    assert "final: received=" in err and "duplicates=" in err

    code, replayed, err = finished(producer(
        "--source", "replay", "--file", str(recording), "--speed", "0", "--sink", "stdout"))
    assert code == 0, err
    # The recording may hold a few messages read after the limit; replay has no limit.
    assert replayed.splitlines()[:120] == lines


def test_sigterm_flushes_and_exits_zero():
    proc = producer("--source", "simulator", "--sink", "stdout", "--sim-rate", "200")
    wait_for_text(proc, "subscriptions")
    proc.send_signal(signal.SIGTERM)
    code, out, err = finished(proc)
    assert code == 0
    assert "stopping: SIGTERM" in err and "final: " in err


def test_a_second_signal_exits_at_once_even_while_kafka_is_unreachable():
    with socket.socket() as s:  # a port with nothing listening: deliveries can never complete
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    proc = producer("--source", "simulator", "--bootstrap-servers", dead, "--sim-rate", "200",
                    "--stats-interval", "0.2")
    wait_for_text(proc, "subscriptions")
    proc.send_signal(signal.SIGINT)
    wait_for_text(proc, "flushing")
    proc.send_signal(signal.SIGINT)
    code, _, err = finished(proc, timeout=10)
    assert code == 130
    assert "exiting now without flushing" in err
