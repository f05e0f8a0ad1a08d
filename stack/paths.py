"""Where the local dev runner keeps its state (data, logs, secrets): a repository checkout.

The runtime's cache (CACHE_DIR) is in runtime.paths.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("CRYPTOSTREAM_STATE", ROOT / ".state")).resolve()
LOG_DIR = STATE_DIR / "logs"
SECRETS_FILE = STATE_DIR / "secrets.env"
