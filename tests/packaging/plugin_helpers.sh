# shellcheck shell=bash
# What the managed-plugin tests (docker_plugin_test.sh, swarm_test.sh) share: their messages,
# and the config a plugin of berth gets from the host, made from a running lab's.

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }
# Milliseconds since $1 (an $EPOCHREALTIME), whatever the locale's decimal mark.
ms_since() { echo $(((${EPOCHREALTIME//[!0-9]/} - ${1//[!0-9]/}) / 1000)); }

# The plugin's config (sourced after the lab's env): a client-only ceph.conf and the keyring in
# DIR/ceph, and berth.json in DIR/berth with the plugin's paths and the FUSE mappers (this
# machine has no rbd, nbd or nfs kernel modules).
# plugin_config DIR HOST_ID SOCKET: writes DIR/ceph and DIR/berth/berth.json; fails on a lab
# without mon_host or an nfs backend. Callers test its status (errexit is off inside `f || ...`).
plugin_config() {
  local dir=$1 host_id=$2 socket=$3 lab_conf=$BERTH_LAB_DIR/ceph.conf
  mkdir -p "$dir/ceph" "$dir/berth"
  # The lab's ceph.conf points keyring, admin socket, logs and run dir into the lab dir, which the
  # plugin does not see: keep only what a client needs.
  {
    echo "[global]"
    grep -E '^(mon_host|auth_(cluster|service|client)_required) = ' "$lab_conf"
    echo "[client]"
    echo "keyring = /etc/ceph/ceph.client.$BERTH_CEPH_USER.keyring"
    echo "admin_socket ="
    echo "log_file ="
  } >"$dir/ceph/ceph.conf"
  grep -q '^mon_host = ' "$dir/ceph/ceph.conf" || { echo "no mon_host in $lab_conf" >&2 && return 1; }
  cp "$BERTH_CEPH_KEYRING" "$dir/ceph/ceph.client.$BERTH_CEPH_USER.keyring" || return 1
  # An installation with its own state dir is a host of its own (issue 14): its own host id.
  python3 - "$BERTH_LAB_DIR/berth.json" "$dir/berth/berth.json" "$BERTH_CEPH_USER" "$host_id" \
    "$socket" <<'PY' || return 1
import json, sys
config = json.load(open(sys.argv[1]))
config.update(host_id=sys.argv[4], state_dir="/var/lib/berth/state",
              mount_root="/var/lib/berth/mounts", socket=sys.argv[5])
for backend in config["backends"].values():
    if backend["type"] == "rbd":
        backend.update(conf="/etc/ceph/ceph.conf", mapper="fuse",
                       keyring=f"/etc/ceph/ceph.client.{sys.argv[3]}.keyring")
    elif backend["type"] == "nfs":
        backend["mounter"] = "fuse"
json.dump(config, open(sys.argv[2], "w"), indent=1)
PY
  grep -q '"nfs"' "$dir/berth/berth.json" || { echo "the lab's berth.json has no nfs backend" >&2 && return 1; }
}
