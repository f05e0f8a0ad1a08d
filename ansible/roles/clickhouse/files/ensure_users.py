"""Create the ClickHouse users given as JSON on stdin unless they exist; print a JSON summary.

    [{"name": "...", "password": "...", "grants": ["SELECT ON db.*"]}, ...] | python ensure_users.py

Connection from the environment: CLICKHOUSE_URL, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD.
Passwords travel on stdin, never on a command line.
"""

import json
import os
import re
import sys

from clickhouse.client import connect

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def main() -> int:
    wanted = json.load(sys.stdin)
    client = connect(os.environ["CLICKHOUSE_URL"], os.environ["CLICKHOUSE_USER"],
                     os.environ.get("CLICKHOUSE_PASSWORD", ""))
    existing = {row[0] for row in client.query("SELECT name FROM system.users").result_rows}
    created = []
    for user in wanted:
        name = user["name"]
        if not _NAME.match(name):
            raise SystemExit(f"user name {name!r} is not a plain identifier")
        if name in existing:
            continue
        client.command(f"CREATE USER {name} IDENTIFIED WITH sha256_password BY %(password)s",
                       parameters={"password": user["password"]})
        for grant in user.get("grants", []):
            client.command(f"GRANT {grant} TO {name}")
        created.append(name)
    print(json.dumps({"created": created}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
