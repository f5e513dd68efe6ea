#!/usr/bin/env bash
# Builds berth's managed Docker plugins (v2 plugins: config.json beside a rootfs/) from a build's
# binaries and this host's copies of the tools berth runs, with nothing downloaded:
#   OUT_DIR/config.json   this directory's config.json (the volume plugin, berthd), or with --csi
#                         packaging/docker-plugin-csi/config.json (the Swarm CSI plugin, berth-csi)
#   OUT_DIR/rootfs/       berthd (or berth-csi), berth-nfs-fuse and berthctl in /usr/bin
#                         (berth-nfs-fuse is run from beside them), rbd-fuse, rbd, rbd-nbd, mkfs.ext4,
#                         e2fsck, resize2fs, mkfs.xfs, xfs_growfs and tini at their host paths, every
#                         shared library they load (dynamic loader included) at its host path,
#                         librados' compressor and crypto plugins, /etc/mke2fs.conf
# and, with --create NAME, `docker plugin create NAME OUT_DIR`. Every mtime is set to
# $SOURCE_DATE_EPOCH (default 0), so the same inputs give the same rootfs.
# Usage: build.sh [--csi] BUILD_BIN_DIR OUT_DIR [--create NAME]
set -euo pipefail
umask 022 # modes in the rootfs do not depend on the caller's

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
  echo "build.sh: $*" >&2
  exit 1
}

usage="usage: $0 [--csi] BUILD_BIN_DIR OUT_DIR [--create NAME]"
server=berthd config_json=$script_dir/config.json
if [ "${1:-}" = --csi ]; then
  server=berth-csi config_json=$script_dir/../docker-plugin-csi/config.json
  shift
fi
[ $# -eq 2 ] || [ $# -eq 4 ] || die "$usage"
bin_dir=$1
out_dir=$2
create_name=""
if [ $# -eq 4 ]; then
  if [ "$3" != --create ] || [ -z "$4" ]; then
    die "$usage"
  fi
  create_name=$4
fi

berth_binaries=("$server" berth-nfs-fuse berthctl)
# What berth execs (common/subprocess.h callers in fsutil/ and backends/): the three RBD mappers'
# programs (rbd-fuse; rbd for krbd map and unmap; rbd-nbd), mkfs, fsck and the grow tools.
# Mounting, unmounting and loop devices are syscalls and ioctls, probing is libblkid: no
# mount, umount, losetup, fusermount or blkid. modprobe is left out on purpose: krbd and nbd are
# only chosen when the host has loaded their modules.
# And tini, the plugin's PID 1: berthd detaches its mappers with a double fork, so the
# namespace's init inherits them and must reap them when they exit, which berthd does not do.
tools=(rbd-fuse rbd rbd-nbd mkfs.ext4 e2fsck resize2fs mkfs.xfs xfs_growfs tini)
# Data files the tools read at run time: without mke2fs.conf, mkfs.ext4 falls back to built-in
# defaults that differ from the host's. openssl.cnf is read by librados' libcrypto.
data_files=(/etc/mke2fs.conf /usr/lib/ssl/openssl.cnf)

for name in "${berth_binaries[@]}"; do
  [ -x "$bin_dir/$name" ] || die "$bin_dir/$name is missing: build ${berth_binaries[*]}"
done
command -v ldd >/dev/null || die "ldd is needed to find the libraries to copy"

# A previous output is replaced; anything else in OUT_DIR is not ours to delete.
if [ -d "$out_dir" ]; then
  for entry in "$out_dir"/* "$out_dir"/.[!.]*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    case $(basename "$entry") in
      rootfs | config.json) ;;
      *) die "$out_dir holds $(basename "$entry"); give an empty or new directory" ;;
    esac
  done
fi
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
rootfs=$out_dir/rootfs
rm -rf "$rootfs" "$out_dir/config.json"
mkdir "$rootfs"

# copy_path PATH: copies a host file into the rootfs at the same path. A symlink is recreated as
# such and its target copied too, so soname links and mkfs.ext4 -> mke2fs look as on the host.
# Directories are canonicalised first: /lib/x86_64-linux-gnu/x lands in usr/lib/x86_64-linux-gnu,
# and the top-level links below keep /lib and /lib64 working.
copy_path() {
  local path dir target
  dir=$(realpath -e "$(dirname "$1")") || die "$1: no such directory"
  path=$dir/$(basename "$1")
  if [ -e "$rootfs$path" ] || [ -L "$rootfs$path" ]; then
    return 0
  fi
  mkdir -p "$rootfs$dir"
  if [ -L "$path" ]; then
    target=$(readlink "$path")
    ln -s "$target" "$rootfs$path"
    case $target in
      /*) copy_path "$target" ;;
      *) copy_path "$dir/$target" ;;
    esac
  else
    [ -f "$path" ] || die "$path is not a file"
    cp "$path" "$rootfs$path"
  fi
}

# The usr-merge links (/bin -> usr/bin, /lib64 -> usr/lib64, ...) as this host has them: the
# dynamic loader's path /lib64/ld-linux-x86-64.so.2 is fixed in every executable.
for top in bin sbin lib lib64; do
  if [ -L "/$top" ]; then
    ln -s "$(readlink "/$top")" "$rootfs/$top"
  fi
done

# Mount points, and the directories berth and the tools expect. state and mounts are covered by
# the plugin's mounts; /tmp and /run stay in the rootfs (the lock files of a run, nothing kept).
# /data is the CSI plugin's: Docker stages volumes under /data/staged and publishes them under
# /data/published, its propagatedMount.
mkdir -p "$rootfs"/{dev,proc,sys,tmp,run/docker/plugins,etc/ceph,etc/berth} \
  "$rootfs"/var/lib/berth/{state,mounts} "$rootfs/usr/bin" "$rootfs/usr/sbin"
if [ "$server" = berth-csi ]; then
  mkdir -p "$rootfs"/data/{staged,published}
fi
chmod 1777 "$rootfs/tmp"
touch "$rootfs/etc/machine-id"
# xfs_growfs and libfuse look for mounts in /etc/mtab. The Ceph tools abort at start unless they
# can create their run_dir, /var/run/ceph.
ln -s ../proc/self/mounts "$rootfs/etc/mtab"
mkdir -p "$rootfs/var"
ln -s ../run "$rootfs/var/run"

elves=()
for name in "${berth_binaries[@]}"; do
  # Debug info is most of berthd's size; the symbol table stays for backtraces.
  strip --strip-debug -o "$rootfs/usr/bin/$name" "$bin_dir/$name" 2>/dev/null ||
    cp "$bin_dir/$name" "$rootfs/usr/bin/$name"
  chmod 0755 "$rootfs/usr/bin/$name"
  elves+=("$bin_dir/$name")
done
tool_paths=()
for tool in "${tools[@]}"; do
  path=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$tool") ||
    die "$tool is not installed here (scripts/deps installs it)"
  copy_path "$path"
  tool_paths+=("$path")
  elves+=("$path")
done

# librados loads these with dlopen (compression on the wire, hardware crypto), so ldd does not
# see them. Erasure-code plugins are for OSDs only.
ceph_lib=$(ldd "$bin_dir/$server" | awk '$1 == "libceph-common.so.2" { print $3 }')
[ -n "$ceph_lib" ] || die "$server does not link libceph-common: cannot find the Ceph plugin dir"
ceph_plugins=$(dirname "$(realpath -e "$ceph_lib")")
for kind in compressor crypto; do
  for plugin in "$ceph_plugins/$kind"/*; do
    copy_path "$plugin"
    [ -L "$plugin" ] || elves+=("$plugin")
  done
done

for file in "${data_files[@]}"; do
  [ -e "$file" ] || die "$file is missing (e2fsprogs, openssl)"
  copy_path "$file"
done

# Every library those load, and what the libraries load, as the host's loader resolves them.
# Into a variable first: a failure inside <(...) would not stop the script.
libraries=$(for elf in "${elves[@]}"; do ldd "$elf" || die "ldd $elf failed"; done |
  awk '/=> not found/ { print "MISSING " $1; next }
       $2 == "=>" && $3 ~ /^\// { print $3 }
       $1 ~ /^\// { print $1 }' | sort -u)
if grep -q '^MISSING' <<<"$libraries"; then
  die "libraries not found here: $(grep '^MISSING' <<<"$libraries" | cut -d' ' -f2 | tr '\n' ' ')"
fi
while read -r lib; do
  copy_path "$lib"
done <<<"$libraries"

cp "$config_json" "$out_dir/config.json"
find "$rootfs" "$out_dir/config.json" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +

size=$(du -s --block-size=1M "$rootfs" | cut -f1)
files=$(find "$rootfs" -type f | wc -l)
echo "rootfs: $rootfs: ${size} MiB in $files files"
echo "  berth: ${berth_binaries[*]}"
echo "  tools: ${tool_paths[*]}"
echo "  libraries: $(wc -l <<<"$libraries"), Ceph plugins: $ceph_plugins/{compressor,crypto}"

if [ -n "$create_name" ]; then
  docker plugin create "$create_name" "$out_dir"
fi
