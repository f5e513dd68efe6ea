#!/usr/bin/env bash
# The Debian package as apt would install it: cpack builds it from the build dir, then dpkg-deb
# reads its fields, files, conffiles and maintainer scripts; the binaries run from an extracted
# root with the system's libraries only; the shipped config validates; the unit passes
# systemd-analyze (where it exists); and dpkg installs, reinstalls, removes and purges it in a
# temporary root with its own database, keeping an edited conffile. Needs neither the lab nor
# root. Usage: deb_test.sh BUILD_DIR VERSION
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR VERSION" >&2; exit 2; }
build=$1
version=$2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }
unset LD_LIBRARY_PATH BERTH_CONFIG

# cpack's work tree and output stay in $tmp: the build dir gains nothing but what cmake made.
start=$SECONDS
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log" >&2; fail "cpack -G DEB"; }
deb=$tmp/out/berth_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { ls -l "$tmp/out" >&2; fail "no $(basename "$deb")"; }
ok "cpack built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB) in $((SECONDS - start)) s"

# Fields.
field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = berth ] || fail "Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || fail "Version '$(field Version)' is not the CMake version $version"
depends=$(field Depends)
echo "Depends: $depends"
# The libraries the binaries link (from dpkg-shlibdeps) and the tools berth runs.
declare -A depended=()
IFS=',' read -ra entries <<<"$depends"
for entry in "${entries[@]}"; do
  read -r name _ <<<"$entry"
  depended[$name]=1
done
for package in libc6 libstdc++6 librados2 librbd1 libnfs13 libfuse3-3 libblkid1 libsystemd0 \
  ceph-common rbd-fuse e2fsprogs xfsprogs fuse3; do
  [ -n "${depended[$package]:-}" ] || fail "Depends lacks $package"
done
grep -q 'rbd-nbd' <<<"$(field Recommends)" || fail "Recommends lacks rbd-nbd"
ok "fields: Package berth, Version $version, Depends and Recommends"

# Files.
dpkg-deb --contents "$deb" >"$tmp/contents"
has() {
  # has MODE PATH: the package holds PATH (as ./PATH) with permissions MODE.
  awk -v mode="$1" -v path="./$2" '$1 == mode && $6 == path { found = 1 } END { exit !found }' \
    "$tmp/contents" || { cat "$tmp/contents" >&2; fail "package lacks $2 with mode $1"; }
}
for binary in berthd berthctl berth-csi berth-flex berth-nfs-fuse; do
  has -rwxr-xr-x "usr/bin/$binary"
done
has -rwxr-xr-x usr/libexec/berth/berth-flex-driver
has -rw-r--r-- lib/systemd/system/berthd.service
has -rw-r--r-- etc/berth/berth.json
has -rw-r--r-- usr/share/doc/berth/operations.md
has -rw-r--r-- usr/share/bash-completion/completions/berthctl
has -rwxr-xr-x usr/lib/berth/kubernetes/install.sh
has -rw-r--r-- usr/share/doc/berth/copyright
has -rw-r--r-- usr/share/doc/berth/changelog.gz
for program in berthd berthctl berth-csi berth-flex berth-nfs-fuse; do
  has -rw-r--r-- "usr/share/man/man1/$program.1.gz"
done
has -rw-r--r-- usr/share/man/man5/berth.json.5.gz
if grep -Eq ' \./(usr/)?(include|lib/cmake|share/berth/tests)' "$tmp/contents"; then
  fail "package ships build or test files"
fi
ok "files: five binaries and berth-flex-driver, unit, config, docs, copyright, changelog, man pages, completion, FlexVolume installer"

# Control area: the config is a conffile, the maintainer scripts are executable.
dpkg-deb --control "$deb" "$tmp/control"
grep -qx /etc/berth/berth.json "$tmp/control/conffiles" || fail "berth.json is not a conffile"
for script in postinst prerm postrm; do
  [ -x "$tmp/control/$script" ] || fail "$script is missing or not executable"
  sh -n "$tmp/control/$script" || fail "$script does not parse"
done
ok "control: conffiles lists /etc/berth/berth.json; postinst, prerm, postrm"

# The binaries from the package, with nothing but the system's libraries.
root=$tmp/root
dpkg-deb -x "$deb" "$root"
for binary in berthd berthctl berth-csi berth-flex berth-nfs-fuse ../libexec/berth/berth-flex-driver; do
  [ -x "$root/usr/bin/$binary" ] || fail "the package has no executable /usr/bin/$binary"
  if grep -q 'not found' <<<"$(ldd "$root/usr/bin/$binary")"; then
    ldd "$root/usr/bin/$binary" >&2
    fail "$binary needs a library that is not installed"
  fi
  # berth-flex and berth-nfs-fuse keep RUNPATH $ORIGIN/lib on purpose (the FlexVolume installer
  # copies their libraries there); no binary may point into the build tree or anywhere absolute.
  runpath=$(readelf -d "$root/usr/bin/$binary" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]$/\2/p')
  case ":$runpath:" in
    *:/*) fail "$binary has RPATH/RUNPATH '$runpath' (an absolute path in the package)" ;;
  esac
done
grep -q -- --check-config <<<"$("$root/usr/bin/berthd" --help)" || fail "berthd --help"
grep -q volume <<<"$("$root/usr/bin/berthctl" --help)" || fail "berthctl --help"
grep -q -- --mode <<<"$("$root/usr/bin/berth-csi" --help)" || fail "berth-csi --help"
"$root/usr/bin/berth-nfs-fuse" --help >/dev/null 2>&1 || fail "berth-nfs-fuse --help"
grep -q '"Success"' <<<"$(BERTH_FLEX_LOG=$tmp/flex.log "$root/usr/bin/berth-flex" --driver rbd init)" ||
  fail "berth-flex init"
# Every other verb runs in /usr/libexec/berth/berth-flex-driver, the only reader of the config.
reply=$(BERTH_CONFIG=$tmp/no-config.json BERTH_FLEX_LOG=$tmp/flex.log \
  "$root/usr/bin/berth-flex" --driver rbd unmountdevice /nonexistent/global) || true
[[ $reply == *"no-config.json does not exist"* ]] ||
  fail "berth-flex did not hand unmountdevice to /usr/libexec/berth/berth-flex-driver: $reply"
bash -n "$root/usr/share/bash-completion/completions/berthctl" || fail "completion script"
grep -q berthctl "$root/usr/share/bash-completion/completions/berthctl" || fail "completion script"
ok "binaries run from the extracted package (no LD_LIBRARY_PATH, no absolute RUNPATH)"

# The shipped config parses and validates as berthd reads it; a broken one is refused with 2.
config=$root/etc/berth/berth.json
if [ ! -s /etc/machine-id ]; then
  # host_id defaults to /etc/machine-id, which a bare container may lack.
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c["host_id"]="test"; json.dump(c,open(sys.argv[2],"w"))' \
    "$config" "$tmp/berth.json"
  config=$tmp/berth.json
fi
"$root/usr/bin/berthd" --config "$config" --check-config || fail "shipped berth.json does not validate"
sed 's/"mapper": "auto"/"mapper": "auto", "mapperr": "krbd"/' "$config" >"$tmp/broken.json"
status=0
"$root/usr/bin/berthd" --config "$tmp/broken.json" --check-config 2>"$tmp/broken.err" || status=$?
[ "$status" = 2 ] || fail "a config with an unknown key: --check-config exit $status, wanted 2"
grep -q mapperr "$tmp/broken.err" || fail "--check-config does not name the unknown key"
ok "shipped config validates (berthd --check-config); an unknown key exits 2"

# The unit as systemd reads it. verify wants ExecStart's binary to exist: the copy points at the
# extracted one (--root would need a whole systemd tree in the root).
if command -v systemd-analyze >/dev/null; then
  mkdir "$tmp/unit"
  sed "s|/usr/bin/berthd|$root/usr/bin/berthd|g" "$root/lib/systemd/system/berthd.service" \
    >"$tmp/unit/berthd.service"
  systemd-analyze verify "$tmp/unit/berthd.service" >"$tmp/verify.log" 2>&1 ||
    { cat "$tmp/verify.log" >&2; fail "systemd-analyze verify"; }
  # Unknown units named in ordering (docker.service on a host without it) are fine; anything else
  # systemd complains about is not.
  if grep -q -v -e 'docker.service' -e '^$' "$tmp/verify.log"; then
    cat "$tmp/verify.log" >&2
    fail "systemd-analyze verify complains"
  fi
  ok "systemd-analyze verify berthd.service"
else
  echo "skip: systemd-analyze is not installed"
fi
unit=$root/lib/systemd/system/berthd.service
for line in Type=notify KillMode=process Restart=always Before=docker.service \
  'ExecStart=/usr/bin/berthd --config /etc/berth/berth.json'; do
  grep -qx "$line" "$unit" || fail "berthd.service lacks $line"
done
if grep -Eq '^(ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices|PrivateMounts|MountFlags|ReadOnlyPaths|DeviceAllow|ProtectClock|ProtectKernelModules)=' "$unit"; then
  fail "berthd.service sets an option that hides its mounts from dockerd or its devices from it"
fi

# dpkg into a temporary root with its own database: scripts run outside a chroot with DPKG_ROOT
# set, so they touch nothing on this machine.
dpkg_root=$tmp/dpkg-root
mkdir -p "$dpkg_root/var/lib/dpkg/info" "$dpkg_root/var/lib/dpkg/updates"
touch "$dpkg_root/var/lib/dpkg/status"
dpkg_in_root() {
  dpkg --root="$dpkg_root" --force-not-root --force-depends --force-script-chrootless \
    --log=/dev/null "$@" >>"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg $*"; }
}
# query FORMAT: dpkg-query's ${Field} format, for berth.
query() { dpkg-query --root="$dpkg_root" -W -f="$1" berth; }
status_version="\${db:Status-Abbrev}\${Version}"
status_only="\${db:Status-Abbrev}"
conffiles="\${Conffiles}"

dpkg_in_root -i "$deb"
[ "$(query "$status_version")" = "ii $version" ] ||
  fail "dpkg -i: status '$(query "$status_version")'"
grep -q '/etc/berth/berth.json [0-9a-f]\{32\}' <<<"$(query "$conffiles")" ||
  fail "dpkg does not track the conffile"
[ -x "$dpkg_root/usr/bin/berthd" ] || fail "dpkg -i did not install berthd"
echo '{"edited": true}' >"$dpkg_root/etc/berth/berth.json"
dpkg_in_root -i "$deb"
grep -q edited "$dpkg_root/etc/berth/berth.json" || fail "reinstalling replaced an edited berth.json"
dpkg_in_root -r berth
[ ! -e "$dpkg_root/usr/bin/berthd" ] || fail "dpkg -r left berthd"
[ -e "$dpkg_root/etc/berth/berth.json" ] || fail "dpkg -r removed the conffile"
[ "$(query "$status_only")" = "rc " ] || fail "dpkg -r: status '$(query "$status_only")'"
dpkg_in_root -P berth
[ ! -e "$dpkg_root/etc/berth/berth.json" ] || fail "dpkg -P kept berth.json"
ok "dpkg -i, reinstall (edited conffile kept), -r (conffile kept), -P (gone) in a temporary root"

# Debian's checker: no error and no warning, and no override without a reason.
lintian_start=$SECONDS
lintian --fail-on error,warning --no-tag-display-limit "$deb" >"$tmp/lintian.log" 2>&1 ||
  { cat "$tmp/lintian.log" >&2; fail "lintian"; }
if grep -E '^[EW]: ' "$tmp/lintian.log"; then
  fail "lintian reports errors or warnings"
fi
ok "lintian: no errors, no warnings ($((SECONDS - lintian_start)) s)"

# The man pages, as `man` shows them from the installed package, name every option each
# program's --help lists (berthctl's commands included), and berth.json(5) names every key
# berthd accepts. LC_ALL=C: hyphens stay ASCII.
dpkg_in_root -i "$deb"
manpath=$dpkg_root/usr/share/man
rendered() { LC_ALL=C MANWIDTH=200 man -M "$manpath" "$@" 2>/dev/null | col -b; }
options_of() { "$@" --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
subcommands_of() {
  "$@" --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }'
}
bin=$dpkg_root/usr/bin
export BERTH_FLEX_LOG=$tmp/flex.log
for program in berthd berthctl berth-csi berth-flex berth-nfs-fuse; do
  rendered 1 "$program" >"$tmp/$program.txt"
  grep -q "^NAME" "$tmp/$program.txt" || fail "man $program does not render"
  commands=("")
  if [ "$program" = berthctl ]; then
    for command in $(subcommands_of "$bin/berthctl"); do
      commands+=("$command")
      for sub in $(subcommands_of "$bin/berthctl" "$command"); do
        commands+=("$command $sub")
      done
    done
  fi
  checked=0
  for command in "${commands[@]}"; do
    # shellcheck disable=SC2086  # a command is one or two words
    for option in $(options_of "$bin/$program" $command); do
      grep -qe "$option" "$tmp/$program.txt" ||
        fail "man $program lacks $option (from '$program $command --help')"
      checked=$((checked + 1))
    done
  done
  ok "man $program renders and names all $checked options of its --help (${#commands[@]} help texts)"
done
rendered 5 berth.json >"$tmp/berth.json.txt"
grep -q "^NAME" "$tmp/berth.json.txt" || fail "man 5 berth.json does not render"
keys=0
# Each level's keys, from berthd's own refusal of an unknown one ("...; allowed: a, b, c").
for level in top metrics rbd nfs; do
  case $level in
    top) doc='{"host_id": "h", "zz_unknown": 1, "backends": {"r": {"type": "rbd"}}}' ;;
    metrics) doc='{"host_id": "h", "metrics": {"zz_unknown": 1}, "backends": {"r": {"type": "rbd"}}}' ;;
    rbd) doc='{"host_id": "h", "backends": {"r": {"type": "rbd", "zz_unknown": 1}}}' ;;
    nfs) doc='{"host_id": "h", "backends": {"n": {"type": "nfs", "zz_unknown": 1}}}' ;;
  esac
  echo "$doc" >"$tmp/keys.json"
  "$bin/berthd" --config "$tmp/keys.json" --check-config 2>"$tmp/keys.err" && fail "$level: zz_unknown accepted"
  allowed=$(sed -n 's/.*allowed: //p' "$tmp/keys.err")
  [ -n "$allowed" ] || { cat "$tmp/keys.err" >&2; fail "$level: berthd names no allowed keys"; }
  for key in ${allowed//,/ }; do
    grep -qw -e "$key" "$tmp/berth.json.txt" || fail "man 5 berth.json lacks the $level key $key"
    keys=$((keys + 1))
  done
done
ok "man 5 berth.json renders and names all $keys keys berthd accepts"
dpkg_in_root -P berth

echo "deb test passed in $SECONDS s"
