# shellcheck shell=bash
# berthd, a private containerd and dockerd, and the busybox image.
# Sourced by scripts/lab, which sets the lab's paths and settings (set_paths).

# --- berthd and docker ---------------------------------------------------------------------------

docker_cli() {
  PATH="$(docker_path)$PATH" timeout "$CMD_TIMEOUT" docker -H "unix://$DIR/docker.sock" "$@"
}

# Starts a foreground daemon detached: its own session, so a ^C in the terminal that ran `lab up`
# does not reach it; no stdin, output to its log, so a caller reading our output (say, $(lab up))
# does not wait for the daemon's end; and without the lock fds. Without job control a background
# child never leads its process group, so setsid execs in place and $! is the daemon's pid.
detach() { # PIDFILE LOG CMD...
  setsid -- "${@:3}" </dev/null >>"$2" 2>&1 7>&- 8>&- 9>&- &
  echo "$!" >"$1"
}

# Waits up to 10 s for the socket that daemon PID creates once it serves. Not is_ours: until it
# execs, a child started a moment ago still has our command line.
await_socket() { # PID SOCKET LOG NAME
  local pid=$1 end=$((SECONDS + 10))
  until [[ -S $2 ]]; do
    if ! alive "$pid"; then
      tail -n 15 "$3" >&2 || true
      die "$4 died at start (log: $3)"
    fi
    if ((SECONDS >= end)); then
      tail -n 15 "$3" >&2 || true
      die "$4 did not create $2 within 10 s (log: $3)"
    fi
    sleep 0.01
  done
}

# The pid of whatever listens on berthd's socket, if anything does.
plugin_sock_owner() {
  [[ -n $PLUGIN_SOCK ]] || return 0
  ss -Hxlp src "$PLUGIN_SOCK" 2>/dev/null |
    awk 'match($0, /pid=[0-9]+/) { print substr($0, RSTART + 4, RLENGTH - 4); exit }'
}

# The socket is machine-wide: refuse to take it over from a live server, which is another lab's
# berthd (or anything else). `up` checks first, before it starts anything; berthd_up checks again
# under a lock, so that two labs starting at once do not both find it free.
check_plugin_sock() {
  local ours owner
  [[ -x $BERTHD ]] || return 0
  ours=$(pid_of "$RUN/berthd.pid") || true
  owner=$(plugin_sock_owner)
  if [[ -n $owner && $owner != "$ours" ]]; then
    die "pid $owner ($(tr '\0' ' ' <"/proc/$owner/cmdline" 2>/dev/null | sed 's/ $//' || true))" \
      "already serves $PLUGIN_SOCK; stop its lab first"
  fi
}

berthd_up() {
  local ours owner
  if [[ ! -x $BERTHD ]]; then
    say "warning: no $BERTHD yet: the lab runs without berthd (driver $DRIVER)"
    owner=$(plugin_sock_owner)
    [[ -z $owner ]] || say "warning: pid $owner (not this lab's) serves $PLUGIN_SOCK"
    return 0
  fi
  exec 8>>/tmp/berth-lab-plugin.lock
  flock -w 30 8 || die "timed out waiting for /tmp/berth-lab-plugin.lock"
  check_plugin_sock
  ours=$(pid_of "$RUN/berthd.pid") || true
  owner=$(plugin_sock_owner)
  if [[ -z $ours || -z $owner ]]; then
    # Ours but not serving (it lost its socket, or it is wedged): start it anew.
    [[ -z $ours ]] || berthd_stop
    # Nobody listens, so a socket file there is stale; a new one must not pass for berthd's.
    rm -f -- "$PLUGIN_SOCK" "$RUN/berthd.sock.id"
    mkdir -p -- "${PLUGIN_SOCK%/*}"
    detach "$RUN/berthd.pid" "$DIR/log/berthd.log" "$BERTHD" --config "$DIR/berth.json" \
      --socket "$PLUGIN_SOCK" --log-level info
    await_socket "$(cat "$RUN/berthd.pid")" "$PLUGIN_SOCK" "$DIR/log/berthd.log" berthd
    # `down` removes the socket only if it is still this very file.
    stat -c '%d:%i' -- "$PLUGIN_SOCK" >"$RUN/berthd.sock.id"
  fi
  flock -u 8 && exec 8>&-
}

# The socket is ours to remove if the berthd in our pid file served it (the e2e tests start their
# own berthd and record it there) or if it is the very file the berthd we started made, and in
# both cases only once nobody serves it: another lab may have started its berthd there since.
berthd_stop() {
  local pid id mine=0
  pid=$(pid_of "$RUN/berthd.pid") && [[ $(plugin_sock_owner) == "$pid" ]] && mine=1
  stop_pidfiles 10 "$RUN/berthd.pid"
  id=$(cat "$RUN/berthd.sock.id" 2>/dev/null) || id=
  [[ -z $id || $(stat -c '%d:%i' -- "$PLUGIN_SOCK" 2>/dev/null) != "$id" ]] || mine=1
  if ((mine)) && [[ -S $PLUGIN_SOCK && -z $(plugin_sock_owner) ]]; then rm -f -- "$PLUGIN_SOCK"; fi
  rm -f -- "$RUN/berthd.sock.id"
}

# No cri plugin (it would want CNI and a sandbox image) and no opt plugin (it would create
# /opt/containerd). The shims' sockets still go to /run/containerd/s: nothing moves that.
containerd_start() {
  pid_of "$RUN/containerd.pid" >/dev/null && return 0
  mkdir -p -- "$DIR/containerd/root" "$DIR/containerd/state"
  cat >"$DIR/containerd.toml" <<EOT
# Written by scripts/lab for the lab in $DIR.
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$DIR/containerd.sock"
EOT
  rm -f -- "$DIR/containerd.sock" # stale: it would pass for the new one
  detach "$RUN/containerd.pid" "$DIR/log/containerd.log" containerd --config "$DIR/containerd.toml"
}

dockerd_up() {
  local pid
  pid_of "$RUN/dockerd.pid" >/dev/null && return 0
  # dockerd refuses a pid file naming any live process; ours is not running, so this one is stale.
  rm -f -- "$RUN/dockerd.pid" "$DIR/docker.sock"
  # Our own config file, so /etc/docker/daemon.json does not apply, and the trust key in the
  # data-root, not in /etc/docker. Stopping containers at shutdown (if `down` could not remove
  # them) must end within the 15 s `down` gives dockerd before SIGKILL, which would leave mounts.
  # A swarm lab's dockerd goes without live-restore, which swarm mode refuses.
  local live_restore=true
  ! is_swarm_lab || live_restore=false
  cat >"$DIR/daemon.json" <<EOT
{"deprecated-key-path": "$DIR/docker/key.json", "shutdown-timeout": 5, "live-restore": $live_restore}
EOT
  PATH="$(docker_path)$PATH" setsid -- dockerd --config-file "$DIR/daemon.json" --containerd "$DIR/containerd.sock" \
    --data-root "$DIR/docker" --exec-root "$DIR/exec" --pidfile "$RUN/dockerd.pid" \
    -H "unix://$DIR/docker.sock" --iptables=false --ip6tables=false --ip-masq=false \
    --ip-forward=false --bridge=none --userland-proxy=false --storage-driver overlay2 \
    --exec-opt native.cgroupdriver=cgroupfs </dev/null >>"$DIR/log/dockerd.log" 2>&1 \
    7>&- 8>&- 9>&- &
  pid=$! # dockerd writes its own pid file, but not at once
  await_socket "$pid" "$DIR/docker.sock" "$DIR/log/dockerd.log" dockerd
  # The socket listens before the daemon is initialized; calls made meanwhile wait for it. But
  # the file appears at bind, a moment before listen: a call in between is refused, so retry.
  local end=$((SECONDS + 10))
  until docker_cli version >/dev/null 2>&1; do
    if ! alive "$pid" || ((SECONDS >= end)); then
      tail -n 15 "$DIR/log/dockerd.log" >&2 || true
      die "dockerd does not answer on $DIR/docker.sock (log: $DIR/log/dockerd.log)"
    fi
    sleep 0.1
  done
}

# A rootfs of busybox-static and its applet links. The links are made inside a chroot, so they
# point at /bin/busybox as the container sees it, in one process rather than one ln per applet; a
# dynamically linked busybox fails right there.
busybox_tar() {
  local root=$DIR/image/rootfs
  [[ -s $DIR/image/busybox.tar ]] && return 0
  rm -rf -- "$DIR/image"
  mkdir -p -- "$root/bin" "$root/dev" "$root/etc" "$root/proc" "$root/sys" "$root/root"
  install -d -m 1777 -- "$root/tmp"
  cp -- /bin/busybox "$root/bin/busybox"
  chroot "$root" /bin/busybox --install -s /bin ||
    die "cannot install busybox's applets in $root (is busybox-static installed?)"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  tar -C "$root" -cf "$DIR/image/busybox.tar.part" .
  mv -- "$DIR/image/busybox.tar.part" "$DIR/image/busybox.tar" # only a whole tar counts
}

image_up() {
  # Just wiped: no need to ask.
  if [[ -z $WIPE ]] && docker_cli image inspect lab/busybox >/dev/null 2>&1; then return 0; fi
  logged docker_cli import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' "$DIR/image/busybox.tar" \
    lab/busybox
  logged docker_cli tag lab/busybox busybox
}

# Docker's state holds what the lab's Ceph held (volumes, containers using them): a fresh Ceph gets
# a fresh Docker too, and a fresh NFS export, as berth's state would not name the volumes in it.
# Deleting takes ~0.2 s, so it is moved aside and deleted while the rest of `up` runs;
# --one-file-system because a mount left there must stop rm, not be emptied. Ganesha is stopped.
docker_wipe() {
  local d trash=$DIR/wipe.$$
  unmount_under "$DIR/docker" "$DIR/exec"
  mkdir -p -- "$trash"
  for d in docker exec containerd export; do [[ ! -e $DIR/$d ]] || mv -- "$DIR/$d" "$trash/"; done
  rm -rf --one-file-system -- "$DIR"/wipe.* &
  WIPE=$!
}

# berthd before dockerd: dockerd asks the plugin about every volume it knows at start, and waits
# ~15 s for each if the plugin is not there. containerd starts meanwhile.
docker_up() {
  # Unix socket paths are limited to 107 bytes: fail here, not in a daemon's log.
  ((${#DIR} <= 80)) || die "lab dir too long for Docker's sockets (max 80 characters): $DIR"
  containerd_start
  busybox_tar
  berthd_up
  await_socket "$(cat "$RUN/containerd.pid")" "$DIR/containerd.sock" "$DIR/log/containerd.log" \
    containerd
  ! is_swarm_lab || swarm_prepare
  dockerd_up
  image_up
  ! is_swarm_lab || swarm_up
}

# The reverse: dockerd first, after removing the running containers (a PID 1 that ignores SIGTERM
# would cost dockerd 10 s each), then berthd, which must answer dockerd's Unmount calls, then
# containerd and any shim of ours left over; Ceph, stopped later, must outlive berthd's unmounts.
docker_down() {
  local ids=() id p comm shims=() runc_root=$DIR/exec/runtime-runc/moby
  swarm_down
  if pid_of "$RUN/dockerd.pid" >/dev/null; then
    mapfile -t ids < <(docker_cli ps -q 2>/dev/null || true)
    # A container that SIGKILL cannot end within CMD_TIMEOUT waits in the kernel, on I/O that a
    # FUSE mapper cannot finish: abort that I/O, then it ends.
    if ((${#ids[@]})) && ! docker_cli rm -f "${ids[@]}" >/dev/null 2>&1; then
      say "containers ${ids[*]} did not stop within ${CMD_TIMEOUT}s: aborting stuck FUSE I/O"
      abort_stuck_fuse
      docker_cli rm -f "${ids[@]}" >/dev/null 2>&1 || say "could not remove containers ${ids[*]}"
    fi
  fi
  stop_pidfiles 15 "$RUN/dockerd.pid"
  # Containers that a dead or killed dockerd left running would outlive their shims: kill them by
  # runc's state under our exec-root.
  if compgen -G "$runc_root/*" >/dev/null; then
    while read -r id; do
      runc --root "$runc_root" delete --force "$id" || say "cannot delete container $id"
    done < <(runc --root "$runc_root" list -q 2>/dev/null || true)
  fi
  berthd_stop
  for p in /proc/[0-9]*; do
    read -r comm 2>/dev/null <"$p/comm" || continue
    if [[ $comm == containerd-shim* ]] && is_ours "${p#/proc/}"; then shims+=("${p#/proc/}"); fi
  done
  stop_pidfiles 10 "$RUN/containerd.pid"
  ((${#shims[@]} == 0)) || stop_pids 5 "${shims[@]}"
  # dockerd leaves its data-root bind-mounted on itself, and a killed one its overlays and netns.
  unmount_under "$DIR/docker" "$DIR/exec"
}
