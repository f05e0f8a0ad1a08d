"""The S3 snapshot round trip, on moto's in-memory S3 (our own logic, not LocalStack's)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from stack import s3_snapshot


@pytest.fixture
def s3():
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


def objects(s3) -> dict[tuple[str, str], bytes]:
    found = {}
    for bucket in s3.list_buckets()["Buckets"]:
        for obj in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            body = s3.get_object(Bucket=bucket["Name"], Key=obj["Key"])["Body"].read()
            found[(bucket["Name"], obj["Key"])] = body
    return found


def wipe(s3) -> None:
    for (bucket, key) in objects(s3):
        s3.delete_object(Bucket=bucket, Key=key)
    for bucket in s3.list_buckets()["Buckets"]:
        s3.delete_bucket(Bucket=bucket["Name"])


def test_round_trip_keeps_directory_markers_nested_and_long_keys(s3, tmp_path):
    s3.create_bucket(Bucket="checkpoints")
    s3.create_bucket(Bucket="other-bucket")
    originals = {
        ("checkpoints", "job/"): b"",
        ("checkpoints", "job/offsets/0"): b"v1\n{}",
        ("checkpoints", "job/" + "x" * 400): b"long",
        ("other-bucket", "a b/ü.json"): b"{}",
    }
    for (bucket, key), body in originals.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    assert s3_snapshot.save(s3, tmp_path / "snap") == len(originals)
    wipe(s3)
    assert s3_snapshot.restore(s3, tmp_path / "snap") == len(originals)

    assert objects(s3) == originals


def test_restore_without_snapshot_restores_nothing(s3, tmp_path):
    assert s3_snapshot.restore(s3, tmp_path / "none") == 0
    assert s3.list_buckets()["Buckets"] == []


def test_a_second_save_replaces_the_first(s3, tmp_path):
    s3.create_bucket(Bucket="bucket-one")
    s3.put_object(Bucket="bucket-one", Key="old", Body=b"1")
    s3_snapshot.save(s3, tmp_path / "snap")
    s3.delete_object(Bucket="bucket-one", Key="old")
    s3.put_object(Bucket="bucket-one", Key="new", Body=b"2")
    s3_snapshot.save(s3, tmp_path / "snap")
    wipe(s3)

    s3_snapshot.restore(s3, tmp_path / "snap")

    assert objects(s3) == {("bucket-one", "new"): b"2"}
