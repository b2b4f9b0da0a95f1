#!/usr/bin/env bash
# blog_ior_test.sh: the blog's job script (bench/slurm/blog-ior.sbatch, as published) through
# s3mount on the Slurm lab (tests/cluster/lab.sh: two nodes declaring 8 CPUs each, moto_server,
# every node mounting bucket "lab" with the real s3mount), submitted the way a user on a
# ParallelCluster head node submits it: from a shell with `module` and IOR in PATH
# (LAB_DIR/etc/profile), sbatch --chdir=<a directory on the mount>, the script's #SBATCH lines as
# they are (plus --error, see bench/slurm/scale.sh for why).
#
# 1. Always: a copy of the script whose `ior …` line is replaced by a probe (each rank prints its
#    host, working directory, that directory's file system type and the MPI the module loaded):
#    the header's 8 tasks on one node, the module reaching the job, mpirun starting every rank in
#    the job's directory on the s3mount mount, the output file (named by the header's pattern) on
#    the mount and in S3; the same on 2 nodes (-N2 --ntasks=16).
# 2. With IOR installed (IOR_PREFIX, default /opt/ior; CI has none): the script itself, unchanged,
#    at BLOG_IOR_BLOCK=4m BLOG_IOR_TRANSFER=1m (the lab's ior wrapper), on 1 node as written and on
#    2 nodes: the job completes, its output ends with IOR's summary (parsed by bench/ioparse.py:
#    tasks, nodes, clients per node, block, both rates positive), and IOR's files are gone from S3
#    afterwards (IOR removes them; boto3 lists the bucket). Without IOR: the probes still run and
#    the test exits 77 with a SKIP line saying the IOR part was not run.
# Exit 77 also without root. Bounded by TEST_TIMEOUT (default 280 s); the lab is taken down on any
# exit and LAB_DIR removed after a pass.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export REPO
export LAB_DIR=${LAB_DIR:-/var/tmp/s3mount-lab}
export LAB_MOUNT=${LAB_MOUNT:-/mnt/s3}
export S3MOUNT_BIN=${S3MOUNT_BIN:-$REPO/build/s3mount}
export LAB_NODES=2 LAB_CPUS=8 LAB_S3=moto
export IOR_PREFIX=${IOR_PREFIX:-/opt/ior}
SCRIPT=$REPO/bench/slurm/blog-ior.sbatch
IOR_LINE='     ior -r -w -v -F -o=S@S@S -b=2000m -i=1 -t=50m -a=POSIX --posix.odirect"'
TPN=8
JOB_TIMEOUT=${JOB_TIMEOUT:-120}
TEST_TIMEOUT=${TEST_TIMEOUT:-280}
BLOCK=4m
TRANSFER=1m

fail() { echo "blog_ior_test: FAIL: $*" >&2; exit 1; }
note() { echo "blog_ior_test: $*"; }

[ "$(id -u)" -eq 0 ] || { echo "blog_ior_test: SKIP: needs root (namespaces, bridge, FUSE mounts)"; exit 77; }
for c in sbatch slurmctld slurmd munged mpirun moto_server fusermount3 curl python3; do
  command -v "$c" >/dev/null || fail "$c missing: run scripts/install-deps"
done
[ -f /usr/share/modules/init/bash ] || fail "environment-modules missing: run scripts/install-deps"
python3 -c 'import boto3' 2>/dev/null || fail "python3 has no boto3: run scripts/install-deps"
[ -x "$S3MOUNT_BIN" ] || fail "no s3mount binary at $S3MOUNT_BIN (build it, or set S3MOUNT_BIN)"
[ "$(grep -cxF -- "$IOR_LINE" "$SCRIPT")" = 1 ] || fail "$SCRIPT does not hold the blog's ior line exactly once"

main_pid=$$
(
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleep "$TEST_TIMEOUT" & sleeper=$!
  wait "$sleeper"
  echo "blog_ior_test: FAIL: over ${TEST_TIMEOUT}s, aborting" >&2
  kill -TERM "$main_pid"
) &
watchdog=$!
cleanup() {
  local rc=$?
  kill "$watchdog" 2>/dev/null || true
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -d "$LAB_DIR/log" ]; then
    note "logs (last lines; all in $LAB_DIR/log):"
    tail -n 5 "$LAB_DIR"/log/* "$LAB_DIR"/log/s3mount-*/* 2>/dev/null | sed 's/^/  /' || true
  fi
  "$HERE/lab.sh" down >/dev/null 2>&1 || echo "blog_ior_test: warning: lab.sh down failed" >&2
  if ip link show s3mlab0 >/dev/null 2>&1 || ip netns list | grep -q '^s3mlab-'; then
    echo "blog_ior_test: FAIL: the lab's bridge or namespaces are left after lab.sh down" >&2
    [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || rc=1
  fi
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then rm -rf "$LAB_DIR"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

"$HERE/lab.sh" down >/dev/null 2>&1 || true
t_start=$SECONDS
"$HERE/lab.sh" up || fail "lab did not come up (see above)"
set -a
# shellcheck disable=SC1091  # written by lab.sh up
. "$LAB_DIR/etc/s3.env"
set +a
# What a login gives the submitter: SLURM_CONF, module (intelmpi on MODULEPATH), IOR in PATH.
# shellcheck disable=SC1091
. "$LAB_DIR/etc/profile"
[ "$(type -t module)" = function ] || fail "LAB_DIR/etc/profile gave no module function"
cd "$LAB_DIR/jobs"
note "lab up in $((SECONDS - t_start))s (2 nodes, 8 CPUs declared each, moto at $S3_ENDPOINT)"

# A new directory on the mount, made visible to every node by a file in it; echoes its path.
job_dir() { # name
  local d=$LAB_MOUNT/blog/$1
  srun -N1 -n1 bash -c "mkdir -p '$d' && date -u > '$d/.job-dir'" || fail "could not make $d on the mount"
  echo "$d"
}

# Submits SCRIPT in DIR with extra sbatch options, waits, checks COMPLETED 0:0; echoes "job file".
submit() { # script dir sbatch-options...
  local script=$1 dir=$2 job state="" deadline first name
  shift 2
  job=$(sbatch --parsable --chdir="$dir" --error=%N_%x_%j_%t.err "$@" "$script") || fail "sbatch refused $script $*"
  deadline=$((SECONDS + JOB_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    state=$(scontrol show job "$job" -o | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2)
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) break ;; esac
    sleep 1
  done
  first=$(scontrol show hostnames "$(scontrol show job "$job" -o | grep -oE ' NodeList=[^ ]+' | cut -d= -f2)" | head -n 1)
  name=$(python3 "$REPO/bench/ioparse.py" sbatch-output "$script" --node "$first" --job-id "$job")
  "$HERE/lab.sh" exec "$first" cat "$dir/$name" > "$LAB_DIR/jobs/$name" 2>/dev/null || true
  "$HERE/lab.sh" exec "$first" cat "$dir/${name%.out}.err" > "$LAB_DIR/jobs/${name%.out}.err" 2>/dev/null || true
  if [ "$state" != COMPLETED ]; then
    scancel "$job" 2>/dev/null || true
    sed 's/^/  job: /' "$LAB_DIR/jobs/$name" "$LAB_DIR/jobs/${name%.out}.err" >&2 || true
    fail "job $job ($(basename "$script") $*) ended '${state:-unknown}' (want COMPLETED within ${JOB_TIMEOUT}s)"
  fi
  [ "$(scontrol show job "$job" -o | grep -oE ' ExitCode=[0-9:]+' | cut -d= -f2)" = 0:0 ] || fail "job $job: exit code not 0:0"
  [ -s "$LAB_DIR/jobs/$name" ] || fail "job $job: its output $dir/$name (the header's pattern, on $first's mount) is missing or empty"
  echo "$job $name"
}

# The S3 keys under a directory of the mount, from moto with boto3: "name size" lines.
s3_keys() { python3 "$HERE/s3_list.py" --endpoint-url "$S3_ENDPOINT" "$S3_BUCKET" "${1#"$LAB_MOUNT"/}/"; }

# ---- 1. the probe: the script with its ior line replaced ----
probe=$LAB_DIR/jobs/blog-probe.sbatch
python3 - "$SCRIPT" "$probe" "$IOR_LINE" <<'EOF'
import sys
src, dst, line = sys.argv[1:]
text = open(src).read()
probe = ('     echo probe rank=\$OMPI_COMM_WORLD_RANK host=\$(hostname) cwd=\$PWD '
         'fs=\$(stat -f -c %T .) mpi=[\$S3MOUNT_LAB_MPI] ior=\$(command -v ior)"')
assert text.count(line + "\n") == 1
open(dst, "w").write(text.replace(line + "\n", probe + "\n"))
EOF
for nodes in 1 2; do
  dir=$(job_dir "probe-$nodes")
  extra=()
  [ "$nodes" = 1 ] || extra=(--nodes=2 --ntasks=$((2 * TPN)))
  read -r job name < <(submit "$probe" "$dir" "${extra[@]}")
  out=$LAB_DIR/jobs/$name
  lines=$(grep -c '^probe ' "$out" || true)
  [ "$lines" = $((nodes * TPN)) ] || fail "probe job $job: $lines ranks answered, want $((nodes * TPN)): $(head -c 600 "$out")"
  for ((n = 1; n <= nodes; n++)); do
    c=$(grep -c "^probe .* host=n$n " "$out" || true)
    [ "$c" = "$TPN" ] || fail "probe job $job: $c ranks on n$n, want $TPN"
  done
  bad=$(grep '^probe ' "$out" | grep -v " cwd=$dir fs=fuse" || true)
  [ -z "$bad" ] || fail "probe job $job: ranks not in $dir on the FUSE mount: $(head -n 2 <<< "$bad")"
  grep '^probe ' "$out" | grep -qF 'mpi=[Open MPI (Debian) as intelmpi]' || fail "probe job $job: the intelmpi module was not loaded in the job"
  [ "$(grep -c "ior=$HERE/lab-bin/ior\$" "$out")" = $((nodes * TPN)) ] || fail "probe job $job: ior is not the lab's wrapper on every rank"
  keys=$(s3_keys "$dir") || fail "could not list $dir in S3"
  grep -q "^$name [1-9]" <<< "$keys" || fail "probe job $job: $name is not in S3 under $dir: $(tr '\n' ' ' <<< "$keys")"
  note "probe on $nodes node(s) (job $job): $((nodes * TPN)) ranks, $TPN per node, in $dir (fuse), module intelmpi loaded; $name in S3"
done

# ---- 2. the blog's script, unchanged, with IOR ----
if [ ! -x "$IOR_PREFIX/bin/ior" ]; then
  echo "blog_ior_test: SKIP: IOR is not installed in $IOR_PREFIX: the blog's script was not run (its environment" \
    "was: the probes above passed). Install it with deploy/parallelcluster/install-ior.sh --prefix $IOR_PREFIX"
  exit 77
fi
export BLOG_IOR_BLOCK=$BLOCK BLOG_IOR_TRANSFER=$TRANSFER
for nodes in 1 2; do
  dir=$(job_dir "ior-$nodes")
  extra=()
  [ "$nodes" = 1 ] || extra=(--nodes=2 --ntasks=$((2 * TPN)))
  read -r job name < <(submit "$SCRIPT" "$dir" "${extra[@]}")
  out=$LAB_DIR/jobs/$name
  sed 's/^/  job: /' "$out"
  [ "$(grep -v '^\s*$' "$out" | tail -n 1 | cut -d: -f1 | tr -d ' ')" = Finished ] ||
    fail "job $job: output does not end with IOR's summary and Finished line"
  python3 "$REPO/bench/ioparse.py" ior "$out" > "$out.json" || fail "job $job: bench/ioparse.py found no IOR summary"
  read -r tasks inodes cpn block w r < <(python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(j["tasks"], j["nodes"], j["clients_per_node"], j["blocksize"], j["max"]["write"], j["max"]["read"])' "$out.json")
  [ "$tasks $inodes $cpn" = "$((nodes * TPN)) $nodes $TPN" ] ||
    fail "job $job: IOR saw tasks=$tasks nodes=$inodes clients/node=$cpn, want $((nodes * TPN)) $nodes $TPN"
  [ "$block" = "$(numfmt --from=iec "${BLOCK^^}")" ] || fail "job $job: IOR's block is $block bytes, want $BLOCK"
  awk -v w="$w" -v r="$r" 'BEGIN { exit !(w > 0 && r > 0) }' || fail "job $job: Max Write $w / Max Read $r not positive"
  grep -q -- "-b=2000m -> -b=$BLOCK -t=50m -> -t=$TRANSFER" "$LAB_DIR/jobs/${name%.out}.err" ||
    fail "job $job: the wrapper did not record the scaled sizes in ${name%.out}.err"
  keys=$(s3_keys "$dir") || fail "could not list $dir in S3"
  left=$(grep -E '^S\.[0-9]{8} ' <<< "$keys" || true)
  [ -z "$left" ] || fail "job $job: IOR's files are still in S3: $(tr '\n' ' ' <<< "$left")"
  grep -q "^$name [1-9]" <<< "$keys" || fail "job $job: $name is not in S3"
  note "blog script on $nodes node(s) (job $job): $tasks tasks, Max Write $w MiB/s, Max Read $r MiB/s ($BLOCK per task); IOR's files removed from S3"
done
note "PASS in $((SECONDS - t_start))s"
