#!/usr/bin/env bash
# mount.sh: mounts an S3 bucket at a directory through a systemd service (one unit per mount path).
#
#   mount.sh [--dry-run] [--no-start] [--no-defaults] [--unit-dir DIR] BUCKET DIR [S3MOUNT OPTIONS...]
#
# Writes s3mount-<systemd-escape --path DIR>.service (e.g. /mnt/data -> s3mount-mnt-data.service)
# running `s3mount --foreground DEFAULTS USER-OPTIONS BUCKET DIR` as Type=notify, ordered after
# network-online.target, restarted on failure with a back-off, unmounted cleanly on stop; then
# enables and starts it. User options are ADDED to the defaults (DEFAULT_OPTIONS below), never
# replace them. Run again with other options to rewrite and restart the unit (idempotent).
# --dry-run prints the unit and changes nothing. Used by the ParallelCluster recipe
# (deploy/parallelcluster/cluster-config.yaml) on every node.
set -euo pipefail

PROG=mount.sh
die() { echo "$PROG: $*" >&2; exit 1; }

# Defaults, chosen for a cluster where jobs run as ordinary users:
#   --allow-other   every user (not only root, who runs the service) can use the mount; permissions
#                   are then those of --uid/--gid/--file-mode/--dir-mode. Dropped when the user
#                   options contain --allow-root (FUSE refuses both).
DEFAULT_OPTIONS=(--allow-other)

usage() {
  cat <<'EOF'
usage: mount.sh [--dry-run] [--no-start] [--no-defaults] [--unit-dir DIR] BUCKET DIR [S3MOUNT OPTIONS...]
  BUCKET          bucket name or s3://bucket/prefix/
  DIR             absolute mount path; created if missing
  S3MOUNT OPTIONS appended to the defaults (--allow-other), e.g. --allow-delete --region us-east-1
  --dry-run       print the unit that would be written; change nothing
  --no-start      write and enable the unit, do not start it now
  --no-defaults   do not add the default options
  --unit-dir DIR  where to write the unit (default /etc/systemd/system)
Environment: S3MOUNT_BIN overrides the s3mount path written into ExecStart.
After it runs:  systemctl status s3mount-<escaped DIR>.service
                journalctl -u s3mount-<escaped DIR>.service
EOF
}

dry_run=0
start=1
use_defaults=1
unit_dir=/etc/systemd/system
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dry-run) dry_run=1; shift ;;
    --no-start) start=0; shift ;;
    --no-defaults) use_defaults=0; shift ;;
    --unit-dir) [ $# -ge 2 ] || die "--unit-dir needs a directory"; unit_dir=$2; shift 2 ;;
    --) shift; break ;;
    -*) die "unknown option '$1' before BUCKET (s3mount options go after BUCKET DIR; see --help)" ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || die "expected BUCKET and DIR (see --help)"
bucket=$1
dir=$2
shift 2
user_opts=("$@")

[ -n "$bucket" ] || die "empty BUCKET"
case "$bucket" in
  -*) die "BUCKET '$bucket' looks like an option; put mount.sh options before BUCKET" ;;
esac
case "$dir" in
  /*) ;;
  *) die "DIR must be an absolute path, got '$dir'" ;;
esac
dir=$(realpath -m -- "$dir")
[ "$dir" != / ] || die "refusing to mount over /"
for o in "${user_opts[@]}"; do
  case "$o" in
    -f|--foreground) die "do not pass $o: the unit always runs s3mount in the foreground" ;;
  esac
done

command -v systemd-escape >/dev/null || die "systemd-escape not found (is systemd installed?)"
unit="s3mount-$(systemd-escape --path -- "$dir").service"

bin=${S3MOUNT_BIN:-$(command -v s3mount || true)}
[ -n "$bin" ] || die "s3mount not found in PATH; run deploy/install.sh first (or set S3MOUNT_BIN)"

# Defaults first, then the user's options, minus defaults the user repeated or contradicted.
opts=()
if [ "$use_defaults" = 1 ]; then
  for d in "${DEFAULT_OPTIONS[@]}"; do
    skip=0
    for o in "${user_opts[@]}"; do
      if [ "$o" = "$d" ] || { [ "$d" = --allow-other ] && [ "$o" = --allow-root ]; }; then skip=1; fi
    done
    [ "$skip" = 1 ] || opts+=("$d")
  done
fi
opts+=("${user_opts[@]}")

# One argument as a systemd command-line word: quoted when needed, % and $ doubled so that
# systemd neither expands specifiers nor environment variables in it.
sd_word() {
  local w=${1//%/%%}
  w=${w//\$/\$\$}
  if [[ "$w" =~ ^[A-Za-z0-9_./:=,+@-]+$ ]]; then
    printf '%s' "$w"
  else
    w=${w//\\/\\\\}
    w=${w//\"/\\\"}
    printf '"%s"' "$w"
  fi
}

exec_line="$(sd_word "$bin") --foreground"
for a in "${opts[@]}" "$bucket" "$dir"; do exec_line+=" $(sd_word "$a")"; done
qdir=$(sd_word "$dir")
# The mountinfo pattern in ExecStopPost uses the path unquoted inside a shell string.
[[ "$dir" =~ ^[A-Za-z0-9_./+@:-]+$ ]] || die "DIR '$dir' has characters this script does not quote; use a simpler path"

render_unit() {
  cat <<EOF
# Written by s3mount deploy/mount.sh; rerun mount.sh to change it (edits here are overwritten).
[Unit]
Description=s3mount: ${bucket//%/%%} mounted at $dir
Documentation=file:/usr/share/doc/s3mount/DEPLOY.md
Wants=network-online.target
After=network-online.target
Before=remote-fs.target
AssertPathIsDirectory=$qdir
# Back-off: restart 5 s after a failure, at most 5 starts in 10 minutes, then stay failed until
# \`systemctl reset-failed $unit\`.
StartLimitIntervalSec=600
StartLimitBurst=5

[Service]
Type=notify
NotifyAccess=main
EnvironmentFile=-/etc/s3mount/env
ExecStart=$exec_line
ExecStop=-fusermount3 -u $qdir
ExecStopPost=-/bin/sh -c 'grep -q " $dir [^-]* - fuse" /proc/self/mountinfo && exec umount -l $dir'
Restart=on-failure
RestartSec=5
TimeoutStartSec=120
TimeoutStopSec=60

[Install]
WantedBy=remote-fs.target
EOF
}

if [ "$dry_run" = 1 ]; then
  echo "$PROG: dry run: would write $unit_dir/$unit:" >&2
  render_unit
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (writes $unit_dir/$unit)"
[ -d /run/systemd/system ] || [ "$start" = 0 ] ||
  die "systemd is not running on this machine (no /run/systemd/system); use --dry-run or --no-start"
[ -e /dev/fuse ] || echo "$PROG: warning: /dev/fuse is missing; load the fuse module (modprobe fuse)" >&2

mkdir -p -- "$dir"
mkdir -p -- "$unit_dir"
path="$unit_dir/$unit"
new=$(render_unit)
changed=1
if [ -f "$path" ] && [ "$(cat -- "$path")" = "$new" ]; then changed=0; fi
if [ "$changed" = 1 ]; then
  printf '%s\n' "$new" > "$path.tmp"
  mv -f -- "$path.tmp" "$path"
  echo "$PROG: wrote $path"
fi

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --quiet "$unit"
  if [ "$start" = 1 ]; then
    if [ "$changed" = 1 ] && systemctl is-active --quiet "$unit"; then
      systemctl restart "$unit" || die "$unit failed to restart; see: journalctl -u $unit"
    else
      systemctl reset-failed "$unit" 2>/dev/null || true
      systemctl start "$unit" || die "$unit failed to start; see: journalctl -u $unit"
    fi
  fi
fi

cat <<EOF
$PROG: $bucket -> $dir via $unit ($([ "$start" = 1 ] && echo "enabled and started" || echo "enabled, not started"))
  check:   systemctl status $unit
  logs:    journalctl -u $unit
  stop:    systemctl stop $unit      remove: systemctl disable --now $unit && rm $path
EOF
