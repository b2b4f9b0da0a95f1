#!/usr/bin/env python3
"""s3_list.py: the independent check of the cluster test (VERIFY_CMD in slurm_ior_test.sh).

Lists the objects under PREFIX in BUCKET straight from the S3 server with boto3 (not through any
mount) and prints one "RELATIVE_KEY SIZE" line per object, RELATIVE_KEY relative to PREFIX.
Credentials come from the usual AWS_* environment variables or profile.

usage: s3_list.py [--endpoint-url URL] [--region R] BUCKET PREFIX
"""
import argparse
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint-url")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("bucket")
    ap.add_argument("prefix")
    args = ap.parse_args()
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        print("s3_list.py: error: boto3 is not installed (apt-get install python3-boto3)", file=sys.stderr)
        return 2
    s3 = boto3.client("s3", endpoint_url=args.endpoint_url, region_name=args.region,
                      config=Config(s3={"addressing_style": "path"}))
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket, Prefix=args.prefix):
            for obj in page.get("Contents", []):
                print(f"{obj['Key'][len(args.prefix):]} {obj['Size']}")
    except Exception as e:  # one line, whatever botocore raised
        print(f"s3_list.py: error: listing s3://{args.bucket}/{args.prefix} failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
