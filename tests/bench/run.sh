#!/usr/bin/env bash
# berth's benchmarks (issue 3), each against a baseline measured in the same run; prints a table.
# Not tests: nothing here asserts a timing. Needs root and a build (scripts/build).
#   tests/bench/run.sh [DOCKER_ROUNDS]     (default 20)
# 1. Ceph-only lab, berthd on a private socket: Create x100 vs `rbd create` x100 (interleaved
#    blocks), then 1000 volumes: List/Get p50/p99 vs Capabilities, berthd RSS idle vs loaded.
# 2. tests/bench/attach.sh (its own Ceph-only lab).
#    tests/bench/handoff.sh (its own Ceph-only lab, three berthds): a Mount of a volume lingering
#    on another host vs one lingering nowhere.
# 3. tests/bench/nfs.sh (its own lab with NFS): berth-nfs-fuse vs nfs-cp and vs tmpfs.
# 4. tests/bench/flex.sh (its own Ceph-only lab): berth-flex init vs /bin/true, pod start and
#    teardown through berth-flex vs by hand, without and with the node's berthd.
# 5. tests/bench/csi.sh (its own Ceph-only lab): berth-csi's stage + publish vs by hand.
# 6. Docker lab: `docker run --rm -v V:/data` with a berth volume vs a local one, interleaved: cold
#    (linger off, every run attaches) and within the linger (linger_seconds 30).
#    The lab's berthd serves the lab's own driver (berth-<lab id>), so it runs beside other labs.
# BERTH_BIN_DIR: where berthd, berthctl, berth-nfs-fuse, berth-flex and berth_bench_plugin_latency
# are (default build/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BERTH_BIN_DIR:-$root/build/bin}
rounds=${1:-20}
client=$bin/berth_bench_plugin_latency
for b in berthd berthctl berth-nfs-fuse berth-flex berth-flex-driver berth-csi \
  berth_bench_plugin_latency berth_bench_csi_client; do
  [ -x "$bin/$b" ] || { echo "bench: no $bin/$b (build first: scripts/build)" >&2; exit 1; }
done

lab=$(mktemp -d /tmp/berth-bench.XXXXXX)
cleanup() { "$root/scripts/lab" down "$lab" >/dev/null 2>&1 || true; rm -rf -- "$lab"; }
trap cleanup EXIT
say() { echo "bench: $*" >&2; }
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
row() { printf '%-44s %14s %14s %7s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f\n", a / b}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u / 1000}'; }
declare -a table

# --- Ceph-only lab with a private berthd --------------------------------------------------------
say "Ceph-only lab in $lab"
"$root/scripts/lab" up "$lab" --no-docker >/dev/null
# shellcheck source=/dev/null
source "$lab/env"
sock=$lab/b.sock
setsid -- "$bin/berthd" --config "$lab/berth.json" --socket "$sock" --log-level warn \
  </dev/null >>"$lab/log/bench-berthd.log" 2>&1 &
berthd=$!
echo "$berthd" >"$lab/run/bench-berthd.pid" # `lab down` stops it
for _ in $(seq 500); do [ -S "$sock" ] && break; sleep 0.01; done
[ -S "$sock" ] || { tail "$lab/log/bench-berthd.log" >&2; say "berthd did not start"; exit 1; }
# Idle: serving, connected to Ceph (one Create and Remove done), no volumes.
"$client" "$sock" create warm 1 >/dev/null && "$client" "$sock" remove warm 1 >/dev/null
rss_idle=$(rss_kib "$berthd")

say "Create x100 through berthd vs rbd create x100, in 4 interleaved blocks"
: >"$lab/rbd_create"
berth_total=0
for blk in 0 1 2 3; do
  out=$("$client" "$sock" create "c$blk" 25) # "create N p50 p99 total_ms"
  berth_total=$(awk -v t="$berth_total" -v o="$out" 'BEGIN {split(o, f, " "); print t + f[5] * 1000}')
  for i in $(seq 25); do
    t0=$(now_us)
    rbd -c "$CEPH_CONF" --id berth -p berth create --size 64M "r$blk-$i"
    echo $(($(now_us) - t0)) >>"$lab/rbd_create"
  done
done
rbd_total=$(awk '{s += $1} END {print s}' "$lab/rbd_create")
table+=("$(row "create 100 volumes, total ms (berthd/rbd CLI)" "$(ms "$berth_total")" \
  "$(ms "$rbd_total")" "$(ratio "$berth_total" "$rbd_total")")")
for blk in 0 1 2 3; do "$client" "$sock" remove "c$blk" 25 >/dev/null; done
for i in $(seq 25); do for blk in 0 1 2 3; do
  rbd -c "$CEPH_CONF" --id berth -p berth rm --no-progress "r$blk-$i"
done; done
[ -z "$(rbd -c "$CEPH_CONF" --id berth -p berth ls)" ] || say "warning: images left after cleanup"

say "registering 1000 volumes"
out=$("$client" "$sock" create v 1000)
say "  $out (label n p50_us p99_us total_ms)"
"$client" "$sock" latency v 1000 5 >/dev/null # warm-up: List a few times
"$client" "$sock" latency v 1000 1000 >"$lab/latency"
grep -q '^listed 1000$' "$lab/latency" || { cat "$lab/latency" >&2; say "List is not 1000"; exit 1; }
rss_1000=$(rss_kib "$berthd")
read -r _ _ cap50 cap99 _ < <(grep '^capabilities ' "$lab/latency")
for ep in list get; do
  read -r _ _ p50 p99 _ < <(grep "^$ep " "$lab/latency")
  table+=("$(row "$ep p50 us, 1000 vols (vs Capabilities)" "$p50" "$cap50" "$(ratio "$p50" "$cap50")")")
  table+=("$(row "$ep p99 us, 1000 vols (vs Capabilities)" "$p99" "$cap99" "$(ratio "$p99" "$cap99")")")
done
table+=("$(row "berthd RSS MiB, 1000 vols (vs idle)" "$(ms "$((rss_1000 * 1000 / 1024))")" \
  "$(ms "$((rss_idle * 1000 / 1024))")" "$(ratio "$rss_1000" "$rss_idle")")")
"$root/scripts/lab" down "$lab" >/dev/null

# --- attach.sh (own lab) ------------------------------------------------------------------------
say "tests/bench/attach.sh"
attach_out=$(BERTH_BIN_DIR=$bin "$(dirname "$0")/attach.sh")
# Rows "LABEL BERTH FLOOR RATIO" after the header; berthctl's rows are the first two.
while IFS=$'\t' read -r step b f r; do
  case $step in
    attach+mount*|unmount+detach) step="$step ms, berthctl (vs manual floor)" ;;
    berthd\ 8*|by\ hand\ 8*) step="$step, ms" ;;
    *) step="$step ms (vs manual floor)" ;;
  esac
  table+=("$(row "$step" "$b" "$f" "$r")")
done < <(awk -v OFS='\t' 'NR > 2 { l = $1; for (i = 2; i <= NF - 3; i++) l = l " " $i
                                   print l, $(NF-2), $(NF-1), $NF }' <<<"$attach_out")

# --- handoff.sh (own lab) -----------------------------------------------------------------------
say "tests/bench/handoff.sh"
handoff_out=$(BERTH_BIN_DIR=$bin BERTH_LAB_DIR='' "$(dirname "$0")/handoff.sh")
while IFS=$'\t' read -r step b f r; do
  table+=("$(row "$step, ms" "$b" "$f" "$r")")
done < <(awk -v OFS='\t' '/^handoff / { l = $1; for (i = 2; i <= NF - 3; i++) l = l " " $i
                                        print l, $(NF-2), $(NF-1), $NF }' <<<"$handoff_out")

# --- nfs.sh (own lab) ---------------------------------------------------------------------------
say "tests/bench/nfs.sh"
nfs_out=$(BERTH_BIN_DIR=$bin "$(dirname "$0")/nfs.sh")
while IFS=$'\t' read -r label b f r; do
  table+=("$(row "$label" "$b" "$f" "$r")")
done < <(awk -v OFS='\t' '/^(write|read|create) / {
  l = "nfs " $1; for (i = 2; i <= NF - 3; i++) l = l " " $i; print l, $(NF-2), $(NF-1), $NF }' \
  <<<"$nfs_out")

# --- flex.sh (own lab) --------------------------------------------------------------------------
say "tests/bench/flex.sh"
# BERTH_LAB_DIR (from $lab/env) names this script's lab, which is down: flex.sh makes its own.
flex_out=$(BERTH_BIN_DIR=$bin BERTH_LAB_DIR='' "$(dirname "$0")/flex.sh")
while IFS=$'\t' read -r label b f r; do
  table+=("$(row "$label" "$b" "$f" "$r")")
done < <(awk -v OFS='\t' '/^(init|pod start|pod teardown)( with berthd,)? p50 / {
  l = "flex " $1; for (i = 2; i <= NF - 3; i++) l = l " " $i; print l, $(NF-2), $(NF-1), $NF }' \
  <<<"$flex_out")

# --- csi.sh (own lab) ---------------------------------------------------------------------------
say "tests/bench/csi.sh"
csi_out=$(BERTH_BIN_DIR=$bin BERTH_LAB_DIR='' "$(dirname "$0")/csi.sh")
while IFS=$'\t' read -r label b f r; do
  table+=("$(row "$label" "$b" "$f" "$r")")
done < <(awk -v OFS='\t' '/^CSI pod (start|teardown) p50 / {
  l = $1; for (i = 2; i <= NF - 3; i++) l = l " " $i; print l, $(NF-2), $(NF-1), $NF }' \
  <<<"$csi_out")

# --- Docker lab ---------------------------------------------------------------------------------
say "Docker lab"
BERTH_LAB_BERTHD=$bin/berthd "$root/scripts/lab" up "$lab" >/dev/null
# shellcheck source=/dev/null
source "$lab/env"
docker volume create -d "$BERTH_DRIVER" -o size=256M bv >/dev/null
docker volume create lv >/dev/null
run() { docker run --rm --network none -v "$1:/data" lab/busybox true; }
run bv && run lv # first use formats bv
# Rounds alternate which volume goes first; the row is the median of the per-round ratios.
docker_rounds() { # LABEL
  : >"$lab/d_berth"; : >"$lab/d_local"; : >"$lab/d_ratio"
  for i in $(seq "$rounds"); do
    order=(bv lv) && ((i % 2)) || order=(lv bv)
    for v in "${order[@]}"; do
      t0=$(now_us); run "$v"; t=$(($(now_us) - t0))
      if [ "$v" = bv ]; then b=$t && echo "$t" >>"$lab/d_berth"; else l=$t && echo "$t" >>"$lab/d_local"; fi
    done
    ratio "$b" "$l" >>"$lab/d_ratio"
  done
  table+=("$(row "$1" "$(ms "$(median <"$lab/d_berth")")" "$(ms "$(median <"$lab/d_local")")" \
    "$(median <"$lab/d_ratio")")")
}
# The lab's berthd detaches at the last unmount (linger_seconds 0): every run attaches cold.
docker_rounds "docker run -v V cold, median ms (vs local volume)"
# Then with the default linger: every run after the first reuses the attachment.
sed -i 's/"linger_seconds": 0/"linger_seconds": 30/' "$lab/berth.json"
grep -q '"linger_seconds": 30' "$lab/berth.json" || { say "cannot turn the linger on"; exit 1; }
"$root/scripts/lab" berthd-restart "$lab" >/dev/null
run bv
docker_rounds "docker run -v V in linger, median ms (vs local volume)"
docker volume rm bv lv >/dev/null

echo "berth benchmarks, $(date -u +%F), $(nproc) cores, memstore lab; docker rounds: $rounds"
row benchmark berth baseline ratio
printf '%s\n' "${table[@]}"
