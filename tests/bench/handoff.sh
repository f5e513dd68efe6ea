#!/usr/bin/env bash
# The handoff: a Mount on host B of a volume that lingers on host A (A is asked over RADOS
# watch/notify, tears down and answers; B attaches at once), against the same Mount on B of a
# volume that lingers nowhere, measured interleaved in the same run. Prints medians and the ratio,
# and fails if any host waited out a takeover grace or fenced anyone instead.
#   tests/bench/handoff.sh [ROUNDS]       (default 15)
# Ceph-only lab, three berthds on private sockets as three hosts of one cluster: a and b with
# the default linger (30 s), c with none (it detaches the baseline volume between rounds).
# BERTH_BIN_DIR: where berthd and berthctl are (default build/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-15}
bin=${BERTH_BIN_DIR:-$root/build/bin}
# shellcheck source=tests/bench/lib.sh
source "$root/tests/bench/lib.sh"
bench_require berthd berthctl
bench_lab_up

start_host() { # NAME LINGER_SECONDS
  local dir=$lab/host-$1
  mkdir -p "$dir"
  jq --arg id "bench-$1" --arg dir "$dir" --argjson linger "$2" \
    '.host_id = $id | .state_dir = ($dir + "/state") | .mount_root = ($dir + "/mnt") |
     .socket = ($dir + "/berthd.sock") | .linger_seconds = $linger' \
    "$BERTH_CONFIG" >"$dir/berth.json"
  bench_berthd "handoff-$1" "$dir/berth.json" "$dir/berthd.sock" info
}
call() { plugin_call "$lab/host-$1/berthd.sock" "${@:2}"; } # HOST ENDPOINT VOLUME REF
state_of() { echo "$lab/host-$1/state/volumes/$2.json"; }
host_detached() { wait_detached "$lab/host-$1/state" "$2"; } # HOST VOLUME
lingers() { grep -q '"phase": "lingering"' "$(state_of "$1" "$2")"; }

for h in a b; do start_host "$h" 30; done
start_host c 0
# Formatted once, so every measured Mount finds an existing filesystem.
for v in moved cold; do
  "$bin/berthctl" create "$v" -o size=256M >/dev/null
  call c Mount "$v" init && call c Unmount "$v" init && host_detached c "$v"
done
# Every host connected to Ceph before the first measured call.
for h in a b c; do call "$h" Get cold x; done

# "moved" starts lingering on a; each round moves it to the other host, so it always lingers on
# the host it leaves. "cold" lingers nowhere when measured: c, which does not linger, takes it
# back from the measuring host (a handoff, not measured) and detaches it.
call a Mount moved r0 && call a Unmount moved r0
: >"$lab/handoff"; : >"$lab/cold"
from=a to=b
for i in $(seq "$rounds"); do
  lingers "$from" moved || { echo "bench: moved does not linger on $from" >&2; exit 1; }
  t0=$(now_us); call "$to" Mount moved "r$i"; echo $(($(now_us) - t0)) >>"$lab/handoff"
  [ ! -e "$(state_of "$from" moved)" ] || { echo "bench: $from still holds moved" >&2; exit 1; }
  call "$to" Unmount moved "r$i"

  t0=$(now_us); call "$to" Mount cold "r$i"; echo $(($(now_us) - t0)) >>"$lab/cold"
  call "$to" Unmount cold "r$i"
  call c Mount cold "r$i" && call c Unmount cold "r$i" && host_detached c cold
  from=$to to=$([ "$to" = a ] && echo b || echo a)
done

takeovers=$(cat "$lab"/log/handoff-*.log | grep -c 'taking it over in\|fenced client' || true)
h=$(median <"$lab/handoff") c=$(median <"$lab/cold")
printf 'rounds: %s, 256 MiB ext4, memstore lab, Mount through berthd (curl)\n' "$rounds"
printf '%-44s %10s %10s %8s\n' step handoff_ms cold_ms ratio
awk -v h="$h" -v c="$c" 'BEGIN {printf "%-44s %10.1f %10.1f %8.2f\n",
  "handoff Mount on B (vs nothing lingering)", h/1000, c/1000, h/c}'
echo "takeover graces waited or fences: $takeovers"
for h in a b c; do
  kill "$(cat "$lab/run/handoff-$h.pid")" # berthd ends its lingers as it stops
done
for h in a b c; do while kill -0 "$(cat "$lab/run/handoff-$h.pid")" 2>/dev/null; do sleep 0.05; done; done
"$bin/berthctl" rm moved >/dev/null
"$bin/berthctl" rm cold >/dev/null
[ "$takeovers" = 0 ] || { echo "bench: a handoff waited out a takeover or fenced" >&2; exit 1; }
