#!/usr/bin/env bash
# node.sh: start script of one lab machine, run by lab.sh inside the machine's fresh network, mount
# and UTS namespaces (mount propagation private, host /sys kept so slurmd finds its cgroups).
#
#   node.sh ctl   hostname ctl, then exec slurmctld
#   node.sh nX    hostname nX, private /tmp-like dirs, NODE_MOUNT_CMD (the bucket mount), exec slurmd
#
# Nothing mounted here is seen outside this machine; everything here is seen by every job step on it.
set -euo pipefail

role=${1:?usage: node.sh ctl|nX}
: "${LAB_DIR:?}" "${LAB_MOUNT:?}" "${SLURM_CONF:?}"
MOUNT_TIMEOUT=${NODE_MOUNT_TIMEOUT:-60}
die() { echo "node.sh[$role]: error: $*" >&2; exit 1; }

hostname "$role"
mount --bind "$LAB_DIR/etc/hosts" /etc/hosts

if [ "$role" = ctl ]; then
  exec slurmctld -D -f "$SLURM_CONF"
fi

# Per-node temporary space: Slurm's TmpFS (PMIx steps collide when nodes share it).
mount -t tmpfs -o size=256m,mode=1777 "lab-$role-tmp" "$LAB_DIR/nodetmp"
# The mount path lives in a private tmpfs over its parent, so the host's directory tree is untouched.
parent=$(dirname "$LAB_MOUNT")
case "$parent" in
  /mnt|/mnt/*) mount -t tmpfs -o size=1m,mode=755 "lab-$role-mnt" /mnt ;;
esac
mkdir -p "$LAB_MOUNT"

if [ -z "${NODE_MOUNT_CMD:-}" ]; then
  # Stand-in for the bucket: one host directory, bound on every node (all nodes share its content).
  # shellcheck disable=SC2016  # expanded by the bash -c below
  NODE_MOUNT_CMD='mount --bind "$LAB_DIR/bucket" "$LAB_MOUNT"'
fi
export NODE=$role LAB_DIR LAB_MOUNT REPO
echo "node.sh[$role]: mounting: $NODE_MOUNT_CMD"
timeout "$MOUNT_TIMEOUT" bash -c "$NODE_MOUNT_CMD" ||
  die "NODE_MOUNT_CMD failed or took over ${MOUNT_TIMEOUT}s: $NODE_MOUNT_CMD"
mountpoint -q "$LAB_MOUNT" || die "NODE_MOUNT_CMD returned but $LAB_MOUNT is not a mount point"
echo "node.sh[$role]: $LAB_MOUNT mounted; starting slurmd"
exec slurmd -D -N "$role" -f "$SLURM_CONF"
