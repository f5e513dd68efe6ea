# shellcheck shell=bash
# HOW, which ceph_up sets, is read by scripts/lab.
# shellcheck disable=SC2034
# Ceph: one mon and one OSD on 127.0.0.1 with cephx, its conf, keys and the lab's env file.
# Sourced by scripts/lab, which sets the lab's paths and settings (set_paths).

# --- ceph ----------------------------------------------------------------------------------------

mon_addrs() { echo "[v2:127.0.0.1:$1,v1:127.0.0.1:$(($1 + 1))]"; }

# True if nothing listens in the port block that starts at $1.
block_free() {
  ! ss -Hltn | awk -v lo="$1" -v hi="$(($1 + PORT_BLOCK - 1))" \
    '{ n = split($4, a, ":"); p = a[n] + 0; if (p >= lo && p <= hi) hit = 1 } END { exit !hit }'
}
choose_port() {
  local p=${BERTH_LAB_MON_PORT:-}
  [[ -z $p || $p =~ ^[0-9]+$ ]] || die "BERTH_LAB_MON_PORT must be a number"
  [[ -n $p ]] && echo "$p" && return
  p=$(var_get mon_port)
  [[ -n $p ]] && block_free "$p" && echo "$p" && return
  for ((p = PORT_FIRST; p <= PORT_LAST; p += PORT_BLOCK)); do
    block_free "$p" && echo "$p" && return
  done
  die "no free port block in $PORT_FIRST..$PORT_LAST"
}

write_conf() { # port fsid store
  local store_conf="memstore_device_bytes = $((4 << 30))"
  # The default 250 ms poll is paid on every device close. osd_fast_shutdown=false makes SIGTERM a
  # clean umount. The block file keeps its default place, $osd_data/block: naming that path in
  # bluestore_block_path makes a self-symlink (ELOOP).
  [[ $3 == memstore ]] || store_conf="bdev_aio_poll_ms = 20
bluestore_block_size = $((10 << 30))
bluestore_fsck_on_mkfs = false
osd_fast_shutdown = false"
  cat >"$CONF" <<EOF
# Written by scripts/lab for the lab in $DIR.
[global]
fsid = $2
mon_host = $(mon_addrs "$1")
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
public_network = 127.0.0.1/32
# The rest of this lab's port block but ganesha's two ports at its top, so the daemons of two labs
# (and Ceph and NFS) never race for a port.
ms_bind_port_min = $(($1 + 2))
ms_bind_port_max = $(($1 + NFS_PORT_OFFSET - 1))
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $KEYS/\$name.keyring
run_dir = $RUN
pid_file = $RUN/\$name.pid
admin_socket = $RUN/\$name.asok
log_file = $DIR/log/\$name.log
mon_cluster_log_file = $DIR/log/cluster.log
crash_dir = $DIR/crash
mon_data = $DIR/mon
osd_data = $DIR/osd
osd_objectstore = $3
$store_conf
# One OSD: size-1 pools, no host failure domain, no autoscaler (it would need a mgr).
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_delete = true
# With the 1 s default every map change takes a second: bring-up ~6 s instead of < 1 s.
paxos_propose_interval = 0.01
paxos_min_wait = 0.01
# The HDD throttles make deleted snapshots and objects linger for minutes.
osd_snap_trim_sleep_hdd = 0
osd_snap_trim_sleep_hybrid = 0
osd_delete_sleep_hdd = 0
osd_delete_sleep_hybrid = 0
osd_delete_sleep_ssd = 0
osd_recovery_sleep_hdd = 0
osd_recovery_sleep_hybrid = 0
# A frozen client's watch expires after this (default 30 s): takeover tests wait for it.
osd_client_watch_timeout = 10

[mon]
# ceph-mon --mkfs put the mon. key in its data dir.
keyring = \$mon_data/keyring

[client]
# rbd CLIs, rbd-fuse and berth run side by side and would fight over one socket name.
admin_socket = $RUN/\$cluster-\$name.\$pid.asok
EOF
}

start_daemon() { # mon|osd ID
  # 9>&- keeps the daemon from inheriting, and so holding, the port-choice lock.
  logged "ceph-$1" --conf "$CONF" -i "$2" 9>&-
  pid_of "$RUN/$1.$2.pid" >/dev/null || die "ceph-$1 died at start (log: $DIR/log/$1.$2.log)"
}

# Waits until the OSD map shows osd.0 up at an address carrying the running OSD's pid: after a
# restart the map still holds the previous process's entry, and I/O sent then stalls ~5 s.
wait_osd_up() {
  local pid dump end=$((SECONDS + 30))
  while ((SECONDS < end)) && pid=$(pid_of "$RUN/osd.0.pid"); do
    dump=$(ceph_cli osd dump 2>/dev/null) || true
    grep -Eq "^osd\.0 up .*/${pid}[],]" <<<"$dump" && return 0
    sleep 0.05
  done
  tail -n 15 "$DIR/log/osd.0.log" >&2 || true
  die "osd.0 did not come up (log: $DIR/log/osd.0.log)"
}

mk_key() { logged ceph-authtool --create-keyring "$KEYS/$1.keyring" --gen-key -n "$@"; }

ceph_fresh() { # store
  local port fsid osd_uuid
  rm -rf -- "$DIR/mon" "$DIR/osd" "$KEYS" # not $RUN: other parts of the lab keep pid files there
  mkdir -p -- "$DIR/mon" "$DIR/osd" "$KEYS" "$RUN" "$DIR/log" "$DIR/crash"
  fsid=$(uuidgen) osd_uuid=$(uuidgen)
  spawn mk_key client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
  # profile rbd on the mon lets berth blocklist a dead lock holder.
  spawn mk_key "client.$USER_ID" --cap mon 'profile rbd' --cap osd "profile rbd pool=$POOL"
  spawn mk_key osd.0 --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *'
  # Every key enters the auth database at mkfs, which saves `ceph auth` round trips. The merged file
  # stays outside the mon data dir: ceph-mon --mkfs silently does nothing in a non-empty one.
  logged ceph-authtool --create-keyring "$DIR/mkfs.keyring" --gen-key -n mon. --cap mon 'allow *'
  await
  cat "$KEYS"/*.keyring >>"$DIR/mkfs.keyring"

  # Labs started in parallel must not pick the same free block: hold a lock until the mon listens.
  exec 9>>/tmp/berth-lab-ports.lock
  flock -w 60 9 || die "timed out waiting for /tmp/berth-lab-ports.lock"
  port=$(choose_port)
  write_conf "$port" "$fsid" "$1"
  printf 'mon_port=%s\nfsid=%s\nstore=%s\n' "$port" "$fsid" "$1" >"$VARS"
  logged monmaptool --create --fsid "$fsid" --addv a "$(mon_addrs "$port")" "$DIR/monmap"
  logged ceph-mon --conf "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/mkfs.keyring"
  rm -f -- "$DIR/mkfs.keyring" "$DIR/monmap"
  start_daemon mon a
  flock -u 9 && exec 9>&-

  spawn logged ceph_cli osd new "$osd_uuid" 0
  spawn logged ceph_cli osd pool create "$POOL" 8 8 # needs no OSD
  logged ceph-osd --conf "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid"
  await
  start_daemon osd 0
  wait_osd_up
  logged rbd_as admin pool init "$POOL"
}

ceph_alive() { pid_of "$RUN/mon.a.pid" >/dev/null && pid_of "$RUN/osd.0.pid" >/dev/null; }

ceph_up() { # store; sets HOW
  if [[ $1 == bluestore && $(var_get store) == bluestore && -f $DIR/osd/fsid ]]; then
    HOW=restarted # with its data: start whatever is not running
    pid_of "$RUN/mon.a.pid" >/dev/null || start_daemon mon a
    pid_of "$RUN/osd.0.pid" >/dev/null || start_daemon osd 0
    wait_osd_up
    return
  fi
  HOW=started
  ceph_down # what is left of a memstore lab (say, a mon whose OSD was killed) is of no use
  ceph_fresh "$1"
}

# OSD first: it tells the mon it is going down and waits for the answer.
ceph_down() {
  stop_pidfiles 15 "$RUN/osd.0.pid"
  stop_pidfiles 10 "$RUN/mon.a.pid"
}

write_env() {
  local keyring=$KEYS/client.$USER_ID.keyring
  mkdir -p -- "$DIR/state" "$DIR/mnt"
  cat >"$DIR/env" <<EOF
export BERTH_LAB_DIR='$DIR'
export CEPH_CONF='$CONF'
export CEPH_ADMIN_KEYRING='$KEYS/client.admin.keyring'
export BERTH_CEPH_KEYRING='$keyring'
export BERTH_CEPH_USER='$USER_ID'
export BERTH_POOL='$POOL'
export BERTH_CONFIG='$DIR/berth.json'
export BERTH_DRIVER='$DRIVER'
export BERTH_PLUGIN_SOCKET='$PLUGIN_SOCK'
EOF
  ((!DOCKER)) || echo "export DOCKER_HOST='unix://$DIR/docker.sock'" >>"$DIR/env"
  ! is_swarm_lab || echo "export PATH='$(docker_path)'\"\$PATH\"" >>"$DIR/env"
  local nfs_backend=
  if ((NFS)); then
    nfs_ports
    cat >>"$DIR/env" <<EOF
export BERTH_NFS_URL='nfs://127.0.0.1/export?nfsport=$NFS_PORT&mountport=$MNT_PORT'
export BERTH_NFS_EXPORT_DIR='$DIR/export'
EOF
    # Opt-in until the engine knows the type: today it refuses to start on a backend of a type it
    # does not know, and that would break every berthd, berthctl and test run against the lab.
    [[ ${BERTH_LAB_NFS_BACKEND:-1} != 1 ]] || nfs_backend=",
             \"nfs\": {\"type\": \"nfs\", \"server\": \"127.0.0.1\", \"export\": \"/export\",
                     \"nfs_port\": $NFS_PORT, \"mount_port\": $MNT_PORT, \"version\": 3,
                     \"mounter\": \"auto\"}"
  fi
  # The suite's berthds detach at the last unmount, as its tests of detaching expect; the tests
  # of the linger (and the bench) turn it on in configs of their own.
  local linger=${BERTH_LAB_LINGER_SECONDS:-0}
  cat >"$DIR/berth.json" <<EOF
{"host_id": "lab-host-1", "state_dir": "$DIR/state", "mount_root": "$DIR/mnt",
 "socket": "$PLUGIN_SOCK", "default_backend": "rbd", "linger_seconds": $linger,
 "backends": {"rbd": {"type": "rbd", "conf": "$CONF", "user": "$USER_ID", "keyring": "$keyring",
                      "pool": "$POOL", "mapper": "auto"}$nfs_backend}}
EOF
}
