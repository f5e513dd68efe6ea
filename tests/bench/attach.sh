#!/usr/bin/env bash
# Attach+mount and unmount+detach of an existing RBD volume through berth, against the bare floor
# done by hand (rbd-fuse + losetup + mount; umount + losetup -d + fusermount -u), measured
# interleaved in the same run. Prints medians and the ratio. Usage: tests/bench/attach.sh [ROUNDS]
# - berthctl: process start, Ceph connect, lock, rbd-fuse, loop, probe, fsck, mount, state write;
# - berthd (a private one): the same in a long-lived process, its Mount and Unmount sent by one
#   client that keeps its connection (berth_bench_plugin_latency's `calls`), as dockerd's does;
#   its unmount+detach runs until the detach it finishes in the background is done;
# - 8 volumes attached and mounted through berthd at once, against the same 8 one after another;
#   and the same by hand, which shows what this machine's cores allow (these through curl, a
#   process per call on both sides of the ratio).
# Ceph-only lab (no Docker). BERTH_BIN_DIR: where berthctl and berthd are (default build/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-15}
bin=${BERTH_BIN_DIR:-$root/build/bin}
berthctl=$bin/berthctl
# shellcheck source=tests/bench/lib.sh
source "$root/tests/bench/lib.sh"
bench_require berthctl berthd berth_bench_plugin_latency
bench_lab_up

vols=(bench floor served p1 p2 p3 p4 p5 p6 p7 p8 h1 h2 h3 h4 h5 h6 h7 h8)
# Format each once so every measured attach finds an existing filesystem.
for v in "${vols[@]}"; do
  "$berthctl" create "$v" -o size=256M >/dev/null
  "$berthctl" mount "$v" --ref init >/dev/null; "$berthctl" unmount "$v" --ref init
done

sock=$lab/attach-bench.sock
bench_berthd attach-bench-berthd "$BERTH_CONFIG" "$sock" warn
state_dir=$(sed -n 's/.*"state_dir": *"\([^"]*\)".*/\1/p' "$BERTH_CONFIG")
[ -d "$state_dir/volumes" ] || { echo "bench: no state dir in $BERTH_CONFIG" >&2; exit 1; }
call() { plugin_call "$sock" "$@"; } # ENDPOINT VOLUME REF
served_detached() { wait_detached "$state_dir" "$1"; } # VOLUME
call Get served x # connects berthd to Ceph before the first measured call
coproc KEPT { "$bin/berth_bench_plugin_latency" "$sock" calls; }
# Copied now: bash unsets KEPT and KEPT_PID once the client exits.
client_in=${KEPT[1]} client_out=${KEPT[0]} client_pid=$KEPT_PID
kept() { # ENDPOINT VOLUME ID, through the kept connection
  local answer
  echo "$1 $2 $3" >&"$client_in"
  read -r answer <&"$client_out"
  [ "$answer" = ok ] || { echo "bench: $1 $2: $answer" >&2; return 1; }
}

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
  t0=$(now_us); "$berthctl" mount bench --ref "r$i" >/dev/null; t1=$(now_us)
  "$berthctl" unmount bench --ref "r$i"; t2=$(now_us)
  echo $((t1 - t0)) >>"$lab/b_attach"; echo $((t2 - t1)) >>"$lab/b_detach"
  t0=$(now_us); kept Mount served "r$i"; t1=$(now_us)
  kept Unmount served "r$i"; served_detached served; t2=$(now_us)
  echo $((t1 - t0)) >>"$lab/d_attach"; echo $((t2 - t1)) >>"$lab/d_detach"
  t0=$(now_us); floor_attach; t1=$(now_us); floor_detach; t2=$(now_us)
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
  for v in p1 p2 p3 p4 p5 p6 p7 p8; do served_detached "$v"; done
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
    t0=$(now_us); "mount_$how" "$how$i"; t1=$(now_us); unmount_all "$how$i"
    echo $((t1 - t0)) >>"$lab/${how}8"
    t0=$(now_us); "hand_$how"; t1=$(now_us); hand_detach_all
    echo $((t1 - t0)) >>"$lab/hand_${how}8"
  done
done

eval "exec $client_in>&-" # the client exits at the end of its input
wait "$client_pid" 2>/dev/null || true

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
