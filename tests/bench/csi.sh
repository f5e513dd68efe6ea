#!/usr/bin/env bash
# CSI pod start: berth-csi's NodeStageVolume + NodePublishVolume on an existing 256 MiB ext4
# volume, made over one kept-open gRPC connection as kubelet makes them, against the same steps by
# hand on another image made the same way (tests/bench/by_hand.sh: rbd-fuse, losetup, mount,
# mount --bind), interleaved (who goes first alternates). The teardown (NodeUnpublishVolume +
# NodeUnstageVolume against umount, umount, losetup -d, fusermount3 -u) is timed apart. Prints
# mean/p50/p95 and ratios. Not a test: nothing here asserts a timing. Needs root and a build.
#   tests/bench/csi.sh [--rounds N] [LAB_DIR]        (default 10 rounds)
# LAB_DIR (or $BERTH_LAB_DIR): a running lab is used and left running; else a Ceph-only lab is
# started and stopped. BERTH_BIN_DIR: where berth-csi and berth_bench_csi_client are.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

rounds=10 lab=
while (($#)); do
  case $1 in
    -h | --help) usage && exit 0 ;;
    --rounds) rounds=${2:?--rounds needs a number} && shift 2 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$lab" ] || die "one lab dir only (see --help)"; lab=$1 && shift ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive number"
lab=${lab:-${BERTH_LAB_DIR:-}}
bin=${BERTH_BIN_DIR:-${BERTH_BUILD_DIR:-$root/build}/bin}
for b in berth-csi berth_bench_csi_client; do
  [ -x "$bin/$b" ] || die "no $bin/$b (build first: scripts/build)"
done
[ "$(id -u)" = 0 ] || die "needs root (mounts, loop devices)"
# shellcheck source=tests/bench/by_hand.sh
source "$root/tests/bench/by_hand.sh"

lab_started='' lab_temp='' work='' csi_pid='' fuse_pid='' loop_h='' fuse_dir='' g_h='' pod_h=''
pv_b='' g_b='' pod_b=''
vols=()
# What a failure leaves, in reverse: berth's side through berth-csi, the by-hand side, the
# volumes, berth-csi, then the lab if this script started it.
cleanup() {
  local rc=$? v
  set +e
  if [ -n "$csi_pid" ]; then
    [ -z "$pod_b" ] || ! mountpoint -q -- "$pod_b" || csi unpublish "$pv_b" "$pod_b"
    [ -z "$g_b" ] || ! mountpoint -q -- "$g_b" || csi unstage "$pv_b" "$g_b"
    for v in "${vols[@]}"; do csi delete "$v"; done
  fi
  [ -z "$pod_h" ] || ! mountpoint -q -- "$pod_h" || umount "$pod_h"
  [ -z "$g_h" ] || ! mountpoint -q -- "$g_h" || umount "$g_h"
  if [ -n "$loop_h" ]; then losetup -d "$loop_h" && wait_loop_gone "$loop_h"; fi
  [ -z "$fuse_dir" ] || ! mountpoint -q -- "$fuse_dir" || fusermount3 -u -- "$fuse_dir"
  [ -z "$fuse_pid" ] || { kill "$fuse_pid" 2>/dev/null; wait "$fuse_pid" 2>/dev/null; }
  [ -z "$csi_pid" ] || { kill "$csi_pid" 2>/dev/null; rm -f "$lab/run/bench-csi.pid"; }
  if [ -n "$lab_started" ]; then "$root/scripts/lab" down "$lab" >/dev/null 2>&1; fi
  if [ -n "$work" ] && ! grep -qF " $work/" /proc/self/mountinfo; then rm -rf -- "$work"; fi
  if [ -n "$lab_temp" ] && ! grep -qF " $lab/" /proc/self/mountinfo; then rm -rf -- "$lab"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if [ -z "$lab" ]; then
  lab=$(mktemp -d /tmp/berth-bench.XXXXXX) lab_temp=1
fi
if "$root/scripts/lab" status "$lab" >/dev/null 2>&1; then
  say "using the running lab in $lab (left running)"
else
  say "starting a Ceph-only lab in $lab (stopped at the end)"
  lab_started=1
  "$root/scripts/lab" up "$lab" --no-docker --no-nfs >/dev/null 2>&1 ||
    die "scripts/lab up $lab failed (log: $lab/log/setup.log)"
fi
# shellcheck source=/dev/null
source "$lab/env"
work=$(mktemp -d "$lab/csibench.XXXXXX")
kubelet=$work/kubelet
mkdir -p "$kubelet"
setsid -- "$bin/berth-csi" --endpoint "unix://$work/csi.sock" --config "$BERTH_CONFIG" \
  --path-root "$kubelet" --log-level warn </dev/null >>"$work/berth-csi.log" 2>&1 &
csi_pid=$!
echo "$csi_pid" >"$lab/run/bench-csi.pid" # `lab down` stops it if this script cannot
for _ in $(seq 500); do [ -S "$work/csi.sock" ] && break; sleep 0.01; done
[ -S "$work/csi.sock" ] || { tail "$work/berth-csi.log" >&2; die "berth-csi did not start"; }
coproc CSI { "$bin/berth_bench_csi_client" "unix://$work/csi.sock"; }
# One CSI call through the kept-open connection; fails unless it answers ok.
csi() {
  local answer
  echo "$*" >&"${CSI[1]}"
  read -r answer <&"${CSI[0]}"
  [ "$answer" = ok ] || { say "csi $*: $answer"; return 1; }
}

tag=$$
pv_b=pvc-cb$tag img_h=pvc-ch$tag
kubelet_global() { echo "$kubelet/plugins/kubernetes.io/csi/csi.berth.dev/$(sha256sum <<<"$1" | cut -c1-64)/globalmount"; }
g_b=$(kubelet_global "$pv_b") g_h=$work/hand-global fuse_dir=$work/hand-fuse
mkdir -p "$g_h" "$fuse_dir"
say "creating and formatting $pv_b (berth side) and $img_h (by hand), 256 MiB ext4, untimed"
for v in "$pv_b" "$img_h"; do
  csi create "$v" $((256 << 20))
  vols+=("$v")
  csi stage "$v" "$(kubelet_global "$v")"
  csi unstage "$v" "$(kubelet_global "$v")"
done

berth_start() { # POD: timed per step into $work/b_*
  local t0 t1 t2
  now && t0=$REPLY
  csi stage "$pv_b" "$g_b"
  now && t1=$REPLY
  csi publish "$pv_b" "$g_b" "$1"
  now && t2=$REPLY
  mountpoint -q -- "$1" || die "NodePublishVolume left nothing mounted at $1"
  echo $((t1 - t0)) >>"$work/b_stage"; echo $((t2 - t1)) >>"$work/b_publish"
  echo $((t2 - t0)) >>"$work/b_start"
}
berth_stop() { # POD: timed into $work/b_stop
  local t0
  now && t0=$REPLY
  csi unpublish "$pv_b" "$1"
  csi unstage "$pv_b" "$g_b"
  now && echo $((REPLY - t0)) >>"$work/b_stop"
}

pod() { echo "$kubelet/pods/$1/volumes/kubernetes.io~csi/$2/mount"; }
say "warm-up: one untimed cycle each"
pod_b=$(pod warm-b "$pv_b") pod_h=$(pod warm-h "$img_h")
mkdir -p "$pod_h" "$(dirname "$pod_b")"
berth_start "$pod_b"; berth_stop "$pod_b"; hand_start "$pod_h"; hand_stop "$pod_h"
for f in b_stage b_publish b_start b_stop h_fuse h_losetup h_mount h_bind h_start h_stop; do
  : >"$work/$f"
done
say "pod start and teardown, $rounds interleaved rounds"
for ((i = 1; i <= rounds; i++)); do
  pod_b=$(pod "b$i" "$pv_b") pod_h=$(pod "h$i" "$img_h")
  mkdir -p "$pod_h" "$(dirname "$pod_b")" # kubelet makes the parent; the driver the target
  if ((i % 2)); then
    berth_start "$pod_b"; berth_stop "$pod_b"; hand_start "$pod_h"; hand_stop "$pod_h"
  else
    hand_start "$pod_h"; hand_stop "$pod_h"; berth_start "$pod_b"; berth_stop "$pod_b"
  fi
done

read -r bs_mean bs_p50 _ < <(stats "$work/b_start")
read -r hs_mean hs_p50 _ < <(stats "$work/h_start")
read -r bd_mean bd_p50 _ < <(stats "$work/b_stop")
read -r hd_mean hd_p50 _ < <(stats "$work/h_stop")
echo "berth-csi benchmarks, $(date -u '+%F %H:%M UTC'), $(nproc) cores, $rounds rounds" \
  "(interleaved), 256 MiB ext4, loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
row benchmark berth baseline ratio
row "CSI pod start mean ms (vs by hand)" "$bs_mean" "$hs_mean" "$(ratio "$bs_mean" "$hs_mean")"
row "CSI pod start p50 ms (vs by hand)" "$bs_p50" "$hs_p50" "$(ratio "$bs_p50" "$hs_p50")"
row "CSI pod teardown mean ms (vs by hand)" "$bd_mean" "$hd_mean" "$(ratio "$bd_mean" "$hd_mean")"
row "CSI pod teardown p50 ms (vs by hand)" "$bd_p50" "$hd_p50" "$(ratio "$bd_p50" "$hd_p50")"
step() { stats "$work/$1" | awk '{print $2}'; }
echo "pod start, p50 ms per step:"
echo "  berth-csi: NodeStageVolume $(step b_stage)  NodePublishVolume $(step b_publish)"
echo "  by hand:   rbd-fuse $(step h_fuse)  losetup $(step h_losetup)  mount -t ext4" \
  "$(step h_mount)  mount --bind $(step h_bind)"
echo "note: by hand is the floor: no registry read, no lock, no blkid probe, no e2fsck, no state" \
  "file; berth-csi does all of these."
