#!/usr/bin/env bash
# slurm_ior_test.sh: end-to-end test of the cluster recipe on the local lab (tests/cluster/lab.sh),
# for real: moto_server on the lab bridge (10.200.0.1), each of the two nodes mounting bucket "lab"
# with the real s3mount (S3MOUNT_BIN, default build/s3mount) through deploy/mount.s3mount; submits
# bench/slurm/ior.sbatch with sbatch over both nodes (2 tasks per node; file per process, O_DIRECT,
# write then read), waits (bounded), checks the job succeeded, parses its RESULT lines (the read-back
# rate must be sane), and lists every task's object straight from moto with boto3
# (tests/cluster/s3_list.py): sizes exact. Then mdtest.sbatch (create/stat/remove). Tears the lab
# down on any exit and checks nothing is left (mounts, namespaces, bridge, s3mount, moto).
# Whole run bounded by TEST_TIMEOUT (default 170 s); LAB_DIR is removed after a pass, kept (logs)
# after a failure.
#
# Jobs: ior.sbatch once per tool in TOOLS (default "ior fio" when IOR is installed, else "fio": CI
# has no IOR), then mdtest.sbatch (MD_FILES files per task, MD_TOOL=auto|mdtest|shell).
# Other knobs: BLOCK (4m; moto is slow with big objects), TRANSFER (1m), JOB_TIMEOUT (90 s per job),
# READ_MIN_MIBS (0.5: the lowest read-back rate taken as sane), NODE_MOUNT_OPTIONS (e.g. debug).
# Exit 77 (skip) only without root; a missing package or binary is a failure (scripts/install-deps).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export REPO
export LAB_DIR=${LAB_DIR:-/var/tmp/s3mount-lab}
export LAB_MOUNT=${LAB_MOUNT:-/mnt/s3}
export SLURM_CONF=$LAB_DIR/etc/slurm.conf
export S3MOUNT_BIN=${S3MOUNT_BIN:-$REPO/build/s3mount}
BLOCK=${BLOCK:-4m}
TRANSFER=${TRANSFER:-1m}
TASKS_PER_NODE=2
NODE_COUNT=2
JOB_TIMEOUT=${JOB_TIMEOUT:-90}
TEST_TIMEOUT=${TEST_TIMEOUT:-170}
READ_MIN_MIBS=${READ_MIN_MIBS:-0.5}
# Above this the "read" cannot have gone through s3mount to moto (2 CPUs, one Python server).
READ_MAX_MIBS=20000

fail() { echo "slurm_ior_test: FAIL: $*" >&2; exit 1; }
note() { echo "slurm_ior_test: $*"; }

[ "$(id -u)" -eq 0 ] || { echo "slurm_ior_test: SKIP: needs root (namespaces, bridge, FUSE mounts)"; exit 77; }
for c in sbatch slurmctld slurmd munged fio moto_server fusermount3 curl python3; do
  command -v "$c" >/dev/null || fail "$c missing: run scripts/install-deps"
done
python3 -c 'import boto3' 2>/dev/null || fail "python3 has no boto3: run scripts/install-deps"
[ -x "$S3MOUNT_BIN" ] || fail "no s3mount binary at $S3MOUNT_BIN (build it, or set S3MOUNT_BIN)"

# Whole-run watchdog: if anything hangs, the EXIT trap still tears the lab down.
main_pid=$$
(
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleep "$TEST_TIMEOUT" & sleeper=$!
  wait "$sleeper"
  echo "slurm_ior_test: FAIL: over ${TEST_TIMEOUT}s, aborting" >&2
  kill -TERM "$main_pid"
) &
watchdog=$!
# What a torn-down lab must not leave: prints one line per leftover.
leftovers() {
  local n
  for n in ctl n1 n2; do ip netns list | grep -qw "s3mlab-$n" && echo "network namespace s3mlab-$n"; done
  ip link show s3mlab0 >/dev/null 2>&1 && echo "bridge s3mlab0"
  pgrep -f -- "$S3MOUNT_BIN .*$LAB_MOUNT" >/dev/null && echo "s3mount process(es): $(pgrep -f -- "$S3MOUNT_BIN .*$LAB_MOUNT" | tr '\n' ' ')"
  pgrep -f -- "moto_server -H 10.200.0.1 " >/dev/null && echo "moto_server process(es): $(pgrep -f -- "moto_server -H 10.200.0.1 " | tr '\n' ' ')"
  grep -q " $LAB_MOUNT [^-]* - fuse" /proc/self/mountinfo && echo "a FUSE mount at $LAB_MOUNT on the host"
  return 0
}
cleanup() {
  local rc=$? left l
  kill "$watchdog" 2>/dev/null || true
  if [ "$rc" -ne 0 ] && [ -d "$LAB_DIR/log" ]; then
    note "logs (last lines; all in $LAB_DIR/log):"
    tail -n 5 "$LAB_DIR"/log/* "$LAB_DIR"/log/s3mount-*/* 2>/dev/null | sed 's/^/  /' || true
  fi
  "$HERE/lab.sh" down >/dev/null 2>&1 || echo "slurm_ior_test: warning: lab.sh down failed" >&2
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "slurm_ior_test: FAIL: left behind after lab.sh down:" >&2
    while IFS= read -r l; do echo "  $l" >&2; done <<< "$left"
    [ "$rc" -ne 0 ] || rc=1
  fi
  if [ "$rc" -eq 0 ]; then rm -rf "$LAB_DIR"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

"$HERE/lab.sh" down >/dev/null 2>&1 || true   # a lab left by an earlier run that was killed
t_start=$SECONDS
"$HERE/lab.sh" up || fail "lab did not come up (see above)"
note "lab up in $((SECONDS - t_start))s"
set -a
# shellcheck disable=SC1091  # written by lab.sh up: S3_ENDPOINT, S3_BUCKET, the dummy credentials
. "$LAB_DIR/etc/s3.env"
set +a
note "moto at $S3_ENDPOINT, bucket $S3_BUCKET, mounted with $S3MOUNT_BIN on every node"

cd "$LAB_DIR/jobs"
tasks=$((NODE_COUNT * TASKS_PER_NODE))

# Submits $1 with the extra --export list $2, waits (bounded), checks COMPLETED 0:0; echoes the job id.
run_job() {
  local script=$1 exports=$2 job state="" exit_code out deadline
  job=$(sbatch --parsable --nodes=$NODE_COUNT --ntasks-per-node=$TASKS_PER_NODE --output="job-%j.out" \
    --export="ALL,MOUNT=$LAB_MOUNT,$exports" "$script") || fail "sbatch refused $(basename "$script")"
  deadline=$((SECONDS + JOB_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    state=$(scontrol show job "$job" -o | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2)
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE) break ;; esac
    sleep 1
  done
  out=$LAB_DIR/jobs/job-$job.out
  if [ "$state" != COMPLETED ]; then
    scancel "$job" 2>/dev/null || true
    [ -f "$out" ] && sed 's/^/  job: /' "$out" >&2
    fail "job $job ($(basename "$script") $exports) ended in state '${state:-unknown}' (want COMPLETED within ${JOB_TIMEOUT}s)"
  fi
  exit_code=$(scontrol show job "$job" -o | grep -oE ' ExitCode=[0-9:]+' | cut -d= -f2)
  [ "$exit_code" = "0:0" ] || fail "job $job exit code $exit_code"
  sed 's/^/  job: /' "$out" >&2
  echo "$job"
}

# Checks one RESULT line per phase, all tasks counted, a positive rate (MiB/s or ops/s).
check_results() { # job unit phases...
  local job=$1 unit=$2 out=$LAB_DIR/jobs/job-$1.out line rate got phase
  shift 2
  for phase in "$@"; do
    line=$(grep -E "^RESULT phase=$phase " "$out" || true)
    [ -n "$line" ] || fail "job $job: no 'RESULT phase=$phase' line"
    rate=$(sed -nE "s|.* $unit=([0-9.]+) .*|\1|p" <<< "$line")
    got=$(sed -nE 's/.* tasks=([0-9]+) .*/\1/p' <<< "$line")
    [ "$got" = "$tasks" ] || fail "job $job $phase: tasks=$got, want $tasks"
    awk -v r="$rate" 'BEGIN { exit !(r > 0) }' || fail "job $job $phase: rate '$rate' is not a positive number"
    if [ "$phase" = read ] && [ "$unit" = MiB/s ]; then
      awk -v r="$rate" -v lo="$READ_MIN_MIBS" -v hi="$READ_MAX_MIBS" 'BEGIN { exit !(r >= lo && r <= hi) }' ||
        fail "job $job read-back rate $rate MiB/s is not sane (want $READ_MIN_MIBS..$READ_MAX_MIBS)"
    fi
    note "job $job $phase: $rate $unit over $tasks tasks"
  done
}

# Every task's file, listed straight from moto with boto3 (not through any mount): exactly one
# object per task, sizes exact, and nothing else under the job's prefix but its marker.
verify_files() { # job
  local prefix="ior/$1/" listing want_size name size r count
  listing=$(python3 "$HERE/s3_list.py" --endpoint-url "$S3_ENDPOINT" "$S3_BUCKET" "$prefix") ||
    fail "s3_list.py could not list s3://$S3_BUCKET/$prefix"
  # The job's mkdir stores the directory's marker (the key "$prefix" itself, 0 bytes).
  awk '$1 == "" || $1 == "0" && NF == 1 { found = 1 } END { exit !found }' <<< "$listing" ||
    fail "s3://$S3_BUCKET/$prefix has no directory marker; listing: $(tr '\n' ' ' <<< "$listing")"
  listing=$(awk 'NF == 2' <<< "$listing")
  want_size=$(numfmt --from=iec "${BLOCK^^}")
  for ((r = 0; r < tasks; r++)); do
    name=$(printf 'testfile.%08d' "$r")
    size=$(awk -v n="$name" '$1 == n { print $2 }' <<< "$listing")
    [ -n "$size" ] || fail "task $r's object s3://$S3_BUCKET/$prefix$name is not in S3; listing: $(tr '\n' ' ' <<< "$listing")"
    [ "$size" = "$want_size" ] || fail "s3://$S3_BUCKET/$prefix$name has $size bytes in S3, want $want_size"
  done
  count=$(grep -c . <<< "$listing" || true)
  [ "$count" = "$tasks" ] || fail "s3://$S3_BUCKET/$prefix holds $count objects, want $tasks: $(tr '\n' ' ' <<< "$listing")"
  note "job $1: boto3 sees $tasks objects of $want_size bytes under s3://$S3_BUCKET/$prefix"
}

# The throughput job with each available tool (IOR when installed, fio always), then mdtest.
tools=${TOOLS:-}
if [ -z "$tools" ]; then
  tools=fio
  for d in "${IOR_PREFIX:-}" /shared/ior /opt/ior; do
    if [ -n "$d" ] && [ -x "$d/bin/ior" ]; then tools="ior fio"; break; fi
  done
  command -v ior >/dev/null && tools="ior fio"
fi
for tool in $tools; do
  job=$(run_job "$REPO/bench/slurm/ior.sbatch" "TOOL=$tool,BLOCK=$BLOCK,TRANSFER=$TRANSFER")
  check_results "$job" MiB/s write read
  if [ "$tool" = fio ]; then   # fio lines name the host; both nodes must have run tasks
    for n in n1 n2; do grep -q "^task [0-9]* on $n:" "$LAB_DIR/jobs/job-$job.out" || fail "job $job: no task ran on $n"; done
    # Every task read its whole file back (fio's own byte count, e.g. "io=4096KiB").
    want=$(numfmt --from=iec "${BLOCK^^}")
    full=$(grep -oE '^task [0-9]+ on n[0-9]+: read .* io=[0-9.]+[KMGT]?i?B' "$LAB_DIR/jobs/job-$job.out" |
      sed -E 's/.* io=([0-9.]+[KMGT]?i?)B$/\1/' | while read -r v; do numfmt --from=iec-i "$v"; done |
      grep -cx "$want" || true)
    [ "$full" = "$tasks" ] || fail "job $job: $full of $tasks fio tasks report reading all $want bytes"
    note "job $job: all $tasks fio tasks read back $want bytes"
  fi
  verify_files "$job"
done
job=$(run_job "$REPO/bench/slurm/mdtest.sbatch" "FILES=${MD_FILES:-20},TOOL=${MD_TOOL:-auto}")
check_results "$job" ops/s create stat remove
note "PASS in $((SECONDS - t_start))s"
echo "1 passed, 0 failed"
