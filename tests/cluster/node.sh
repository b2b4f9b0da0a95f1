#!/usr/bin/env bash
# node.sh: start script of one lab machine, run by lab.sh inside the machine's fresh network, mount
# and UTS namespaces (mount propagation private, host /sys kept so slurmd finds its cgroups).
#
#   node.sh ctl   hostname ctl, then exec slurmctld
#   node.sh nX    hostname nX, private /tmp-like dirs, the bucket mounted at LAB_MOUNT with s3mount
#                 through deploy/mount.s3mount (as the ParallelCluster recipe mounts it), exec slurmd
#
# Nothing mounted here is seen outside this machine; everything here is seen by every job step on it.
set -euo pipefail

role=${1:?usage: node.sh ctl|nX}
: "${LAB_DIR:?}" "${LAB_MOUNT:?}" "${SLURM_CONF:?}" "${REPO:?}"
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

# The bucket, mounted the way the recipe mounts it: the fstab helper, which execs s3mount; s3mount
# daemonizes and returns 0 only once mounted. allow-delete: mdtest.sbatch removes its files.
: "${S3MOUNT_BIN:?}" "${S3_ENDPOINT:?}" "${S3_BUCKET:?}"
log_dir=$LAB_DIR/log/s3mount-$role
mkdir -p "$log_dir"
opts="endpoint-url=$S3_ENDPOINT,force-path-style,allow-delete,log-directory=$log_dir"
[ -z "${NODE_MOUNT_OPTIONS:-}" ] || opts="$opts,$NODE_MOUNT_OPTIONS"
echo "node.sh[$role]: mounting s3://$S3_BUCKET/ at $LAB_MOUNT with $S3MOUNT_BIN (-o $opts)"
S3MOUNT_BIN=$S3MOUNT_BIN timeout "$MOUNT_TIMEOUT" "$REPO/deploy/mount.s3mount" "s3://$S3_BUCKET/" "$LAB_MOUNT" -v -o "$opts" ||
  die "mount.s3mount failed or took over ${MOUNT_TIMEOUT}s (s3mount logs: $log_dir)"
grep -q " $LAB_MOUNT [^-]* - fuse" /proc/self/mountinfo ||
  die "mount.s3mount returned 0 but $LAB_MOUNT is not a FUSE mount"
echo "node.sh[$role]: $LAB_MOUNT mounted; starting slurmd"
exec slurmd -D -N "$role" -f "$SLURM_CONF"
