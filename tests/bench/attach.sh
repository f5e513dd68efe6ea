#!/usr/bin/env bash
# Attach+mount and unmount+detach of an existing RBD volume through berth (berthctl: process
# start, Ceph connect, lock, rbd-fuse, loop, probe, fsck, mount, state write), against the bare
# floor done by hand (rbd-fuse + losetup + mount; umount + losetup -d + fusermount -u), measured
# interleaved in the same run. Prints medians and the ratio. Usage: tests/bench/attach.sh [ROUNDS]
# Ceph-only lab (no Docker, no berthd). BERTH_BIN_DIR: where berthctl is (default build/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-15}
berthctl=${BERTH_BIN_DIR:-$root/build/bin}/berthctl
[ -x "$berthctl" ] || { echo "bench: build first (scripts/build)" >&2; exit 1; }

lab=$(mktemp -d /tmp/berth-bench.XXXXXX)
cleanup() { "$root/scripts/lab" down "$lab" >/dev/null; rm -rf -- "$lab"; }
trap cleanup EXIT
"$root/scripts/lab" up "$lab" --no-docker >/dev/null 2>&1
# shellcheck source=/dev/null
source "$lab/env"

now_ms() { echo $(( $(date +%s%N) / 1000 )); }  # microseconds
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

"$berthctl" create bench -o size=256M >/dev/null
"$berthctl" create floor -o size=256M >/dev/null
# Format both once so every measured attach finds an existing filesystem.
for v in bench floor; do "$berthctl" mount "$v" --ref init >/dev/null; "$berthctl" unmount "$v" --ref init; done

fuse_dir=$lab/floor-fuse mnt=$lab/floor-mnt
mkdir -p "$fuse_dir" "$mnt"
floor_attach() {
  rbd-fuse -c "$CEPH_CONF" --id berth -p berth -r floor "$fuse_dir" -f >/dev/null 2>&1 &
  floor_pid=$!
  until [ -e "$fuse_dir/floor" ]; do sleep 0.001; done
  loop=$(losetup -f --show "$fuse_dir/floor")
  mount "$loop" "$mnt"
}
floor_detach() {
  umount "$mnt"
  losetup -d "$loop"
  while [ -e "/sys/block/${loop#/dev/}/loop/backing_file" ]; do sleep 0.001; done
  fusermount3 -u "$fuse_dir"
  wait "$floor_pid" 2>/dev/null || true
}

: >"$lab/b_attach"; : >"$lab/b_detach"; : >"$lab/f_attach"; : >"$lab/f_detach"
for i in $(seq "$rounds"); do
  t0=$(now_ms); "$berthctl" mount bench --ref "r$i" >/dev/null; t1=$(now_ms)
  "$berthctl" unmount bench --ref "r$i"; t2=$(now_ms)
  echo $((t1 - t0)) >>"$lab/b_attach"; echo $((t2 - t1)) >>"$lab/b_detach"
  t0=$(now_ms); floor_attach; t1=$(now_ms); floor_detach; t2=$(now_ms)
  echo $((t1 - t0)) >>"$lab/f_attach"; echo $((t2 - t1)) >>"$lab/f_detach"
done

ba=$(median <"$lab/b_attach"); bd=$(median <"$lab/b_detach")
fa=$(median <"$lab/f_attach"); fd=$(median <"$lab/f_detach")
printf 'rounds: %s (interleaved), 256 MiB ext4, memstore lab\n' "$rounds"
printf '%-28s %10s %10s %8s\n' step berth_ms floor_ms ratio
awk -v b="$ba" -v f="$fa" 'BEGIN {printf "%-28s %10.1f %10.1f %8.2f\n", "attach+mount (existing fs)", b/1000, f/1000, b/f}'
awk -v b="$bd" -v f="$fd" 'BEGIN {printf "%-28s %10.1f %10.1f %8.2f\n", "unmount+detach", b/1000, f/1000, b/f}'
"$berthctl" rm bench >/dev/null
"$berthctl" rm floor >/dev/null
