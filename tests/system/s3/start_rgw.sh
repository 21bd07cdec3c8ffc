#!/usr/bin/env bash
# Start a throw-away one-host Ceph cluster (mon + memstore OSD + radosgw) on 127.0.0.1 and
# create one S3 user: a real S3 server (signatures checked) for the integration tests.
#
#   start_rgw.sh DIR RGW_PORT MON_V2_PORT MON_V1_PORT ACCESS_KEY SECRET_KEY
#
# Everything (config, mon store, logs, pids, sockets) lives under DIR; the OSD is RAM-backed
# (memstore), so stop_rgw.sh DIR and deleting DIR leaves nothing behind. Needs the Debian
# packages ceph-mon ceph-osd radosgw ceph-common (system-packages.txt). Prints the endpoint.
# Why each setting: ../shared/notes/platform.md ("Ceph RGW") - cephx off *and* crc messenger
# modes, or radosgw hangs on auth; one replica and few placement groups on a single OSD.
set -euo pipefail

if [ $# -ne 6 ]; then
  echo "usage: $0 DIR RGW_PORT MON_V2_PORT MON_V1_PORT ACCESS_KEY SECRET_KEY" >&2
  exit 2
fi
dir=$(mkdir -p "$1" && cd "$1" && pwd)
rgw_port=$2 mon_v2=$3 mon_v1=$4 access_key=$5 secret_key=$6
for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
  command -v "$tool" >/dev/null || {
    echo "$tool not found: install ceph-mon ceph-osd radosgw ceph-common (make system-packages)" >&2
    exit 1
  }
done

conf="$dir/ceph.conf"
fsid=$(cat /proc/sys/kernel/random/uuid)
mkdir -p "$dir/mon/ceph-a" "$dir/osd/ceph-0" "$dir/run" "$dir/log" "$dir/rgw"
cat >"$conf" <<CONF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]
public_network = 127.0.0.0/8
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
auth_allow_insecure_global_id_reclaim = true
ms_mon_client_mode = crc
ms_client_mode = crc
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mon_data_avail_warn = 1
run_dir = $dir/run
pid_file = $dir/run/\$name.pid
admin_socket = $dir/run/\$name.asok
log_file = $dir/log/\$name.log
keyring = $dir/keyring
[mon.a]
mon_data = $dir/mon/ceph-a
[osd.0]
osd_data = $dir/osd/ceph-0
osd_objectstore = memstore
memstore_device_bytes = 2147483648
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$rgw_port
rgw_data = $dir/rgw
CONF

ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
  --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]" \
  "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
ceph-mon -c "$conf" -i a

ceph_cli=(ceph -c "$conf" --connect-timeout 20)
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
osd_id=$("${ceph_cli[@]}" osd new "$osd_uuid")
ceph-osd -c "$conf" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" 2>/dev/null
ceph-osd -c "$conf" -i "$osd_id" 2>>"$dir/log/osd-start.err"

radosgw -c "$conf" -n client.rgw.a
radosgw-admin -c "$conf" user create --uid=tests --display-name="integration tests" \
  --access-key="$access_key" --secret-key="$secret_key" >/dev/null

# radosgw creates its pools on first start; wait until it answers S3 requests.
for _ in $(seq 1 120); do
  if python3 - "$rgw_port" 2>/dev/null <<'PY'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2)
except urllib.error.HTTPError:
    pass  # any HTTP answer (403 for an anonymous request) means it is serving
PY
  then
    echo "http://127.0.0.1:$rgw_port"
    exit 0
  fi
  sleep 0.5
done
echo "radosgw did not answer on 127.0.0.1:$rgw_port within 60 s; logs in $dir/log" >&2
exit 1
