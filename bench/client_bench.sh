#!/usr/bin/env bash
# client_bench.sh: issue 2's benchmark in one command. The S3 client alone (no FUSE):
# N parallel 8 MiB ranged GETs from large objects on a local Ceph RGW, by our client
# (bench/s3_get_bench get) and by `curl --parallel` over presigned URLs for the very same
# requests, in the same run, alternating which goes first in each round.
#
#   bench/client_bench.sh            # 5 rounds; writes bench/results/client-get.{md,csv}
#
# Settings (environment): ROUNDS (5), PARALLELS ("8 16"), OBJECTS (4), OBJECT_SIZE (512MiB),
# RANGE_SIZE (8MiB), GET_MIB (2048: bytes each client reads per run), BUILD_DIR
# (build-bench), RGW_DIR / RGW_PORT / RGW_MON_PORT (a private RGW instance, see rgw.sh).
# Each run is timed from outside (wall clock; user+sys CPU from wait4's rusage, in µs)
# by the same wrapper for both clients, so process start-up counts for both.
# The data set stays in RGW's memstore (~1.7x its size in RAM); RGW is stopped at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5}
PARALLELS=${PARALLELS:-"8 16"}
OBJECTS=${OBJECTS:-4}
OBJECT_SIZE=${OBJECT_SIZE:-512MiB}
RANGE_SIZE=${RANGE_SIZE:-8MiB}
GET_MIB=${GET_MIB:-2048}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
export RGW_DIR=${RGW_DIR:-/var/tmp/s3mount-rgw-client-bench}
export RGW_PORT=${RGW_PORT:-17580}
export RGW_MON_PORT=${RGW_MON_PORT:-16889}
RESULTS=$ROOT/bench/results
BUCKET=bench
WORK=$(mktemp -d /tmp/client-bench.XXXXXX)

log() { echo "client_bench: $*" >&2; }

cleanup() {
  "$ROOT/bench/rgw.sh" stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# measure OUT CMD...: runs CMD with stdout to OUT; prints "wall_s user_s sys_s".
cat >"$WORK/measure.py" <<'PY'
import os, subprocess, sys, time
out = open(sys.argv[1], "w")
start = time.monotonic()
child = subprocess.Popen(sys.argv[2:], stdout=out)
_, status, usage = os.wait4(child.pid, 0)
wall = time.monotonic() - start
code = os.waitstatus_to_exitcode(status)
if code != 0:
    sys.exit(f"{sys.argv[2]} exited with {code}")
print(f"{wall:.6f} {usage.ru_utime:.6f} {usage.ru_stime:.6f}")
PY
measure() { python3 "$WORK/measure.py" "$@"; }

build() {
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  nice cmake --build "$BUILD_DIR" -j2 --target s3_get_bench >/dev/null
}

build
TOOL=$BUILD_DIR/bench/s3_get_bench
log "starting RGW in $RGW_DIR (port $RGW_PORT)"
eval "$("$ROOT/bench/rgw.sh" start)"
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY
COMMON=(--endpoint "$RGW_ENDPOINT" --bucket "$BUCKET" -K "$OBJECTS" -S "$OBJECT_SIZE")
RANGE_BYTES=$(python3 -c "
import re,sys; m=re.fullmatch(r'(\d+)(KiB|MiB|GiB)?', '$RANGE_SIZE')
print(int(m[1]) * {None:1,'KiB':1<<10,'MiB':1<<20,'GiB':1<<30}[m[2]])")
REQUESTS=$(( GET_MIB * 1048576 / RANGE_BYTES ))

"$TOOL" mkbucket "${COMMON[@]}" >&2
log "uploading $OBJECTS objects of $OBJECT_SIZE"
"$TOOL" put "${COMMON[@]}" -P 8 >&2
"$TOOL" presign "${COMMON[@]}" -N "$REQUESTS" -R "$RANGE_SIZE" >"$WORK/curl.list"

# run_one ROUND CLIENT P: one run, appended to the CSV.
run_one() {
  local round=$1 client=$2 p=$3 times
  if [ "$client" = s3mount ]; then
    times=$(measure "$WORK/out" "$TOOL" get "${COMMON[@]}" -N "$REQUESTS" -R "$RANGE_SIZE" -P "$p")
  else
    times=$(measure "$WORK/out" curl --no-progress-meter --parallel --parallel-max "$p" \
      -K "$WORK/curl.list")
    # Every transfer must have been a 206 of the full range.
    local good
    good=$(grep -c "^206 $RANGE_BYTES\$" "$WORK/out" || true)
    [ "$good" -eq "$REQUESTS" ] || { log "curl: only $good of $REQUESTS GETs complete"; exit 1; }
  fi
  [ "$round" -gt 0 ] || return 0  # the warm-up round is not recorded
  echo "$round,$client,$p,$((REQUESTS * RANGE_BYTES)),${times// /,}" >>"$RESULTS/client-get.csv"
}

mkdir -p "$RESULTS"
echo "round,client,parallel,bytes,wall_s,user_s,sys_s" >"$RESULTS/client-get.csv"
log "warm-up round"
for p in $PARALLELS; do run_one 0 s3mount "$p"; run_one 0 curl "$p"; done
for round in $(seq "$ROUNDS"); do
  log "round $round of $ROUNDS"
  for p in $PARALLELS; do
    if [ $((round % 2)) -eq 1 ]; then
      run_one "$round" s3mount "$p"; run_one "$round" curl "$p"
    else
      run_one "$round" curl "$p"; run_one "$round" s3mount "$p"
    fi
  done
done

# Medians per client and P; the ratios are medians of the per-round ratios (each round
# compares the two clients under the same machine load).
python3 - "$RESULTS/client-get.csv" "$RESULTS/client-get.md" <<PY
import csv, statistics, sys, platform, os
rows = list(csv.DictReader(open(sys.argv[1])))
runs = {}
for r in rows:
    b, wall = int(r["bytes"]), float(r["wall_s"])
    cpu = float(r["user_s"]) + float(r["sys_s"])
    runs[(r["client"], int(r["parallel"]), int(r["round"]))] = (b / 2**20 / wall, cpu / (b / 2**30))
med = statistics.median
lines = [
    "| client | in flight | MiB/s (median) | CPU s/GiB (median) | throughput vs curl | CPU/GiB vs curl |",
    "|---|---|---|---|---|---|",
]
for p in sorted({k[1] for k in runs}):
    rounds = sorted({k[2] for k in runs if k[1] == p})
    for client in ("s3mount", "curl"):
        tput = med(runs[(client, p, r)][0] for r in rounds)
        cpu = med(runs[(client, p, r)][1] for r in rounds)
        tr = med(runs[(client, p, r)][0] / runs[("curl", p, r)][0] for r in rounds)
        cr = med(runs[(client, p, r)][1] / runs[("curl", p, r)][1] for r in rounds)
        name = "s3_get_bench (S3ObjectClient)" if client == "s3mount" else "curl --parallel"
        lines.append(f"| {name} | {p} | {tput:.0f} | {cpu:.3f} | {tr:.2f}x | {cr:.2f}x |")
table = "\n".join(lines)
load = open("/proc/loadavg").read().split()[:3]
md = f"""# S3 client alone: ranged GETs from Ceph RGW (issue 2)

Command: \`bench/client_bench.sh\` ({len({k[2] for k in runs})} rounds, alternating order;
$OBJECTS objects of $OBJECT_SIZE, $REQUESTS GETs of $RANGE_SIZE = $GET_MIB MiB per run per client).
Machine: {os.cpu_count()} CPUs shared with the server, load average at the end {" ".join(load)}.
CPU is the client process's user+sys (wait4 rusage); ratios are medians of per-round ratios.

{table}
"""
open(sys.argv[2], "w").write(md)
print(md)
PY
