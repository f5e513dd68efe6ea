#!/usr/bin/env bash
# packaging/docker-plugin/build.sh against a dockerd: the rootfs built from this build's
# binaries becomes a managed plugin (docker plugin create, set, enable) that serves an RBD volume
# (rbd-fuse, a loop device, ext4) and an NFS volume (berth-nfs-fuse) from inside its container.
# A container writes, the plugin restarts, a second container reads the data back; the volume
# is mounted on the host under the plugin's propagated-mount directory, as dockerd expects; after
# volume rm, disable and rm nothing of the plugin stays mounted and no loop device serves its
# files. Needs root; runs on a lab of its own (Ceph, NFS, dockerd), whatever else runs.
# Usage: docker_plugin_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BIN_DIR SOURCE_DIR" >&2; exit 2; }
bin_dir=$1
build_sh=$2/packaging/docker-plugin/build.sh
started=$EPOCHREALTIME

# shellcheck source=tests/packaging/plugin_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/plugin_helpers.sh"

[ "$(id -u)" = 0 ] || fail "needs root (the plugin mounts, loop devices)"
# A lab of its own: the plugin is created, enabled and disabled in the lab's dockerd.
lab=$(mktemp -d /tmp/berth-plugin-lab.XXXXXX)
lab_down() {
  "$(dirname "$build_sh")/../../scripts/lab" down "$lab" >/dev/null || return 1
  grep -qF -- "$lab/" <<<"$(findmnt -rn -o TARGET)" || rm -rf --one-file-system -- "$lab"
}
BERTH_LAB_BERTHD=$bin_dir/berthd "$(dirname "$build_sh")/../../scripts/lab" up "$lab" >/dev/null ||
  { lab_down; fail "scripts/lab up $lab failed"; }
# shellcheck source=/dev/null
source "$lab/env"

# Names no other run shares: volumes are cluster-wide, in the lab's pool and export.
plugin=berth-test-$$:latest
volume=plugin-test-$$
nfs_volume=plugin-test-nfs-$$
containers=()
tmp=$(mktemp -d /tmp/berth-plugin-test.XXXXXX)

# A hung plugin must not hang the suite: every call ends within a minute.
dk() { timeout 60 docker "$@"; }

mounted_under() { findmnt -rn -o TARGET | grep -F -- "$1" || true; }

cleanup() {
  local rc=$?
  set +e
  if [ ${#containers[@]} -gt 0 ]; then
    dk rm -f "${containers[@]}" >/dev/null 2>&1
  fi
  if dk plugin inspect "$plugin" >/dev/null 2>&1; then
    # Remove the volumes while the plugin still serves them, so the lab keeps no image or
    # registry entry of a failed run; then the plugin, whatever state it is in.
    dk volume rm "$volume" "$nfs_volume" >/dev/null 2>&1
    dk plugin disable -f "$plugin" >/dev/null 2>&1
    dk plugin rm -f "$plugin" >/dev/null 2>&1
  fi
  # Only remove the directory once nothing is mounted under it any more.
  if [ -z "$(mounted_under "$tmp")" ]; then
    rm -rf --one-file-system -- "$tmp"
  else
    echo "left $tmp: still mounted under it" >&2
    rc=1
  fi
  lab_down || rc=1
  exit "$rc"
}
trap cleanup EXIT

# --- the plugin's config: a client-only ceph.conf, the keyring, berth.json --------------------
mkdir -p "$tmp/state"
plugin_config "$tmp" docker-plugin-test /run/docker/plugins/berth.sock ||
  fail "cannot make the plugin's config from the lab's"
"$bin_dir/berthd" --check-config --config "$tmp/berth/berth.json" >/dev/null ||
  fail "the plugin's berth.json is not valid"

# --- build, create, set, enable ------------------------------------------------------------
t=$EPOCHREALTIME
bash "$build_sh" "$bin_dir" "$tmp/plugin" --create "$plugin" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "build.sh --create failed"; }
grep '^rootfs:' "$tmp/build.log"
ok "build.sh built the rootfs and created $plugin ($(ms_since "$t") ms)"
dk plugin set "$plugin" ceph.source="$tmp/ceph" config.source="$tmp/berth" \
  state.source="$tmp/state" args="--log-level=debug"
dk plugin enable "$plugin" >/dev/null
id=$(dk plugin inspect -f '{{.Id}}' "$plugin")
[ "$(dk plugin inspect -f '{{.Enabled}}' "$plugin")" = true ] || fail "$plugin is not enabled"
data_root=$(dk info -f '{{.DockerRootDir}}')
propagated=$data_root/plugins/$id/propagated-mount
ok "$plugin enabled (id ${id:0:12})"

# --- volumes: create, write, restart the plugin, read back --------------------------------
dk volume create -d "$plugin" -o size=64M "$volume" >/dev/null
dk volume create -d "$plugin" -o backend=nfs "$nfs_volume" >/dev/null
[ "$(dk volume inspect -f '{{.Status.backend}}' "$volume")" = rbd ] || fail "$volume is not on rbd"
t=$EPOCHREALTIME
dk run --rm --network none -v "$volume:/data" -v "$nfs_volume:/nfs" lab/busybox \
  sh -c "echo rbd-$$ >/data/file && echo nfs-$$ >/nfs/file && sync" ||
  fail "a container could not write to the plugin's volumes"
ok "first use (create image, rbd-fuse, loop, mkfs, mount; NFS FUSE mount), write:" \
  "$(ms_since "$t") ms"

# -f: Docker counts a plugin with volumes as in use, mounted or not.
dk plugin disable -f "$plugin" >/dev/null
dk plugin enable "$plugin" >/dev/null
ok "plugin disabled and enabled again"

reader=plugin-test-reader-$$
containers+=("$reader")
dk run -d --name "$reader" --network none -v "$volume:/data" -v "$nfs_volume:/nfs" lab/busybox \
  sh -c 'trap "exit 0" TERM; sleep 600 & wait' >/dev/null
[ "$(dk exec "$reader" cat /data/file)" = "rbd-$$" ] || fail "the RBD volume lost its data"
[ "$(dk exec "$reader" cat /nfs/file)" = "nfs-$$" ] || fail "the NFS volume lost its data"
ok "a second container reads both files back"
# The plugin keeps its per-host state in the host's directory, where a new plugin finds it.
[ -e "$tmp/state/volumes/$volume.json" ] || fail "no state for $volume in the host's $tmp/state"

# Docker rewrites the Mountpoint the plugin returns (under its propagatedMount) to the host's
# view of it; the container's /data is the filesystem mounted there.
mountpoint=$(dk volume inspect -f '{{.Mountpoint}}' "$volume")
[ "$mountpoint" = "/var/lib/berth/mounts/$volume" ] ||
  fail "Mountpoint $mountpoint is not under the plugin's propagatedMount /var/lib/berth/mounts"
host_dev=$(findmnt -rn -o MAJ:MIN --mountpoint "$propagated/$volume" | head -n1)
[ -n "$host_dev" ] || fail "nothing mounted at $propagated/$volume on the host"
pid=$(dk inspect -f '{{.State.Pid}}' "$reader")
container_dev=$(awk '$5 == "/data" { print $3 }' "/proc/$pid/mountinfo")
[ "$host_dev" = "$container_dev" ] ||
  fail "the container's /data ($container_dev) is not $propagated/$volume ($host_dev)"
[ -n "$(findmnt -rn --mountpoint "$propagated/$nfs_volume")" ] ||
  fail "nothing mounted at $propagated/$nfs_volume on the host"
ok "volumes mounted on the host under $propagated"

dk rm -f "$reader" >/dev/null
containers=()
dk volume rm "$volume" "$nfs_volume" >/dev/null
dk plugin disable "$plugin" >/dev/null
dk plugin rm "$plugin" >/dev/null
ok "volume rm, plugin disable, plugin rm"

# --- nothing left behind ------------------------------------------------------------------
# Loop devices are released lazily: give the kernel a moment.
leftover=""
for _ in $(seq 50); do
  leftover="$(mounted_under "$data_root/plugins/$id")$(mounted_under "$tmp")"
  for backing in /sys/block/loop*/loop/backing_file; do
    [ -e "$backing" ] || continue
    case $(cat "$backing" 2>/dev/null) in
      */attach/"$volume"/* | "$tmp"/*) leftover+=" ${backing#/sys/block/}" ;;
    esac
  done
  [ -z "$leftover" ] && break
  sleep 0.1
done
[ -z "$leftover" ] || fail "left behind: $leftover"
if grep -qx -- "$volume" <<<"$(rbd -c "$CEPH_CONF" --id "$BERTH_CEPH_USER" \
  --keyring "$BERTH_CEPH_KEYRING" -p "$BERTH_POOL" ls)"; then
  fail "the image $BERTH_POOL/$volume outlived docker volume rm"
fi
ok "no mounts, loop devices or image left"
echo "duration: $(ms_since "$started") ms"
