"""Generated credentials kept in an env-style file (NAME=value lines, mode 600).

The caller says where the file is (the dev runner: .state/secrets.env). A value already in
the environment wins over the stored one, so CI, a user or a node's env file can pin them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

GENERATORS = {
    "CLICKHOUSE_PASSWORD": lambda: secrets.token_urlsafe(18),
    "AWS_ACCESS_KEY_ID": lambda: "LK" + secrets.token_hex(9).upper(),
    "AWS_SECRET_ACCESS_KEY": lambda: secrets.token_urlsafe(30),
    # SCRAM users of a deploy's sasl_ssl profile (ansible/deploy.yml): the brokers' and the app's.
    "KAFKA_ADMIN_PASSWORD": lambda: secrets.token_urlsafe(18),
    "KAFKA_APP_PASSWORD": lambda: secrets.token_urlsafe(18),
}


def _read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def load_or_create(path: Path) -> dict[str, str]:
    """Return the credentials in `path`, generating and storing any that are missing."""
    stored = _read(path)
    missing = {name: make() for name, make in GENERATORS.items() if name not in stored}
    if missing:
        stored.update(missing)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in stored.items()))
    return {name: os.environ.get(name, value) for name, value in stored.items()}


def export_lines(values: dict[str, str]) -> str:
    return "".join(f"export {name}={value}\n" for name, value in values.items())
