#!/usr/bin/env bash
# Installs berth-flex as the FlexVolume drivers berth/rbd, berth/rbd-node and berth/nfs here:
#   <plugin dir>/berth~rbd/{rbd,berth-flex-driver,lib/}
#   <plugin dir>/berth~rbd-node/{rbd-node,berth-flex-driver,lib/}
#   <plugin dir>/berth~nfs/{nfs,berth-flex-driver,berth-nfs-fuse,lib/}
# kubelet runs `init` as soon as a driver file appears, so every file is written under a
# temporary dot-name in its final directory and renamed into place (rename is atomic), and the
# driver executable goes last. Re-running upgrades in place; unchanged files are not touched.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
default_plugin_dir=/usr/libexec/kubernetes/kubelet-plugins/volume/exec
plugin_dir=${BERTH_PLUGIN_DIR:-$default_plugin_dir}
from_dir=${BERTH_FROM:-$script_dir/bin}
config_src=""
config_dest=${BERTH_CONFIG_DEST:-/etc/berth/berth.json}
force_config=0
uninstall=0
daemonset=0
[ "${BERTH_DAEMONSET:-0}" = 1 ] && daemonset=1

usage() {
  cat <<EOF
Usage: install.sh [options]

Installs berth's FlexVolume drivers (berth/rbd, berth/rbd-node, berth/nfs) into kubelet's
plugin directory:
  <plugin dir>/berth~rbd/rbd         berth-flex, RBD volumes the controller attaches
  <plugin dir>/berth~rbd-node/rbd-node
                                     berth-flex, RBD volumes the node attaches in \`mount\`
                                     (for controller-managers that run no flex driver)
  <plugin dir>/berth~nfs/nfs         berth-flex, NFS volumes
  <plugin dir>/berth~*/berth-flex-driver
                                     the engine's half, which berth-flex runs for every
                                     command but init
  <plugin dir>/berth~nfs/berth-nfs-fuse
  <plugin dir>/berth~*/lib/          the shared libraries they need, except glibc's own
Then runs each driver's \`init\`, and berth-flex-driver's, and fails unless both reply
Success. Safe to re-run (upgrade).

Options:
  --plugin-dir DIR   kubelet's --volume-plugin-dir (also kube-controller-manager's
                     --flex-volume-plugin-dir); default \$BERTH_PLUGIN_DIR, else
                     $default_plugin_dir
  --from DIR         directory holding berth-flex, berth-flex-driver and berth-nfs-fuse
                     (berth-flex-driver may be in DIR/../libexec/berth instead, as the
                     package installs it); default \$BERTH_FROM, else the bin/ directory
                     beside this script ($script_dir/bin)
  --config FILE      also install FILE as $config_dest (\$BERTH_CONFIG_DEST overrides the
                     destination), only if none is there yet
  --force-config     with --config: replace an existing config
  --uninstall        remove the driver directories (the config is kept)
  --daemonset        after installing, stay running until SIGTERM (also \$BERTH_DAEMONSET=1)
  -h, --help         this text

The node needs glibc at least as new as the build's, and the host tools berth runs:
e2fsprogs and xfsprogs (mkfs, e2fsck, resize2fs, xfs_growfs) and, for RBD, rbd or rbd-fuse.
Copying the libraries needs ldd and patchelf where this script runs.
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

need_arg() {
  if [ $# -lt 2 ] || [ -z "$2" ]; then
    die "$1 needs an argument (see --help)"
  fi
}

while [ $# -gt 0 ]; do
  case $1 in
    --plugin-dir) need_arg "$@"; plugin_dir=$2; shift 2 ;;
    --from) need_arg "$@"; from_dir=$2; shift 2 ;;
    --config) need_arg "$@"; config_src=$2; shift 2 ;;
    --force-config) force_config=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    --daemonset) daemonset=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

if [ "$force_config" = 1 ] && [ -z "$config_src" ]; then
  die "--force-config needs --config FILE"
fi

# Temporary files still present on exit (an error, a signal) are removed.
temp_files=()
cleanup() {
  if [ ${#temp_files[@]} -gt 0 ]; then
    rm -f "${temp_files[@]}"
  fi
}
trap cleanup EXIT

# glibc and its dynamic loader must be the host's own: the loader path is fixed in every
# executable and libc must match it. Everything else, libstdc++ and libgcc_s included, is
# copied, so a node whose distribution ships an older libstdc++ still runs the drivers and no
# host C++ library ever shares their process.
is_glibc() {
  case $1 in
    ld-linux* | libc.so.* | libm.so.* | libmvec.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
      libresolv.so.* | libutil.so.* | libanl.so.* | libnsl.so.1 | libBrokenLocale.so.* | \
      libthread_db.so.* | libnss_*) return 0 ;;
  esac
  return 1
}

# Prints "soname path" for each shared library the given executables load, glibc excluded.
libraries_of() {
  local exe line
  for exe in "$@"; do
    ldd "$exe" || die "ldd $exe failed"
  done | while IFS= read -r line; do
    case $line in
      *"=> not found"*) die "${line%% *}: needed by the drivers but not found here" ;;
      *" => /"*) ;;
      *) continue ;;
    esac
    read -r soname _ path _ <<<"$line"
    is_glibc "$soname" || echo "$soname $path"
  done | sort -u
}

# install_file SRC DEST MODE [lib]: writes DEST through a temporary dot-name in its directory
# and a rename, so nothing ever sees a partial file. A library's RUNPATH is set to $ORIGIN:
# the executables' RUNPATH ($ORIGIN/lib) only serves their direct dependencies, and librados,
# librbd and libceph-common carry their own RUNPATH (/usr/lib/<arch>/ceph) that would send the
# search for theirs to the host.
install_file() {
  local src=$1 dest=$2 mode=$3 kind=${4:-}
  local tmp
  tmp=$(mktemp "$(dirname "$dest")/.$(basename "$dest").tmp.XXXXXX")
  temp_files+=("$tmp")
  cp "$src" "$tmp"
  if [ "$kind" = lib ]; then
    # shellcheck disable=SC2016 # $ORIGIN is for the dynamic loader, not the shell
    patchelf --set-rpath '$ORIGIN' "$tmp" || die "patchelf failed on $tmp (from $src)"
  fi
  chmod "$mode" "$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
    echo "  unchanged  $dest"
  else
    mv -f "$tmp" "$dest"
    echo "  installed  $dest"
  fi
}

# check_init ATTACH COMMAND...: COMMAND init must print one Success reply with that attach.
check_init() {
  local want_attach=$1 reply
  shift
  local driver_path="$*"
  if ! reply=$("$@" init 2>&1); then
    die "$driver_path init failed: $reply"
  fi
  case $reply in
    *'"status":"Success"'*) ;;
    *) die "$driver_path init did not reply Success: $reply" ;;
  esac
  case $reply in
    *"\"attach\":$want_attach"*) ;;
    *) die "$driver_path init: expected capabilities.attach $want_attach: $reply" ;;
  esac
  echo "  init       $driver_path: $reply"
}

# install_driver NAME ATTACH EXECUTABLE...: the first executable becomes the driver; the
# others are helpers installed beside it.
install_driver() {
  local name=$1 attach=$2
  shift 2
  local dir=$plugin_dir/berth~$name
  local exes=("$@") soname path lib
  echo "berth/$name -> $dir"
  # Into a variable first: a failure inside <(...) would not stop the script.
  local libraries
  libraries=$(libraries_of "${exes[@]}")
  mkdir -p "$dir/lib"
  local wanted=()
  while read -r soname path; do
    [ -n "$soname" ] || continue # no libraries at all: one empty line
    install_file "$path" "$dir/lib/$soname" 0644 lib
    wanted+=("$soname")
  done <<<"$libraries"
  local helper
  for helper in "${exes[@]:1}"; do
    install_file "$helper" "$dir/$(basename "$helper")" 0755
  done
  install_file "${exes[0]}" "$dir/$name" 0755
  # Libraries an earlier version needed; the new driver is in place, so none loads them again
  # (a running process keeps its mapped copy).
  for lib in "$dir"/lib/*; do
    [ -e "$lib" ] || continue
    if [[ " ${wanted[*]} " != *" $(basename "$lib") "* ]]; then
      rm -f "$lib"
      echo "  removed    $lib (no longer needed)"
    fi
  done
  check_init "$attach" "$dir/$name"
  # berth-flex answers init alone: this loads the engine's half and every library it needs.
  check_init "$attach" "$dir/berth-flex-driver" --driver "$name"
}

install_config() {
  mkdir -p "$(dirname "$config_dest")"
  if [ -e "$config_dest" ] && [ "$force_config" = 0 ]; then
    echo "config: $config_dest exists, kept (--force-config replaces it)"
    return
  fi
  echo "config: $config_src -> $config_dest"
  install_file "$config_src" "$config_dest" 0600
}

uninstall_drivers() {
  local name dir
  for name in rbd rbd-node nfs; do
    dir=$plugin_dir/berth~$name
    if [ ! -e "$dir" ]; then
      echo "berth/$name: not installed in $plugin_dir"
      continue
    fi
    # The driver file first: kubelet unregisters the driver when it goes.
    rm -f "$dir/$name"
    rm -rf "$dir"
    echo "berth/$name: removed $dir"
  done
}

stay_running() {
  local sleeper=""
  # A child and `wait`, not exec: as PID 1, only a trap makes TERM end the pod at once.
  trap 'echo "daemonset: stopping"; [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM INT
  echo "daemonset: installed; waiting for SIGTERM"
  sleep infinity &
  sleeper=$!
  wait "$sleeper"
}

if [ "$uninstall" = 1 ]; then
  uninstall_drivers
else
  flex=$from_dir/berth-flex
  fuse=$from_dir/berth-nfs-fuse
  [ -x "$flex" ] || die "no executable berth-flex in $from_dir (use --from DIR)"
  engine=$from_dir/berth-flex-driver
  [ -x "$engine" ] || engine=$from_dir/../libexec/berth/berth-flex-driver
  [ -x "$engine" ] ||
    die "no executable berth-flex-driver in $from_dir or $from_dir/../libexec/berth (use --from DIR)"
  [ -x "$fuse" ] || die "no executable berth-nfs-fuse in $from_dir (use --from DIR)"
  command -v ldd >/dev/null || die "ldd is needed (package libc-bin)"
  command -v patchelf >/dev/null || die "patchelf is needed (package patchelf)"
  if [ -n "$config_src" ] && [ ! -f "$config_src" ]; then
    die "--config $config_src: no such file"
  fi
  mkdir -p "$plugin_dir"
  start=$(date +%s%N)
  # berth-nfs-fuse only serves NFS volumes: the rbd driver never starts it.
  install_driver rbd true "$flex" "$engine"
  install_driver rbd-node false "$flex" "$engine"
  install_driver nfs false "$flex" "$engine" "$fuse"
  if [ -n "$config_src" ]; then
    install_config
  fi
  if [ ! -e "$config_dest" ]; then
    echo "warning: no $config_dest yet; every call but init fails until it exists" >&2
  fi
  echo "done in $((($(date +%s%N) - start) / 1000000)) ms"
fi

if [ "$daemonset" = 1 ]; then
  stay_running
fi
