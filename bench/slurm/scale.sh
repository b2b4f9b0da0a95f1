#!/usr/bin/env bash
# scale.sh: the blog's IOR job (bench/slurm/blog-ior.sbatch, as published) at several node counts,
# then the blog's table per run, a PNG like its Figure 1 (aggregate and per-node write and read
# against node count) and a Markdown report beside them (bench/scale_report.py).
#
#   scale.sh --lab [--nodes 1,2,4] [--out DIR]
#   scale.sh --partition P --nodes 1,2,4,8 --dir /mnt/s3/ior-scale [--out DIR]
#
# --lab       on this machine: brings up tests/cluster/lab.sh with as many nodes as the largest
#             count (LAB_NODES), 8 CPUs declared per node (the job's 8 tasks per node; they share
#             the host's cores) and Ceph RGW as the server (LAB_S3=rgw, bench/rgw.sh), runs, and
#             takes the lab down. Needs root, build/s3mount (S3MOUNT_BIN) and IOR in /opt/ior
#             (deploy/parallelcluster/install-ior.sh). Sizes: BLOG_IOR_BLOCK (default 100m here,
#             the blog's 2000m otherwise) and BLOG_IOR_TRANSFER (default: the blog's 50m), applied
#             by the lab's `ior` (tests/cluster/lab-bin/ior); the report says what ran. It also
#             samples each node's network counters (its veth on the host) every SAMPLE_S seconds,
#             so the report shows how the nodes shared the server.
# cluster     on a Slurm head node (e.g. ParallelCluster with deploy/parallelcluster/): --partition
#             and --dir, a directory on the s3mount mount (a new subdirectory per run). The
#             submitting shell must give the job what it needs: `module` (a login shell has it)
#             with an `intelmpi` module, and `ior` in PATH built with that MPI (see docs/DEPLOY.md).
# Options: --tasks-per-node N (default: the script's #SBATCH --ntasks-per-node), --script FILE
#          (default bench/slurm/blog-ior.sbatch), --out DIR (default ./blog-scale-<UTC time>),
#          --job-timeout S (default 900), --title TEXT, --repeat R (default 1: each count R times,
#          interleaved 1,2,4,1,2,4,…; the report gives medians and min–max).
# Each run: a directory RUNDIR on the mount, made with a marker file through one node (a new
# empty directory exists only on the node that made it); `sbatch --nodes=N --ntasks=N*TPN
# --chdir=RUNDIR --error=<the output name>.err SCRIPT`. The script's own #SBATCH lines stay as
# they are; --error is added because Slurm otherwise opens the --output file a second time for
# stderr, and s3mount (like Mountpoint) lets a new file have one writer only (ENOTSUP).
# Output in DIR: runs/nN-rR/ (node count N, repetition R: the job's .out and .err, net.tsv in the lab), table.csv, table.md,
# scale.png, report.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PARSER=$REPO/bench/ioparse.py
MODE=""
NODE_COUNTS=1,2,4
PARTITION=""
RUN_ROOT=""
OUT=""
TPN=""
SCRIPT=$HERE/blog-ior.sbatch
JOB_TIMEOUT=900
REPEAT=1
SAMPLE_S=${SAMPLE_S:-0.5}
TITLE=""
LAB_BLOCK_DEFAULT=100m   # 8 tasks x 4 nodes x 100 MiB = 3.2 GiB per phase: ~1 min on 2 cores

die() { echo "scale.sh: error: $*" >&2; exit 1; }
log() { echo "scale.sh: $(date -u +%H:%M:%S) $*" >&2; }
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --lab) MODE=lab; shift ;;
    --partition) [ $# -ge 2 ] || die "--partition needs a name"; MODE=cluster; PARTITION=$2; shift 2 ;;
    --nodes) [ $# -ge 2 ] || die "--nodes needs counts (1,2,4)"; NODE_COUNTS=$2; shift 2 ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a directory on the mount"; RUN_ROOT=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --tasks-per-node) [ $# -ge 2 ] || die "--tasks-per-node needs a number"; TPN=$2; shift 2 ;;
    --script) [ $# -ge 2 ] || die "--script needs a file"; SCRIPT=$2; shift 2 ;;
    --job-timeout) [ $# -ge 2 ] || die "--job-timeout needs seconds"; JOB_TIMEOUT=$2; shift 2 ;;
    --title) [ $# -ge 2 ] || die "--title needs text"; TITLE=$2; shift 2 ;;
    --repeat) [ $# -ge 2 ] || die "--repeat needs a count"; REPEAT=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$MODE" ] || die "say where: --lab, or --partition P --dir DIR on a cluster (see --help)"
[[ "$NODE_COUNTS" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--nodes wants counts like 1,2,4, got '$NODE_COUNTS'"
IFS=, read -ra COUNTS <<< "$NODE_COUNTS"
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "--repeat wants a positive count, got '$REPEAT'"
[ -f "$SCRIPT" ] || die "no job script $SCRIPT"
SCRIPT=$(cd "$(dirname "$SCRIPT")" && pwd)/$(basename "$SCRIPT")
header=$(python3 "$PARSER" sbatch-header "$SCRIPT") || die "cannot read the #SBATCH lines of $SCRIPT"
hdr() { python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$header" "$1"; }
OUT_PATTERN=$(hdr output)
[ -n "$OUT_PATTERN" ] || die "$SCRIPT has no #SBATCH --output line: nowhere to find the job's output"
ERR_PATTERN=${OUT_PATTERN%.out}.err
[ "$ERR_PATTERN" != "$OUT_PATTERN" ] || ERR_PATTERN=$OUT_PATTERN.err
TPN=${TPN:-$(hdr ntasks-per-node)}
[[ "$TPN" =~ ^[1-9][0-9]*$ ]] || die "tasks per node unknown: give --tasks-per-node (the script says '${TPN}')"
max_nodes=0
for n in "${COUNTS[@]}"; do [ "$n" -le "$max_nodes" ] || max_nodes=$n; done
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$PWD/blog-scale-$STAMP}
mkdir -p "$OUT/runs"
OUT=$(cd "$OUT" && pwd)

# The report needs matplotlib: Debian's python3-matplotlib is for /usr/bin/python3.
REPORT_PY=""
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import matplotlib' 2>/dev/null; then REPORT_PY=$p; break; fi
done
[ -n "$REPORT_PY" ] || die "no python3 with matplotlib for the figure: apt-get install python3-matplotlib (scripts/install-deps)"

LAB=$REPO/tests/cluster/lab.sh
SRUN_P=()
lab_up=0
sampler=""
cleanup() {
  local rc=$?
  [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
  if [ "$lab_up" = 1 ]; then log "taking the lab down"; "$LAB" down >/dev/null 2>&1 || log "warning: lab.sh down failed"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

if [ "$MODE" = lab ]; then
  [ "$(id -u)" -eq 0 ] || die "--lab needs root (lab.sh makes namespaces, a bridge and FUSE mounts)"
  export LAB_DIR=${LAB_DIR:-/var/tmp/s3mount-lab} LAB_MOUNT=${LAB_MOUNT:-/mnt/s3}
  export LAB_NODES=$max_nodes LAB_CPUS=$TPN LAB_S3=rgw
  export BLOG_IOR_BLOCK=${BLOG_IOR_BLOCK-$LAB_BLOCK_DEFAULT}
  IOR_PREFIX=${IOR_PREFIX:-/opt/ior}
  [ -x "$IOR_PREFIX/bin/ior" ] || die "no IOR in $IOR_PREFIX: deploy/parallelcluster/install-ior.sh --prefix $IOR_PREFIX"
  [ "$max_nodes" -le 8 ] || die "the lab has at most 8 nodes"
  "$LAB" down >/dev/null 2>&1 || true
  log "lab up: $LAB_NODES nodes, $LAB_CPUS CPUs declared each, Ceph RGW"
  lab_up=1
  "$LAB" up >&2 || die "the lab did not come up"
  # shellcheck disable=SC1091  # written by lab.sh up: SLURM_CONF, modules (intelmpi), IOR in PATH
  . "$LAB_DIR/etc/profile"
  RUN_ROOT=${RUN_ROOT:-$LAB_MOUNT/blog-scale}
  WHERE="the Slurm lab (tests/cluster/lab.sh: $max_nodes nodes in network namespaces on one machine)"
else
  [ -n "$RUN_ROOT" ] || die "--dir DIR: a directory on the s3mount mount, the same path on every node"
  SRUN_P=(--partition="$PARTITION")
  WHERE="partition $PARTITION"
  [ "$(type -t module)" = function ] || log "warning: no 'module' function in this shell: the job's 'module load intelmpi' will fail (use a login shell)"
  command -v ior >/dev/null || log "warning: no ior in PATH: the job inherits this shell's PATH"
fi
command -v sbatch >/dev/null || die "sbatch not found"
RUN_DIR_BASE=$RUN_ROOT/$STAMP

# Samples each lab node's bytes through its veth (host side: rx = the node's uploads, tx = its
# downloads) until killed: "seconds node rx tx" lines.
sample_net() { # file
  local t
  while :; do
    t=$(date +%s.%N)
    for d in /sys/class/net/s3mlab-n*; do
      [ -d "$d" ] || continue
      printf '%s %s %s %s\n' "$t" "${d##*/s3mlab-}" "$(cat "$d/statistics/rx_bytes")" "$(cat "$d/statistics/tx_bytes")"
    done
    sleep "$SAMPLE_S"
  done >> "$1"
}

job_state() { scontrol show job "$1" -o 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2; }

run_one() { # nodes repeat
  local n=$1 dir=$RUN_DIR_BASE/n$1-r$2 rdir=$OUT/runs/n$1-r$2 job state="" deadline nodelist first name errname t0
  mkdir -p "$rdir"
  # A marker file makes the new directory exist in S3, so every node's mount sees it.
  srun "${SRUN_P[@]}" -N1 -n1 bash -c "mkdir -p '$dir' && date -u > '$dir/.scale-run'" ||
    die "could not create $dir on the mount (srun)"
  [ "$MODE" != lab ] || { sample_net "$rdir/net.tsv" & sampler=$!; }
  t0=$SECONDS
  job=$(sbatch --parsable "${SRUN_P[@]}" --nodes="$n" --ntasks=$((n * TPN)) --ntasks-per-node="$TPN" \
    --chdir="$dir" --error="$ERR_PATTERN" "$SCRIPT") || die "sbatch refused $SCRIPT for $n node(s)"
  log "$n node(s): job $job, $((n * TPN)) tasks, in $dir"
  deadline=$((SECONDS + JOB_TIMEOUT))
  while :; do
    state=$(job_state "$job")
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE) break ;; esac
    if [ $SECONDS -ge $deadline ]; then scancel "$job" || true; die "job $job still $state after ${JOB_TIMEOUT}s (cancelled)"; fi
    sleep 1
  done
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=""; fi
  nodelist=$(scontrol show hostnames "$(scontrol show job "$job" -o | grep -oE ' NodeList=[^ ]+' | cut -d= -f2)" | paste -sd, -)
  first=${nodelist%%,*}
  name=$(python3 "$PARSER" sbatch-output "$SCRIPT" --node "$first" --job-id "$job" --user "$(id -un)")
  errname=$(python3 "$PARSER" sbatch-output /dev/stdin --node "$first" --job-id "$job" --user "$(id -un)" \
    <<< "#SBATCH --output=$ERR_PATTERN"$'\n'"#SBATCH --job-name=$(hdr job-name)")
  fetch "$first" "$dir/$name" > "$rdir/$name" || die "cannot read the job's output $dir/$name"
  fetch "$first" "$dir/$errname" > "$rdir/$errname" || log "warning: no $dir/$errname"
  printf 'job=%s nodes=%s tasks_per_node=%s state=%s seconds=%s node_list=%s dir=%s output=%s\n' \
    "$job" "$n" "$TPN" "$state" "$((SECONDS - t0))" "$nodelist" "$dir" "$name" > "$rdir/run.txt"
  [ "$state" = COMPLETED ] || { sed 's/^/  job: /' "$rdir/$name" "$rdir/$errname" >&2 || true; die "job $job ended $state"; }
  python3 "$PARSER" ior "$rdir/$name" > /dev/null || die "job $job: IOR's output has no summary ($rdir/$name)"
  log "$n node(s): $(grep -E '^Max (Write|Read)' "$rdir/$name" | tr -s ' ' | paste -sd ';' -) ($((SECONDS - t0)) s)"
}

# The job's output lives on the mount: read it here if this machine mounts it (a head node),
# else on the node that wrote it.
fetch() { # node path
  if [ -r "$2" ]; then cat "$2"; else srun "${SRUN_P[@]}" -N1 -n1 -w "$1" cat "$2"; fi
}

t_all=$SECONDS
for ((r = 1; r <= REPEAT; r++)); do
  for n in "${COUNTS[@]}"; do run_one "$n" "$r"; done
done
if [ "$lab_up" = 1 ]; then "$LAB" down >/dev/null 2>&1 || log "warning: lab.sh down failed"; lab_up=0; fi
info=(--where "$WHERE" --script "$SCRIPT" --tasks-per-node "$TPN" --cores "$(nproc)")
[ -z "$TITLE" ] || info+=(--title "$TITLE")
if [ "$MODE" = lab ]; then
  info+=(--lab --server "Ceph RGW $(radosgw --version 2>/dev/null | awk '{print $3}') (memstore OSD, bench/rgw.sh)")
  info+=(--client "$("${S3MOUNT_BIN:-$REPO/build/s3mount}" --version 2>/dev/null | head -n 1) (commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown))")
fi
"$REPORT_PY" "$REPO/bench/scale_report.py" "${info[@]}" --out "$OUT" \
  --elapsed "$((SECONDS - t_all))" "$OUT"/runs/n* || die "the report failed"
log "done in $((SECONDS - t_all)) s: $OUT/report.md, $OUT/table.md, $OUT/scale.png"
