"""Where the local stack keeps its state (data, logs, secrets) and its caches."""

from __future__ import annotations

import os
from pathlib import Path

from stack.topology import ROOT

STATE_DIR = Path(os.environ.get("CRYPTOSTREAM_STATE", ROOT / ".state")).resolve()
CACHE_DIR = Path(
    os.environ.get("CRYPTOSTREAM_CACHE", Path.home() / ".cache" / "cryptostream")
).resolve()
LOG_DIR = STATE_DIR / "logs"
SECRETS_FILE = STATE_DIR / "secrets.env"
