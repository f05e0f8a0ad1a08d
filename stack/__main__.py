"""`python -m stack COMMAND`: the local stack's CLI (up, down, status, env, run...; see README)."""

from __future__ import annotations

import argparse
import os
import sys

from runtime.secrets import export_lines
from stack import lifecycle, secrets
from stack.services import LOCAL_JOB_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start every service and wait until each is healthy")
    commands.add_parser("down", help="stop every service this stack started; keep data")
    commands.add_parser("status", help="one line per service: health, address, version, log")
    commands.add_parser("env", help="print the local credentials and endpoints as export lines")
    commands.add_parser("secrets", help="print only the local credentials as export lines (what "
                        "ansible/deploy.yml reads from the controller's environment)")
    commands.add_parser("clean", help="down, then wipe all state")
    run_cmd = commands.add_parser("run", help="run a command with the local credentials and "
                                  "endpoints in its environment (python -m stack run -- CMD ...)")
    run_cmd.add_argument("argv", nargs=argparse.REMAINDER)
    for name in ("start", "stop"):
        sub = commands.add_parser(name, help=f"{name} the named services")
        sub.add_argument("services", nargs="+")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (lifecycle.ServiceFailed, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    if args.command == "up":
        lifecycle.up()
    elif args.command == "start":
        lifecycle.up(args.services)
    elif args.command == "stop":
        lifecycle.stop(args.services)
    elif args.command == "down":
        lifecycle.down()
    elif args.command == "status":
        lines = lifecycle.status_lines()
        print("\n".join(lines))
        return 0 if all(" up " in line for line in lines) else 3
    elif args.command == "env":
        print(export_lines(env_values()), end="")
    elif args.command == "secrets":
        print(export_lines(secrets.load_or_create()), end="")
    elif args.command == "run":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not argv:
            raise SystemExit("usage: python -m stack run -- COMMAND [ARGS...]")
        os.execvpe(argv[0], argv, {**env_values(), **os.environ})
    elif args.command == "clean":
        lifecycle.clean()
    return 0


def env_values() -> dict[str, str]:
    stack = lifecycle.current()
    topo = stack.topo
    return {
        **stack.secrets,
        "CLICKHOUSE_URL": topo.clickhouse_url,
        "CLICKHOUSE_USER": topo.clickhouse_user,
        "CLICKHOUSE_DATABASE": topo.clickhouse_database,
        "KAFKA_BOOTSTRAP_SERVERS": topo.kafka_bootstrap,
        "SPARK_MASTER_URL": topo.spark_master_url,
        "S3_ENDPOINT_URL": topo.s3_endpoint,
        "AWS_REGION": topo.s3_region,
        **LOCAL_JOB_ENV,
    }


if __name__ == "__main__":
    sys.exit(main())
