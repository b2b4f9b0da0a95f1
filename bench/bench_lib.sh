# shellcheck shell=bash
# bench_lib.sh: sourced by the benchmark scripts (not run on its own). Needs ROOT set to
# the source tree.

# bench_build DIR TARGET...: configures DIR as a Release build (once) and builds the targets;
# a no-op when up to date, so a stale binary is never measured without notice.
bench_build() {
  local dir=$1
  shift
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    # -Wno-restrict: GCC 12 reports a false -Wrestrict in std::string at -O3 (src/s3/endpoint.cc).
    cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS=-Wno-restrict >/dev/null
  fi
  nice cmake --build "$dir" -j2 --target "$@" >/dev/null
}

# bench_rgw_start: starts RGW in $RGW_DIR (bench/rgw.sh; RGW_PORT, RGW_MON_PORT) and exports
# RGW_ENDPOINT and its credentials as AWS_*. Stop it with `bench/rgw.sh stop "$RGW_DIR"`.
bench_rgw_start() {
  eval "$("$ROOT/bench/rgw.sh" start "$RGW_DIR")"
  export RGW_ENDPOINT
  export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_REGION=us-east-1
}
