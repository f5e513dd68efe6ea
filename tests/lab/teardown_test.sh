#!/usr/bin/env bash
# `scripts/lab down` never strands I/O. Two labs of this test's own (never the suite's), each with
# a container writing through an RBD volume (rbd-fuse, a loop device, ext4) when the lab goes down:
#   1. a healthy cluster: down stops the container, unmounts, unmaps, then stops Ceph;
#   2. the OSD stopped first, so the container's writes wait on a cluster that will never answer
#      (what once hung a whole suite): down must abort the volume's FUSE connection and say so.
# Either way nothing of the lab may be left in D state, mounted, looped, or running.
#
#   teardown_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
src=$1 bin=$2
[ "$(id -u)" = 0 ] || { echo "teardown_test: needs root" >&2 && exit 1; }
export BERTH_LAB_BERTHD=$bin/berthd

labs=()
fail() { echo "FAIL: $*" >&2 && exit 1; }
# The mount points strictly under DIR (of TYPE, if given). findmnt -R DIR would list nothing
# unless DIR itself were a mount point.
mounts_under() { # DIR [TYPE]
  findmnt -rn -o TARGET ${2:+-t "$2"} | grep -F -- "$1/" || true
}
say() { echo "teardown-test: $*"; }
cleanup() {
  local rc=$? lab
  for lab in "${labs[@]}"; do
    "$src/scripts/lab" down "$lab" >/dev/null 2>&1 || true
    [[ -n $(mounts_under "$lab") ]] || rm -rf --one-file-system -- "$lab"
  done
  exit "$rc"
}
trap cleanup EXIT

# What must be gone once `down` returns: mounts, loop devices over files of the lab, processes
# naming the lab, and processes of the lab in D state.
check_nothing_left() { # LAB
  local lab=$1 bf p cmd stat
  [[ -z $(mounts_under "$lab") ]] || fail "mounts left under $lab: $(mounts_under "$lab")"
  for bf in /sys/block/loop*/loop/backing_file; do
    [[ $(cat "$bf" 2>/dev/null) != "$lab"/* ]] || fail "${bf#/sys/block/} still serves $(cat "$bf")"
  done
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    read -r stat 2>/dev/null <"$p/stat" || continue
    stat=${stat##*) }
    [[ $cmd == *"$lab/"* ]] && fail "pid ${p#/proc/} (state ${stat:0:1}) outlived down: $cmd"
    if [[ ${stat:0:1} == D && $(readlink "$p/root" 2>/dev/null) == "$lab"/* ]]; then
      fail "pid ${p#/proc/} of the lab's containers is in D state"
    fi
  done
  return 0
}

# Starts a lab with a container writing fsynced files through an RBD volume; waits for writes.
start_writer() { # LAB [lab up options]
  local lab=$1 n=0
  "$src/scripts/lab" up "$@" --no-nfs >/dev/null
  # shellcheck source=/dev/null
  (
    source "$lab/env"
    docker volume create -d "$BERTH_DRIVER" -o size=128M tv >/dev/null
    docker run -d --network none -v tv:/data lab/busybox sh -c \
      'i=0; while :; do dd if=/dev/urandom of=/data/f$((i % 8)) bs=64k count=16 conv=fsync \
         2>/dev/null; echo $i > /data/count; i=$((i + 1)); done' >/dev/null
  )
  until [[ $(find "$lab/mnt/tv" -name count 2>/dev/null) ]] && (($(cat "$lab/mnt/tv/count") > 3)); do
    ((n++ < 300)) || fail "the writer never wrote through $lab/mnt/tv"
    sleep 0.1
  done
  [[ -n $(mounts_under "$lab" fuse.rbd-fuse) ]] || fail "no rbd-fuse mapper under $lab"
}

# 1. Healthy cluster.
lab=$(mktemp -d /tmp/berth-teardown.XXXXXX) && labs+=("$lab")
start_writer "$lab"
say "lab 1: down while the container writes"
out=$("$src/scripts/lab" down "$lab" 2>&1) || fail "down failed: $out"
check_nothing_left "$lab"
say "lab 1: nothing left ($(tail -n 1 <<<"$out"))"

# 2. The cluster gone under the writer.
lab=$(mktemp -d /tmp/berth-teardown.XXXXXX) && labs+=("$lab")
start_writer "$lab" --durable
"$src/scripts/lab" osd-stop "$lab" 2>/dev/null
sleep 2 # the writer's next fsync now waits on rbd-fuse, which waits on the OSD
waiting=0
for c in /sys/fs/fuse/connections/*/waiting; do
  waiting=$((waiting + $(cat "$c" 2>/dev/null || echo 0)))
done
say "lab 2: OSD stopped, $waiting FUSE requests waiting; down"
start=$SECONDS
out=$("$src/scripts/lab" down "$lab" 2>&1) || fail "down failed: $out"
printf "%s\n" "$out" | sed 's/^/  /'
grep -q "aborted FUSE connection" <<<"$out" || fail "down did not abort the stranded FUSE I/O"
check_nothing_left "$lab"
say "lab 2: nothing left after $((SECONDS - start)) s"
echo "teardown-test: 2 passed, 0 failed"
