#!/usr/bin/env bash
# lab.sh: a local Slurm cluster for the deployment tests — slurmctld and N slurmd nodes (default
# two), each in its own network, mount and UTS namespace, joined by a bridge (10.200.0.1/24) on the
# host — and an S3 server (moto_server, or Ceph RGW for benchmarks) on the bridge address that
# every node mounts with the real s3mount.
#
#   lab.sh up | down | status | exec NODE CMD... | deps
#
# `up` starts moto_server on 10.200.0.1 (a free port; reachable only from the host and the lab's
# namespaces), creates bucket "lab" and writes LAB_DIR/etc/s3.env (S3_ENDPOINT, S3_BUCKET and the
# dummy credentials, for clients on the host). Each node's start script (node.sh) then mounts the
# bucket at LAB_MOUNT the way the ParallelCluster recipe does — deploy/mount.s3mount, with
# S3MOUNT_BIN — inside the node's mount namespace, and only then execs slurmd, so every job step on
# a node sees that node's own s3mount mount and nothing outside sees it.
# Environment (all optional):
#   LAB_NODES=2                   compute nodes n1..nN (at most 8)
#   LAB_CPUS=2                    CPUs each node declares to Slurm; more than the host has (e.g. 8,
#                                 for the blog's 8 tasks per node) sets SlurmdParameters=config_overrides:
#                                 the nodes then share the host's cores, they do not get more
#   LAB_S3=moto|rgw               the S3 server: moto_server (functional tests, small objects) or Ceph
#                                 RGW (bench/rgw.sh, memstore OSD; for throughput) on 10.200.0.1
#   LAB_RGW_PORT=18080, LAB_RGW_MON_PORT=17289  RGW's ports (none of the bench scripts' own, so a
#                                 benchmark's RGW on 127.0.0.1 can run beside the lab's)
#   LAB_DIR=/var/tmp/s3mount-lab  state, config, logs, job output (on disk: O_DIRECT works there)
#   LAB_MOUNT=/mnt/s3             the mount path on every node (a private tmpfs covers /mnt in nodes)
#   S3MOUNT_BIN=REPO/build/s3mount  the s3mount binary the nodes mount with
#   NODE_MOUNT_OPTIONS            extra mount options in mount.s3mount -o syntax (e.g. debug), added
#                                 to endpoint-url=…,force-path-style,allow-delete,log-directory=…
# Logs: LAB_DIR/log/ (s3mount's in s3mount-nX/, moto's in moto.log, RGW's in LAB_DIR/rgw/log).
# Modules: LAB_DIR/etc/profile is what a login on a ParallelCluster node gives a job's submitter:
# SLURM_CONF, Debian's environment-modules with tests/cluster/modulefiles on MODULEPATH (module
# `intelmpi`: the lab's Open MPI under the name the blog's job loads) and IOR (IOR_PREFIX, default
# /opt/ior, where deploy/parallelcluster/install-ior.sh installs it) in PATH. Source it, then sbatch:
# sbatch exports the shell's environment, the `module` function included, to the job.
# Isolation: its own munged (own key and socket under LAB_DIR), slurmctld in namespace s3mlab-ctl
# (10.200.0.10) so no Slurm port opens on the host's interfaces; nodes n1, n2, … at 10.200.0.11,
# .12, …; the S3 server bound to 10.200.0.1 only. The lab sets its own dummy AWS credentials (moto
# accepts any; RGW gets a user with rgw.sh's local keys), so no real credentials reach it.
# Addresses used: 10.200.0.0/24 on bridge s3mlab0 and inside the namespaces; nothing else.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LAB_DIR=${LAB_DIR:-/var/tmp/s3mount-lab}
LAB_MOUNT=${LAB_MOUNT:-/mnt/s3}
LAB_NODES=${LAB_NODES:-2}
LAB_CPUS=${LAB_CPUS:-2}
LAB_S3=${LAB_S3:-moto}
[[ "$LAB_NODES" =~ ^[1-8]$ ]] || { echo "lab.sh: error: LAB_NODES must be 1..8, got '$LAB_NODES'" >&2; exit 1; }
[[ "$LAB_CPUS" =~ ^[1-9][0-9]*$ ]] || { echo "lab.sh: error: LAB_CPUS must be a positive integer, got '$LAB_CPUS'" >&2; exit 1; }
case "$LAB_S3" in moto|rgw) ;; *) echo "lab.sh: error: LAB_S3 must be moto or rgw, got '$LAB_S3'" >&2; exit 1 ;; esac
NODES=()
for ((i = 1; i <= LAB_NODES; i++)); do NODES+=("n$i"); done
BRIDGE=s3mlab0
NET=10.200.0
CTL_ADDR=$NET.10
S3_ADDR=$NET.1
S3_BUCKET=lab
S3_ENDPOINT=""
UP_TIMEOUT=${LAB_UP_TIMEOUT:-60}
# SHA-256 of an empty body: the x-amz-content-sha256 of a bodiless PUT (creating RGW's bucket).
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
S3MOUNT_BIN=${S3MOUNT_BIN:-$REPO/build/s3mount}
export SLURM_CONF=$LAB_DIR/etc/slurm.conf
# Dummy credentials for moto (it accepts any), set here so that no real ones are ever sent to it.
export AWS_ACCESS_KEY_ID=s3mlab AWS_SECRET_ACCESS_KEY=s3mlab AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL

die() { echo "lab.sh: error: $*" >&2; exit 1; }
log() { echo "lab.sh: $*" >&2; }

node_addr() { case "$1" in ctl) echo "$CTL_ADDR" ;; n*) echo "$NET.$((10 + ${1#n}))" ;; esac; }
pid_of() { local f="$LAB_DIR/run/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }

check_host() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (creates namespaces and a bridge)"
  local c
  for c in slurmctld slurmd sbatch munged ip nsenter unshare fusermount3 curl python3; do
    command -v "$c" >/dev/null || die "$c not found; run: scripts/install-deps"
  done
  if [ "$LAB_S3" = moto ]; then
    command -v moto_server >/dev/null || die "moto_server not found; run: scripts/install-deps (pip: moto[server])"
  else
    command -v radosgw >/dev/null ||
      die "radosgw not found (LAB_S3=rgw): apt-get install ceph-mon ceph-osd radosgw ceph-common (bench/rgw.sh's packages)"
  fi
  [ -x "$S3MOUNT_BIN" ] || die "no s3mount binary at $S3MOUNT_BIN: build it (cmake --build build) or set S3MOUNT_BIN"
  [ -c /dev/fuse ] || die "/dev/fuse missing (modprobe fuse)"
  id munge >/dev/null 2>&1 || die "user munge missing (apt-get install munge)"
  ! ip link show "$BRIDGE" >/dev/null 2>&1 || die "bridge $BRIDGE exists: a lab is up already (lab.sh down)"
  if ip -4 addr show | grep -q " $NET\."; then die "$NET.0/24 is already in use on this host"; fi
}

write_config() {
  mkdir -p "$LAB_DIR"/{etc,run,log,jobs,ctld/state,nodetmp}
  {
    echo "127.0.0.1 localhost"
    echo "$CTL_ADDR ctl"
    for n in "${NODES[@]}"; do echo "$(node_addr "$n") $n"; done
  } > "$LAB_DIR/etc/hosts"
  cat > "$SLURM_CONF" <<EOF
# Written by tests/cluster/lab.sh
ClusterName=s3mlab
SlurmctldHost=ctl($CTL_ADDR)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$LAB_DIR/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$LAB_DIR/ctld/state
SlurmctldPidFile=$LAB_DIR/ctld/slurmctld.pid
SlurmctldLogFile=$LAB_DIR/log/slurmctld.log
SlurmdSpoolDir=$LAB_DIR/%n/spool
SlurmdPidFile=$LAB_DIR/%n/slurmd.pid
SlurmdLogFile=$LAB_DIR/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
TmpFS=$LAB_DIR/nodetmp
ReturnToService=2
SlurmdTimeout=30
MinJobAge=600
NodeName=DEFAULT CPUs=$LAB_CPUS RealMemory=1024 State=UNKNOWN
EOF
  # More CPUs than the host has: slurmd would drain the node ("Low socket*core*thread count").
  if [ "$LAB_CPUS" -gt "$(nproc)" ]; then echo "SlurmdParameters=config_overrides" >> "$SLURM_CONF"; fi
  for n in "${NODES[@]}"; do
    mkdir -p "$LAB_DIR/$n/spool"
    echo "NodeName=$n NodeAddr=$(node_addr "$n") NodeHostname=$n" >> "$SLURM_CONF"
  done
  echo "PartitionName=lab Nodes=$(IFS=,; echo "${NODES[*]}") Default=YES MaxTime=INFINITE State=UP" >> "$SLURM_CONF"
}

start_munge() {
  local d=$LAB_DIR/munge
  mkdir -p "$d"
  dd if=/dev/urandom of="$d/munge.key" bs=1024 count=1 status=none
  chown -R munge:munge "$d"
  chmod 0755 "$d"
  chmod 0400 "$d/munge.key"
  runuser -u munge -- munged --socket="$d/munge.socket" --key-file="$d/munge.key" \
    --pid-file="$d/munged.pid" --log-file="$d/munged.log" --seed-file="$d/munge.seed" ||
    die "munged failed to start (see $d/munged.log)"
  cp "$d/munged.pid" "$LAB_DIR/run/munged.pid"
}

# moto_server on the bridge address at a free port there; bucket S3_BUCKET; LAB_DIR/etc/s3.env.
start_s3() {
  local port="" endpoint="" attempt
  for attempt in 1 2 3; do
    port=$(python3 -c 'import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$S3_ADDR") ||
      die "no free port on $S3_ADDR"
    setsid moto_server -H "$S3_ADDR" -p "$port" > "$LAB_DIR/log/moto.log" 2>&1 < /dev/null &
    echo $! > "$LAB_DIR/run/moto.pid"
    endpoint=http://$S3_ADDR:$port
    wait_for 30 "moto_server answers at $endpoint" curl -sf -o /dev/null "$endpoint/" && break
    # Lost the port to someone else between the probe and moto's bind: try another one.
    pid_of moto >/dev/null || { log "moto_server exited (attempt $attempt)"; endpoint=""; continue; }
    die "moto_server did not answer at $endpoint within 30 s (see $LAB_DIR/log/moto.log)"
  done
  [ -n "$endpoint" ] || die "moto_server did not start (see $LAB_DIR/log/moto.log)"
  curl -sf -o /dev/null -X PUT "$endpoint/$S3_BUCKET" || die "could not create bucket $S3_BUCKET at $endpoint"
  printf '%s\n' "S3_ENDPOINT=$endpoint" "S3_BUCKET=$S3_BUCKET" "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" \
    "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY" "AWS_REGION=$AWS_REGION" > "$LAB_DIR/etc/s3.env"
  S3_ENDPOINT=$endpoint
}

# Ceph RGW (bench/rgw.sh) on the bridge address; bucket S3_BUCKET; LAB_DIR/etc/s3.env with its keys.
start_rgw() {
  local out endpoint
  out=$(RGW_ADDR=$S3_ADDR RGW_PORT=${LAB_RGW_PORT:-18080} RGW_MON_PORT=${LAB_RGW_MON_PORT:-17289} \
    "$REPO/bench/rgw.sh" start "$LAB_DIR/rgw" 2> "$LAB_DIR/log/rgw-start.log") ||
    die "bench/rgw.sh start failed: $(tail -n 3 "$LAB_DIR/log/rgw-start.log" | tr '\n' ' ')"
  endpoint=$(sed -n 's/^RGW_ENDPOINT=//p' <<< "$out")
  AWS_ACCESS_KEY_ID=$(sed -n 's/^RGW_ACCESS_KEY=//p' <<< "$out")
  AWS_SECRET_ACCESS_KEY=$(sed -n 's/^RGW_SECRET_KEY=//p' <<< "$out")
  if [ -z "$endpoint" ] || [ -z "$AWS_ACCESS_KEY_ID" ]; then die "bench/rgw.sh printed no endpoint or keys"; fi
  # RGW checks the payload hash, which curl's --aws-sigv4 does not send: the empty body's SHA-256.
  curl -sf -o /dev/null -X PUT --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: $EMPTY_SHA256" \
    "$endpoint/$S3_BUCKET" ||
    die "could not create bucket $S3_BUCKET at $endpoint"
  printf '%s\n' "S3_ENDPOINT=$endpoint" "S3_BUCKET=$S3_BUCKET" "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" \
    "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY" "AWS_REGION=$AWS_REGION" > "$LAB_DIR/etc/s3.env"
  S3_ENDPOINT=$endpoint
  log "Ceph RGW answers at $endpoint"
}

# What a login on a cluster node gives the submitter of a job: Slurm, modules, IOR in PATH.
write_profile() {
  cat > "$LAB_DIR/etc/profile" <<EOF
# Written by tests/cluster/lab.sh: source it (bash), then sbatch; sbatch passes all of it to the job.
export SLURM_CONF=$SLURM_CONF
if [ "\$(type -t module)" != function ]; then . /usr/share/modules/init/bash; fi
module use $HERE/modulefiles
IOR_PREFIX=\${IOR_PREFIX:-/opt/ior}
if [ -x "\$IOR_PREFIX/bin/ior" ]; then export PATH=\$IOR_PREFIX/bin:\$PATH; fi
EOF
}

make_netns() { # name addr
  local ns=s3mlab-$1 host_if=s3mlab-$1
  ip netns add "$ns"
  ip link add "$host_if" type veth peer name eth0 netns "$ns"
  ip link set "$host_if" master "$BRIDGE" up
  ip -n "$ns" addr add "$2/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$NET.1"
}

start_in_ns() { # role (ctl | nX)
  local role=$1
  env LAB_DIR="$LAB_DIR" LAB_MOUNT="$LAB_MOUNT" REPO="$REPO" SLURM_CONF="$SLURM_CONF" \
    S3MOUNT_BIN="$S3MOUNT_BIN" S3_ENDPOINT="$S3_ENDPOINT" S3_BUCKET="$S3_BUCKET" \
    NODE_MOUNT_OPTIONS="${NODE_MOUNT_OPTIONS:-}" \
    setsid nsenter --net="/run/netns/s3mlab-$role" -- \
    unshare --mount --uts --propagation private -- bash "$HERE/node.sh" "$role" \
    > "$LAB_DIR/log/node-$role.out" 2>&1 < /dev/null &
  echo $! > "$LAB_DIR/run/$role.pid"
}

wait_for() { # seconds description command...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 1
  done
  log "$what"
}

nodes_idle() {
  local out
  out=$(sinfo -h -N -o '%N %t')
  [ "$(grep -c ' idle$' <<< "$out")" -eq "${#NODES[@]}" ]
}

up() {
  check_host
  rm -rf "$LAB_DIR"
  write_config
  start_munge
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  if [ "$LAB_S3" = rgw ]; then start_rgw; else start_s3; fi
  write_profile
  make_netns ctl "$CTL_ADDR"
  for n in "${NODES[@]}"; do make_netns "$n" "$(node_addr "$n")"; done
  start_in_ns ctl
  wait_for "$UP_TIMEOUT" "slurmctld answers at $CTL_ADDR" scontrol ping ||
    die "slurmctld did not start; $(tail -n 3 "$LAB_DIR/log/node-ctl.out" "$LAB_DIR/log/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
  for n in "${NODES[@]}"; do start_in_ns "$n"; done
  local deadline=$((SECONDS + UP_TIMEOUT))
  until nodes_idle 2>/dev/null; do
    for n in "${NODES[@]}"; do
      pid_of "$n" >/dev/null || die "node $n died at start: $(tail -n 2 "$LAB_DIR/log/node-$n.out" | tr '\n' ' ')"
    done
    [ $SECONDS -lt $deadline ] || die "nodes not idle after ${UP_TIMEOUT}s: $(sinfo -h -N -o '%N %t' | tr '\n' ' ')"
    sleep 1
  done
  log "nodes ${NODES[*]} idle"
  log "up: SLURM_CONF=$SLURM_CONF; submit with: SLURM_CONF=$SLURM_CONF sbatch ..."
}

# Kills every process in network namespace $1 (the node's slurmd, its job steps, its FUSE daemon).
kill_netns_procs() {
  local ns=$1 sig pids
  for sig in TERM KILL; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -s "$sig" $pids 2>/dev/null || true
    for _ in 1 2 3 4 5; do
      [ -n "$(ip netns pids "$ns" 2>/dev/null || true)" ] || return 0
      sleep 1
    done
  done
}

# The nodes of the lab that is up, whatever LAB_NODES says now: n1..nN from the namespaces.
lab_nodes() { ip netns list 2>/dev/null | grep -oE '^s3mlab-n[0-9]+' | sed 's/^s3mlab-//' | sort -V; }

down() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  local n pid
  mapfile -t NODES < <(lab_nodes)
  for n in "${NODES[@]}"; do
    # Unmount first so a FUSE daemon exits cleanly (and flushes) before anything is killed.
    if pid=$(pid_of "$n"); then
      nsenter -t "$pid" -m -- sh -c "fusermount3 -u '$LAB_MOUNT' 2>/dev/null || umount -l '$LAB_MOUNT' 2>/dev/null" || true
    fi
  done
  for n in "${NODES[@]}" ctl; do
    if ip netns list | grep -qw "s3mlab-$n"; then
      kill_netns_procs "s3mlab-$n"
      ip netns del "s3mlab-$n" || true
    fi
  done
  if pid=$(pid_of moto); then   # a session leader (setsid): the pyenv shim and python go together
    kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5; do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  if [ -f "$LAB_DIR/rgw/ceph.conf" ]; then
    "$REPO/bench/rgw.sh" stop "$LAB_DIR/rgw" >/dev/null 2>&1 || log "warning: bench/rgw.sh stop failed"
  fi
  if pid=$(pid_of munged); then
    kill "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5; do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$LAB_DIR"/run/*.pid
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
  log "down (logs kept in $LAB_DIR/log)"
}

status() {
  local n pid
  if [ -n "$(lab_nodes)" ]; then mapfile -t NODES < <(lab_nodes); fi
  for n in ctl "${NODES[@]}" munged moto; do
    if pid=$(pid_of "$n"); then echo "$n: running (pid $pid)"; else echo "$n: not running"; fi
  done
  if pid_of ctl >/dev/null; then sinfo -N -o '%N %t %C' || true; fi
  if pid_of moto >/dev/null && [ -f "$LAB_DIR/etc/s3.env" ]; then grep '^S3_' "$LAB_DIR/etc/s3.env"; fi
}

exec_in() { # node cmd...
  local pid
  [ $# -ge 2 ] || die "usage: lab.sh exec NODE CMD..."
  pid=$(pid_of "$1") || die "node $1 is not running"
  shift
  exec nsenter -t "$pid" -n -m -u -- "$@"
}

deps() { exec "$REPO/scripts/install-deps"; }   # the one list of packages

case "${1:-}" in
  deps) deps ;;
  up) up ;;
  down) down ;;
  status) status ;;
  exec) shift; exec_in "$@" ;;
  -h|--help|"") awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; [ -n "${1:-}" ] ;;
  *) die "unknown command '$1' (up, down, status, exec, deps)" ;;
esac
