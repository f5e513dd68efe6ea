#!/usr/bin/env bash
# The man pages of berth's package: one per program, made by help2man from the program's own
# --help and --version (berthctl's also carries each command's --help), so they cannot drift
# from the binaries; and berth.json(5), written by hand and checked against berthd by
# tests/packaging/deb_test.sh. Pages are gzipped as Debian ships them.
# Usage: make-pages.sh BIN_DIR OUT_MAN_DIR VERSION SOURCE_DIR
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 BIN_DIR OUT_MAN_DIR VERSION SOURCE_DIR" >&2; exit 2; }
bin=$1
out=$2
version=$3
src=$4
command -v help2man >/dev/null || { echo "make-pages: help2man is missing (scripts/deps)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/man1" "$out/man5"
# A date from the source, not the clock, so the package is reproducible.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}
export BERTH_FLEX_LOG=/dev/null

# The names under "Subcommands:" in a --help.
subcommands() {
  "$@" --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }'
}
# Text as roff that prints it as it is: backslashes escaped, no line read as a request.
verbatim() {
  echo ".nf"
  sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
  echo ".fi"
}
command_section() {
  local title=$1
  shift
  echo ".SS \"$title\""
  "$@" --help | sed "s|$bin/||g" | verbatim
}

{
  echo "[COMMANDS]"
  for cmd in $(subcommands "$bin/berthctl"); do
    command_section "berthctl $cmd" "$bin/berthctl" "$cmd"
    for sub in $(subcommands "$bin/berthctl" "$cmd"); do
      command_section "berthctl $cmd $sub" "$bin/berthctl" "$cmd" "$sub"
    done
  done
  echo "[SEE ALSO]"
  echo ".BR berthd (1), berth\\-csi (1), berth\\-flex (1), berth.json (5)"
} >"$tmp/berthctl.h2m"
for program in berthd berth-csi berth-flex berth-nfs-fuse; do
  printf '[SEE ALSO]\n.BR berthctl (1), berth.json (5)\n' >"$tmp/$program.h2m"
done

declare -A names=(
  [berthd]="Docker volume plugin for Ceph RBD and NFS volumes"
  [berthctl]="manage berth volumes, snapshots, locks and hosts"
  [berth-csi]="Container Storage Interface driver for berth volumes"
  [berth-flex]="Kubernetes FlexVolume driver for berth volumes"
  [berth-nfs-fuse]="mount an NFS directory through FUSE and libnfs"
)
for program in berthd berthctl berth-csi berth-flex berth-nfs-fuse; do
  help2man --no-info --no-discard-stderr --section=1 --version-string="$version" \
    --name="${names[$program]}" --include="$tmp/$program.h2m" \
    --output="$tmp/$program.1" "$bin/$program"
  # CLI11 prints the program as it was called: the build directory must not reach the page.
  sed -i "s|$bin/||g" "$tmp/$program.1"
  gzip -9n <"$tmp/$program.1" >"$out/man1/$program.1.gz"
done
gzip -9n <"$src/packaging/man/berth.json.5" >"$out/man5/berth.json.5.gz"
