"""Create an S3 bucket unless it exists; print `created` or `exists` (Ansible's changed_when).

    python ensure_bucket.py ENDPOINT REGION BUCKET     (credentials: the usual AWS_* variables)
"""

import sys

import boto3


def main(endpoint: str, region: str, bucket: str) -> int:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket in existing:
        print("exists")
        return 0
    s3.create_bucket(Bucket=bucket)
    print("created")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
