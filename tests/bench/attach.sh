#!/usr/bin/env bash
# Attach+mount and unmount+detach of an existing RBD volume through berth, against the bare floor
# done by hand (rbd-fuse + losetup + mount; umount + losetup -d + fusermount -u), measured
# interleaved in the same run. Prints medians and the ratio. Usage: tests/bench/attach.sh [ROUNDS]
# - berthctl: process start, Ceph connect, lock, rbd-fuse, loop, probe, fsck, mount, state write;
# - berthd (a private one, its Docker endpoints through curl): the same in a long-lived process;
#   its unmount+detach runs until the detach it finishes in the background is done;
# - 8 volumes attached and mounted through berthd at once, against the same 8 one after another;
#   and the same by hand, which shows what this machine's cores allow.
# Ceph-only lab (no Docker). BERTH_BIN_DIR: where berthctl and berthd are (default build/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-15}
berthctl=${BERTH_BIN_DIR:-$root/build/bin}/berthctl
berthd=${BERTH_BIN_DIR:-$root/build/bin}/berthd
for b in "$berthctl" "$berthd"; do
  [ -x "$b" ] || { echo "bench: no $b (build first: scripts/build)" >&2; exit 1; }
done

lab=$(mktemp -d /tmp/berth-bench.XXXXXX)
cleanup() { "$root/scripts/lab" down "$lab" >/dev/null; rm -rf -- "$lab"; }
trap cleanup EXIT
"$root/scripts/lab" up "$lab" --no-docker >/dev/null 2>&1
# shellcheck source=/dev/null
source "$lab/env"

now_ms() { echo $(( $(date +%s%N) / 1000 )); }  # microseconds
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

vols=(bench floor served p1 p2 p3 p4 p5 p6 p7 p8 h1 h2 h3 h4 h5 h6 h7 h8)
# Format each once so every measured attach finds an existing filesystem.
for v in "${vols[@]}"; do
  "$berthctl" create "$v" -o size=256M >/dev/null
  "$berthctl" mount "$v" --ref init >/dev/null; "$berthctl" unmount "$v" --ref init
done

sock=$lab/attach-bench.sock
setsid -- "$berthd" --config "$BERTH_CONFIG" --socket "$sock" --log-level warn \
  </dev/null >>"$lab/log/attach-bench-berthd.log" 2>&1 &
echo $! >"$lab/run/attach-bench-berthd.pid" # `lab down` stops it
for _ in $(seq 500); do [ -S "$sock" ] && break; sleep 0.01; done
[ -S "$sock" ] || { tail "$lab/log/attach-bench-berthd.log" >&2; exit 1; }
state_dir=$(sed -n 's/.*"state_dir": *"\([^"]*\)".*/\1/p' "$BERTH_CONFIG")
[ -d "$state_dir/volumes" ] || { echo "bench: no state dir in $BERTH_CONFIG" >&2; exit 1; }
call() { # ENDPOINT VOLUME REF: fails unless berthd answers with an empty Err
  local out
  out=$(curl -sS --unix-socket "$sock" -X POST -d "{\"Name\":\"$2\",\"ID\":\"$3\"}" \
    "http://berthd/VolumeDriver.$1")
  [[ $out == *'"Err":""'* ]] || { echo "bench: $1 $2: $out" >&2; return 1; }
}
wait_detached() { while [ -e "$state_dir/volumes/$1.json" ]; do sleep 0.001; done; }
call Get served x # connects berthd to Ceph before the first measured call

floor_attach() { # [IMAGE]: rbd-fuse, losetup, mount; the loop device goes to $lab/IMAGE.loop
  local image=${1:-floor}
  mkdir -p "$lab/fuse-$image" "$lab/mnt-$image"
  rbd-fuse -c "$CEPH_CONF" --id berth -p berth -r "$image" "$lab/fuse-$image" -f >/dev/null 2>&1 &
  echo $! >"$lab/$image.fuse-pid"
  until [ -e "$lab/fuse-$image/$image" ]; do sleep 0.001; done
  losetup -f --show "$lab/fuse-$image/$image" >"$lab/$image.loop"
  mount "$(cat "$lab/$image.loop")" "$lab/mnt-$image"
}
floor_detach() { # [IMAGE]
  local image=${1:-floor} loop
  loop=$(cat "$lab/$image.loop")
  umount "$lab/mnt-$image"
  losetup -d "$loop"
  while [ -e "/sys/block/${loop#/dev/}/loop/backing_file" ]; do sleep 0.001; done
  fusermount3 -u "$lab/fuse-$image"
  wait "$(cat "$lab/$image.fuse-pid")" 2>/dev/null || true
}

: >"$lab/b_attach"; : >"$lab/b_detach"; : >"$lab/f_attach"; : >"$lab/f_detach"
: >"$lab/d_attach"; : >"$lab/d_detach"
for i in $(seq "$rounds"); do
  t0=$(now_ms); "$berthctl" mount bench --ref "r$i" >/dev/null; t1=$(now_ms)
  "$berthctl" unmount bench --ref "r$i"; t2=$(now_ms)
  echo $((t1 - t0)) >>"$lab/b_attach"; echo $((t2 - t1)) >>"$lab/b_detach"
  t0=$(now_ms); call Mount served "r$i"; t1=$(now_ms)
  call Unmount served "r$i"; wait_detached served; t2=$(now_ms)
  echo $((t1 - t0)) >>"$lab/d_attach"; echo $((t2 - t1)) >>"$lab/d_detach"
  t0=$(now_ms); floor_attach; t1=$(now_ms); floor_detach; t2=$(now_ms)
  echo $((t1 - t0)) >>"$lab/f_attach"; echo $((t2 - t1)) >>"$lab/f_detach"
done

# 8 attaches one after another, then the same 8 at once (rounds alternate which goes first).
mount_serial() { for v in p1 p2 p3 p4 p5 p6 p7 p8; do call Mount "$v" "$1"; done; }
mount_parallel() {
  local pids=() v p
  for v in p1 p2 p3 p4 p5 p6 p7 p8; do call Mount "$v" "$1" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
}
unmount_all() {
  for v in p1 p2 p3 p4 p5 p6 p7 p8; do call Unmount "$v" "$1"; done
  for v in p1 p2 p3 p4 p5 p6 p7 p8; do wait_detached "$v"; done
}
hand_serial() { for v in h1 h2 h3 h4 h5 h6 h7 h8; do floor_attach "$v"; done; }
hand_parallel() {
  local pids=() v p
  for v in h1 h2 h3 h4 h5 h6 h7 h8; do floor_attach "$v" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
}
hand_detach_all() { for v in h1 h2 h3 h4 h5 h6 h7 h8; do floor_detach "$v"; done; }
: >"$lab/serial8"; : >"$lab/parallel8"; : >"$lab/hand_serial8"; : >"$lab/hand_parallel8"
for i in $(seq 5); do
  for how in serial parallel; do
    [ $((i % 2)) = 0 ] && how=$([ "$how" = serial ] && echo parallel || echo serial)
    t0=$(now_ms); "mount_$how" "$how$i"; t1=$(now_ms); unmount_all "$how$i"
    echo $((t1 - t0)) >>"$lab/${how}8"
    t0=$(now_ms); "hand_$how"; t1=$(now_ms); hand_detach_all
    echo $((t1 - t0)) >>"$lab/hand_${how}8"
  done
done

row() { awk -v s="$1" -v b="$2" -v f="$3" 'BEGIN {printf "%-34s %10.1f %10.1f %8.2f\n", s, b/1000, f/1000, b/f}'; }
printf 'rounds: %s (interleaved), 256 MiB ext4, memstore lab\n' "$rounds"
printf '%-34s %10s %10s %8s\n' step berth_ms floor_ms ratio
row "attach+mount (existing fs)" "$(median <"$lab/b_attach")" "$(median <"$lab/f_attach")"
row "unmount+detach" "$(median <"$lab/b_detach")" "$(median <"$lab/f_detach")"
row "berthd attach+mount" "$(median <"$lab/d_attach")" "$(median <"$lab/f_attach")"
row "berthd unmount+detach" "$(median <"$lab/d_detach")" "$(median <"$lab/f_detach")"
row "berthd 8 at once (vs one by one)" "$(median <"$lab/parallel8")" "$(median <"$lab/serial8")"
row "by hand 8 at once (vs one by one)" "$(median <"$lab/hand_parallel8")" "$(median <"$lab/hand_serial8")"
for v in "${vols[@]}"; do "$berthctl" rm "$v" >/dev/null; done
