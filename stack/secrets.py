"""The dev runner's credentials: runtime.secrets over the state folder's secrets.env."""

from __future__ import annotations

from runtime import secrets
from stack.paths import SECRETS_FILE


def load_or_create() -> dict[str, str]:
    """The local credentials, generated on first use; the environment wins."""
    return secrets.load_or_create(SECRETS_FILE)
