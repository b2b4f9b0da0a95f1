#!/usr/bin/env bash
# many_readers.sh [READERS] [ROUNDS]: READERS (default 16) concurrent buffered `dd bs=1M`,
# each of its own 64 MiB object, through one fresh mount, ROUNDS (default 3) times. Prints
# MiB/s and the S3 requests of each round (`ls` of the directory first) against the ideal
# GET count (one small first GET and one per 8 MiB part per object: 9 x READERS). Many readers at once make the kernel's
# readahead requests reach the daemon out of order; this shows what that costs in GETs
# (docs/ARCHITECTURE.md, "Read path"). S3MOUNT=path measures another binary. Root (drops the
# page cache); runs its own RGW on port 17980 (bench/rgw.sh); python3 with boto3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/bench_lib.sh"
READERS=${1:-16}
ROUNDS=${2:-3}
BIN=${S3MOUNT:-$ROOT/build-bench/s3mount}
export RGW_DIR=/var/tmp/s3mount-rgw-readers RGW_PORT=17980 RGW_MON_PORT=17189
WORK=$(mktemp -d /var/tmp/many-readers.XXXXXX)
MNT=$WORK/mnt
mkdir -p "$MNT" "$WORK/log"

[ -n "${S3MOUNT:-}" ] || bench_build "$ROOT/build-bench" s3mount
cleanup() {
  umount "$MNT" 2>/dev/null || true
  "$ROOT/bench/rgw.sh" stop "$RGW_DIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
bench_rgw_start

python3 - "$READERS" <<'PY'
import boto3, os, sys
s3 = boto3.client("s3", endpoint_url=os.environ["RGW_ENDPOINT"])
s3.create_bucket(Bucket="readers")
body = os.urandom(1 << 20) * 64
for i in range(int(sys.argv[1])):
    s3.put_object(Bucket="readers", Key=f"r/{i}", Body=body)
PY

for round in $(seq "$ROUNDS"); do
  rm -f "$WORK"/log/*
  "$BIN" readers "$MNT" --endpoint-url "$RGW_ENDPOINT" --force-path-style -l "$WORK/log"
  sync
  echo 3 > /proc/sys/vm/drop_caches
  # Listed first, as a job does its data set's directory: the opens then need no LIST, and
  # the readers start together.
  ls "$MNT/r" >/dev/null
  t0=$(date +%s.%N)
  for i in $(seq 0 $((READERS - 1))); do dd if="$MNT/r/$i" of=/dev/null bs=1M 2>/dev/null & done
  wait
  t1=$(date +%s.%N)
  umount "$MNT"
  for _ in $(seq 50); do grep -qh "S3 requests" "$WORK"/log/* 2>/dev/null && break; sleep 0.1; done
  requests=$(grep -h "S3 requests" "$WORK"/log/* | tail -1 | sed 's/.*S3 requests: //')
  awk -v r="$round" -v n="$READERS" -v a="$t0" -v b="$t1" -v q="$requests" \
    'BEGIN { printf "round %s: %d readers %4.0f MiB/s  %s (ideal GetObject=%d)\n", r, n, n * 64 / (b - a), q, 9 * n }'
done
