#!/usr/bin/env bash
# The Kubernetes node image, built and run as the DaemonSet runs it, with no registry:
# packaging/kubernetes/build-image.sh --base-from-debian makes a Debian 12 base image with
# mmdebstrap, imports it and builds packaging/kubernetes/Dockerfile on it in a lab's dockerd. A
# container of the image then runs install.sh --daemonset into a temporary host directory (the
# DaemonSet's hostPath), and the drivers it wrote answer `init` when run from there on the host,
# with the libraries the image copied beside them. SIGTERM ends the container at once and with
# status 0, as a DaemonSet rollout needs. Prints the build time and the image's size. Needs root
# and a Debian mirror; runs on a lab of its own.
# Usage: node_image_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BIN_DIR SOURCE_DIR" >&2; exit 2; }
bin_dir=$1
source_dir=$2

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }

[ "$(id -u)" = 0 ] || fail "needs root (mmdebstrap, dockerd)"
lab=$(mktemp -d /tmp/berth-image-lab.XXXXXX)
lab_down() {
  "$source_dir/scripts/lab" down "$lab" >/dev/null || return 1
  grep -qF -- "$lab/" <<<"$(findmnt -rn -o TARGET)" || rm -rf --one-file-system -- "$lab"
}
BERTH_LAB_BERTHD=$bin_dir/berthd "$source_dir/scripts/lab" up "$lab" --no-nfs >/dev/null ||
  { lab_down; fail "scripts/lab up $lab failed"; }
# shellcheck source=/dev/null
source "$lab/env"

tag=berth-test/flex-installer:$$
container=berth-installer-$$
host=$(mktemp -d /tmp/berth-node-host.XXXXXX)
dk() { timeout 120 docker "$@"; }
cleanup() {
  local rc=$?
  set +e
  dk rm -f "$container" >/dev/null 2>&1
  rm -rf --one-file-system -- "$host" "$host.build.log"
  lab_down || rc=1
  exit "$rc"
}
trap cleanup EXIT

# Build: the base from Debian's packages, then the Dockerfile on it.
# The base image is a download from the Debian mirror (100-400 s here, with the machine loaded):
# bounded below ctest's timeout, so a slow mirror fails the test with its cleanup run.
timeout 720 "$source_dir/packaging/kubernetes/build-image.sh" "$bin_dir" --base-from-debian \
  --tag "$tag" | tee "$host.build.log" || fail "build-image.sh (exit ${PIPESTATUS[0]})"
build_log=$(cat "$host.build.log")
rm -f "$host.build.log"
grep -q "image $tag: .* s to build, .* MB" <<<"$build_log" || fail "build-image.sh printed no size"
os=$(dk run --rm --network none --entrypoint /bin/cat "$tag" /etc/os-release)
if ! grep -qx 'ID=debian' <<<"$os" || ! grep -qx 'VERSION_ID="12"' <<<"$os"; then
  fail "the image is not Debian 12: $os"
fi
# The image's own berth-flex is the build's (debug info stripped, same code).
dk run --rm --network none --entrypoint /opt/berth/bin/berth-flex "$tag" --version >"$host/image.version"
"$bin_dir/berth-flex" --version >"$host/build.version"
cmp -s "$host/image.version" "$host/build.version" ||
  fail "the image's berth-flex says '$(cat "$host/image.version")', the build's '$(cat "$host/build.version")'"
ok "image $tag: Debian 12, $(cat "$host/build.version")"

# Run it as daemonset.yaml does: the plugin directory as a hostPath at /flexvolume.
plugin_dir=$host/volume/exec
mkdir -p "$plugin_dir"
dk run -d --name "$container" --network none -e BERTH_PLUGIN_DIR=/flexvolume \
  -v "$plugin_dir:/flexvolume" "$tag" >/dev/null || fail "docker run"
for _ in $(seq 600); do
  grep -q 'waiting for SIGTERM' <<<"$(dk logs "$container" 2>&1)" && break
  [ "$(dk inspect -f '{{.State.Running}}' "$container")" = true ] ||
    { dk logs "$container" >&2; fail "the installer exited before it was done"; }
  sleep 0.1
done
grep -q 'waiting for SIGTERM' <<<"$(dk logs "$container" 2>&1)" ||
  { dk logs "$container" >&2; fail "the installer did not finish within 60 s"; }

# The drivers as kubelet finds them, run on the host from the host directory.
for driver in rbd rbd-node nfs; do
  exe=$plugin_dir/berth~$driver/$driver
  [ -x "$exe" ] || { find "$plugin_dir" >&2; fail "no driver $exe"; }
  reply=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin BERTH_FLEX_LOG="$host/flex.log" "$exe" init)
  grep -q '"status": *"Success"' <<<"$reply" || fail "berth/$driver init from $plugin_dir: $reply"
  # Its libraries are the ones the image put beside it, not the host's.
  # Whole outputs into grep, never a pipe it may close early: under pipefail the writer's
  # SIGPIPE would fail the check (ldd writes line by line).
  libraries=$(env -i "$(command -v ldd)" "$exe")
  grep -qF "$plugin_dir/berth~$driver/lib/libstdc++.so.6" <<<"$libraries" ||
    { ldd "$exe" >&2; fail "berth/$driver does not load libstdc++ from its own lib/"; }
done
[ -x "$plugin_dir/berth~nfs/berth-nfs-fuse" ] || fail "no berth-nfs-fuse beside berth/nfs"
# The engine's half, which berth-flex runs for every verb but init, with the image's libraries.
for driver in rbd rbd-node nfs; do
  engine=$plugin_dir/berth~$driver/berth-flex-driver
  reply=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin BERTH_FLEX_LOG="$host/flex.log" "$engine" \
    --driver "$driver" init)
  grep -q '"status": *"Success"' <<<"$reply" || fail "$engine init: $reply"
  libraries=$(env -i "$(command -v ldd)" "$engine")
  grep -qF "$plugin_dir/berth~$driver/lib/librbd.so.1" <<<"$libraries" ||
    { ldd "$engine" >&2; fail "$engine does not load librbd from its own lib/"; }
done
ok "installed berth/rbd, berth/rbd-node and berth/nfs into $plugin_dir; each answers init from there"

# A DaemonSet rollout sends SIGTERM: the container ends at once, with status 0.
dk stop -t 30 "$container" >/dev/null
status=$(dk inspect -f '{{.State.ExitCode}}' "$container")
[ "$status" = 0 ] || fail "the installer ended with status $status on SIGTERM"
ok "SIGTERM: the installer ended with status 0"
