#!/usr/bin/env bash
# install.sh: installs s3mount on one node, from a .deb (path or URL) or by building from source.
#
#   install.sh --deb PATH|URL        install the package with apt (pulls fuse3, libcurl, ... too)
#   install.sh --source [DIR]        build DIR (default: the checkout holding this script) and install
#                                    into --prefix (default /usr): runs scripts/install-deps, cmake, cmake --install
#   install.sh --git URL [--ref REF] clone (or update) URL into /opt/s3mount-src, then as --source
#
# Idempotent: an already installed package of the same version is left alone (unless --force); a
# source build reuses its build directory. Debian and Ubuntu (any release: no version gate) are
# supported and tested; the RHEL family builds from source with dnf (see docs/DEPLOY.md); any other OS
# gets a one-line error. Called by the ParallelCluster recipe on every node.
set -euo pipefail

PROG=install.sh
die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

# Build dependencies on the RHEL family (EPEL needed for pugixml, spdlog, fmt, cli11, isa-l).
RHEL_PACKAGES=(gcc-c++ cmake make pkgconf-pkg-config fuse3 fuse3-devel libcurl-devel openssl-devel
  pugixml-devel cli11-devel spdlog-devel fmt-devel libisa-l-devel gtest-devel gmock-devel git curl)

usage() {
  cat <<'EOF'
usage: install.sh (--deb PATH|URL | --source [DIR] | --git URL [--ref REF]) [OPTIONS]
  --deb PATH|URL   install a s3mount .deb (Debian/Ubuntu); URL may be http(s):// or s3:// (needs aws CLI)
  --source [DIR]   build from a source checkout (default: the one containing this script)
  --git URL        clone URL into --src-dir (default /opt/s3mount-src) and build it
  --ref REF        branch, tag or commit for --git (default: the remote's default branch)
  --prefix DIR     install prefix for source builds (default /usr; the units expect /usr/bin/s3mount)
  --build-dir DIR  build directory for source builds (default DIR/build-install)
  --force          reinstall even if the same version is already installed
  -h, --help       this help
Honours DESTDIR for source builds (staging). Logs go to stderr; exit status 0 means installed.
EOF
}

mode=""
arg=""
ref=""
prefix=/usr
build_dir=""
src_dir=/opt/s3mount-src
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --deb) [ $# -ge 2 ] || die "--deb needs a path or URL"; mode=deb; arg=$2; shift 2 ;;
    --source)
      mode=source
      if [ $# -ge 2 ] && [ "${2#-}" = "$2" ]; then arg=$2; shift; fi
      shift ;;
    --git) [ $# -ge 2 ] || die "--git needs a repository URL"; mode=git; arg=$2; shift 2 ;;
    --ref) [ $# -ge 2 ] || die "--ref needs a branch, tag or commit"; ref=$2; shift 2 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --build-dir) [ $# -ge 2 ] || die "--build-dir needs a directory"; build_dir=$2; shift 2 ;;
    --src-dir) [ $# -ge 2 ] || die "--src-dir needs a directory"; src_dir=$2; shift 2 ;;
    --force) force=1; shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$mode" ] || die "say what to install: --deb PATH|URL, --source [DIR] or --git URL (see --help)"

# Echoes "debian" or "rhel"; dies on anything else.
os_family() {
  [ -r /etc/os-release ] || die "cannot read /etc/os-release; supported: Debian, Ubuntu, RHEL family"
  local id="" id_like=""
  # shellcheck disable=SC1091
  id=$(. /etc/os-release && echo "${ID:-}")
  # shellcheck disable=SC1091
  id_like=$(. /etc/os-release && echo "${ID_LIKE:-}")
  case " $id $id_like " in
    *" debian "*|*" ubuntu "*) echo debian ;;
    *" rhel "*|*" fedora "*|*" centos "*|*" rocky "*|*" almalinux "*|*" amzn "*) echo rhel ;;
    *) die "unsupported OS '$id' (supported: Debian, Ubuntu; RHEL family from source, see docs/DEPLOY.md)" ;;
  esac
}

need_root() { [ "$(id -u)" -eq 0 ] || [ -n "${DESTDIR:-}" ] || die "must run as root (or with sudo)"; }

check_fuse() {
  [ -e /dev/fuse ] || log "warning: /dev/fuse is missing; load the module: modprobe fuse"
}

# Fetches PATH|URL to a local file and echoes its path.
fetch_deb() {
  local src=$1 tmp
  case "$src" in
    http://*|https://*)
      tmp=$(mktemp -d)/$(basename "${src%%\?*}")
      command -v curl >/dev/null || die "curl is needed to download $src (apt-get install curl)"
      curl -fsSL --retry 3 -o "$tmp" "$src" || die "download failed: $src"
      echo "$tmp" ;;
    s3://*)
      tmp=$(mktemp -d)/$(basename "$src")
      command -v aws >/dev/null || die "the aws CLI is needed to download $src"
      aws s3 cp --only-show-errors "$src" "$tmp" >&2 || die "download failed: $src"
      echo "$tmp" ;;
    *)
      [ -f "$src" ] || die "no such package file: $src"
      realpath -- "$src" ;;
  esac
}

install_deb() {
  [ "$OS_FAMILY" = debian ] || die "a .deb installs only on Debian/Ubuntu; on this OS use --source or --git"
  need_root
  command -v dpkg-deb >/dev/null || die "dpkg-deb not found: is this really Debian/Ubuntu?"
  local deb name want have
  deb=$(fetch_deb "$1")
  name=$(dpkg-deb -f "$deb" Package 2>/dev/null) || die "$deb is not a Debian package"
  want=$(dpkg-deb -f "$deb" Version)
  have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
  if [ "$force" = 0 ] && [ "$have" = "install ok installed $want" ]; then
    log "$name $want is already installed; nothing to do (--force reinstalls)"
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  local reinstall=()
  [ "$force" = 0 ] || reinstall=(--reinstall)
  # apt resolves the package's Depends (fuse3, libfuse3, libcurl, ...); refresh lists once on failure.
  if ! apt-get install -y -q "${reinstall[@]}" "$deb" >&2; then
    apt-get update -q >&2 || die "apt-get update failed"
    apt-get install -y -q "${reinstall[@]}" "$deb" >&2 || die "apt-get install $deb failed"
  fi
  log "installed $name $want"
}

install_build_deps() {
  local src=$1
  case "$OS_FAMILY" in
    debian)
      [ -x "$src/scripts/install-deps" ] || die "$src/scripts/install-deps missing: is $src an s3mount checkout?"
      "$src/scripts/install-deps" || die "scripts/install-deps failed" ;;
    rhel)
      command -v dnf >/dev/null || die "dnf not found"
      dnf install -y -q "${RHEL_PACKAGES[@]}" >&2 ||
        die "dnf install failed (enable EPEL/CRB first: see docs/DEPLOY.md)" ;;
  esac
}

install_source() {
  local src=$1
  if [ ! -f "$src/CMakeLists.txt" ] || [ ! -d "$src/src/cli" ]; then
    die "$src is not an s3mount source checkout"
  fi
  need_root
  install_build_deps "$src"
  local bdir=${build_dir:-$src/build-install}
  log "building $src in $bdir"
  cmake -S "$src" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DS3MOUNT_TESTS=OFF -DS3MOUNT_BENCH=OFF >&2 || die "cmake configure failed (see output above)"
  cmake --build "$bdir" -j "$(nproc)" >&2 || die "build failed (see output above)"
  cmake --install "$bdir" >&2 || die "cmake --install failed"
  log "installed $("$bdir/s3mount" --version 2>/dev/null || echo s3mount) into ${DESTDIR:-}$prefix"
}

install_git() {
  command -v git >/dev/null || die "git not found (apt-get install git / dnf install git)"
  need_root
  if [ -d "$src_dir/.git" ]; then
    git -C "$src_dir" fetch -q --tags origin || die "git fetch in $src_dir failed"
  else
    git clone -q "$arg" "$src_dir" || die "git clone $arg failed"
  fi
  if [ -n "$ref" ]; then
    git -C "$src_dir" checkout -q --detach "$ref" 2>/dev/null ||
      git -C "$src_dir" checkout -q --detach "origin/$ref" || die "no ref '$ref' in $arg"
  else
    git -C "$src_dir" checkout -q --detach origin/HEAD 2>/dev/null || true
  fi
  install_source "$src_dir"
}

OS_FAMILY=$(os_family) || exit 1
case "$mode" in
  deb) install_deb "$arg" ;;
  source)
    if [ -z "$arg" ]; then arg=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); fi
    install_source "$(realpath -- "$arg")" ;;
  git) install_git ;;
esac
check_fuse
