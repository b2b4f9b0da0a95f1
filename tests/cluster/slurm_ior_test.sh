#!/usr/bin/env bash
# slurm_ior_test.sh: end-to-end test of the cluster recipe on the local lab (tests/cluster/lab.sh):
# brings the lab up with each node mounting the bucket (NODE_MOUNT_CMD), submits bench/slurm/ior.sbatch
# with sbatch over both nodes (2 tasks per node), waits (bounded), checks the job succeeded, parses its
# RESULT lines, and checks every task's file through an independent client (VERIFY_CMD); tears the lab
# down on any exit. Whole run bounded by TEST_TIMEOUT (default 280 s).
#
# Proof mode (default): nodes bind one host directory at LAB_MOUNT; VERIFY_CMD lists that directory.
# Real mode swaps only the two commands, e.g. with an S3 server on the host at 10.200.0.1:9000:
#   NODE_MOUNT_CMD='S3MOUNT_BIN="$REPO/build/s3mount" "$REPO/deploy/mount.s3mount" s3://bucket/ "$LAB_MOUNT" -o endpoint-url=http://10.200.0.1:9000,force-path-style,allow-delete'
#   VERIFY_CMD='python3 "$REPO/tests/cluster/s3_list.py" --endpoint-url http://127.0.0.1:9000 bucket "$EXPECT_PREFIX"'
# (credentials for both through AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment).
# VERIFY_CMD contract: run by bash with EXPECT_PREFIX (e.g. "ior/5/", relative to the bucket root =
# LAB_MOUNT) and LAB_DIR, REPO exported; prints one "RELATIVE_PATH SIZE" line per object under it.
# Jobs: ior.sbatch once per tool in TOOLS (default "ior fio" when IOR is installed, else "fio"), then
# mdtest.sbatch (MD_FILES files per task, MD_TOOL=auto|mdtest|shell; removal needs --allow-delete on a
# real mount).
# Other knobs: BLOCK (64m), TRANSFER (4m), JOB_TIMEOUT (150 s per job).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export REPO
export LAB_DIR=${LAB_DIR:-/var/tmp/s3mount-lab}
export LAB_MOUNT=${LAB_MOUNT:-/mnt/s3}
export SLURM_CONF=$LAB_DIR/etc/slurm.conf
BLOCK=${BLOCK:-64m}
TRANSFER=${TRANSFER:-4m}
TASKS_PER_NODE=2
NODE_COUNT=2
JOB_TIMEOUT=${JOB_TIMEOUT:-150}
TEST_TIMEOUT=${TEST_TIMEOUT:-280}
# shellcheck disable=SC2016  # expanded later by bash -c, with EXPECT_PREFIX set
DEFAULT_VERIFY='find "$LAB_DIR/bucket/$EXPECT_PREFIX" -type f -printf "%P %s\n"'
VERIFY_CMD=${VERIFY_CMD:-$DEFAULT_VERIFY}

fail() { echo "slurm_ior_test: FAIL: $*" >&2; exit 1; }
note() { echo "slurm_ior_test: $*"; }

[ "$(id -u)" -eq 0 ] || { echo "slurm_ior_test: SKIP: needs root (namespaces, bridge)"; exit 77; }
for c in sbatch slurmctld slurmd munged fio; do
  command -v "$c" >/dev/null ||
    { echo "slurm_ior_test: SKIP: $c missing (apt-get install slurm-wlm munge openmpi-bin libopenmpi-dev fio)"; exit 77; }
done

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
cleanup() {
  local rc=$?
  kill "$watchdog" 2>/dev/null || true
  if [ "$rc" -ne 0 ] && [ -d "$LAB_DIR/log" ]; then
    note "logs (last lines):"
    tail -n 5 "$LAB_DIR"/log/* 2>/dev/null | sed 's/^/  /' || true
  fi
  "$HERE/lab.sh" down >/dev/null 2>&1 || echo "slurm_ior_test: warning: lab.sh down failed" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

"$HERE/lab.sh" down >/dev/null 2>&1 || true   # a lab left by an earlier run that was killed
t_start=$SECONDS
"$HERE/lab.sh" up || fail "lab did not come up (see above)"
note "lab up in $((SECONDS - t_start))s"

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

# Checks one RESULT line per phase, all tasks counted, a positive rate in field $3 (MiB/s or ops/s).
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
    note "job $job $phase: $rate $unit over $tasks tasks"
  done
}

# Every task's file, seen by an independent client.
verify_files() { # job
  local listing want_size name size r
  export EXPECT_PREFIX="ior/$1/"
  listing=$(bash -c "$VERIFY_CMD") || fail "VERIFY_CMD failed: $VERIFY_CMD"
  want_size=$(numfmt --from=iec "${BLOCK^^}")
  for ((r = 0; r < tasks; r++)); do
    name=$(printf 'testfile.%08d' "$r")
    size=$(awk -v n="$name" '$1 == n || $1 ~ ("/" n "$") { print $2 }' <<< "$listing")
    [ -n "$size" ] || fail "task $r's file $EXPECT_PREFIX$name not found by VERIFY_CMD"
    [ "$size" = "$want_size" ] || fail "$EXPECT_PREFIX$name has $size bytes, want $want_size"
  done
  note "job $1: verified $tasks files of $want_size bytes under $EXPECT_PREFIX"
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
  fi
  verify_files "$job"
done
job=$(run_job "$REPO/bench/slurm/mdtest.sbatch" "FILES=${MD_FILES:-100},TOOL=${MD_TOOL:-auto}")
check_results "$job" ops/s create stat remove
note "PASS in $((SECONDS - t_start))s"
echo "1 passed, 0 failed"
