#!/usr/bin/env bash
# shellcheck disable=SC2015  # "check && ok || bad": ok never fails
# deploy_test.sh: fast checks of the deployment files (ctest: deploy_units), no root or systemd needed.
#  - systemd-analyze verify on every unit shipped: the template s3mount@.service (as an instance)
#    and a unit written by deploy/mount.sh --dry-run (works without systemd as PID 1);
#  - deploy/mount.s3mount's option translation, with S3MOUNT_BIN pointing at a recorder stub;
#  - mount.sh and install.sh argument handling (--help, bad arguments: one-line errors);
#  - shellcheck on every script, when shellcheck is installed.
# Prints one line per failed check and a final "N passed, N failed".
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# A stand-in s3mount that prints its arguments, one per line.
STUB=$TMP/bin/s3mount
mkdir -p "$TMP/bin"
# shellcheck disable=SC2016  # the stub's own $@ and $a
printf '#!/bin/sh\nfor a in "$@"; do printf "%%s\\n" "$a"; done\n' > "$STUB"
chmod +x "$STUB"

# ---- systemd units ----
verify_unit() { # name file
  local out
  if ! out=$(cd "$(dirname "$2")" && systemd-analyze verify "./$(basename "$2")" 2>&1); then
    bad "systemd-analyze verify $1: $(echo "$out" | tr '\n' ' ')"
  elif grep -q "$(basename "$2")" <<< "$out"; then
    bad "systemd-analyze verify $1 warned: $(echo "$out" | tr '\n' ' ')"
  else
    ok
  fi
}
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$TMP/units"
  # The instance name is what `systemd-escape --path /mnt/data` gives; ExecStart points at the stub
  # because /usr/bin/s3mount is not installed on a build machine.
  sed "s#/usr/bin/s3mount#$STUB#" "$REPO/deploy/systemd/s3mount@.service" > "$TMP/units/s3mount@mnt-data.service"
  verify_unit "s3mount@.service" "$TMP/units/s3mount@mnt-data.service"
  unit=$(S3MOUNT_BIN=$STUB "$REPO/deploy/mount.sh" --dry-run s3://bucket/prefix/ /mnt/data \
    --allow-delete --region eu-west-1 --prefix 'odd "name" 100%$' 2>/dev/null) || bad "mount.sh --dry-run failed"
  printf '%s\n' "$unit" > "$TMP/units/s3mount-mnt-data.service"
  verify_unit "mount.sh unit" "$TMP/units/s3mount-mnt-data.service"
  for want in 'Type=notify' 'Wants=network-online.target' 'After=network-online.target' 'Restart=on-failure' \
      'RestartSec=' 'StartLimitBurst=' 'AssertPathIsDirectory=/mnt/data' 'ExecStop=-fusermount3 -u /mnt/data' \
      'ExecStopPost=' 'WantedBy=remote-fs.target' \
      "ExecStart=$STUB --foreground --allow-other --allow-delete --region eu-west-1 --prefix \"odd \\\"name\\\" 100%%\$\$\" s3://bucket/prefix/ /mnt/data"; do
    grep -qF -- "$want" <<< "$unit" && ok || bad "mount.sh unit lacks: $want"
  done
else
  echo "SKIP: systemd-analyze not installed (apt-get install systemd): units not verified"
fi

# ---- mount.sh arguments ----
expect_fail() { # description expected-substring command...
  local what=$1 want=$2 out
  shift 2
  if out=$("$@" 2>&1); then bad "$what: succeeded, want failure"; return; fi
  if [ "$(wc -l <<< "$out")" -ne 1 ]; then bad "$what: error is not one line: $out"; return; fi
  grep -qF -- "$want" <<< "$out" && ok || bad "$what: error '$out' lacks '$want'"
}
MS="$REPO/deploy/mount.sh"
"$MS" --help | grep -q '^usage: mount.sh' && ok || bad "mount.sh --help"
expect_fail "mount.sh no args" "expected BUCKET and DIR" env S3MOUNT_BIN="$STUB" "$MS"
expect_fail "mount.sh relative DIR" "absolute path" env S3MOUNT_BIN="$STUB" "$MS" --dry-run b mnt
expect_fail "mount.sh -f option" "always runs s3mount in the foreground" env S3MOUNT_BIN="$STUB" "$MS" --dry-run b /mnt/x -f
expect_fail "mount.sh unknown option" "unknown option '--bogus'" env S3MOUNT_BIN="$STUB" "$MS" --bogus b /mnt/x
u=$(S3MOUNT_BIN=$STUB "$MS" --dry-run b /mnt/x --allow-root 2>/dev/null)
grep -q -- '--allow-other' <<< "$u" && bad "mount.sh kept --allow-other next to --allow-root" || ok
u=$(S3MOUNT_BIN=$STUB "$MS" --dry-run b /mnt/x --allow-other 2>/dev/null)
[ "$(grep -o -- '--allow-other' <<< "$u" | wc -l)" = 1 ] && ok || bad "mount.sh repeated --allow-other"
name=$(S3MOUNT_BIN=$STUB "$MS" --dry-run b /mnt/my-data/ 2>&1 >/dev/null)
grep -qF 's3mount-mnt-my\x2ddata.service' <<< "$name" && ok || bad "mount.sh unit name: $name"

# ---- mount.s3mount option translation ----
HELPER="$REPO/deploy/mount.s3mount"
mkdir -p "$TMP/mnt"
translate() { # expected (args joined by |) -- helper args...
  local want=$1 got
  shift
  got=$(S3MOUNT_BIN=$STUB "$HELPER" "$@" 2>&1 | paste -sd'|') || true
  [ "$got" = "$want" ] && ok || bad "mount.s3mount $*: got '$got', want '$want'"
}
M=$TMP/mnt
translate "--allow-delete|--uid|1000|s3://bucket/prefix/|$M" \
  s3://bucket/prefix/ "$M" -o _netdev,nosuid,nodev,allow-delete,uid=1000
translate "bucket|$M" bucket "$M" -o defaults,rw,auto,noauto,user,users,nouser,nofail,noexec,exec,suid,dev,noatime,x-systemd.automount,x-systemd.requires=network-online.target,comment=systemd.automount
translate "--read-only|--allow-other|--region|us-east-1|--file-mode|0444|bucket|$M" \
  bucket "$M" -o ro,allow_other,region=us-east-1,file_mode=0444
translate "--endpoint-url|http://10.200.0.1:9000/x?a=b|--force-path-style|b|$M" \
  b "$M" -s -n -o endpoint-url=http://10.200.0.1:9000/x?a=b -o force-path-style
translate "--prefix|a=b|b|$M" b "$M" -oprefix=a=b
# Mountpoint 1.24's other options pass through too (flags, values with ':' '/' '=', repeats).
translate "--sse|aws:kms|--sse-kms-key-id|arn:aws:kms:us-east-1:111122223333:key/k-1|--expected-bucket-owner|111122223333|--user-agent-prefix|team-a/1|--infer-content-type|--bind|lo|--bind|eth0|--transfer-acceleration|--dual-stack|--bucket-type|directory|--incremental-upload|--no-log|--debug-crt|--otlp-endpoint|http://127.0.0.1:4318|--otlp-export-interval|30|b|$M" \
  b "$M" -o sse=aws:kms,sse-kms-key-id=arn:aws:kms:us-east-1:111122223333:key/k-1,expected-bucket-owner=111122223333,user-agent-prefix=team-a/1,infer-content-type,bind=lo,bind=eth0,transfer-acceleration,dual-stack,bucket_type=directory,incremental-upload,no-log,debug-crt,otlp-endpoint=http://127.0.0.1:4318,otlp_export_interval=30
translate "--user-agent-prefix|a,b\\c|--read-only|b|$M" b "$M" -o 'user-agent-prefix=a\,b\c,ro'
out=$(S3MOUNT_BIN=$STUB "$HELPER" b "$M" -f -o ro 2>&1) && [ -n "$out" ] && ! grep -q '^--read-only$' <<< "$out" &&
  ok || bad "mount.s3mount -f (fake) ran s3mount or printed nothing: $out"
expect_fail "mount.s3mount missing dir" "is not a directory" env S3MOUNT_BIN="$STUB" "$HELPER" b "$TMP/nope"
expect_fail "mount.s3mount bad option" "invalid option 'Bad!'" env S3MOUNT_BIN="$STUB" "$HELPER" b "$M" -o 'Bad!'
expect_fail "mount.s3mount foreground" "would make mount(8) wait" env S3MOUNT_BIN="$STUB" "$HELPER" b "$M" -o foreground
expect_fail "mount.s3mount unknown flag" "unknown flag -x" env S3MOUNT_BIN="$STUB" "$HELPER" b "$M" -x

# ---- install.sh arguments ----
IS="$REPO/deploy/install.sh"
"$IS" --help | grep -q '^usage: install.sh' && ok || bad "install.sh --help"
expect_fail "install.sh no args" "say what to install" "$IS"
expect_fail "install.sh bad arg" "unknown argument '--bogus'" "$IS" --bogus
expect_fail "install.sh --deb without value" "--deb needs a path or URL" "$IS" --deb
expect_fail "install.sh --source not a checkout" "is not an s3mount source checkout" "$IS" --source "$TMP"

# ---- install-ior.sh arguments ----
II="$REPO/deploy/parallelcluster/install-ior.sh"
"$II" --help | grep -q '^usage: install-ior.sh' && ok || bad "install-ior.sh --help"
expect_fail "install-ior.sh bad arg" "unknown argument '--bogus'" "$II" --bogus

# ---- the ParallelCluster template: YAML, the three scripts in order, write access to the bucket ----
if python3 -c 'import yaml' 2>/dev/null; then
  out=$(python3 - "$REPO/deploy/parallelcluster/cluster-config.yaml" <<'PY' 2>&1
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
def scripts(node):
    return [s["Script"].rsplit("/", 1)[-1] for s in node["CustomActions"]["OnNodeConfigured"]["Sequence"]]
assert scripts(c["HeadNode"]) == ["install.sh", "mount.sh", "install-ior.sh"], scripts(c["HeadNode"])
for q in c["Scheduling"]["SlurmQueues"]:
    assert scripts(q)[:2] == ["install.sh", "mount.sh"], scripts(q)
    assert any(a.get("EnableWriteAccess") for a in q["Iam"]["S3Access"]), "queue without write access"
assert any(a.get("EnableWriteAccess") for a in c["HeadNode"]["Iam"]["S3Access"]), "head node without write access"
for key in ("SubnetId", "KeyName"):
    assert key in str(c["HeadNode"]), key
PY
  ) && ok || bad "cluster-config.yaml: $(echo "$out" | tail -n 1)"
else
  echo "SKIP: python3-yaml not installed: cluster-config.yaml not checked"
fi

# ---- the Slurm jobs refuse to run outside Slurm ----
expect_fail "ior.sbatch outside Slurm" "run me with sbatch" env -u SLURM_JOB_ID bash "$REPO/bench/slurm/ior.sbatch"
expect_fail "mdtest.sbatch outside Slurm" "run me with sbatch" env -u SLURM_JOB_ID bash "$REPO/bench/slurm/mdtest.sbatch"

# ---- shellcheck ----
if command -v shellcheck >/dev/null; then
  scripts=("$REPO"/deploy/*.sh "$REPO/deploy/mount.s3mount" "$REPO"/deploy/parallelcluster/*.sh
           "$REPO"/deploy/debian/post* "$REPO"/bench/slurm/*.sbatch "$REPO"/tests/cluster/*.sh "$REPO"/tests/deploy/*.sh)
  for s in "${scripts[@]}"; do
    [ -f "$s" ] || continue
    out=$(shellcheck -x "$s" 2>&1) && ok || bad "shellcheck $(basename "$s"): $(echo "$out" | head -n 3 | tr '\n' ' ')"
  done
else
  echo "SKIP: shellcheck not installed"
fi

echo "deploy_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
