"""The S3-compatible object store: a client from the topology and the environment, and the
idempotent bucket creation of the bootstrap's bucket step."""

from __future__ import annotations

import os
from collections.abc import Mapping

import boto3
from botocore.exceptions import ClientError

from runtime.topology import Topology


def s3_client(topo: Topology, env: Mapping[str, str] = os.environ):
    """Path-style client on topo.s3_endpoint (S3_ENDPOINT_URL). Without AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY in `env`, boto3's default chain applies (instance roles)."""
    return boto3.client(
        "s3",
        endpoint_url=topo.s3_endpoint,
        region_name=topo.s3_region,
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
    )


def ensure_bucket(s3, bucket: str) -> bool:
    """Create `bucket` unless it exists; True when this call created it.

    HEAD rather than listing every bucket: a node's credentials may be allowed this bucket only.
    """
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
    region = s3.meta.region_name
    location = {} if region in (None, "us-east-1") else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=bucket, **location)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "BucketAlreadyOwnedByYou":
            return False  # made meanwhile by a concurrent run
        raise
    return True
