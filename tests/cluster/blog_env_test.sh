#!/usr/bin/env bash
# blog_env_test.sh: what the blog's job (bench/slurm/blog-ior.sbatch) gets from the lab, without
# Slurm or root: the modules environment (Debian's environment-modules, the lab's modulefile
# `intelmpi` in tests/cluster/modulefiles), the `module` function reaching a child bash the way
# sbatch passes it to a job, the lab's `ior` (tests/cluster/lab-bin/ior) passing the blog's
# arguments through unchanged and scaling -b/-t only when told. The "real IOR" it wraps is, here, a
# recorder script that prints its arguments (what is tested is the wrapper's rewriting, not IOR).
# With IOR installed (IOR_PREFIX, default /opt/ior), it also runs the blog's script itself, outside
# Slurm, at 2 MiB per task in a temporary folder on disk, and parses IOR's summary; without IOR it
# says SKIP for that part. A missing package (environment-modules, Open MPI) is a failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
IOR_PREFIX=${IOR_PREFIX:-/opt/ior}
MODULES_INIT=/usr/share/modules/init/bash
BLOG_ARGS=(-r -w -v -F -o=S@S@S -b=2000m -i=1 -t=50m -a=POSIX --posix.odirect)
passed=0

fail() { echo "blog_env_test: FAIL: $*" >&2; exit 1; }
ok() { echo "blog_env_test: ok: $*"; passed=$((passed + 1)); }

[ -f "$MODULES_INIT" ] || fail "no $MODULES_INIT: apt-get install environment-modules (scripts/install-deps)"
command -v mpirun >/dev/null || fail "no mpirun: apt-get install openmpi-bin (scripts/install-deps)"
tmp=$(mktemp -d /var/tmp/blog-env-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# 1. The module is found and loads the lab's MPI, with the lab's ior first in PATH.
# shellcheck disable=SC1090
. "$MODULES_INIT"
module use "$HERE/modulefiles"
module avail -t 2>&1 | grep -qx 'intelmpi' || fail "module avail does not list intelmpi: $(module avail -t 2>&1 | tr '\n' ' ')"
module load intelmpi || fail "module load intelmpi failed"
[ "$(command -v ior)" = "$HERE/lab-bin/ior" ] || fail "after module load intelmpi, ior is '$(command -v ior)', want $HERE/lab-bin/ior"
mpirun --version 2>&1 | grep -q 'Open MPI' || fail "mpirun is not Open MPI: $(mpirun --version 2>&1 | head -n 1)"
[ -d "$MPI_HOME" ] || fail "MPI_HOME '$MPI_HOME' is not a folder"
module list -t 2>&1 | grep -qx intelmpi || fail "module list does not show intelmpi"
ok "module load intelmpi: Open MPI ($(mpirun --version 2>&1 | head -n 1)), MPI_HOME=$MPI_HOME, ior -> lab-bin/ior"

# 2. A job's bash gets `module` from the submitter's environment (sbatch exports it, as
#    BASH_FUNC_module%%), and unloading restores PATH.
[ "$(bash -c 'type -t module')" = function ] || fail "a child bash has no module function (not exported)"
[ "$(bash -c 'module list -t 2>&1' | grep -cx intelmpi)" = 1 ] || fail "a child bash does not see intelmpi loaded"
module unload intelmpi
case ":$PATH:" in *":$HERE/lab-bin:"*) fail "module unload left lab-bin in PATH" ;; esac
ok "the module function and the loaded module reach a child bash; unload restores PATH"

# 3. The wrapper: a recorder stands in for the real IOR, after lab-bin in PATH.
mkdir -p "$tmp/fakeior"
cat > "$tmp/fakeior/ior" <<'EOF'
#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done
EOF
chmod +x "$tmp/fakeior/ior"
# Never fails: a non-zero exit shows up as "exit=N" in the output compared below.
wrap() { env PATH="$HERE/lab-bin:$tmp/fakeior:$PATH" "$@" 2> "$tmp/wrap.err" || echo "exit=$?"; }
want=$(printf '%s\n' "${BLOG_ARGS[@]}")
got=$(wrap env -u BLOG_IOR_BLOCK -u BLOG_IOR_TRANSFER ior "${BLOG_ARGS[@]}")
[ "$got" = "$want" ] || fail "without the knobs the wrapper changed the arguments: $(tr '\n' ' ' <<< "$got")"
[ ! -s "$tmp/wrap.err" ] || fail "without the knobs the wrapper printed: $(cat "$tmp/wrap.err")"
got=$(wrap env BLOG_IOR_BLOCK=4m BLOG_IOR_TRANSFER=1m OMPI_COMM_WORLD_RANK=0 ior "${BLOG_ARGS[@]}")
want=$(printf '%s\n' "${BLOG_ARGS[@]}" | sed 's/^-b=2000m$/-b=4m/; s/^-t=50m$/-t=1m/')
[ "$got" = "$want" ] || fail "BLOG_IOR_BLOCK=4m BLOG_IOR_TRANSFER=1m gave: $(tr '\n' ' ' <<< "$got")"
grep -q -- '-b=2000m -> -b=4m -t=50m -> -t=1m' "$tmp/wrap.err" || fail "rank 0 did not say what it scaled: $(cat "$tmp/wrap.err")"
got=$(wrap env BLOG_IOR_BLOCK=100m OMPI_COMM_WORLD_RANK=3 ior -b 2000m -t50m -o S)
[ "$got" = "$(printf '%s\n' -b 100m -t50m -o S)" ] || fail "'-b V' / '-tV' forms: $(tr '\n' ' ' <<< "$got")"
[ ! -s "$tmp/wrap.err" ] || fail "a rank other than 0 printed: $(cat "$tmp/wrap.err")"
got=$(wrap env BLOG_IOR_TRANSFER=2m OMPI_COMM_WORLD_RANK=1 ior -t16m -b=8m)
[ "$got" = "$(printf '%s\n' -t2m -b=8m)" ] || fail "'-tV' form with BLOG_IOR_TRANSFER: $(tr '\n' ' ' <<< "$got")"
got=$(wrap env BLOG_IOR_BLOCK=32m OMPI_COMM_WORLD_RANK=0 ior "${BLOG_ARGS[@]}")
[ "$got" = exit=2 ] || fail "BLOG_IOR_BLOCK=32m with -t=50m: want exit 2 and IOR not run, got: $(tr '\n' ' ' <<< "$got")"
grep -q 'not a multiple of transfer 50m' "$tmp/wrap.err" || fail "no error naming the transfer size: $(cat "$tmp/wrap.err")"
set +e
env PATH="$HERE/lab-bin:/usr/bin:/bin" ior -b=1m > /dev/null 2> "$tmp/noior.err"
rc=$?
set -e
[ "$rc" = 127 ] || fail "with no IOR after lab-bin in PATH the wrapper exited $rc, want 127"
grep -q 'install-ior.sh' "$tmp/noior.err" || fail "the wrapper's error does not say how to install IOR: $(cat "$tmp/noior.err")"
ok "lab-bin/ior: arguments unchanged without the knobs; -b/-t replaced (=V, V, separate) with them; a block not a multiple of the transfer refused; 127 without IOR"

# 4. install-ior.sh --module: builds with the module's mpicc (stopped before the download here).
module use "$HERE/modulefiles"
installer=$REPO/deploy/parallelcluster/install-ior.sh
set +e
IOR_LOG=$tmp/ior-install.log bash "$installer" --module intelmpi --prefix "$tmp/ior" --url "$tmp/none.tar.gz" > "$tmp/inst.out" 2>&1
rc=$?
IOR_LOG=$tmp/ior-install.log bash "$installer" --module no-such-mpi --prefix "$tmp/ior" --url "$tmp/none.tar.gz" > "$tmp/inst2.out" 2>&1
rc2=$?
set -e
grep -q "MPI compiler: $(command -v mpicc) " "$tmp/inst.out" || fail "install-ior.sh --module intelmpi did not pick the module's mpicc: $(tail -n 3 "$tmp/inst.out" | tr '\n' ' ')"
if [ "$rc" = 0 ] || ! grep -q "no such file: $tmp/none.tar.gz" "$tmp/inst.out"; then
  fail "install-ior.sh did not stop at the missing tarball (exit $rc)"
fi
if [ "$rc2" = 0 ] || ! grep -q 'module load no-such-mpi failed' "$tmp/inst2.out"; then
  fail "install-ior.sh --module no-such-mpi: exit $rc2, $(tail -n 2 "$tmp/inst2.out" | tr '\n' ' ')"
fi
# (Here the module's mpicc is Debian's /usr/bin/mpicc: this shows the module is loaded and its
# PATH used, not that another MPI would be picked over it.)
ok "install-ior.sh --module intelmpi loads the module and takes the mpicc in its PATH; an unknown module is an error"

# 5. The blog's script itself, outside Slurm (mpirun on this machine's slots), when IOR is here.
if [ -x "$IOR_PREFIX/bin/ior" ]; then
  mkdir -p "$tmp/run"
  # Scaled to 2 MiB per task in 1 MiB transfers; O_DIRECT needs a disk, not tmpfs (hence /var/tmp).
  (cd "$tmp/run" && PATH=$IOR_PREFIX/bin:$PATH BLOG_IOR_BLOCK=2m BLOG_IOR_TRANSFER=1m \
    bash "$REPO/bench/slurm/blog-ior.sbatch") > "$tmp/blog.out" 2>&1 ||
    { sed 's/^/  /' "$tmp/blog.out" >&2; fail "the blog's script failed outside Slurm"; }
  python3 "$REPO/bench/ioparse.py" ior "$tmp/blog.out" > "$tmp/blog.json" ||
    { sed 's/^/  /' "$tmp/blog.out" >&2; fail "no IOR summary in the blog script's output"; }
  read -r tasks block w r < <(python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(j["tasks"], j["blocksize"], j["max"]["write"], j["max"]["read"])' "$tmp/blog.json")
  slots=$(nproc)   # mpirun outside Slurm: one slot per core
  if [ "$tasks" -lt 1 ] || [ "$tasks" -gt "$slots" ]; then fail "IOR ran $tasks tasks, want 1..$slots (this machine's slots)"; fi
  [ "$block" = $((2 << 20)) ] || fail "IOR's block was $block bytes, want 2 MiB (BLOG_IOR_BLOCK=2m)"
  awk -v w="$w" -v r="$r" 'BEGIN { exit !(w > 0 && r > 0) }' || fail "Max Write $w / Max Read $r not positive"
  left=$(find "$tmp/run" -mindepth 1 -printf '%f ')
  [ -z "$left" ] || fail "IOR left files behind: $left"
  ok "the blog's script outside Slurm: $tasks tasks, Max Write $w MiB/s, Max Read $r MiB/s (2 MiB per task, local disk), files removed"
else
  echo "blog_env_test: SKIP (part 5 of 5): IOR is not installed in $IOR_PREFIX, so the blog's script was not run;" \
    "install it with deploy/parallelcluster/install-ior.sh --prefix $IOR_PREFIX"
fi
echo "blog_env_test: $passed checks passed"
