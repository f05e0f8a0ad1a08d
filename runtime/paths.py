"""Caches the runtime reads: the JVM connector jars' classpath lives under CACHE_DIR/jvm.

CRYPTOSTREAM_CACHE overrides the location (the images and the nodes point it at their own copy).
The dev runner's state, logs and secrets file are in stack.paths.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR = Path(
    os.environ.get("CRYPTOSTREAM_CACHE", Path.home() / ".cache" / "cryptostream")
).resolve()
