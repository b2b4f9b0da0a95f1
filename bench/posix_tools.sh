#!/usr/bin/env bash
# posix_tools.sh [posix_tools.py options...]: the POSIX tools matrix. Runs tar -x, cp -a, rsync
# (default and --inplace), git clone, sed -i, appends, dd conv=notrunc, truncate, mv, mkdir/rmdir,
# touch -d, chmod +x, ln -s, unzip, cp -r, touch and a write-to-temp-then-rename on fresh mounts
# of s3mount (--allow-delete --allow-overwrite, and with --posix), s3fs and rclone mount
# (--vfs-cache-mode off and writes), all against one server, and checks each result through
# a second mount and in S3. Results: bench/results/posix-tools.{md,csv}.
#   bench/posix_tools.sh                                  # everything (~10 min)
#   bench/posix_tools.sh --clients s3mount,s3fs --tools "sed -i,mv file + dir"
# The server is a Ceph RGW (bench/rgw.sh) when it starts, else moto_server (SERVER=moto forces
# it). Environment: BUILD_DIR (default build: only the s3mount target is built), WORK_DIR
# (default /var/tmp/s3mount-posix-tools), RGW_DIR / RGW_PORT / RGW_MON_PORT (a private RGW
# instance, default /var/tmp/s3mount-rgw-posix-tools, 17880, 17089).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/bench_lib.sh"
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
WORK_DIR=${WORK_DIR:-/var/tmp/s3mount-posix-tools}
export RGW_DIR=${RGW_DIR:-/var/tmp/s3mount-rgw-posix-tools}
export RGW_PORT=${RGW_PORT:-17880} RGW_MON_PORT=${RGW_MON_PORT:-17089}
# The matrix stores a few MiB: a small memstore is plenty.
export RGW_MEMSTORE_BYTES=${RGW_MEMSTORE_BYTES:-$((1 << 30))}

case "${1:-}" in -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

need() {  # need COMMAND DEBIAN-PACKAGE: installs what the matrix runs, once
  command -v "$1" >/dev/null && return
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}
for pair in s3fs:s3fs rclone:rclone rsync:rsync git:git unzip:unzip fusermount3:fuse3; do
  need "${pair%%:*}" "${pair##*:}"
done
python3 -c 'import boto3' 2>/dev/null || { echo "posix_tools.sh: python3 needs boto3" >&2; exit 1; }

bench_build "$BUILD_DIR" s3mount

MOTO_PID=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  awk -v d="$WORK_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; fi
  "$ROOT/bench/rgw.sh" stop "$RGW_DIR" >/dev/null 2>&1 || true
  exit $rc
}
trap cleanup EXIT INT TERM
rm -rf "$WORK_DIR" && mkdir -p "$WORK_DIR"

start_moto() {
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  moto_server -H 127.0.0.1 -p "$port" >"$WORK_DIR/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
  SERVER="moto_server $(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null)"
  export S3_ENDPOINT=http://127.0.0.1:$port SERVER
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
}

if [ "${SERVER:-}" != moto ] && rgw_env=$("$ROOT/bench/rgw.sh" start "$RGW_DIR" 2>"$WORK_DIR/rgw-start.log"); then
  eval "$rgw_env"
  SERVER="Ceph RGW $(radosgw --version | awk '{print $3}')"
  export S3_ENDPOINT=$RGW_ENDPOINT SERVER
  export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY
else
  [ "${SERVER:-}" = moto ] || echo "posix_tools.sh: RGW did not start ($WORK_DIR/rgw-start.log): using moto_server" >&2
  start_moto
fi
export AWS_REGION=us-east-1
echo "posix_tools.sh: server $SERVER at $S3_ENDPOINT" >&2

revision="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo '+changes')"
python3 "$ROOT/bench/posix_tools.py" --s3mount "$BUILD_DIR/s3mount" --work "$WORK_DIR" \
  --results "$ROOT/bench/results" --revision "$revision" "$@"
echo "posix_tools.sh: results in $ROOT/bench/results/posix-tools.md (logs in $WORK_DIR/logs)" >&2
