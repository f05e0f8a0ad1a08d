"""Keep LocalStack's S3 contents across restarts.

LocalStack's community edition holds S3 in memory only (PERSISTENCE is a Pro feature), so a
restart would lose Spark's checkpoints. Every bucket is copied to a folder before LocalStack stops
and put back once it answers again: by the dev runner (`make down` / `make up`, stack/lifecycle.py
and stack/services.py import this module) and, on an object-storage node, by the systemd unit of
ansible/roles/object_storage, which copies this one file next to LocalStack and runs it as a
script (`ExecStartPost=... restore`, `ExecStop=... save`). It therefore imports nothing but
boto3 and the standard library: LocalStack's own virtual environment is all a node has.

Each object is a file named by the SHA-1 of its key, with a keys.json manifest per bucket:
keys such as `a/` and `a/b` (S3A's directory markers) cannot both be paths on a file system,
and long keys would overflow a file name. A save is written beside the snapshot and swapped in
only when complete, so a save that fails (LocalStack gone, disk full) leaves the previous one.

    python s3_snapshot.py save    --endpoint http://127.0.0.1:4566 --dir /var/lib/localstack/snap
    python s3_snapshot.py restore --endpoint http://127.0.0.1:4566 --dir ... --wait 120
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

MANIFEST = "keys.json"


def _file_name(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()


def _save_bucket(s3, bucket: str, bucket_dir: Path) -> int:
    bucket_dir.mkdir(parents=True)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            s3.download_file(bucket, obj["Key"], str(bucket_dir / _file_name(obj["Key"])))
            keys.append(obj["Key"])
    (bucket_dir / MANIFEST).write_text(json.dumps(keys))
    return len(keys)


def _sibling(snapshot_dir: Path, suffix: str) -> Path:
    return snapshot_dir.with_name(snapshot_dir.name + suffix)


def save(s3, snapshot_dir: Path) -> int:
    """Copy every object of every bucket under snapshot_dir; return the count."""
    staging, previous = _sibling(snapshot_dir, ".new"), _sibling(snapshot_dir, ".old")
    shutil.rmtree(staging, ignore_errors=True)
    count = sum(
        _save_bucket(s3, bucket["Name"], staging / bucket["Name"])
        for bucket in s3.list_buckets()["Buckets"]
    )
    staging.mkdir(parents=True, exist_ok=True)
    # Swap by renames: at every instant either snapshot_dir or .old holds a complete snapshot.
    shutil.rmtree(previous, ignore_errors=True)
    if snapshot_dir.exists():
        snapshot_dir.rename(previous)
    staging.rename(snapshot_dir)
    shutil.rmtree(previous, ignore_errors=True)
    return count


def _recreate_bucket(s3, bucket: str) -> None:
    """Create a saved bucket in the (fresh) store; one made meanwhile by a client is fine."""
    region = s3.meta.region_name
    location = {} if region in (None, "us-east-1") else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=bucket, **location)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


def restore(s3, snapshot_dir: Path) -> int:
    """Recreate the saved buckets and objects; return the count of objects."""
    if not snapshot_dir.exists() and _sibling(snapshot_dir, ".old").exists():
        snapshot_dir = _sibling(snapshot_dir, ".old")  # a save was cut off between its renames
    count = 0
    for manifest in sorted(snapshot_dir.glob(f"*/{MANIFEST}")):
        bucket = manifest.parent.name
        _recreate_bucket(s3, bucket)
        for key in json.loads(manifest.read_text()):
            s3.upload_file(str(manifest.parent / _file_name(key)), bucket, key)
            count += 1
    return count


# --- the command line of the object-storage node's systemd unit ---------------------------


def wait_until_serving(endpoint: str, timeout: float) -> None:
    """Until LocalStack's health endpoint reports S3 available or running, at most `timeout` s."""
    deadline, last = time.monotonic() + timeout, "no answer"
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=5) as answer:
                state = json.load(answer).get("services", {}).get("s3")
            if state in ("available", "running"):
                return
            last = f"s3 is {state}"
        except (OSError, ValueError) as error:
            last = str(error)
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{endpoint} not serving S3 after {timeout:.0f} s: {last}")
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["save", "restore"])
    parser.add_argument("--endpoint", required=True, help="LocalStack's URL, e.g. http://127.0.0.1:4566")
    parser.add_argument("--dir", required=True, type=Path, help="the snapshot folder")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or "us-east-1")
    parser.add_argument(
        "--access-key-id", default=os.environ.get("AWS_ACCESS_KEY_ID") or "test",
        help="selects LocalStack's account (buckets live per account); any key but a 12-digit "
             "number or an LSIA/LKIA key is the default account 000000000000")
    parser.add_argument("--wait", type=float, default=0,
                        help="seconds to wait for S3 to answer first (restore at start-up)")
    args = parser.parse_args(argv)
    s3 = boto3.client(
        "s3", endpoint_url=args.endpoint, region_name=args.region,
        aws_access_key_id=args.access_key_id,
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "test")
    try:
        if args.wait:
            wait_until_serving(args.endpoint, args.wait)
        if args.action == "save":
            count = save(s3, args.dir)
            print(f"saved {count} S3 objects to {args.dir}", flush=True)
        else:
            count = restore(s3, args.dir)
            print(f"restored {count} S3 objects from {args.dir}", flush=True)
    except Exception as error:  # one clear line in the journal, not a traceback
        kept = " (the previous snapshot is kept)" if args.action == "save" else ""
        print(f"s3 snapshot {args.action} failed at {args.endpoint}: "
              f"{type(error).__name__}: {error}{kept}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
