#!/usr/bin/env bash
# compare.sh [--quick] [--rounds N] [--clients a,b] [--workloads x,y] [compare.py options...]
# The side-by-side benchmark of issue 4: s3mount, s3fs, rclone (--vfs-cache-mode off and writes)
# and the raw capacity (curl --parallel) on one Ceph RGW started and stopped here.
#   bench/compare.sh            # default: 3 rounds, issue 4's sizes (~17 min on 2 vCPU)
#   bench/compare.sh --quick    # 1 round, smaller sizes (~5 min)
#   bench/compare.sh --clients s3mount,s3fs --workloads ior-write,ior-read,dd --rounds 2
# Clients: s3mount s3fs rclone-off rclone-writes (and, when named: s3mount-posix s3mount-cache
# s3fs-cache rclone-full). Workloads: ior-write ior-read dd randread
# small-write small-read ls ttfb append mdtest smallfiles-ttl (and, when named: reread randread2
# seqcache). Also --no-raw, --no-memfs, --no-memory-check, --no-ior,
# --big 1g, --ior-block 512m, --ls-objects N, --small-files N, --randread-s S, --timeout S.
# Results: bench/results/compare.{md,csv,png} and compare-samples.csv; logs under $WORK_DIR/logs.
# Environment: WORK_DIR (default /var/tmp/s3mount-compare), BUILD_DIR (default build-bench),
# RGW_DIR / RGW_PORT / RGW_MON_PORT (default /var/tmp/s3mount-rgw-compare, 17780, 16989),
# RGW_MEMSTORE_BYTES (default 12 GiB). Full mode needs ~15 GiB of free RAM (memory check).
# The server and the figures are explained in docs/BENCHMARKS.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/bench_lib.sh"
WORK_DIR=${WORK_DIR:-/var/tmp/s3mount-compare}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
export RGW_DIR=${RGW_DIR:-/var/tmp/s3mount-rgw-compare}
export RGW_PORT=${RGW_PORT:-17780} RGW_MON_PORT=${RGW_MON_PORT:-16989}
# The memory check (8 readers of 1 GiB objects) restarts RGW empty and stores 8 GiB; the steps
# before it keep at most ~4 GiB live. memstore holds ~1.7x that in RAM (~14 GiB at the check).
export RGW_MEMSTORE_BYTES=${RGW_MEMSTORE_BYTES:-$((12 << 30))}

case "${1:-}" in -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

need() {  # need COMMAND DEBIAN-PACKAGE: install what the benchmark uses, once
  command -v "$1" >/dev/null && return
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}
need s3fs s3fs
need rclone rclone
need fio fio
need curl curl
need gcc gcc
need pkg-config pkg-config
need fusermount3 fuse3
[ -f /usr/share/doc/libfuse3-dev/examples/null.c ] || need no-such-command libfuse3-dev
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-matplotlib >/dev/null
python3 -c 'import boto3' 2>/dev/null || { echo "compare.sh: python3 needs boto3 (pip install boto3)" >&2; exit 1; }
[ -n "$(command -v ior || true)" ] || [ -x /opt/ior/bin/ior ] ||
  echo "compare.sh: no ior on PATH or in /opt/ior/bin: the IOR shape runs with fio" >&2

bench_build "$BUILD_DIR" s3mount s3mount-memfs

mkdir -p "$WORK_DIR"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # compare.py unmounts what it mounted; this is the net under it (e.g. after kill -9).
  for m in $(awk -v d="$WORK_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  "$ROOT/bench/rgw.sh" stop "$RGW_DIR" >/dev/null 2>&1 || true
  exit $rc
}
trap cleanup EXIT INT TERM

echo "compare.sh: starting Ceph RGW in $RGW_DIR" >&2
eval "$("$ROOT/bench/rgw.sh" start "$RGW_DIR")"
export RGW_ENDPOINT RGW_ACCESS_KEY RGW_SECRET_KEY RGW_LOG="$RGW_DIR/log/client.rgw.bench.log"

python3 "$ROOT/bench/compare.py" --s3mount "$BUILD_DIR/s3mount" \
  --memfs "$BUILD_DIR/bench/s3mount-memfs" --work-dir "$WORK_DIR" \
  --results "$ROOT/bench/results" "$@"
echo "compare.sh: results in $ROOT/bench/results/compare.md (logs in $WORK_DIR/logs)" >&2
