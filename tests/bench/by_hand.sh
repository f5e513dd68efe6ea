# Shared by tests/bench/flex.sh and tests/bench/csi.sh (sourced): timing and statistics, and
# the by-hand floor a pod start is measured against: rbd-fuse -p POOL -r IMAGE DIR (wait for the
# image file), losetup -f --show, mount -t ext4 LOOP GLOBAL, mount --bind GLOBAL POD, and its
# teardown. The caller sets img_h (a formatted image), g_h (its global mount dir), fuse_dir and
# work, and keeps fuse_pid and loop_h for its cleanup; the lab's env names the Ceph user.
# shellcheck shell=bash disable=SC2154  # the globals above are the caller's

now() { REPLY=${EPOCHREALTIME//[!0-9]/}; } # microseconds, without a subshell
wait_loop_gone() { # LOOP: losetup -d only sets autoclear; the kernel lets go a moment later
  local i
  for ((i = 0; i < 5000; i++)); do
    [ -e "/sys/block/${1#/dev/}/loop/backing_file" ] || return 0
    sleep 0.001
  done
  say "$1 still holds its file after 5 s"
  return 1
}
# Nearest-rank statistics of a file of microseconds: "mean p50 p95" in ms.
stats() {
  sort -n "$1" | awk '{a[NR] = $1; s += $1}
    function rank(p) { r = int((p * NR + 99) / 100); return a[r < 1 ? 1 : r] }
    END {printf "%.2f %.2f %.2f\n", s / NR / 1000, rank(50) / 1000, rank(95) / 1000}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
row() { printf '%-46s %10s %10s %7s\n' "$@"; }
hand_start() { # POD: timed per step into $work/h_*
  local t0 t1 t2 t3 t4 i
  now && t0=$REPLY
  rbd-fuse --id "$BERTH_CEPH_USER" -c "$CEPH_CONF" --keyring "$BERTH_CEPH_KEYRING" \
    -p "$BERTH_POOL" -r "$img_h" "$fuse_dir" -f </dev/null >>"$work/hand-rbd-fuse.log" 2>&1 &
  fuse_pid=$!
  for ((i = 0; ; i++)); do
    [ -e "$fuse_dir/$img_h" ] && break
    if ((i > 30000)) || ! kill -0 "$fuse_pid" 2>/dev/null; then
      tail -n 5 "$work/hand-rbd-fuse.log" >&2
      die "rbd-fuse did not expose $img_h"
    fi
    sleep 0.001
  done
  now && t1=$REPLY
  loop_h=$(losetup -f --show "$fuse_dir/$img_h")
  now && t2=$REPLY
  mount -t ext4 "$loop_h" "$g_h"
  now && t3=$REPLY
  mount --bind "$g_h" "$1"
  now && t4=$REPLY
  echo $((t1 - t0)) >>"$work/h_fuse"; echo $((t2 - t1)) >>"$work/h_losetup"
  echo $((t3 - t2)) >>"$work/h_mount"; echo $((t4 - t3)) >>"$work/h_bind"
  echo $((t4 - t0)) >>"$work/h_start"
}
hand_stop() { # POD: timed into $work/h_stop
  local t0
  now && t0=$REPLY
  umount "$1"
  umount "$g_h"
  losetup -d "$loop_h"
  wait_loop_gone "$loop_h"
  loop_h=
  fusermount3 -u "$fuse_dir"
  wait "$fuse_pid" || true # rbd-fuse exits once unmounted
  fuse_pid=
  now && echo $((REPLY - t0)) >>"$work/h_stop"
}

