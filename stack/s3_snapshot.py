"""Keep LocalStack's S3 contents across `make down` / `make up`.

LocalStack's community edition holds S3 in memory only (PERSISTENCE is a Pro feature), so a
restart would lose Spark's checkpoints. `make down` copies every bucket to the state folder
before stopping it and `make up` puts them back.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def save(s3, snapshot_dir: Path) -> int:
    """Copy every object of every bucket under snapshot_dir/<bucket>/<key>; return the count."""
    staging = snapshot_dir.with_name(snapshot_dir.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    count = 0
    for bucket in s3.list_buckets()["Buckets"]:
        bucket_dir = staging / bucket["Name"]
        bucket_dir.mkdir(parents=True)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for obj in page.get("Contents", []):
                target = bucket_dir / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket["Name"], obj["Key"], str(target))
                count += 1
    shutil.rmtree(snapshot_dir, ignore_errors=True)
    staging.rename(snapshot_dir)
    return count


def ensure_bucket(s3, bucket: str) -> None:
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)


def restore(s3, required_bucket: str, snapshot_dir: Path) -> int:
    """Recreate the saved buckets and objects, and the required bucket; return the count."""
    count = 0
    saved = snapshot_dir.iterdir() if snapshot_dir.exists() else []
    bucket_dirs = sorted(p for p in saved if p.is_dir())
    for bucket_dir in bucket_dirs:
        ensure_bucket(s3, bucket_dir.name)
        for path in sorted(p for p in bucket_dir.rglob("*") if p.is_file()):
            s3.upload_file(str(path), bucket_dir.name, path.relative_to(bucket_dir).as_posix())
            count += 1
    ensure_bucket(s3, required_bucket)
    return count
