#!/usr/bin/env bash
# FlexVolume benchmarks: berth-flex run as kubelet runs it (one process per call, JSON reply on
# stdout, BERTH_CONFIG and BERTH_FLEX_LOG in the environment), each against a baseline measured in
# the same run, interleaved (who goes first alternates). Prints mean/p50/p95 and ratios.
# Not a test: nothing here asserts a timing. Needs root.
#   tests/bench/flex.sh [--rounds N] [--init-runs N] [LAB_DIR]
# 1. Process time of `init` (no config, no Ceph: process start, CLI parse, log set-up, reply), run
#    --init-runs times (default 200) as `berth-flex --driver rbd init` and as the installed name
#    `<tmp>/berth~rbd/rbd init` (a copy of the binary: argv[0] dispatch), vs exec'ing /bin/true
#    the same number of times.
# 2. Pod start on an existing ext4 volume of 256 MiB: attach -> waitforattach -> mountdevice ->
#    mount through the installed driver, vs the same done by hand on another image made and
#    formatted the same way: rbd-fuse -p POOL -r IMAGE DIR (wait for the image file), losetup -f
#    --show, mount -t ext4 LOOP GLOBAL, mount --bind GLOBAL POD. --rounds cycles (default 10).
# 3. Pod teardown, the other half of each cycle of 2 (timed apart): unmount -> unmountdevice ->
#    detach vs umount POD, umount GLOBAL, losetup -d (and wait for the loop to let go),
#    fusermount3 -u, wait for rbd-fuse to exit.
# 2 and 3 run twice on the berth side in each round: with no berthd on the node (every call in
# its own process), and with the node's berthd running (a berthd this script starts on a socket
# of its own, named by a copy of the config; every call but init goes to it).
# The by-hand path is the floor: it reads no registry, takes no lock, probes no filesystem, runs
# no fsck and writes no state file.
#
# LAB_DIR (or $BERTH_LAB_DIR): a lab of scripts/lab. If it runs, it is used and left running (the
# benchmark's volumes are removed at the end); if not, it is started (--no-docker --no-nfs) and
# stopped at the end. Without either, a temp lab like the other benchmarks. The node name passed
# to attach/detach is the config's host_id, so detach acts on this host.
# BERTH_BIN_DIR: where berth-flex, berth-flex-driver, berthd and berthctl are (default
# $BERTH_BUILD_DIR/bin, else build/bin).
# BERTH_BENCH_LOG_LEVEL: the node berthd's --log-level (default info; debug logs each call's steps);
# BERTH_BENCH_KEEP_LOG: a path to copy that berthd's log to at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

rounds=10 init_runs=200 lab=
while (($#)); do
  case $1 in
    -h | --help) usage && exit 0 ;;
    --rounds) rounds=${2:?--rounds needs a number} && shift 2 ;;
    --init-runs) init_runs=${2:?--init-runs needs a number} && shift 2 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$lab" ] || die "one lab dir only (see --help)"; lab=$1 && shift ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ && $init_runs =~ ^[1-9][0-9]*$ ]] || die "counts must be positive"
lab=${lab:-${BERTH_LAB_DIR:-}}
bin=${BERTH_BIN_DIR:-${BERTH_BUILD_DIR:-$root/build}/bin}
flex_bin=$bin/berth-flex berthctl=$bin/berthctl
for b in "$flex_bin" "$bin/berth-flex-driver" "$bin/berthd" "$berthctl"; do
  [ -x "$b" ] || die "no $b (build first: scripts/build)"
done
for t in rbd-fuse losetup fusermount3 mountpoint; do
  command -v "$t" >/dev/null || die "no $t (scripts/deps)"
done
[ "$(id -u)" = 0 ] || die "needs root (mounts, loop devices)"

# --- state the cleanup needs, set as soon as it exists ------------------------------------------
lab_started='' lab_temp='' work='' drv='' host_id='' pv_b='' pv_h='' fuse_pid='' loop_h=''
berthd_pid=''
fuse_dir='' g_b='' g_h='' pod_b='' pod_h=''
vols=()
unmount_if() { if mountpoint -q -- "$1"; then umount -- "$1" || umount -l -- "$1" || true; fi; }
# What a signal or failure leaves behind, in reverse: pods, global mounts, loops, FUSE, rbd-fuse
# (the one this script started; berth's own rbd-fuse processes go with unmountdevice/detach),
# volumes, then the lab if this script started it.
cleanup() {
  local rc=$? v
  set +e
  if [ -n "${BERTH_BENCH_KEEP_LOG:-}" ] && [ -n "$work" ]; then
    cp -- "$work/berthd.log" "$BERTH_BENCH_KEEP_LOG"
  fi
  if [ -n "$drv" ]; then
    if [ -n "$pod_b" ] && mountpoint -q -- "$pod_b"; then flex unmount "$pod_b" >/dev/null; fi
    if [ -n "$g_b" ] && mountpoint -q -- "$g_b"; then flex unmountdevice "$g_b" >/dev/null; fi
    for v in "$pv_b" "$pv_h"; do [ -z "$v" ] || flex detach "$v" "$host_id" >/dev/null; done
  fi
  if [ -n "$berthd_pid" ]; then
    kill "$berthd_pid" 2>/dev/null
    wait "$berthd_pid" 2>/dev/null
  fi
  [ -z "$pod_h" ] || unmount_if "$pod_h"
  [ -z "$g_h" ] || unmount_if "$g_h"
  if [ -n "$loop_h" ] && [ -e "/sys/block/${loop_h#/dev/}/loop/backing_file" ]; then
    losetup -d "$loop_h"
    wait_loop_gone "$loop_h"
  fi
  if [ -n "$fuse_dir" ] && mountpoint -q -- "$fuse_dir"; then
    fusermount3 -u -- "$fuse_dir" || fusermount3 -uz -- "$fuse_dir"
  fi
  if [ -n "$fuse_pid" ]; then
    kill "$fuse_pid" 2>/dev/null
    wait "$fuse_pid" 2>/dev/null
  fi
  if [ -z "$lab_started" ]; then # someone else's lab: leave no volume behind
    for v in "${vols[@]}"; do "$berthctl" rm "$v" >/dev/null 2>&1; done
  fi
  if [ -n "$lab_started" ]; then "$root/scripts/lab" down "$lab" >/dev/null 2>&1; fi
  # Never recurse into a mount that outlived all of the above.
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
host_id=$(jq -er .host_id "$BERTH_CONFIG") || die "no host_id in $BERTH_CONFIG"

work=$(mktemp -d "$lab/flexbench.XXXXXX")
export BERTH_FLEX_LOG=$work/flex.log # as kubelet's installer would set it
# Two copies of the lab's config that differ in the socket they name for the node's berthd: one
# where none listens, one where this script's berthd does (started before the pod rounds).
cfg_alone=$work/berth-alone.json cfg_berthd=$work/berth-berthd.json berthd_sock=$work/berthd.sock
jq --arg s "$work/no-berthd.sock" '.socket = $s' "$BERTH_CONFIG" >"$cfg_alone"
jq --arg s "$berthd_sock" '.socket = $s' "$BERTH_CONFIG" >"$cfg_berthd"
export BERTH_CONFIG=$cfg_alone
mkdir -p "$work/plugins/berth~rbd"
drv=$work/plugins/berth~rbd/rbd
cp -- "$flex_bin" "$drv"
cp -- "$bin/berth-flex-driver" "$work/plugins/berth~rbd/" # as install.sh puts it
kubelet=$work/kubelet
mounts=$kubelet/plugins/kubernetes.io/flexvolume/berth/rbd/mounts

# shellcheck source=tests/bench/by_hand.sh
source "$root/tests/bench/by_hand.sh"
flex() { "$drv" "$@"; }
# Runs a driver call; fails unless it replies Success. The reply is in $reply.
flex_ok() {
  local rc=0
  reply=$("$drv" "$@") || rc=$?
  if ((rc != 0)) || [[ $reply != *'"status":"Success"'* ]]; then
    say "rbd $1 failed (exit $rc): $reply"
    tail -n 5 "$BERTH_FLEX_LOG" >&2 || true
    return 1
  fi
}
# The device of the last reply, into $device: with bash's own regex, not jq, which would add a
# process start (~20 ms) to the berth side's timed calls that kubelet, parsing in-process, does
# not pay.
device_of() {
  [[ $reply =~ \"device\":\"([^\"]+)\" ]] || die "no device in the reply: $reply"
  device=${BASH_REMATCH[1]}
}
declare -a table

# --- 1. init: process time ----------------------------------------------------------------------
flex_ok init
[[ $reply == *'"attach":true'* ]] || die "berth~rbd/rbd init does not say attach: true: $reply"
reply=$("$flex_bin" --driver rbd init)
[[ $reply == *'"status":"Success"'* ]] || die "berth-flex --driver rbd init: $reply"
say "init: $init_runs runs each of /bin/true, berth-flex --driver rbd init, berth~rbd/rbd init"
for _ in 1 2 3 4 5; do # warm the page cache (the copy is a new file)
  /bin/true; "$flex_bin" --driver rbd init >/dev/null; "$drv" init >/dev/null
done
: >"$work/i_true"; : >"$work/i_flex"; : >"$work/i_inst"
run_init() { # WHICH: one timed exec, appended to $work/i_WHICH
  local t0
  now && t0=$REPLY
  case $1 in
    true) /bin/true ;;
    flex) "$flex_bin" --driver rbd init >/dev/null ;;
    inst) "$drv" init >/dev/null ;;
  esac
  now && echo $((REPLY - t0)) >>"$work/i_$1"
}
orders=("true flex inst" "flex inst true" "inst true flex")
for ((i = 0; i < init_runs; i++)); do
  for w in ${orders[i % 3]}; do run_init "$w"; done
done
read -r t_mean t_p50 t_p95 < <(stats "$work/i_true")
read -r f_mean f_p50 f_p95 < <(stats "$work/i_flex")
read -r _ n_p50 n_p95 < <(stats "$work/i_inst")
table+=("$(row "init mean ms (vs /bin/true)" "$f_mean" "$t_mean" "$(ratio "$f_mean" "$t_mean")")")
table+=("$(row "init p50 ms (vs /bin/true)" "$f_p50" "$t_p50" "$(ratio "$f_p50" "$t_p50")")")
table+=("$(row "init p95 ms (vs /bin/true)" "$f_p95" "$t_p95" "$(ratio "$f_p95" "$t_p95")")")
table+=("$(row "init as berth~rbd/rbd, p50 ms (vs --driver)" "$n_p50" "$f_p50" \
  "$(ratio "$n_p50" "$f_p50")")")

# --- 2, 3. pod start and teardown ---------------------------------------------------------------
tag=$$
pv_b=pv-fb$tag pv_h=pv-fh$tag
img_b=fb$tag img_h=fh$tag # volume name = image name (berth creates the image under its name)
opts() { # PV IMAGE
  jq -cn --arg pv "$1" --arg img "$2" '{"kubernetes.io/fsType": "ext4",
    "kubernetes.io/readwrite": "rw", "kubernetes.io/pvOrVolumeName": $pv, image: $img,
    size: "256Mi", create: "true"}'
}
json_b=$(opts "$pv_b" "$img_b") json_h=$(opts "$pv_h" "$img_h")
g_b=$mounts/$pv_b g_h=$mounts/$pv_h
mkdir -p "$g_b" "$g_h"

say "creating and formatting $img_b (berth side) and $img_h (by hand), 256 MiB ext4, untimed"
for side in b h; do
  if [ $side = b ]; then pv=$pv_b json=$json_b g=$g_b vols+=("$img_b"); else
    pv=$pv_h json=$json_h g=$g_h vols+=("$img_h")
  fi
  flex_ok attach "$json" "$host_id"
  device_of
  flex_ok waitforattach "$device" "$json"
  device_of
  flex_ok mountdevice "$g" "$device" "$json"
  flex_ok unmountdevice "$g"
  flex_ok detach "$pv" "$host_id"
done

# SIDE b: no berthd on the node; SIDE d: the node's berthd runs (the config naming its socket).
config_of() { if [ "$1" = d ]; then echo "$cfg_berthd"; else echo "$cfg_alone"; fi; }
berth_start() { # POD SIDE: timed per step into $work/SIDE_*
  local t0 t1 t2 t3 t4 BERTH_CONFIG
  BERTH_CONFIG=$(config_of "$2")
  export BERTH_CONFIG
  now && t0=$REPLY
  flex_ok attach "$json_b" "$host_id"
  now && t1=$REPLY
  device_of
  flex_ok waitforattach "$device" "$json_b"
  now && t2=$REPLY
  device_of
  flex_ok mountdevice "$g_b" "$device" "$json_b"
  now && t3=$REPLY
  flex_ok mount "$1" "$json_b"
  now && t4=$REPLY
  mountpoint -q -- "$1" || die "berth's mount left nothing mounted at $1"
  echo $((t1 - t0)) >>"$work/$2_attach"; echo $((t2 - t1)) >>"$work/$2_wait"
  echo $((t3 - t2)) >>"$work/$2_mntdev"; echo $((t4 - t3)) >>"$work/$2_mount"
  echo $((t4 - t0)) >>"$work/$2_start"
}
berth_stop() { # POD SIDE: timed into $work/SIDE_stop
  local t0 BERTH_CONFIG
  BERTH_CONFIG=$(config_of "$2")
  export BERTH_CONFIG
  now && t0=$REPLY
  flex_ok unmount "$1"
  flex_ok unmountdevice "$g_b"
  flex_ok detach "$pv_b" "$host_id"
  now && echo $((REPLY - t0)) >>"$work/$2_stop"
}

say "starting the node's berthd on $berthd_sock"
setsid -- "$bin/berthd" --config "$cfg_berthd" --socket "$berthd_sock" --log-level "${BERTH_BENCH_LOG_LEVEL:-info}" \
  </dev/null >>"$work/berthd.log" 2>&1 &
berthd_pid=$!
for _ in $(seq 500); do [ -S "$berthd_sock" ] && break; sleep 0.01; done
[ -S "$berthd_sock" ] || { tail "$work/berthd.log" >&2; die "berthd did not start"; }

fuse_dir=$work/hand-fuse
mkdir -p "$fuse_dir"
say "warm-up: one untimed cycle each"
pod_h=$kubelet/pods/warm-h/volumes/berth~rbd/$pv_h pod_b=$kubelet/pods/warm-b/volumes/berth~rbd/$pv_b
mkdir -p "$pod_h" "$pod_b" # kubelet makes the pod's volume dir before it calls mount
hand_start "$pod_h"
hand_stop "$pod_h"
berth_start "$pod_b" b
berth_stop "$pod_b" b
pod_b=$kubelet/pods/warm-d/volumes/berth~rbd/$pv_b
mkdir -p "$pod_b"
berth_start "$pod_b" d
berth_stop "$pod_b" d
grep -q "flex rbd: waitforattach -> Success" "$work/berthd.log" ||
  die "the warm-up's waitforattach did not run in berthd (log: $work/berthd.log)"
for f in b_attach b_wait b_mntdev b_mount b_start b_stop d_attach d_wait d_mntdev d_mount d_start \
  d_stop h_fuse h_losetup h_mount h_bind h_start h_stop; do
  : >"$work/$f"
done

say "pod start and teardown, $rounds interleaved rounds"
for ((i = 1; i <= rounds; i++)); do
  pod_h=$kubelet/pods/h$i/volumes/berth~rbd/$pv_h
  mkdir -p "$pod_h" "$kubelet/pods/b$i/volumes/berth~rbd/$pv_b" \
    "$kubelet/pods/d$i/volumes/berth~rbd/$pv_b"
  case $((i % 3)) in
    1) order="b d h" ;;
    2) order="d h b" ;;
    *) order="h b d" ;;
  esac
  for side in $order; do
    case $side in
      b | d) # $pod_b: the berth pod the cleanup unmounts
        pod_b=$kubelet/pods/$side$i/volumes/berth~rbd/$pv_b
        berth_start "$pod_b" "$side"
        berth_stop "$pod_b" "$side"
        ;;
      h) hand_start "$pod_h"; hand_stop "$pod_h" ;;
    esac
  done
done

read -r bs_mean bs_p50 _ < <(stats "$work/b_start")
read -r hs_mean hs_p50 _ < <(stats "$work/h_start")
read -r bd_mean bd_p50 _ < <(stats "$work/b_stop")
read -r hd_mean hd_p50 _ < <(stats "$work/h_stop")
table+=("$(row "pod start mean ms (vs by hand)" "$bs_mean" "$hs_mean" "$(ratio "$bs_mean" "$hs_mean")")")
table+=("$(row "pod start p50 ms (vs by hand)" "$bs_p50" "$hs_p50" "$(ratio "$bs_p50" "$hs_p50")")")
table+=("$(row "pod teardown mean ms (vs by hand)" "$bd_mean" "$hd_mean" "$(ratio "$bd_mean" "$hd_mean")")")
table+=("$(row "pod teardown p50 ms (vs by hand)" "$bd_p50" "$hd_p50" "$(ratio "$bd_p50" "$hd_p50")")")
read -r ds_mean ds_p50 _ < <(stats "$work/d_start")
read -r _ dd_p50 _ < <(stats "$work/d_stop")
table+=("$(row "pod start with berthd, mean ms (vs by hand)" "$ds_mean" "$hs_mean" "$(ratio "$ds_mean" "$hs_mean")")")
table+=("$(row "pod start with berthd, p50 ms (vs by hand)" "$ds_p50" "$hs_p50" "$(ratio "$ds_p50" "$hs_p50")")")
table+=("$(row "pod teardown with berthd, p50 ms (vs by hand)" "$dd_p50" "$hd_p50" "$(ratio "$dd_p50" "$hd_p50")")")

echo "berth-flex benchmarks, $(date -u '+%F %H:%M UTC'), $(nproc) cores, init runs: $init_runs," \
  "pod rounds: $rounds (interleaved), 256 MiB ext4, loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
row benchmark berth baseline ratio
printf '%s\n' "${table[@]}"
echo "init p50/p95 ms: /bin/true $t_p50/$t_p95, --driver rbd $f_p50/$f_p95," \
  "berth~rbd/rbd $n_p50/$n_p95"
echo "pod start, p50 ms per step:"
step() { stats "$work/$1" | awk '{print $2}'; }
echo "  berth:   attach $(step b_attach)  waitforattach $(step b_wait)" \
  " mountdevice $(step b_mntdev)  mount $(step b_mount)"
echo "  berthd:  attach $(step d_attach)  waitforattach $(step d_wait)" \
  " mountdevice $(step d_mntdev)  mount $(step d_mount)"
echo "  by hand: rbd-fuse $(step h_fuse)  losetup $(step h_losetup)  mount -t ext4 $(step h_mount)" \
  " mount --bind $(step h_bind)"
for s in b_start d_start h_start b_stop d_stop h_stop; do # every round, for the spread
  printf '  %-8s ms: %s\n' "$s" "$(awk '{printf "%.0f ", $1 / 1000}' "$work/$s")"
done
echo "note: by hand is the floor: no registry read, no lock, no blkid probe, no e2fsck, no state" \
  "file; berth does all of these, in 4 driver processes (kubelet's calls), run by berthd" \
  "when it runs."
