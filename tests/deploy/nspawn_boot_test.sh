#!/usr/bin/env bash
# nspawn_boot_test.sh: boots a real systemd machine (systemd-nspawn -b on a debootstrapped Debian 12)
# with the s3mount .deb installed and shows what the units promise:
#   1. install.sh --deb installs the package; the template unit, enabled before boot, mounts at boot
#      (s3mount@mnt-data.service), an fstab line mounts at boot through /sbin/mount.s3mount, and
#      deploy/mount.sh writes, enables and starts a third unit;
#   2. readiness (Type=notify: active only once mounted; data written is read back);
#   3. kill -9 of the mount's main process -> automatic restart, the mount usable again;
#   4. clean stop (inactive, not failed, nothing left mounted), then poweroff.
#
#   DEB=build/s3mount_0.1.0_amd64.deb tests/deploy/nspawn_boot_test.sh
#
# STANDIN=1 (default until s3mount mounts for real) replaces /usr/bin/s3mount in the machine with a
# stand-in honouring s3mount's contract (-f: READY=1 once mounted, else daemonize once mounted) built
# on fuse-overlayfs, a real FUSE daemon: kill -9 leaves a dead FUSE mount exactly as a crash would.
# STANDIN=0 uses the packaged binary against a real S3 server: set S3_ENDPOINT (reachable from the
# machine, which shares the host network, e.g. http://127.0.0.1:9000), S3_BUCKET, and
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (written to the machine's /etc/s3mount/env).
# Needs root, debootstrap, systemd-container, /dev/fuse. Base image cached in CACHE_DIR (outside the
# repo); each run boots a fresh copy and removes it. Bounded: TEST_TIMEOUT (default 300 s).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${CACHE_DIR:-/var/cache/s3mount-nspawn}
BASE=$CACHE_DIR/rootfs
STANDIN=${STANDIN:-1}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
DEB=${DEB:-}
MACHINE=s3mount-boot-$$
passed=0
failed=0

note() { echo "nspawn_boot_test: $*"; }
skip() { echo "nspawn_boot_test: SKIP: $*"; exit 77; }
fail() { echo "nspawn_boot_test: FAIL: $*" >&2; exit 1; }
check() { # description command... (records, never exits)
  local what=$1
  shift
  if "$@"; then passed=$((passed + 1)); note "ok: $what"; else failed=$((failed + 1)); echo "FAIL: $what" >&2; fi
}

[ "$(id -u)" -eq 0 ] || skip "needs root"
for c in debootstrap systemd-nspawn nsenter; do
  command -v "$c" >/dev/null || skip "$c missing (apt-get install debootstrap systemd-container util-linux)"
done
[ -c /dev/fuse ] || skip "/dev/fuse missing (modprobe fuse)"
if [ -z "$DEB" ]; then
  # Under ctest: the package of this build directory, if `cpack` made one; else skip.
  search=${S3MOUNT_BINARY_DIR:-$REPO/build}
  DEB=$(find "$search" -maxdepth 1 -name 's3mount_*.deb' | sort | tail -n 1)
  [ -n "$DEB" ] || skip "no .deb in $search: run cpack there first, or set DEB="
fi
[ -f "$DEB" ] || fail "DEB=$DEB does not exist"
if [ "$STANDIN" = 0 ]; then
  : "${S3_ENDPOINT:?STANDIN=0 needs S3_ENDPOINT}" "${S3_BUCKET:?STANDIN=0 needs S3_BUCKET}"
fi

# ---- the base image (cached) ----
if [ ! -d "$BASE" ]; then
  note "debootstrapping Debian 12 into $BASE (once, ~1 min)"
  rm -rf "$BASE.tmp"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,fuse3,ca-certificates \
    bookworm "$BASE.tmp" > "$CACHE_DIR/debootstrap.log" 2>&1 || fail "debootstrap failed (see $CACHE_DIR/debootstrap.log)"
  mv "$BASE.tmp" "$BASE"
fi
if [ "$STANDIN" = 1 ] && [ ! -x "$BASE/usr/bin/fuse-overlayfs" ]; then
  note "adding fuse-overlayfs (the stand-in's FUSE daemon) to the base image"
  systemd-nspawn -q -D "$BASE" --register=no --keep-unit -E DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends fuse-overlayfs >/dev/null' ||
    fail "could not install fuse-overlayfs in the base image"
fi

# ---- this run's machine ----
ROOT=$(mktemp -d "$CACHE_DIR/run.XXXXXX")
nspawn_pid=""
main_pid=$$
(
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleep "$TEST_TIMEOUT" & sleeper=$!
  wait "$sleeper"
  echo "nspawn_boot_test: FAIL: over ${TEST_TIMEOUT}s, aborting" >&2
  kill -TERM "$main_pid"
) &
watchdog=$!
cleanup() {
  local rc=$?
  kill "$watchdog" 2>/dev/null || true
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true   # nspawn asks the machine to power off
    for _ in $(seq 20); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$ROOT.log" ]; then note "machine console (last lines):"; tail -n 15 "$ROOT.log" | sed 's/^/  /'; fi
  rm -rf "$ROOT" "$ROOT.log" "$ROOT.install.log"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

note "copying the base image to $ROOT"
cp -a "$BASE/." "$ROOT/"
cp "$DEB" "$ROOT/var/tmp/s3mount.deb"
cp "$REPO/deploy/install.sh" "$ROOT/var/tmp/install.sh"

# 1a. install.sh --deb, in the machine's own root (not booted yet), twice: the second is a no-op.
systemd-nspawn -q -D "$ROOT" --register=no --keep-unit bash /var/tmp/install.sh --deb /var/tmp/s3mount.deb > "$ROOT.install.log" 2>&1 ||
  { cat "$ROOT.install.log" >&2; fail "install.sh --deb failed in the machine"; }
out=$(systemd-nspawn -q -D "$ROOT" --register=no --keep-unit bash /var/tmp/install.sh --deb /var/tmp/s3mount.deb 2>&1)
check "install.sh is idempotent (second run: already installed)" grep -q "already installed" <<< "$out"
for f in usr/bin/s3mount sbin/mount.s3mount lib/systemd/system/s3mount@.service usr/share/doc/s3mount/DEPLOY.md; do
  check "package installed /$f" test -e "$ROOT/$f"
done
rm -f "$ROOT.install.log"

if [ "$STANDIN" = 1 ]; then
  cat > "$ROOT/usr/bin/s3mount" <<'EOF'
#!/bin/bash
# Stand-in for s3mount in nspawn_boot_test.sh: the same command-line contract, fuse-overlayfs inside.
# The "bucket" is /var/lib/standin/<name>; unknown options are ignored.
set -euo pipefail
fg=0; args=()
for a in "$@"; do case "$a" in -f|--foreground) fg=1 ;; *) args+=("$a") ;; esac; done
bucket=${args[-2]//[^A-Za-z0-9]/_}; dir=${args[-1]}
b=/var/lib/standin/$bucket; mkdir -p "$b/lower" "$b/upper" "$b/work"
opts="lowerdir=$b/lower,upperdir=$b/upper,workdir=$b/work,allow_other"
if [ "$fg" = 0 ]; then exec fuse-overlayfs -o "$opts" "$dir"; fi   # daemonizes once mounted
# Foreground: READY=1 on behalf of this PID (fuse-overlayfs after the exec) once the mount is up.
( for _ in $(seq 100); do
    if grep -q " $dir [^-]* - fuse" /proc/self/mountinfo; then exec systemd-notify --pid=$$ --ready; fi
    sleep 0.1
  done ) &
exec fuse-overlayfs -f -o "$opts" "$dir"
EOF
  chmod +x "$ROOT/usr/bin/s3mount"
  bucket_spec=standin-bucket
else
  bucket_spec=s3://$S3_BUCKET/
  install -m 0600 /dev/null "$ROOT/etc/s3mount-env.tmp"
  printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "${AWS_ACCESS_KEY_ID:-}" "${AWS_SECRET_ACCESS_KEY:-}" \
    > "$ROOT/etc/s3mount-env.tmp"
fi
extra_opts=()
[ "$STANDIN" = 1 ] || extra_opts=(--endpoint-url "$S3_ENDPOINT" --force-path-style)

# 1b. Configure what mounts at boot: the template unit (enabled by hand, as `systemctl enable` would)
# and an fstab line; /mnt/data2 is left for mount.sh once the machine runs.
mkdir -p "$ROOT/etc/s3mount" "$ROOT/mnt/data" "$ROOT/mnt/data3" "$ROOT/etc/systemd/system/remote-fs.target.wants"
[ -f "$ROOT/etc/s3mount-env.tmp" ] && mv "$ROOT/etc/s3mount-env.tmp" "$ROOT/etc/s3mount/env"
printf 'BUCKET=%s\nOPTIONS=--allow-other --allow-delete %s\n' "$bucket_spec" "${extra_opts[*]}" > "$ROOT/etc/s3mount/mnt-data.conf"
ln -s /lib/systemd/system/s3mount@.service "$ROOT/etc/systemd/system/remote-fs.target.wants/s3mount@mnt-data.service"
fstab_opts=_netdev,nosuid,nodev,allow-delete
[ "$STANDIN" = 1 ] || fstab_opts="$fstab_opts,endpoint-url=$S3_ENDPOINT,force-path-style"
echo "$bucket_spec /mnt/data3 s3mount $fstab_opts 0 0" >> "$ROOT/etc/fstab"
echo "$MACHINE" > "$ROOT/etc/hostname"

# ---- boot ----
note "booting $MACHINE"
setsid systemd-nspawn -D "$ROOT" -b --register=no --keep-unit --machine="$MACHINE" \
  --bind=/dev/fuse --capability=CAP_SYS_ADMIN > "$ROOT.log" 2>&1 < /dev/null &
nspawn_pid=$!
pid1=""
for _ in $(seq 30); do
  # The machine's init: a child of systemd-nspawn that is PID 1 in its own PID namespace.
  for c in $(ps -o pid= --ppid "$nspawn_pid"); do
    if awk '/^NSpid:/ { exit !($NF == 1 && NF > 2) }' "/proc/$c/status" 2>/dev/null; then pid1=$c; fi
  done
  [ -n "$pid1" ] && break
  sleep 1
done
[ -n "$pid1" ] || fail "the machine did not start (see its console above)"
in_m() { nsenter -t "$pid1" -a -- "$@"; }
state=$(timeout 90 nsenter -t "$pid1" -a -- systemctl is-system-running --wait 2>/dev/null || true)
note "system state: ${state:-unknown}"
check "machine booted (running or degraded)" test "$state" = running -o "$state" = degraded
[ "$state" = running ] || in_m systemctl --failed --no-legend | sed 's/^/  failed: /'

U=s3mount@mnt-data.service
fuse_at() { in_m grep -q " $1 [^-]* - fuse" /proc/self/mountinfo; }
# 2. Mounted at boot, ready, usable.
check "$U active after boot" in_m systemctl is-active --quiet "$U"
check "/mnt/data is a FUSE mount" fuse_at /mnt/data
check "write and read back through /mnt/data" in_m sh -c 'echo hello > /mnt/data/boot.txt && grep -q hello /mnt/data/boot.txt'
check "fstab line mounted /mnt/data3 at boot" fuse_at /mnt/data3
out=$(in_m /usr/share/doc/s3mount/examples/mount.sh "$bucket_spec" /mnt/data2 --allow-delete "${extra_opts[@]}" 2>&1) ||
  printf '  mount.sh: %s\n' "$out"
check "mount.sh started s3mount-mnt-data2.service" in_m systemctl is-active --quiet s3mount-mnt-data2.service
check "mount.sh printed how to check it" grep -q 'systemctl status s3mount-mnt-data2.service' <<< "$out"
check "/mnt/data2 is a FUSE mount" fuse_at /mnt/data2

# 3. kill -9 -> restart -> usable again.
old=$(in_m systemctl show -p MainPID --value "$U")
note "kill -9 of $U's main process $old"
in_m sh -c "kill -9 $old"
new=""
for _ in $(seq 40); do
  new=$(in_m systemctl show -p MainPID --value "$U")
  if [ "$new" != 0 ] && [ "$new" != "$old" ] && in_m systemctl is-active --quiet "$U"; then break; fi
  sleep 0.5
done
check "$U restarted by systemd (main PID $old -> $new)" test "$new" != 0 -a "$new" != "$old"
check "$U counted a restart" test "$(in_m systemctl show -p NRestarts --value "$U")" -ge 1
check "/mnt/data usable after the restart (earlier data still there)" in_m grep -q hello /mnt/data/boot.txt
# The dead FUSE mount the kill left must be gone, not buried under the new one (ExecStop/ExecStopPost).
fuse_count() { in_m grep -c " $1 [^-]* - fuse" /proc/self/mountinfo || true; }
check "exactly one FUSE mount at /mnt/data after the restart (got $(fuse_count /mnt/data))" test "$(fuse_count /mnt/data)" = 1

# 4. Clean stop.
in_m systemctl stop "$U"
check "$U stopped cleanly (inactive, Result=success)" \
  test "$(in_m systemctl is-active "$U" || true)" = inactive -a "$(in_m systemctl show -p Result --value "$U")" = success
check "/mnt/data no longer mounted" bash -c "! nsenter -t $pid1 -a -- grep -q ' /mnt/data [^-]* - fuse' /proc/self/mountinfo"
in_m systemctl poweroff || true
for _ in $(seq 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
check "machine powered off" bash -c "! kill -0 $nspawn_pid 2>/dev/null"
nspawn_pid=""

note "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
