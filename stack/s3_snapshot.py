"""Keep LocalStack's S3 contents across `make down` / `make up`.

LocalStack's community edition holds S3 in memory only (PERSISTENCE is a Pro feature), so a
restart would lose Spark's checkpoints. `make down` copies every bucket to the state folder
before stopping it and `make up` puts them back.

Each object is a file named by the SHA-1 of its key, with a keys.json manifest per bucket:
keys such as `a/` and `a/b` (S3A's directory markers) cannot both be paths on a file system,
and long keys would overflow a file name.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

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


def save(s3, snapshot_dir: Path) -> int:
    """Copy every object of every bucket under snapshot_dir; return the count."""
    staging = snapshot_dir.with_name(snapshot_dir.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    count = sum(
        _save_bucket(s3, bucket["Name"], staging / bucket["Name"])
        for bucket in s3.list_buckets()["Buckets"]
    )
    staging.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(snapshot_dir, ignore_errors=True)
    staging.rename(snapshot_dir)
    return count


def ensure_bucket(s3, bucket: str) -> None:
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)


def restore(s3, snapshot_dir: Path) -> int:
    """Recreate the saved buckets and objects; return the count of objects."""
    count = 0
    for manifest in sorted(snapshot_dir.glob(f"*/{MANIFEST}")):
        bucket = manifest.parent.name
        ensure_bucket(s3, bucket)
        for key in json.loads(manifest.read_text()):
            s3.upload_file(str(manifest.parent / _file_name(key)), bucket, key)
            count += 1
    return count
