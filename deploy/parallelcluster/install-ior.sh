#!/usr/bin/env bash
# install-ior.sh: builds IOR (ior and mdtest) from its release tarball with the cluster's MPI and
# installs it into a prefix every node sees (default /opt/ior; on ParallelCluster use a shared
# directory such as /shared/ior and run this on the head node only). Logs to /var/log/ior-install.log.
#
#   install-ior.sh [--url URL] [--prefix DIR] [--mpicc PATH] [--module NAME] [--force]
#
# Idempotent: a prefix that already holds an ior built from the same URL is left alone.
# MPI: --mpicc, else the mpicc of `module load NAME` (--module: build with the MPI the jobs load,
# e.g. intelmpi for bench/slurm/blog-ior.sbatch, whose mpirun must match the MPI IOR was built
# with, or every rank runs as a one-task IOR), else $MPI_HOME/bin/mpicc, else ParallelCluster's
# Open MPI (/opt/amazon/openmpi), else `module load openmpi`, else mpicc in PATH. Needs a C compiler and make (the cluster AMIs have
# them; else apt-get install build-essential / dnf install gcc make).
# Called from the ParallelCluster recipe (cluster-config.yaml, OnNodeConfigured).
set -euo pipefail

PROG=install-ior.sh
URL=${IOR_URL:-https://github.com/hpc/ior/releases/download/4.0.0/ior-4.0.0.tar.gz}
PREFIX=${IOR_PREFIX:-/opt/ior}
LOG=${IOR_LOG:-/var/log/ior-install.log}
MPICC=""
MODULE=""
FORCE=0

die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $(date '+%F %T') $*" >&2; }

usage() {
  cat <<EOF
usage: install-ior.sh [--url URL] [--prefix DIR] [--mpicc PATH] [--module NAME] [--force]
  --url URL      IOR release tarball (http(s)://, s3://, file:// or a path); default $URL
  --prefix DIR   install prefix, shared by the nodes (default $PREFIX)
  --mpicc PATH   MPI C compiler wrapper (default: detected, see the header of this script)
  --module NAME  \`module load NAME\` first and build with its mpicc (e.g. intelmpi)
  --force        rebuild even if PREFIX already has this version
Log: $LOG
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --url) [ $# -ge 2 ] || die "--url needs a URL"; URL=$2; shift 2 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
    --mpicc) [ $# -ge 2 ] || die "--mpicc needs a path"; MPICC=$2; shift 2 ;;
    --module) [ $# -ge 2 ] || die "--module needs a module name"; MODULE=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# Everything from here on also goes to the log.
mkdir -p "$(dirname "$LOG")" || die "cannot create $(dirname "$LOG")"
exec > >(tee -a "$LOG") 2>&1
log "start: url=$URL prefix=$PREFIX"

stamp=$PREFIX/.install-ior-source
if [ "$FORCE" = 0 ] && [ -x "$PREFIX/bin/ior" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$URL" ]; then
  log "IOR from $URL is already in $PREFIX; nothing to do (--force rebuilds)"
  exit 0
fi

load_modules() { # sets up the module command if the node has one; 1 when it has none
  [ "$(type -t module)" = function ] && return 0
  [ -f /etc/profile.d/modules.sh ] || return 1
  # shellcheck disable=SC1091
  . /etc/profile.d/modules.sh
}

find_mpicc() {
  if [ -n "$MPICC" ]; then echo "$MPICC"; return; fi
  if [ -n "${MPI_HOME:-}" ] && [ -x "$MPI_HOME/bin/mpicc" ]; then echo "$MPI_HOME/bin/mpicc"; return; fi
  if [ -x /opt/amazon/openmpi/bin/mpicc ]; then echo /opt/amazon/openmpi/bin/mpicc; return; fi
  if load_modules; then module load openmpi >/dev/null 2>&1 || true; fi
  command -v mpicc || true
}
if [ -n "$MODULE" ] && [ -z "$MPICC" ]; then
  # In this shell, not in find_mpicc's subshell: configure and make need the module's environment.
  load_modules || die "--module $MODULE: no module command on this node (/etc/profile.d/modules.sh)"
  module load "$MODULE" || die "module load $MODULE failed (module avail lists what this node has)"
  MPICC=$(command -v mpicc) || die "module $MODULE put no mpicc in PATH"
fi
MPICC=$(find_mpicc)
if [ -z "$MPICC" ] || [ ! -x "$(command -v "$MPICC")" ]; then
  die "no MPI compiler found: pass --mpicc, set MPI_HOME, or install Open MPI (apt-get install libopenmpi-dev)"
fi
command -v make >/dev/null || die "make not found (apt-get install build-essential / dnf install gcc make)"
log "MPI compiler: $MPICC ($("$MPICC" --version 2>/dev/null | head -n 1))"

work=$(mktemp -d /tmp/ior-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
tarball=$work/ior.tar.gz
case "$URL" in
  s3://*) command -v aws >/dev/null || die "the aws CLI is needed for $URL"
          aws s3 cp --only-show-errors "$URL" "$tarball" || die "download failed: $URL" ;;
  http://*|https://*|file://*) curl -fsSL --retry 3 -o "$tarball" "$URL" || die "download failed: $URL" ;;
  *) [ -f "$URL" ] || die "no such file: $URL"; cp "$URL" "$tarball" ;;
esac
tar -xzf "$tarball" -C "$work" || die "$URL is not a .tar.gz"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -n "$src" ] || die "the tarball has no top-level directory"
cd "$src"
if [ ! -x configure ]; then
  # A git snapshot rather than a release tarball: generate configure first (needs autotools).
  [ -x bootstrap ] || die "no configure script in $URL (is it an IOR release tarball?)"
  ./bootstrap || die "./bootstrap failed (install autoconf automake)"
fi
log "configure"
./configure --prefix="$PREFIX" CC="$MPICC" MPICC="$MPICC" || die "configure failed (see $LOG)"
log "make"
make -j "$(nproc)" || die "make failed (see $LOG)"
make install || die "make install into $PREFIX failed"
[ -x "$PREFIX/bin/ior" ] || die "no $PREFIX/bin/ior after make install"
echo "$URL" > "$stamp"
log "installed ior and mdtest into $PREFIX/bin (the Slurm jobs look there; else add it to PATH)"
