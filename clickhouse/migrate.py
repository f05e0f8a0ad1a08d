"""Apply the versioned SQL migrations in clickhouse/migrations/, idempotently.

    python -m clickhouse.migrate [--clickhouse-url URL] [--database DB] [--user USER]
    (password from CLICKHOUSE_PASSWORD)

Files are named NNN_description.sql and applied in version order. Each is a template:
${database}, ${windows_table}, ${rejected_table}, ${progress_table}, ${producer_stats_table}
and ${legacy_view} are replaced by the configured names (write $$ for a literal $). Statements
end with `;` at the end of a line. A table <database>.schema_migrations records each applied
version with the sha256 of its file; applied versions are skipped, and a file changed after
being applied is an error (add a new migration instead). Statements are written to be safe to
re-run (IF NOT EXISTS / OR REPLACE), so a migration interrupted half-way is simply applied
again.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from clickhouse.client import connect
from runtime import topology

log = logging.getLogger("clickhouse.migrate")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATIONS_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    template: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.template.encode()).hexdigest()

    def statements(self, names: Mapping[str, str]) -> list[str]:
        try:
            sql = Template(self.template).substitute(names)
        except (KeyError, ValueError) as err:
            raise MigrationError(
                f"migration {self.version:03d}_{self.name}: bad placeholder {err}"
            ) from err
        chunks = (chunk.strip() for chunk in _STATEMENT_END.split(sql))
        return [chunk for chunk in chunks if _has_code(chunk)]


def _has_code(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNN_description.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"{path}: version {version} is used twice")
        migrations[version] = Migration(version, match.group(2), path.read_text())
    return [migrations[version] for version in sorted(migrations)]


def default_names(database: str) -> dict[str, str]:
    topo = topology.load()
    return {
        "database": database,
        "windows_table": topo.windows_table,
        "rejected_table": topo.rejected_table,
        "progress_table": topo.progress_table,
        "producer_stats_table": topo.producer_stats_table,
        "legacy_view": topo.legacy_view,
    }


def _check_identifiers(names: Mapping[str, str]) -> None:
    for key, value in names.items():
        if not _IDENTIFIER.match(value):
            raise MigrationError(
                f"{key} {value!r} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)"
            )


def applied_checksums(client, database: str) -> dict[int, str]:
    rows = client.query(
        f"SELECT version, checksum FROM {database}.{MIGRATIONS_TABLE} ORDER BY version"
    ).result_rows
    return {int(version): checksum for version, checksum in rows}


def migrate(client, names: Mapping[str, str], migrations: Sequence[Migration] | None = None
            ) -> list[int]:
    """Apply the migrations not applied yet; return the versions applied by this call."""
    _check_identifiers(names)
    migrations = load_migrations() if migrations is None else migrations
    database = names["database"]
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.{MIGRATIONS_TABLE} ("
        " version UInt32, name String, checksum String,"
        " applied_at DateTime64(3, 'UTC') DEFAULT now64(3)"
        ") ENGINE = MergeTree ORDER BY version"
    )
    applied = applied_checksums(client, database)
    newly_applied = []
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:03d}_{migration.name} changed after it was "
                    f"applied to {database}; add a new migration instead of editing it"
                )
            continue
        for statement in migration.statements(names):
            client.command(statement)
        client.insert(
            f"{database}.{MIGRATIONS_TABLE}",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        log.info("applied migration %03d_%s to %s", migration.version, migration.name, database)
        newly_applied.append(migration.version)
    return newly_applied


def main(argv: Sequence[str] | None = None) -> int:
    topo = topology.load()
    parser = argparse.ArgumentParser(prog="python -m clickhouse.migrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clickhouse-url", default=topo.clickhouse_url,
                        help="http(s)://host:port or chdb:///path [env CLICKHOUSE_URL]")
    parser.add_argument("--database", default=topo.clickhouse_database,
                        help="target database [env CLICKHOUSE_DATABASE]")
    parser.add_argument("--user", default=topo.clickhouse_user, help="[env CLICKHOUSE_USER]")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    client = connect(args.clickhouse_url, args.user, os.environ.get("CLICKHOUSE_PASSWORD", ""))
    try:
        applied = migrate(client, default_names(args.database))
    except MigrationError as err:
        log.error("%s", err)
        return 1
    finally:
        client.close()
    log.info("%s is up to date (%d migration(s) applied now)", args.database, len(applied))
    return 0


if __name__ == "__main__":
    sys.exit(main())
