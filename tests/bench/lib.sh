# shellcheck shell=bash
# Shared by the Ceph-only benchmarks that drive berthd (attach.sh, handoff.sh); sourced, never
# run. Needs $root (the source tree) and $bin (the binaries) set by the caller, and
# `set -euo pipefail`.
: "${root:?}" "${bin:?}"

# Exits unless each named binary is executable in $bin.
bench_require() {
  local b
  for b in "$@"; do
    [ -x "$bin/$b" ] || { echo "bench: no $bin/$b (build first: scripts/build)" >&2; exit 1; }
  done
}

# A Ceph-only lab in a new temp dir ($lab), torn down on exit; its env is sourced.
bench_lab_up() {
  lab=$(mktemp -d /tmp/berth-bench.XXXXXX)
  trap '"$root/scripts/lab" down "$lab" >/dev/null; rm -rf -- "$lab"' EXIT
  "$root/scripts/lab" up "$lab" --no-docker >/dev/null 2>&1
  # shellcheck source=/dev/null
  source "$lab/env"
}

now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Starts berthd with CONFIG on SOCKET, logging to $lab/log/NAME.log with a pid file `lab down`
# stops; returns once it serves. bench_berthd NAME CONFIG SOCKET LOG_LEVEL
bench_berthd() {
  setsid -- "$bin/berthd" --config "$2" --socket "$3" --log-level "$4" </dev/null \
    >>"$lab/log/$1.log" 2>&1 &
  echo $! >"$lab/run/$1.pid"
  for _ in $(seq 500); do [ -S "$3" ] && return 0; sleep 0.01; done
  tail "$lab/log/$1.log" >&2
  exit 1
}

# One Docker plugin call with a volume name and a reference id; fails unless berthd answers
# with an empty Err. plugin_call SOCKET ENDPOINT VOLUME REF
plugin_call() {
  local out
  out=$(curl -sS --unix-socket "$1" -X POST -d "{\"Name\":\"$3\",\"ID\":\"$4\"}" \
    "http://berthd/VolumeDriver.$2")
  [[ $out == *'"Err":""'* ]] || { echo "bench: $1: $2 $3: $out" >&2; return 1; }
}

# Returns once STATE_DIR no longer has a state file for VOLUME (its detach finished).
wait_detached() { while [ -e "$1/volumes/$2.json" ]; do sleep 0.001; done; }
