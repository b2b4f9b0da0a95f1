#!/usr/bin/env bash
# rgw.sh start|stop|status [DATA_DIR]: a single-node Ceph RADOS Gateway on 127.0.0.1 for
# benchmarks (one monitor, one memstore OSD, no manager, beast frontend). Everything it
# runs and writes lives in DATA_DIR (default /var/tmp/s3mount-rgw), so `stop` kills only
# its own processes. `start` prints the endpoint and the credentials as shell variables:
#   eval "$(bench/rgw.sh start)"   # sets RGW_ENDPOINT, RGW_ACCESS_KEY, RGW_SECRET_KEY
# Facts behind the settings: docs/BENCHMARKS.md, "The benchmark server".
set -euo pipefail

cmd=${1:-}
DIR=${2:-${RGW_DIR:-/var/tmp/s3mount-rgw}}
MON_PORT=${RGW_MON_PORT:-16789}
RGW_PORT=${RGW_PORT:-17480}
# The address RGW listens on (the monitor stays on 127.0.0.1): e.g. the Slurm lab's bridge address,
# so that the lab's nodes in their network namespaces reach it (tests/cluster/lab.sh, LAB_S3=rgw).
RGW_ADDR=${RGW_ADDR:-127.0.0.1}
# memstore keeps objects in RAM (~1.7x what is stored): cap it well below the machine's.
MEMSTORE_BYTES=${RGW_MEMSTORE_BYTES:-$((12 << 30))}
ACCESS_KEY=s3mountbench
SECRET_KEY=s3mountbenchsecret
CONF=$DIR/ceph.conf

die() { echo "rgw.sh: $*" >&2; exit 1; }
ceph_() { timeout 20 ceph -c "$CONF" "$@"; }

install_packages() {
  command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && return
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    ceph-mon ceph-osd radosgw ceph-common >/dev/null
}

write_conf() {
  local fsid=$1
  cat >"$CONF" <<CONF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$MON_PORT
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
ms_client_mode = crc
ms_mon_service_mode = crc
ms_service_mode = crc
ms_cluster_mode = crc
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_max_pg_per_osd = 1000
run_dir = $DIR/run
pid_file = $DIR/run/\$name.pid
admin_socket = $DIR/run/\$name.asok
log_file = $DIR/log/\$name.log
keyring = $DIR/keyring
[mon.a]
mon_data = $DIR/mon
[osd.0]
osd_data = $DIR/osd
osd_objectstore = memstore
memstore_device_bytes = $MEMSTORE_BYTES
[client.rgw.bench]
# tcp_nodelay=1: without it beast sends a small body (a LIST answer) after the headers only
# once they are ACKed, and the client's delayed ACK adds ~40 ms to every such request
# (measured: LIST 46 ms -> 2 ms; it is what a tuned RGW deployment sets).
rgw_frontends = beast endpoint=$RGW_ADDR:$RGW_PORT tcp_nodelay=1
rgw_data = $DIR/rgw
# Delete at once: RGW's garbage collector otherwise keeps deleted data for 2 hours, and a
# memstore OSD holds it in RAM, so a benchmark that deletes what it wrote would still run
# the machine out of memory.
rgw_gc_obj_min_wait = 0
rgw_gc_processor_period = 5
CONF
}

# Debian's ceph uses glibc malloc: these settings halve RGW's CPU per byte (fresh 4 MiB
# buffers otherwise page-fault and zero on every read).
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=67108864

start() {
  install_packages
  [ -e "$DIR/run/client.rgw.bench.pid" ] && stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
  mkdir -p "$DIR"/{run,log,mon,osd,rgw}
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --addv a "[v2:127.0.0.1:$MON_PORT]" --fsid "$fsid" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" >/dev/null
  ceph-mon -c "$CONF" -i a
  local uuid
  uuid=$(cat /proc/sys/kernel/random/uuid)
  ceph_ osd new "$uuid" >/dev/null
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
  ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/start.log"
  for _ in $(seq 60); do
    ceph_ osd dump 2>/dev/null | grep -q '^osd.0 up' && break
    sleep 0.5
  done
  ceph_ osd dump | grep -q '^osd.0 up' || die "the OSD did not come up (see $DIR/log)"
  radosgw -c "$CONF" -n client.rgw.bench 2>>"$DIR/log/start.log"
  for _ in $(seq 120); do
    curl -s -o /dev/null "http://$RGW_ADDR:$RGW_PORT/" && break
    sleep 0.5
  done
  curl -s -o /dev/null "http://$RGW_ADDR:$RGW_PORT/" || die "RGW did not answer (see $DIR/log)"
  timeout 60 radosgw-admin -c "$CONF" user create --uid=bench \
    --display-name=bench --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
  echo "RGW_ENDPOINT=http://$RGW_ADDR:$RGW_PORT"
  echo "RGW_ACCESS_KEY=$ACCESS_KEY"
  echo "RGW_SECRET_KEY=$SECRET_KEY"
}

stop() {
  local name pid
  for name in client.rgw.bench osd.0 mon.a; do
    pid=$(cat "$DIR/run/$name.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for name in client.rgw.bench osd.0 mon.a; do
    pid=$(cat "$DIR/run/$name.pid" 2>/dev/null || true)
    [ -z "$pid" ] && continue
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$DIR"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) curl -s -o /dev/null -w "%{http_code}\n" "http://$RGW_ADDR:$RGW_PORT/" ;;
  *) die "usage: rgw.sh start|stop|status [DATA_DIR]" ;;
esac
