"""Print the local credentials as TF_VAR_ export lines for terraform/envs/local.

    eval "$(.venv/bin/python tools/tofu/secret_vars.py)"

The values come from stack.secrets (.state/secrets.env, generated on first use; the environment
wins), so the containers get the same credentials as `make up`. Nothing is written to the repo.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stack import secrets  # noqa: E402

TF_VARIABLES = {
    "CLICKHOUSE_PASSWORD": "clickhouse_password",
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
}


def export_lines(values: dict[str, str]) -> str:
    return "".join(
        f"export TF_VAR_{variable}={shlex.quote(values[name])}\n"
        for name, variable in TF_VARIABLES.items()
    )


if __name__ == "__main__":
    print(export_lines(secrets.load_or_create()), end="")
