#!/usr/bin/env bash
# Docker Swarm cluster volumes through berth's CSI managed plugin (packaging/docker-plugin-csi),
# for real: a lab of its own whose dockerd is Engine 28 from Debian testing, as a one-node swarm
# (scripts/lab up --swarm), the plugin built from this build's berth-csi, created and enabled.
#  - An RBD volume, --sharing onewriter: a job writes 8 MiB, is removed, and a new job reads the
#    same sha256; the image is in Ceph (Swarm did call CreateVolume) and the node let the volume
#    go once its tasks were gone (berth-csi --release-at-last-unpublish).
#  - An NFS volume, --sharing all: two services see each other's writes.
#  - docker volume rm is refused while a service uses the volume, and works once it is gone.
#  - Timing: a job on the cluster volume against the same job on a `local` volume, interleaved;
#    printed as a ratio, not asserted.
# Needs root. Usage: swarm_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BIN_DIR SOURCE_DIR" >&2; exit 2; }
bin_dir=$1
source_dir=$2
lab_sh=$source_dir/scripts/lab
started=$EPOCHREALTIME
rounds=${BERTH_SWARM_ROUNDS:-5}

# shellcheck source=tests/packaging/plugin_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/plugin_helpers.sh"

[ "$(id -u)" = 0 ] || fail "needs root (the plugin mounts, loop devices)"
lab=$(mktemp -d /tmp/berth-swarm-lab.XXXXXX)
tmp=$(mktemp -d /tmp/berth-swarm-test.XXXXXX)
lab_down() {
  "$lab_sh" down "$lab" >/dev/null || return 1
  grep -qF -- "$lab/" <<<"$(findmnt -rn -o TARGET)" || rm -rf --one-file-system -- "$lab"
}
plugin=berth-csi-test-$$:latest
rbd_volume=swarm-rbd-$$
nfs_volume=swarm-nfs-$$
local_volume=swarm-local-$$
services=()

# A hung plugin or swarm must not hang the suite.
dk() { timeout 60 docker "$@"; }

cleanup() {
  local rc=$? v
  set +e
  if [ ${#services[@]} -gt 0 ]; then
    dk service rm "${services[@]}" >/dev/null 2>&1
  fi
  if dk plugin inspect "$plugin" >/dev/null 2>&1; then
    # The volumes go while the plugin still serves them (Swarm unpublishes first).
    for v in "$rbd_volume" "$nfs_volume"; do
      for _ in $(seq 50); do
        dk volume inspect "$v" >/dev/null 2>&1 || break
        dk volume rm "$v" >/dev/null 2>&1
        sleep 0.2
      done
    done
    # Never disable the plugin under a staged volume: its mappers die with it, and a loop device
    # left on a dead FUSE mount hangs every sync(2) on the machine. The last unpublish unstages.
    for _ in $(seq 150); do
      compgen -G "$tmp/state/volumes/*.json" >/dev/null || break
      sleep 0.2
    done
    if compgen -G "$tmp/state/volumes/*.json" >/dev/null; then
      echo "still attached on the node: $(ls "$tmp/state/volumes")" >&2
      rc=1
    fi
    dk plugin disable -f "$plugin" >/dev/null 2>&1
    dk plugin rm -f "$plugin" >/dev/null 2>&1
  fi
  lab_down || rc=1
  if ! findmnt -rn -o TARGET | grep -qF -- "$tmp/"; then
    rm -rf --one-file-system -- "$tmp"
  else
    echo "left $tmp: still mounted under it" >&2
    rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT

t=$EPOCHREALTIME
# No berthd: Swarm talks to berth-csi only.
BERTH_LAB_BERTHD=/nonexistent "$lab_sh" up "$lab" --swarm >"$tmp/lab.log" 2>&1 ||
  { cat "$tmp/lab.log"; fail "scripts/lab up $lab --swarm failed"; }
# shellcheck source=/dev/null
source "$lab/env"
engine=$(dk version -f '{{.Server.Version}}')
[ "${engine%%.*}" -ge 23 ] || fail "dockerd $engine has no cluster volumes (Engine 23 or later)"
[ "$(dk info -f '{{.Swarm.LocalNodeState}}')" = active ] || fail "no swarm on the lab's dockerd"
ok "lab with dockerd $engine as a one-node swarm ($(ms_since "$t") ms)"

# --- the plugin: config from the lab's, built, created, set, enabled ---------------------------
mkdir -p "$tmp/state"
plugin_config "$tmp" swarm-test /run/docker/plugins/csi.sock ||
  fail "cannot make the plugin's config from the lab's"
"$bin_dir/berthd" --check-config --config "$tmp/berth/berth.json" >/dev/null ||
  fail "the plugin's berth.json is not valid"
t=$EPOCHREALTIME
bash "$source_dir/packaging/docker-plugin-csi/build.sh" "$bin_dir" "$tmp/plugin" \
  --create "$plugin" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build.sh failed"; }
dk plugin set "$plugin" ceph.source="$tmp/ceph" config.source="$tmp/berth" \
  state.source="$tmp/state"
dk plugin enable "$plugin" >/dev/null
grep -q '"docker.csicontroller/1.0"' <<<"$(dk plugin inspect -f '{{json .Config.Interface}}' "$plugin")" ||
  fail "$plugin does not declare docker.csicontroller/1.0"
ok "$plugin built, created and enabled ($(ms_since "$t") ms)"

# volume_id VOLUME: the CSI volume id Swarm got from CreateVolume, once it has one.
volume_id() { dk volume inspect -f '{{.ClusterVolume.Info.VolumeID}}' "$1" 2>/dev/null || true; }
await_created() {
  local id=
  for _ in $(seq 300); do
    id=$(volume_id "$1")
    [ -z "$id" ] || [ "$id" = "<no value>" ] || break
    id=
    sleep 0.2
  done
  [ -n "$id" ] || fail "Swarm did not create $1 within 60 s: $(dk volume ls --cluster)"
}

# run_job NAME MOUNT CMD [OUTPUT]: a replicated job with MOUNT (a --mount value) running CMD in
# busybox, to its end; its output goes to $tmp/NAME.out (with OUTPUT, waiting up to 30 s for the
# logs to show some). Fails unless it completes within 120 s.
run_job() {
  local name=$1 state="" output=${4:-}
  services+=("$name")
  dk service create -q -d --name "$name" --mode replicated-job --restart-condition none \
    --mount "$2" lab/busybox sh -c "$3" >/dev/null 2>"$tmp/create.err" ||
    { cat "$tmp/create.err" >&2; fail "service create $name failed"; }
  for _ in $(seq 1200); do
    state=$(dk service ps --format '{{.CurrentState}}' "$name" | head -n1)
    case $state in
      Complete*) break ;;
      Failed* | Rejected*)
        fail "job $name: $(dk service ps --no-trunc --format '{{.CurrentState}} {{.Error}}' "$name")" ;;
    esac
    sleep 0.1
  done
  [[ $state == Complete* ]] || fail "job $name did not complete within 120 s (state: $state)"
  for _ in $(seq 150); do
    dk service logs --raw "$name" >"$tmp/$name.out" 2>/dev/null || true
    [ -z "$output" ] || [ -s "$tmp/$name.out" ] && break
    sleep 0.2
  done
  dk service rm "$name" >/dev/null
  unset 'services[-1]'
}

rbd_ls() {
  rbd -c "$CEPH_CONF" --id "$BERTH_CEPH_USER" --keyring "$BERTH_CEPH_KEYRING" -p "$BERTH_POOL" ls
}

# --- an RBD cluster volume: written by one job, read back by another ---------------------------
t=$EPOCHREALTIME
dk volume create --driver "$plugin" --type mount --sharing onewriter --availability active \
  --required-bytes 256M "$rbd_volume" >/dev/null
await_created "$rbd_volume"
grep -qx -- "$rbd_volume" <<<"$(rbd_ls)" || fail "Swarm says $rbd_volume exists, Ceph has no image"
ok "cluster volume $rbd_volume created: image $BERTH_POOL/$rbd_volume ($(ms_since "$t") ms)"
# dockerd registers the node's CSI id only at its start; a volume created before can leave
# tasks "Preparing" until dockerd restarts once (docs/swarm.md).
"$lab_sh" dockerd-restart "$lab" >/dev/null
for _ in $(seq 600); do
  [ "$(dk plugin inspect -f '{{.Enabled}}' "$plugin" 2>/dev/null)" = true ] && break
  sleep 0.1
done
[ "$(dk plugin inspect -f '{{.Enabled}}' "$plugin")" = true ] ||
  fail "$plugin is not enabled 60 s after dockerd restarted"
ok "dockerd restarted once after the first cluster volume"

mount=type=cluster,src=$rbd_volume,dst=/data
run_job "writer-$$" "$mount" \
  'head -c 8388608 /dev/urandom >/data/blob && sync && sha256sum /data/blob | cut -d" " -f1' output
written=$(cat "$tmp/writer-$$.out")
[[ $written =~ ^[0-9a-f]{64}$ ]] || fail "the writer job printed '$written', not a sha256"
run_job "reader-$$" "$mount" 'sha256sum /data/blob | cut -d" " -f1' output
read_back=$(cat "$tmp/reader-$$.out")
[ "$read_back" = "$written" ] || fail "a new job read sha256 $read_back, the writer wrote $written"
ok "a job wrote 8 MiB, a new job read the same sha256 ${written:0:16}..."
# Once its tasks are gone the node lets the volume go: no state on this host, so no lock.
for _ in $(seq 600); do
  [ -e "$tmp/state/volumes/$rbd_volume.json" ] || break
  sleep 0.1
done
[ ! -e "$tmp/state/volumes/$rbd_volume.json" ] ||
  fail "$rbd_volume is still attached on the node 60 s after its last task: $(cat "$tmp/state/volumes/$rbd_volume.json")"
ok "the node released $rbd_volume after its last task"

# --- service start on a cluster volume against a local volume ----------------------------------
dk volume create "$local_volume" >/dev/null
cluster_ms=() local_ms=()
for round in $(seq "$rounds"); do
  for kind in cluster local; do
    # Who goes first alternates.
    if [ $((round % 2)) = 0 ]; then kind=$([ "$kind" = cluster ] && echo local || echo cluster); fi
    t=$EPOCHREALTIME
    if [ "$kind" = cluster ]; then
      run_job "time-c$round-$$" "$mount" 'test -s /data/blob'
      cluster_ms+=("$(ms_since "$t")")
    else
      run_job "time-l$round-$$" "type=volume,src=$local_volume,dst=/data" 'test -d /data'
      local_ms+=("$(ms_since "$t")")
    fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
c50=$(median "${cluster_ms[@]}") l50=$(median "${local_ms[@]}")
echo "timing: job to completion over $rounds rounds, interleaved: cluster volume p50 ${c50} ms" \
  "(${cluster_ms[*]}), local volume p50 ${l50} ms (${local_ms[*]}), ratio" \
  "$(awk -v c="$c50" -v l="$l50" 'BEGIN { printf "%.2fx", c / l }')"

# --- an NFS cluster volume shared by two services ----------------------------------------------
dk volume create --driver "$plugin" --type mount --sharing all --scope multi \
  --availability active --opt backend=nfs "$nfs_volume" >/dev/null
await_created "$nfs_volume"
for side in a b; do
  services+=("nfs-$side-$$")
  dk service create -q -d --name "nfs-$side-$$" --mount "type=cluster,src=$nfs_volume,dst=/data" \
    lab/busybox sh -c "echo from-$side-$$ >/data/$side && trap 'exit 0' TERM; while :; do sleep 0.2; done" \
    >/dev/null 2>"$tmp/create.err" || { cat "$tmp/create.err" >&2; fail "service nfs-$side failed"; }
done
container_of() { dk ps -q --filter "label=com.docker.swarm.service.name=$1" | head -n1; }
seen=""
for _ in $(seq 300); do
  a=$(container_of "nfs-a-$$") b=$(container_of "nfs-b-$$")
  if [ -n "$a" ] && [ -n "$b" ]; then
    seen="$(dk exec "$a" cat /data/b 2>/dev/null || true) $(dk exec "$b" cat /data/a 2>/dev/null || true)"
    [ "$seen" = "from-b-$$ from-a-$$" ] && break
  fi
  sleep 0.2
done
[ "$seen" = "from-b-$$ from-a-$$" ] ||
  fail "the two services do not see each other's writes (saw '$seen'): $(dk service ps "nfs-a-$$" "nfs-b-$$" --no-trunc)"
ok "two services on NFS volume $nfs_volume (--sharing all) read each other's files"

# --- volume rm: refused while in use, done once the services are gone -------------------------
if dk volume rm "$nfs_volume" >"$tmp/rm.out" 2>&1; then
  fail "docker volume rm $nfs_volume succeeded while two services use it"
fi
grep -qi "in use" "$tmp/rm.out" || fail "volume rm in use said: $(cat "$tmp/rm.out")"
[ -n "$(volume_id "$nfs_volume")" ] || fail "$nfs_volume is gone after a refused rm"
ok "volume rm refused while in use: $(head -n1 "$tmp/rm.out")"
dk service rm "nfs-a-$$" "nfs-b-$$" >/dev/null
services=()
t=$EPOCHREALTIME
for v in "$nfs_volume" "$rbd_volume"; do
  for _ in $(seq 300); do
    dk volume inspect "$v" >/dev/null 2>&1 || break
    dk volume rm "$v" >/dev/null 2>&1 || true
    sleep 0.2
  done
  ! dk volume inspect "$v" >/dev/null 2>&1 || fail "$v is still there 60 s after its services left"
done
! grep -qx -- "$rbd_volume" <<<"$(rbd_ls)" || fail "the image of $rbd_volume outlived volume rm"
[ ! -e "$BERTH_NFS_EXPORT_DIR/$nfs_volume" ] || fail "the directory of $nfs_volume outlived volume rm"
ok "volume rm once the services were gone: image and directory removed ($(ms_since "$t") ms)"
dk volume rm "$local_volume" >/dev/null
echo "duration: $(ms_since "$started") ms"
