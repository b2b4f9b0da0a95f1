#!/usr/bin/env bash
# nspawn_boot_test.sh: boots a real systemd machine (systemd-nspawn -b on a debootstrapped Debian 12)
# with the s3mount .deb installed and the real s3mount mounting a bucket of a moto_server that runs
# on the host (127.0.0.1, a free port; the machine shares the host network), and shows what the
# units promise:
#   1. install.sh --deb installs the package; the template unit, enabled before boot, mounts at boot
#      (s3mount@mnt-data.service), an fstab line mounts at boot through /sbin/mount.s3mount, and
#      deploy/mount.sh writes, enables and starts a third unit;
#   2. readiness (Type=notify: READY=1 once mounted, so "active" means mounted); a file written
#      through the mount is read back and found in S3 by boto3 with the same bytes;
#   3. kill -9 of s3mount (the unit's main process) -> systemd restarts it, the mount is usable again
#      (earlier data read back, a new file written, read back and found in S3);
#   4. clean stop (inactive, Result=success, nothing left mounted), then poweroff.
#
#   tests/deploy/nspawn_boot_test.sh                  # the .deb from `(cd build && cpack -G DEB)`
#   DEB=path/s3mount_0.1.0_amd64.deb tests/deploy/nspawn_boot_test.sh
#
# The .deb: DEB=, else the newest s3mount_*.deb in S3MOUNT_BINARY_DIR (ctest sets it; default
# REPO/build); none is a failure, not a skip. Credentials: dummy ones (moto accepts any), written to
# the machine's /etc/s3mount/env, read by the units and (for the fstab mount) by mount.s3mount.
# Needs root (else exit 77), debootstrap, systemd-container, moto_server, python3 with boto3, curl,
# /dev/fuse (scripts/install-deps installs them; missing ones fail the test). Base image cached in
# CACHE_DIR (outside the repo; made once by debootstrap, ~1-2 min, needs the Debian mirror); each run
# boots a fresh copy and removes it. Bounded: TEST_TIMEOUT (default 170 s, after the base image).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${CACHE_DIR:-/var/cache/s3mount-nspawn}
BASE=$CACHE_DIR/rootfs
TEST_TIMEOUT=${TEST_TIMEOUT:-170}
DEB=${DEB:-}
MACHINE=s3mount-boot-$$
BUCKET=boot
passed=0
failed=0

note() { echo "nspawn_boot_test: $*"; }
fail() { echo "nspawn_boot_test: FAIL: $*" >&2; exit 1; }
check() { # description command... (records, never exits)
  local what=$1
  shift
  if "$@"; then passed=$((passed + 1)); note "ok: $what"; else failed=$((failed + 1)); echo "FAIL: $what" >&2; fi
}

[ "$(id -u)" -eq 0 ] || { echo "nspawn_boot_test: SKIP: needs root (systemd-nspawn, FUSE)"; exit 77; }
for c in debootstrap systemd-nspawn nsenter moto_server curl python3; do
  command -v "$c" >/dev/null || fail "$c missing: run scripts/install-deps"
done
python3 -c 'import boto3' 2>/dev/null || fail "python3 has no boto3: run scripts/install-deps"
[ -c /dev/fuse ] || fail "/dev/fuse missing (modprobe fuse)"
if [ -z "$DEB" ]; then
  search=${S3MOUNT_BINARY_DIR:-$REPO/build}
  DEB=$(find "$search" -maxdepth 1 -name 's3mount_*.deb' 2>/dev/null | sort -V | tail -n 1)
  [ -n "$DEB" ] || fail "no s3mount_*.deb in $search: build the package first: (cd $search && cpack -G DEB)"
fi
[ -f "$DEB" ] || fail "DEB=$DEB does not exist"
note "package: $DEB"

# ---- the base image (cached) ----
mkdir -p "$CACHE_DIR"
if [ ! -d "$BASE" ]; then
  note "debootstrapping Debian 12 into $BASE (once, ~1-2 min)"
  rm -rf "$BASE.tmp"
  timeout 600 debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,fuse3,ca-certificates \
    bookworm "$BASE.tmp" > "$CACHE_DIR/debootstrap.log" 2>&1 || fail "debootstrap failed (see $CACHE_DIR/debootstrap.log)"
  mv "$BASE.tmp" "$BASE"
fi

# ---- this run's machine and S3 server ----
ROOT=$(mktemp -d "$CACHE_DIR/run.XXXXXX")
nspawn_pid=""
moto_pid=""
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
    if [ "$rc" -ne 0 ] && [ -n "${pid1:-}" ]; then
      note "the mounts' journal in the machine (last lines):"
      for m in -ts3mount -umnt-data3.mount; do
        nsenter -t "$pid1" -a -- journalctl --no-pager -q -n 20 "$m" 2>/dev/null | sed 's/^/  /' || true
      done
    fi
    kill -TERM "$nspawn_pid" 2>/dev/null || true   # nspawn asks the machine to power off
    for _ in $(seq 20); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  if [ -n "$moto_pid" ]; then   # a session leader (setsid): the pyenv shim and python go together
    kill -TERM -- "-$moto_pid" 2>/dev/null || kill "$moto_pid" 2>/dev/null || true
    for _ in 1 2 3 4 5; do kill -0 "$moto_pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$moto_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$ROOT.log" ]; then note "machine console (last lines):"; tail -n "${CONSOLE_LINES:-15}" "$ROOT.log" | sed 's/^/  /'; fi
  rm -rf "$ROOT" "$ROOT.log" "$ROOT.install.log" "$ROOT.moto.log"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# moto_server on loopback at a free port; the machine shares the host network, so it reaches it.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ENDPOINT=http://127.0.0.1:$port
setsid moto_server -H 127.0.0.1 -p "$port" > "$ROOT.moto.log" 2>&1 < /dev/null &
moto_pid=$!
export AWS_ACCESS_KEY_ID=s3mount-boot AWS_SECRET_ACCESS_KEY=s3mount-boot AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
for _ in $(seq 300); do curl -sf -o /dev/null "$ENDPOINT/" && break; kill -0 "$moto_pid" 2>/dev/null || break; sleep 0.1; done
curl -sf -o /dev/null "$ENDPOINT/" || fail "moto_server did not answer at $ENDPOINT: $(tail -n 3 "$ROOT.moto.log" | tr '\n' ' ')"
curl -sf -o /dev/null -X PUT "$ENDPOINT/$BUCKET" || fail "could not create bucket $BUCKET at $ENDPOINT"
note "moto_server at $ENDPOINT, bucket $BUCKET"
# The object KEY as boto3 reads it from moto (not through any mount): prints its bytes.
s3_get() { # key
  python3 - "$ENDPOINT" "$BUCKET" "$1" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
sys.stdout.write(s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])["Body"].read().decode())
PY
}

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
check "the packaged s3mount runs in the machine" \
  systemd-nspawn -q -D "$ROOT" --register=no --keep-unit /usr/bin/s3mount --version
rm -f "$ROOT.install.log"

# 1b. Configure what mounts at boot: the template unit (enabled by hand, as `systemctl enable` would)
# and an fstab line; /mnt/data2 is left for mount.sh once the machine runs. Credentials: one file,
# /etc/s3mount/env, read by the units (EnvironmentFile=) and by mount.s3mount for the fstab mount
# (systemd runs mount helpers with neither AWS_* nor HOME in the environment).
bucket_spec=s3://$BUCKET/
mount_opts=(--endpoint-url "$ENDPOINT" --force-path-style)
mkdir -p "$ROOT/etc/s3mount" "$ROOT/mnt/data" "$ROOT/mnt/data3" "$ROOT/etc/systemd/system/remote-fs.target.wants"
install -m 0600 /dev/null "$ROOT/etc/s3mount/env"
printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" > "$ROOT/etc/s3mount/env"
printf 'BUCKET=%s\nOPTIONS=--allow-other --allow-delete %s\n' "$bucket_spec" "${mount_opts[*]}" > "$ROOT/etc/s3mount/mnt-data.conf"
ln -s /lib/systemd/system/s3mount@.service "$ROOT/etc/systemd/system/remote-fs.target.wants/s3mount@mnt-data.service"
echo "$bucket_spec /mnt/data3 s3mount _netdev,nosuid,nodev,allow-delete,endpoint-url=$ENDPOINT,force-path-style 0 0" >> "$ROOT/etc/fstab"
echo "$MACHINE" > "$ROOT/etc/hostname"

# ---- boot ----
note "booting $MACHINE"
t_boot=$SECONDS
setsid systemd-nspawn -D "$ROOT" -b --register=no --keep-unit --machine="$MACHINE" \
  --bind=/dev/fuse --capability=CAP_SYS_ADMIN > "$ROOT.log" 2>&1 < /dev/null &
nspawn_pid=$!
pid1=""
for _ in $(seq 150); do
  # The machine's init: a child of systemd-nspawn that is PID 1 in its own PID namespace, once it
  # has exec'd systemd (before that, nsenter finds nspawn's set-up process and systemctl answers
  # "System has not been booted with systemd": a race seen once here).
  for c in $(ps -o pid= --ppid "$nspawn_pid"); do
    if awk '/^NSpid:/ { exit !($NF == 1 && NF > 2) }' "/proc/$c/status" 2>/dev/null &&
       [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ]; then pid1=$c; fi
  done
  [ -n "$pid1" ] && break
  sleep 0.2
done
[ -n "$pid1" ] || fail "the machine did not start (see its console above)"
in_m() { nsenter -t "$pid1" -a -- "$@"; }
state=$(timeout 90 nsenter -t "$pid1" -a -- systemctl is-system-running --wait 2>/dev/null || true)
note "system state: ${state:-unknown} after $((SECONDS - t_boot))s"
check "machine booted (running or degraded)" test "$state" = running -o "$state" = degraded
[ "$state" = running ] || in_m systemctl --failed --no-legend | sed 's/^/  failed: /'

U=s3mount@mnt-data.service
fuse_at() { in_m grep -q " $1 [^-]* - fuse" /proc/self/mountinfo; }
main_is_s3mount() { # unit: its main process is s3mount itself (it sent READY=1; NotifyAccess=main)
  local pid
  pid=$(in_m systemctl show -p MainPID --value "$1")
  [ "$pid" != 0 ] && [ "$(in_m cat "/proc/$pid/comm")" = s3mount ]
}
# 2. Mounted at boot, ready, usable; data reaches S3.
check "$U active after boot" in_m systemctl is-active --quiet "$U"
check "$U is Type=notify" test "$(in_m systemctl show -p Type --value "$U")" = notify
check "$U's main process is s3mount (it sent READY=1: NotifyAccess=main)" main_is_s3mount "$U"
check "/mnt/data is a FUSE mount" fuse_at /mnt/data
check "write and read back through /mnt/data" in_m sh -c 'echo hello-boot > /mnt/data/boot.txt && grep -qx hello-boot /mnt/data/boot.txt'
check "boto3 reads boot.txt from S3 with the bytes written" test "$(s3_get boot.txt)" = hello-boot
check "fstab line mounted /mnt/data3 at boot" fuse_at /mnt/data3
fuse_at /mnt/data3 || in_m journalctl --no-pager -q -n 20 -u mnt-data3.mount | sed 's/^/  journal: /'
check "/mnt/data3 (another mount of the bucket) reads boot.txt" in_m grep -qx hello-boot /mnt/data3/boot.txt
# mount.sh starts its unit with `systemctl enable --now`, which returns once s3mount sent READY=1:
# the mount must be there the moment it returns (readiness, not a race).
out=$(in_m /usr/share/doc/s3mount/examples/mount.sh "$bucket_spec" /mnt/data2 --allow-delete "${mount_opts[@]}" 2>&1) ||
  printf '  mount.sh: %s\n' "$out"
check "/mnt/data2 is a FUSE mount as soon as mount.sh returned" fuse_at /mnt/data2
check "mount.sh started s3mount-mnt-data2.service" in_m systemctl is-active --quiet s3mount-mnt-data2.service
check "mount.sh printed how to check it" grep -q 'systemctl status s3mount-mnt-data2.service' <<< "$out"

# 3. kill -9 -> restart -> usable again.
old=$(in_m systemctl show -p MainPID --value "$U")
note "kill -9 of $U's main process $old ($(in_m cat "/proc/$old/comm" 2>/dev/null || echo '?'))"
t_kill=$SECONDS
in_m sh -c "kill -9 $old"
new=""
for _ in $(seq 60); do
  new=$(in_m systemctl show -p MainPID --value "$U")
  if [ "$new" != 0 ] && [ "$new" != "$old" ] && in_m systemctl is-active --quiet "$U"; then break; fi
  sleep 0.5
done
note "$U active again after $((SECONDS - t_kill))s (RestartSec=5)"
check "$U restarted by systemd (main PID $old -> $new)" test "$new" != 0 -a "$new" != "$old"
check "$U counted a restart" test "$(in_m systemctl show -p NRestarts --value "$U")" -ge 1
check "the restarted main process is s3mount" main_is_s3mount "$U"
check "/mnt/data usable after the restart (earlier data read back)" in_m grep -qx hello-boot /mnt/data/boot.txt
check "write and read back through /mnt/data after the restart" \
  in_m sh -c 'echo hello-restart > /mnt/data/restart.txt && grep -qx hello-restart /mnt/data/restart.txt'
check "boto3 reads restart.txt from S3 with the bytes written" test "$(s3_get restart.txt)" = hello-restart
# The dead FUSE mount the kill left must be gone, not buried under the new one (ExecStopPost).
fuse_count() { in_m grep -c " $1 [^-]* - fuse" /proc/self/mountinfo || true; }
check "exactly one FUSE mount at /mnt/data after the restart (got $(fuse_count /mnt/data))" test "$(fuse_count /mnt/data)" = 1

# 4. Clean stop.
in_m systemctl stop "$U" s3mount-mnt-data2.service
for u in "$U" s3mount-mnt-data2.service; do
  check "$u stopped cleanly (inactive, Result=success)" \
    test "$(in_m systemctl is-active "$u" || true)" = inactive -a "$(in_m systemctl show -p Result --value "$u")" = success
  if [ "$(in_m systemctl show -p Result --value "$u")" != success ]; then  # say why
    in_m systemctl show -p ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,NRestarts "$u" | sed 's/^/  /'
    in_m journalctl --no-pager -q -n 25 -u "$u" | sed 's/^/  journal: /'
  fi
done
check "/mnt/data and /mnt/data2 no longer mounted" bash -c "! nsenter -t $pid1 -a -- grep -qE ' /mnt/data2? [^-]* - fuse' /proc/self/mountinfo"
# shellcheck disable=SC2016  # expanded by the machine's sh
s3mount_count() { in_m sh -c 'n=0; for c in /proc/[0-9]*/comm; do [ "$(cat "$c" 2>/dev/null)" = s3mount ] && n=$((n + 1)); done; echo $n'; }
check "no s3mount left but the fstab mount's (got $(s3mount_count))" test "$(s3mount_count)" = 1
check "umount /mnt/data3 (the fstab mount)" in_m umount /mnt/data3
check "fstab mount unmounted with umount" bash -c "! nsenter -t $pid1 -a -- grep -q ' /mnt/data3 [^-]* - fuse' /proc/self/mountinfo"
in_m systemctl poweroff || true
for _ in $(seq 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
check "machine powered off" bash -c "! kill -0 $nspawn_pid 2>/dev/null"
nspawn_pid=""

note "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
