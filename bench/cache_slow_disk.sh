#!/usr/bin/env bash
# cache_slow_disk.sh [ROUNDS] [RATES]: whether a cache disk slower than the stream slows a
# sequential reader. One `dd bs=1M` of a 1 GiB object through a fresh mount: without a
# cache, with `--cache` on a disk taking writes at full speed, and with the mount's writes
# to that disk throttled to each of RATES (MiB/s, default "100 400"; a cgroup v1 blkio
# write limit on the disk under the cache folder, which binds O_DIRECT writes: the cache
# writes a stream's blocks so). ROUNDS (default 3) times each, alternating. Prints MiB/s,
# the daemon's CPU s/GiB and the MiB the cache kept. Root; needs /sys/fs/cgroup/blkio;
# runs its own RGW on port 17980 (bench/rgw.sh); python3 with boto3. docs/BENCHMARKS.md,
# "Data caches".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/bench_lib.sh"
ROUNDS=${1:-3}
RATES=${2:-100 400}
BIN=${S3MOUNT:-$ROOT/build-bench/s3mount}
BLKIO=/sys/fs/cgroup/blkio
[ -d "$BLKIO" ] || { echo "cache_slow_disk.sh: no cgroup v1 blkio at $BLKIO" >&2; exit 1; }
export RGW_DIR=/var/tmp/s3mount-rgw-slowdisk RGW_PORT=17980 RGW_MON_PORT=17189
export RGW_MEMSTORE_BYTES=$((4 << 30))
WORK=$(mktemp -d /var/tmp/cache-slow-disk.XXXXXX)
MNT=$WORK/mnt
CACHE=$WORK/cache
GROUP=$BLKIO/s3mount-slow-disk-$$
mkdir -p "$MNT" "$CACHE" "$GROUP"
DEV=$(findmnt -no MAJ:MIN -T "$CACHE" | tr -d ' ')

[ -n "${S3MOUNT:-}" ] || bench_build "$ROOT/build-bench" s3mount
cleanup() {
  umount "$MNT" 2>/dev/null || true
  "$ROOT/bench/rgw.sh" stop "$RGW_DIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  rmdir "$GROUP" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
bench_rgw_start
python3 - <<'PY'
import boto3, os
s3 = boto3.client("s3", endpoint_url=os.environ["RGW_ENDPOINT"])
s3.create_bucket(Bucket="slowdisk")
s3.put_object(Bucket="slowdisk", Key="big", Body=os.urandom(1 << 20) * 1024)
PY

# run MODE [RATE]: one read; the daemon starts inside the cgroup, so its writes are limited.
run() {
  local mode=$1 rate=${2:-0} extra=()
  rm -rf "$CACHE" && mkdir -p "$CACHE"
  [ "$mode" = plain ] || extra=(--cache "$CACHE")
  echo "$DEV $((rate << 20))" > "$GROUP/blkio.throttle.write_bps_device"
  sync
  echo 3 > /proc/sys/vm/drop_caches
  (echo $BASHPID > "$GROUP/tasks" &&
    exec "$BIN" slowdisk "$MNT" --endpoint-url "$RGW_ENDPOINT" --force-path-style "${extra[@]}")
  local pid
  pid=$(pgrep -nf "slowdisk $MNT")
  local c0 t0 t1 c1 kept
  c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  t0=$(date +%s.%N)
  dd if="$MNT/big" of=/dev/null bs=1M 2>/dev/null
  t1=$(date +%s.%N)
  c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  umount "$MNT"
  while [ -d "/proc/$pid" ]; do sleep 0.1; done  # the blocks held are written before exit
  kept=$(du -sm "$CACHE" | cut -f1)
  local label=$mode
  [ "$rate" = 0 ] || label="$mode-${rate}MiB/s"
  awk -v r="$round" -v m="$label" -v a="$t0" -v b="$t1" -v c0="$c0" -v c1="$c1" -v k="$kept" \
    'BEGIN { printf "round %s %-18s %5.0f MiB/s  %.2f daemon CPU s/GiB  cache kept %4d MiB\n", r, m, 1024 / (b - a), (c1 - c0) / 100, k }'
}

for round in $(seq "$ROUNDS"); do
  run plain
  run cache
  for rate in $RATES; do run cache "$rate"; done
done
