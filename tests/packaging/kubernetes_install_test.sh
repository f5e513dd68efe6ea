#!/usr/bin/env bash
# packaging/kubernetes/install.sh against a temporary plugin directory: the drivers kubelet would
# find, their init replies, the copied libraries actually being the ones loaded (down to a root
# holding nothing but glibc), upgrades that never show kubelet a partial file, the config, the
# DaemonSet mode and uninstall. Needs neither the lab nor root (the glibc-only root needs mount
# and pid namespaces, as root or through a user namespace, and is skipped where neither works).
# Usage: kubernetes_install_test.sh BERTH_FLEX BERTH_FLEX_DRIVER BERTH_NFS_FUSE SOURCE_DIR
set -euo pipefail

[ $# -eq 4 ] || {
  echo "usage: $0 BERTH_FLEX BERTH_FLEX_DRIVER BERTH_NFS_FUSE SOURCE_DIR" >&2
  exit 2
}
flex=$1
engine=$2
fuse=$3
installer=$4/packaging/kubernetes/install.sh

tmp=$(mktemp -d)
daemon_pid=""
install_pid=""
cleanup() {
  # On a failure midway: stop the DaemonSet-mode installer as kubelet would, let background
  # upgrades finish (a few seconds) rather than pull the directory from under them.
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  if [ -n "$install_pid" ]; then
    wait "$install_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }

# Nothing from the caller's environment may steer the installer or the drivers.
unset BERTH_PLUGIN_DIR BERTH_FROM BERTH_DAEMONSET BERTH_CONFIG
export BERTH_FLEX_LOG=$tmp/flex.log
export BERTH_CONFIG_DEST=$tmp/etc/berth/berth.json
plugins=$tmp/plugins
rbd=$plugins/berth~rbd
rbd_node=$plugins/berth~rbd-node
nfs=$plugins/berth~nfs

# check_reply ATTACH FILE...: each FILE holds exactly one JSON object (nothing before or after
# it), status Success and capabilities.attach ATTACH (true/false), as kubelet parses it.
check_reply() {
  python3 - "$@" <<'EOF'
import json, sys
want = sys.argv[1] == "true"
for path in sys.argv[2:]:
    text = open(path).read()
    try:
        reply = json.loads(text)
    except ValueError as e:
        sys.exit(f"{path}: not one JSON object ({e}): {text!r}")
    if not isinstance(reply, dict) or reply.get("status") != "Success":
        sys.exit(f"{path}: not a Success object: {text!r}")
    if reply.get("capabilities", {}).get("attach") is not want:
        sys.exit(f"{path}: capabilities.attach is not {sys.argv[1]}: {text!r}")
EOF
}

# A listing of the tree that changes when any file's content, mode or mtime does (directories'
# mtimes change with the temporary files of a re-run and do not count).
snapshot() {
  (cd "$plugins" && find . -printf '%p %y %m %s\n' | sort &&
    find . -type f -printf '%p %T@\n' | sort &&
    find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

is_glibc_path() {
  case $(basename "$1") in
    ld-linux* | libc.so.* | libm.so.* | libmvec.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
      libresolv.so.* | libutil.so.* | libanl.so.* | libnsl.so.1 | libBrokenLocale.so.* | \
      libthread_db.so.* | libnss_*) return 0 ;;
  esac
  return 1
}

# --- command line -------------------------------------------------------------------------
out=$(bash "$installer" --help) || fail "--help exited non-zero"
[[ $out == *"Usage: install.sh"* && $out == *"--plugin-dir DIR"* ]] || fail "--help: $out"
ok "--help exits 0 and prints usage"

if err=$(bash "$installer" --bogus 2>&1); then fail "--bogus exited 0"; fi
[[ $err == *"unknown option '--bogus'"* ]] || fail "--bogus: unclear message: $err"
if err=$(bash "$installer" --plugin-dir 2>&1); then fail "--plugin-dir without DIR exited 0"; fi
[[ $err == *"--plugin-dir needs an argument"* ]] || fail "--plugin-dir: unclear message: $err"
if err=$(bash "$installer" --plugin-dir "$plugins" --from "$tmp/nowhere" 2>&1); then
  fail "--from a missing dir exited 0"
fi
[[ $err == *"no executable berth-flex in $tmp/nowhere"* ]] || fail "--from: unclear message: $err"
if err=$(bash "$installer" --plugin-dir "$plugins" --force-config 2>&1); then
  fail "--force-config without --config exited 0"
fi
[[ $err == *"--force-config needs --config"* ]] || fail "--force-config: unclear message: $err"
mkdir -p "$tmp/from"
cp "$flex" "$fuse" "$tmp/from/"
if err=$(bash "$installer" --plugin-dir "$plugins" --from "$tmp/from" 2>&1); then
  fail "--from a dir without berth-flex-driver exited 0"
fi
[[ $err == *"no executable berth-flex-driver in $tmp/from or $tmp/from/../libexec/berth"* ]] ||
  fail "no berth-flex-driver: unclear message: $err"
cp "$engine" "$tmp/from/"
if err=$(bash "$installer" --plugin-dir "$plugins" --from "$tmp/from" \
  --config "$tmp/none.json" 2>&1); then fail "--config with a missing file exited 0"; fi
[[ $err == *"--config $tmp/none.json: no such file"* ]] || fail "--config: unclear message: $err"
[ ! -e "$plugins" ] || fail "a refused run created $plugins"
ok "bad options exit non-zero and say why"

# --- first install ------------------------------------------------------------------------
start=$(date +%s%N)
bash "$installer" --plugin-dir "$plugins" --from "$tmp/from" >"$tmp/install1.log" 2>&1 ||
  { cat "$tmp/install1.log"; fail "first install failed"; }
echo "   first install: $((($(date +%s%N) - start) / 1000000)) ms," \
  "$(find "$rbd/lib" -type f | wc -l) + $(find "$rbd_node/lib" -type f | wc -l) + $(find "$nfs/lib" -type f | wc -l) libraries," \
  "$(du -sh "$plugins" | cut -f1)"

for exe in "$rbd/rbd" "$rbd_node/rbd-node" "$nfs/nfs"; do
  if [ ! -f "$exe" ] || [ ! -x "$exe" ]; then fail "$exe missing or not executable"; fi
done
[ -x "$nfs/berth-nfs-fuse" ] || fail "$nfs/berth-nfs-fuse missing"
for dir in "$rbd" "$rbd_node" "$nfs"; do
  cmp -s "$engine" "$dir/berth-flex-driver" || fail "$dir/berth-flex-driver missing or not ours"
  [ "$(stat -c %a "$dir/berth-flex-driver")" = 755 ] || fail "$dir/berth-flex-driver mode"
done
grep -q "init       $rbd/berth-flex-driver --driver rbd" "$tmp/install1.log" ||
  fail "installer did not run berth-flex-driver's init"
for dir in "$rbd" "$rbd_node"; do
  [ ! -e "$dir/berth-nfs-fuse" ] || fail "berth-nfs-fuse installed in $dir, whose driver never runs it"
done
[ "$(stat -c %a "$rbd/rbd")" = 755 ] || fail "driver mode $(stat -c %a "$rbd/rbd")"
if ! cmp -s "$flex" "$rbd/rbd" || ! cmp -s "$flex" "$rbd_node/rbd-node" ||
  ! cmp -s "$flex" "$nfs/nfs"; then
  fail "drivers differ from berth-flex"
fi
grep -q "init       $rbd/rbd" "$tmp/install1.log" || fail "installer did not run rbd init"
grep -q "warning: no $BERTH_CONFIG_DEST" "$tmp/install1.log" || fail "no warning about the config"
ok "berth~rbd/rbd, berth~rbd-node/rbd-node, berth~nfs/nfs, berth-flex-driver beside each and berth~nfs/berth-nfs-fuse installed, 0755"

"$rbd/rbd" init >"$tmp/rbd.init" 2>&1 || fail "rbd init exited non-zero: $(cat "$tmp/rbd.init")"
check_reply true "$tmp/rbd.init" || fail "rbd init reply"
"$rbd_node/rbd-node" init >"$tmp/rbd-node.init" 2>&1 ||
  fail "rbd-node init exited non-zero: $(cat "$tmp/rbd-node.init")"
check_reply false "$tmp/rbd-node.init" || fail "rbd-node init reply"
"$nfs/nfs" init >"$tmp/nfs.init" 2>&1 || fail "nfs init exited non-zero: $(cat "$tmp/nfs.init")"
check_reply false "$tmp/nfs.init" || fail "nfs init reply"
ok "init: one JSON object each, Success, attach true (rbd) / false (rbd-node, nfs)"

leftovers=$(find "$plugins" -name '.*')
[ -z "$leftovers" ] || fail "temporary files left: $leftovers"
ok "no temporary files left"

for exe in "$rbd/rbd" "$rbd_node/rbd-node" "$nfs/nfs" "$nfs/berth-nfs-fuse" \
  "$rbd/berth-flex-driver" "$rbd_node/berth-flex-driver" "$nfs/berth-flex-driver"; do
  grep -E 'RUNPATH' <<<"$(readelf -d "$exe")" | grep -qF "\$ORIGIN/lib" ||
    fail "$exe: no RUNPATH \$ORIGIN/lib"
  libs=$(ldd "$exe")
  [[ $libs != *"not found"* ]] || fail "ldd $exe: $libs"
  # Every library but glibc's must come from the driver's own lib/, direct or not.
  while read -r soname _ path _; do
    is_glibc_path "$soname" && continue
    [[ $path == "$(dirname "$exe")/lib/$soname" ]] || fail "$exe loads $soname from $path"
  done < <(grep ' => /' <<<"$libs")
done
for lib in "$rbd"/lib/* "$rbd_node"/lib/* "$nfs"/lib/*; do
  [ "$(readelf -d "$lib" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')" = "\$ORIGIN" ] ||
    fail "$lib: RUNPATH is not \$ORIGIN"
done
ok "RUNPATH \$ORIGIN/lib; ldd resolves every library, all but glibc from the driver's lib/"

# A root with the plugin tree and glibc only: what a node without berth's libraries has. It
# gets its own /proc (in a private mount namespace), because the loader finds $ORIGIN through
# /proc/self/exe.
root=$tmp/root
mkdir -p "$root/proc"
chroot_cmd=(unshare --fork --pid --mount-proc="$root/proc")
[ "$(id -u)" = 0 ] || chroot_cmd+=(--map-root-user)
chroot_cmd+=(chroot)
if ! "${chroot_cmd[@]}" / true 2>/dev/null; then
  echo "skip: cannot make a mount and pid namespace here; the glibc-only root is not checked"
else
  cp -a "$plugins" "$root/plugins"
  for exe in "$rbd/rbd" "$rbd/berth-flex-driver" "$nfs/berth-nfs-fuse"; do
    ldd "$exe" | awk '$2 == "=>" { print $3; next } $1 ~ /^\// { print $1 }'
  done | sort -u | while read -r path; do
    [[ $path == "$plugins"/* ]] && continue
    mkdir -p "$root$(dirname "$path")"
    cp -L "$path" "$root$path"
  done
  for driver in rbd rbd-node nfs; do
    # LD_BIND_NOW: every symbol of every library resolves now, not at its first call.
    LD_BIND_NOW=1 BERTH_FLEX_LOG=/flex.log "${chroot_cmd[@]}" "$root" \
      "/plugins/berth~$driver/$driver" init >"$tmp/$driver.chroot" 2>&1 ||
      fail "$driver init in a glibc-only root: $(cat "$tmp/$driver.chroot")"
    check_reply "$([ $driver = rbd ] && echo true || echo false)" "$tmp/$driver.chroot" ||
      fail "$driver init reply in a glibc-only root"
    # The engine's half, where librbd, librados and libnfs load.
    LD_BIND_NOW=1 BERTH_FLEX_LOG=/flex.log "${chroot_cmd[@]}" "$root" \
      "/plugins/berth~$driver/berth-flex-driver" --driver "$driver" init \
      >"$tmp/$driver.engine.chroot" 2>&1 ||
      fail "$driver's berth-flex-driver init in a glibc-only root: $(cat "$tmp/$driver.engine.chroot")"
    check_reply "$([ $driver = rbd ] && echo true || echo false)" "$tmp/$driver.engine.chroot" ||
      fail "$driver's berth-flex-driver init reply in a glibc-only root"
  done
  LD_BIND_NOW=1 "${chroot_cmd[@]}" "$root" /plugins/berth~nfs/berth-nfs-fuse --help \
    >"$tmp/fuse.chroot" 2>&1 || fail "berth-nfs-fuse in a glibc-only root: $(cat "$tmp/fuse.chroot")"
  glibc_files=$(find "$root" \( -path "$root/plugins" -o -path "$root/proc" \) -prune -o \
    -type f ! -name flex.log -printf '%f ')
  ok "the three drivers, their berth-flex-driver and berth-nfs-fuse run in a root holding only the plugin tree and glibc:" \
    "$glibc_files"
fi

# --- re-run: same binaries, same tree; and a config ----------------------------------------
echo '{"host_id": "a"}' >"$tmp/a.json"
echo '{"host_id": "b"}' >"$tmp/b.json"
snapshot >"$tmp/tree1"
bash "$installer" --plugin-dir "$plugins" --from "$tmp/from" --config "$tmp/a.json" \
  >"$tmp/install2.log" 2>&1 ||
  { cat "$tmp/install2.log"; fail "second install failed"; }
snapshot >"$tmp/tree2"
diff "$tmp/tree1" "$tmp/tree2" || fail "re-running install changed the tree"
! grep -q "  installed  $plugins" "$tmp/install2.log" || fail "re-run replaced unchanged files"
echo "   re-run (nothing to replace): $(sed -n 's/^done in //p' "$tmp/install2.log")"
ok "re-running install leaves the same tree (contents, modes, mtimes)"
cmp -s "$tmp/a.json" "$BERTH_CONFIG_DEST" || fail "--config did not install the config"
[ "$(stat -c %a "$BERTH_CONFIG_DEST")" = 600 ] || fail "config mode $(stat -c %a "$BERTH_CONFIG_DEST")"
ok "--config installs the config where there is none, mode 0600"

# --- upgrades while kubelet runs the driver -----------------------------------------------
# A changed berth-flex (bytes after the end of an ELF file are never loaded), so each install
# really replaces the driver; installs alternate between the two while `rbd init` runs in a
# loop. A driver written in place would show as ETXTBSY, a truncated ELF or a missing file.
mkdir -p "$tmp/from2"
cp "$tmp/from/berth-nfs-fuse" "$tmp/from/berth-flex-driver" "$tmp/from2/"
{ cat "$flex"; printf 'berth-upgrade-test'; } >"$tmp/from2/berth-flex"
chmod 0755 "$tmp/from2/berth-flex"
touch "$rbd/lib/libstale.so.1"
(
  for from in from2 from; do
    bash "$installer" --plugin-dir "$plugins" --from "$tmp/$from" --config "$tmp/b.json" \
      >>"$tmp/upgrades.log" 2>&1
  done
) &
install_pid=$!
mkdir -p "$tmp/inits"
runs=0
during=0
while { kill -0 "$install_pid" 2>/dev/null || [ $runs -lt 50 ]; } && [ $runs -lt 5000 ]; do
  kill -0 "$install_pid" 2>/dev/null && during=$((during + 1))
  rc=0
  "$rbd/rbd" init >"$tmp/inits/$runs" 2>&1 || rc=$?
  [ $rc -eq 0 ] || fail "rbd init exited $rc during an upgrade: $(cat "$tmp/inits/$runs")"
  runs=$((runs + 1))
done
wait "$install_pid" || { cat "$tmp/upgrades.log"; fail "an upgrade failed"; }
install_pid=""
check_reply true "$tmp"/inits/* || fail "an rbd init run during upgrades"
[ "$(grep -c "installed  $rbd/rbd\$" "$tmp/upgrades.log")" = 2 ] ||
  fail "the upgrades did not replace the driver twice"
[ "$during" -gt 0 ] || fail "no init ran while an upgrade was in flight"
cmp -s "$flex" "$rbd/rbd" || fail "after the last upgrade the driver is not berth-flex"
[ ! -e "$rbd/lib/libstale.so.1" ] || fail "a library no longer needed was kept"
leftovers=$(find "$plugins" -name '.*')
[ -z "$leftovers" ] || fail "temporary files left after upgrades: $leftovers"
echo "   upgrades: $(sed -n 's/^done in //p' "$tmp/upgrades.log" | tr '\n' ' ')"
ok "2 upgrades, $runs rbd init runs ($during during an upgrade): every reply one Success object"
ok "a library no longer needed is removed"
cmp -s "$tmp/a.json" "$BERTH_CONFIG_DEST" || fail "--config replaced an existing config"
ok "--config keeps an existing config"

# --- a driver that does not reply Success fails the install -------------------------------
mkdir -p "$tmp/bad"
cp /bin/true "$tmp/bad/berth-flex"
cp "$fuse" "$engine" "$tmp/bad/"
if err=$(bash "$installer" --plugin-dir "$tmp/bad-plugins" --from "$tmp/bad" 2>&1); then
  fail "a driver whose init prints nothing installed cleanly"
fi
[[ $err == *"init did not reply Success"* ]] || fail "bad init: unclear message: $err"
ok "an init without Success fails the install loudly"

# --- DaemonSet mode -----------------------------------------------------------------------
BERTH_DAEMONSET=1 bash "$installer" --plugin-dir "$plugins" --from "$tmp/from" \
  --config "$tmp/b.json" --force-config >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
# It waits once the install is done, and an install took up to 24 s in a loaded suite run.
for _ in $(seq 1800); do
  grep -q 'waiting for SIGTERM' "$tmp/daemon.log" && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$tmp/daemon.log"; fail "daemonset mode exited"; }
  sleep 0.1
done
grep -q 'waiting for SIGTERM' "$tmp/daemon.log" || fail "daemonset mode never got to waiting"
sleep 0.5
kill -0 "$daemon_pid" 2>/dev/null || fail "daemonset mode did not stay running"
sleeper=$(pgrep -P "$daemon_pid" -x sleep) || fail "daemonset mode: no sleep child"
kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=""
[ $rc -eq 0 ] || fail "daemonset mode exited $rc on SIGTERM"
# Gone or a zombie (reaped by whoever PID 1 is, in its own time) within 5 s.
for _ in $(seq 50); do
  state=$(awk '{ print $3 }' "/proc/$sleeper/stat" 2>/dev/null) || state=gone
  [[ $state == gone || $state == Z ]] && break
  sleep 0.1
done
[[ $state == gone || $state == Z ]] || fail "daemonset mode left its sleep (pid $sleeper) running"
ok "daemonset mode stays running after installing and exits 0 on SIGTERM"
cmp -s "$tmp/b.json" "$BERTH_CONFIG_DEST" || fail "--force-config did not replace the config"
ok "--force-config replaces the config"

# --- uninstall ----------------------------------------------------------------------------
bash "$installer" --plugin-dir "$plugins" --uninstall >"$tmp/uninstall.log" 2>&1 ||
  { cat "$tmp/uninstall.log"; fail "uninstall failed"; }
if [ -e "$rbd" ] || [ -e "$rbd_node" ] || [ -e "$nfs" ]; then fail "uninstall left $(ls "$plugins")"; fi
[ -d "$plugins" ] || fail "uninstall removed the plugin dir itself"
[ -e "$BERTH_CONFIG_DEST" ] || fail "uninstall removed the config"
bash "$installer" --plugin-dir "$plugins" --uninstall >/dev/null || fail "a second uninstall failed"
ok "--uninstall removes the three driver dirs, keeps the config, and may be repeated"

echo "PASS"
