#!/usr/bin/env bash
# dd_after_puts.sh [ROUNDS]: one buffered `dd bs=1M` of a 512 MiB object through a fresh
# mount, right after a burst of PUTs (128 x 8 MiB with `curl --parallel`, as in
# compare.sh's raw phase, then deleted), with drop-behind (--keep-pages-up-to 16, below the
# object's size) and with its pages kept (the default for a file under 1/16 of RAM),
# alternating, ROUNDS (default 3) times each; then a second dd of it in the same mount.
# Prints MiB/s and the daemon's CPU s/GiB of the first read, and the second read's MiB/s.
# On the development VM the PUTs leave new page-cache pages slow to write, which
# drop-behind avoids; kept pages make the second read a memory copy (docs/BENCHMARKS.md). Root (drops the page
# cache); runs its own RGW on port 17880 (bench/rgw.sh); python3 with boto3, curl.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/bench_lib.sh"
ROUNDS=${1:-3}
BIN=${S3MOUNT:-$ROOT/build-bench/s3mount}
export RGW_DIR=/var/tmp/s3mount-rgw-ddputs RGW_PORT=17880 RGW_MON_PORT=17089
WORK=$(mktemp -d /var/tmp/dd-after-puts.XXXXXX)
MNT=$WORK/mnt
mkdir -p "$MNT"

[ -n "${S3MOUNT:-}" ] || bench_build "$ROOT/build-bench" s3mount
cleanup() {
  umount "$MNT" 2>/dev/null || true
  "$ROOT/bench/rgw.sh" stop "$RGW_DIR" >/dev/null 2>&1 || true
  rm -rf "$WORK" /dev/shm/dd-after-puts-8m
}
trap cleanup EXIT INT TERM
bench_rgw_start
head -c 8M /dev/urandom > /dev/shm/dd-after-puts-8m

s3() {  # s3 setup|urls|clean: the object to read, the PUTs' curl config, deleting them
  python3 - "$1" "$WORK/puts.cfg" <<'PY'
import boto3, os, sys
s3 = boto3.client("s3", endpoint_url=os.environ["RGW_ENDPOINT"])
what, cfg = sys.argv[1], sys.argv[2]
if what == "setup":
    s3.create_bucket(Bucket="ddputs")
    s3.put_object(Bucket="ddputs", Key="big", Body=os.urandom(1 << 20) * 512)
elif what == "urls":
    with open(cfg, "w") as f:
        for i in range(128):
            url = s3.generate_presigned_url("put_object", Params={"Bucket": "ddputs", "Key": f"raw/p-{i}"},
                                            ExpiresIn=3600)
            f.write(f'url = "{url}"\nupload-file = "/dev/shm/dd-after-puts-8m"\noutput = "/dev/null"\n')
else:
    for i in range(128):
        s3.delete_object(Bucket="ddputs", Key=f"raw/p-{i}")
PY
}

s3 setup
for round in $(seq "$ROUNDS"); do
  for mode in drop-behind keep-pages; do
    s3 urls
    curl -sS --no-progress-meter --parallel --parallel-max 16 -K "$WORK/puts.cfg" >/dev/null
    s3 clean
    extra=()
    [ "$mode" = drop-behind ] && extra=(--keep-pages-up-to 16)
    "$BIN" ddputs "$MNT" --endpoint-url "$RGW_ENDPOINT" --force-path-style "${extra[@]}"
    pid=$(pgrep -nf "ddputs $MNT")
    sync
    echo 3 > /proc/sys/vm/drop_caches
    c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    t0=$(date +%s.%N)
    dd if="$MNT/big" of=/dev/null bs=1M 2>/dev/null
    t1=$(date +%s.%N)
    c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    dd if="$MNT/big" of=/dev/null bs=1M 2>/dev/null
    t2=$(date +%s.%N)
    umount "$MNT"
    awk -v r="$round" -v m="$mode" -v a="$t0" -v b="$t1" -v c0="$c0" -v c1="$c1" -v d="$t2" \
      'BEGIN { printf "round %s %-12s first %4.0f MiB/s  %.2f daemon CPU s/GiB  second %5.0f MiB/s\n", r, m, 512 / (b - a), (c1 - c0) / 100 * 2, 512 / (d - b) }'
  done
done
