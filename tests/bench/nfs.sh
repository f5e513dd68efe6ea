#!/usr/bin/env bash
# NFS benchmarks (issue 4): berth-nfs-fuse against the raw libnfs rate and a local directory,
# each baseline measured in the same run, rounds interleaved (who goes first alternates).
# Prints medians and ratios. Not a test: nothing here asserts a timing. Needs root.
#   tests/bench/nfs.sh [ROUNDS]     (default 5)
# 1. Sequential 256 MiB: `dd bs=1M conv=fsync` into a berth-nfs-fuse mount of the lab export vs
#    `nfs-cp` (libnfs-utils) of the same file to the same server; then `dd bs=1M` out of the mount
#    vs `nfs-cp` back, each read after `sync` + `echo 3 > /proc/sys/vm/drop_caches` (buffered
#    reads, cold on the client and on the server's disk alike). Source and read destinations live
#    on a private tmpfs, which drop_caches leaves alone.
# 2. 1000 files of 1 KiB, one bash `for` loop with `printf >`, into the mount vs into that tmpfs,
#    and vs the libnfs small-file floor (berth_bench_nfs_small_files: create, write and close per
#    file over one connection; once more with a COMMIT before each close, as close(2) through
#    the mount does).
# Own lab (`scripts/lab up --no-docker`: Ceph + nfs-ganesha). BERTH_BIN_DIR: where
# berth-nfs-fuse is (default build/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fuse_bin=${BERTH_BIN_DIR:-$root/build/bin}/berth-nfs-fuse
floor_bin=${BERTH_BIN_DIR:-$root/build/bin}/berth_bench_nfs_small_files
rounds=${1:-5}
for b in "$fuse_bin" "$floor_bin"; do
  [ -x "$b" ] || { echo "bench: no $b (build first: scripts/build)" >&2; exit 1; }
done
for t in nfs-cp fusermount3 mountpoint; do
  command -v "$t" >/dev/null || { echo "bench: no $t (scripts/deps)" >&2; exit 1; }
done

lab=$(mktemp -d /tmp/berth-bench.XXXXXX)
mnt=$lab/nfs-mnt tmp=$lab/tmpfs fuse_pid=
cleanup() {
  # A signal may land inside `printf >MNT/file`, with stdout still on the mount: let go of it.
  exec >/dev/null
  if mountpoint -q "$mnt"; then fusermount3 -u "$mnt" || fusermount3 -uz "$mnt" || true; fi
  if [ -n "$fuse_pid" ]; then
    kill "$fuse_pid" 2>/dev/null || true
    wait "$fuse_pid" 2>/dev/null || true
  fi
  if mountpoint -q "$tmp"; then umount "$tmp" || umount -l "$tmp" || true; fi
  "$root/scripts/lab" down "$lab" >/dev/null 2>&1 || true
  # Never recurse into a mount that outlived all of the above.
  grep -qF " $lab/" /proc/self/mountinfo || rm -rf -- "$lab"
}
trap cleanup EXIT
say() { echo "bench: $*" >&2; }
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mibs() { awk -v u="$1" 'BEGIN {printf "%.1f", 256 / (u / 1e6)}'; } # 256 MiB in u microseconds
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
row() { printf '%-44s %12s %12s %7s\n' "$@"; }
timed() { # FILE CMD...: appends CMD's wall time in microseconds to FILE
  local out=$1 t0
  shift
  t0=$(now_us)
  "$@"
  echo $(($(now_us) - t0)) >>"$out"
}

say "lab in $lab"
"$root/scripts/lab" up "$lab" --no-docker >/dev/null 2>&1
# shellcheck source=/dev/null
source "$lab/env"
[ -n "${BERTH_NFS_URL:-}" ] || { say "the lab has no NFS export"; exit 1; }
url_of() { echo "${BERTH_NFS_URL%%\?*}/$1?${BERTH_NFS_URL#*\?}"; } # nfs://h/export/F?ports

mkdir -p "$mnt" "$tmp"
mount -t tmpfs -o size=1200M bench "$tmp"
setsid -- "$fuse_bin" --url "$BERTH_NFS_URL" --timeout-ms 30000 --log "$lab/log/bench-nfs-fuse.log" \
  "$mnt" </dev/null >>"$lab/log/bench-nfs-fuse.err" 2>&1 &
fuse_pid=$!
echo "$fuse_pid" >"$lab/run/bench-nfs-fuse.pid" # `lab down` stops it too
for _ in $(seq 500); do mountpoint -q "$mnt" && break; sleep 0.01; done
mountpoint -q "$mnt" || { tail "$lab"/log/bench-nfs-fuse.* >&2; say "no FUSE mount"; exit 1; }

# --- 1. sequential 256 MiB ----------------------------------------------------------------------
head -c 256M /dev/urandom >"$tmp/src"
cold() { sync && echo 3 >/proc/sys/vm/drop_caches; }
fuse_write() { dd if="$tmp/src" of="$mnt/seq-fuse" bs=1M conv=fsync status=none; }
cp_write() { nfs-cp "$tmp/src" "$(url_of seq-cp)" >/dev/null; }
fuse_read() { cold && timed "$lab/r_fuse" dd if="$mnt/seq-fuse" of="$tmp/out" bs=1M status=none; }
cp_read() { cold && timed "$lab/r_cp" nfs-cp "$(url_of seq-cp)" "$tmp/out" >/dev/null; }
say "sequential 256 MiB, $rounds interleaved rounds"
: >"$lab/w_fuse"; : >"$lab/w_cp"; : >"$lab/r_fuse"; : >"$lab/r_cp"
for i in $(seq "$rounds"); do
  rm -f "$mnt/seq-fuse" "$mnt/seq-cp" # nfs-cp creates with O_EXCL
  if ((i % 2)); then
    timed "$lab/w_fuse" fuse_write; timed "$lab/w_cp" cp_write
    fuse_read; rm -f "$tmp/out"; cp_read; rm -f "$tmp/out"
  else
    timed "$lab/w_cp" cp_write; timed "$lab/w_fuse" fuse_write
    cp_read; rm -f "$tmp/out"; fuse_read; rm -f "$tmp/out"
  fi
  cmp -s "$tmp/src" "$BERTH_NFS_EXPORT_DIR/seq-fuse" || { say "the mount wrote wrong data"; exit 1; }
done
rm -f "$mnt/seq-fuse" "$mnt/seq-cp"
declare -a table
for op in write read; do
  f=$(median <"$lab/${op:0:1}_fuse") c=$(median <"$lab/${op:0:1}_cp")
  # A rate ratio: berth-nfs-fuse's MiB/s over nfs-cp's (below 1: slower).
  table+=("$(row "$op 256 MiB, MiB/s (vs nfs-cp)" "$(mibs "$f")" "$(mibs "$c")" "$(ratio "$c" "$f")")")
done

# --- 2. 1000 small files ------------------------------------------------------------------------
kib=$(printf '%1024s' '')
make_files() { # DIR
  local i
  mkdir "$1"
  for ((i = 0; i < 1000; i++)); do printf '%s' "$kib" >"$1/f$i"; done
}
floor() { # NAME [--commit]: the floor program's own time, in microseconds
  "$floor_bin" "$BERTH_NFS_URL" "$1" 1000 1024 "${@:2}"
}
say "1000 files of 1 KiB, $rounds interleaved rounds"
: >"$lab/s_fuse"; : >"$lab/s_tmpfs"; : >"$lab/s_floor"; : >"$lab/s_commit"
for i in $(seq "$rounds"); do
  if ((i % 2)); then
    timed "$lab/s_fuse" make_files "$mnt/small$i"; timed "$lab/s_tmpfs" make_files "$tmp/small$i"
    floor "floor$i" >>"$lab/s_floor"; floor "commit$i" --commit >>"$lab/s_commit"
  else
    floor "commit$i" --commit >>"$lab/s_commit"; floor "floor$i" >>"$lab/s_floor"
    timed "$lab/s_tmpfs" make_files "$tmp/small$i"; timed "$lab/s_fuse" make_files "$mnt/small$i"
  fi
  for d in "small$i" "floor$i" "commit$i"; do
    [ "$(find "$BERTH_NFS_EXPORT_DIR/$d" -type f -size 1k | wc -l)" = 1000 ] ||
      { say "$d: not 1000 files of 1 KiB on the export"; exit 1; }
  done
  rm -rf -- "${mnt:?}/small$i" "${tmp:?}/small$i" "${mnt:?}/floor$i" "${mnt:?}/commit$i"
done
f=$(median <"$lab/s_fuse")
for base in tmpfs floor commit; do
  b=$(median <"$lab/s_$base")
  case $base in
    tmpfs) label="create 1000 x 1 KiB, ms (vs tmpfs)" ;;
    floor) label="create 1000 x 1 KiB, ms (vs libnfs floor)" ;;
    commit) label="create 1000 x 1 KiB, ms (vs floor + COMMIT)" ;;
  esac
  table+=("$(row "$label" "$(ms "$f")" "$(ms "$b")" "$(ratio "$f" "$b")")")
done

echo "berth NFS benchmarks, $(date -u +%F), $(nproc) cores, rounds: $rounds (medians)," \
  "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
row benchmark berth-fuse baseline ratio
printf '%s\n' "${table[@]}"
for s in w_fuse w_cp r_fuse r_cp s_fuse s_tmpfs s_floor s_commit; do # every round, for the spread
  printf '  %-8s ms: %s\n' "$s" "$(awk '{printf "%.0f ", $1 / 1000}' "$lab/$s")"
done
