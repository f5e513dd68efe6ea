# shellcheck shell=bash
# unmount_under takes roots from some callers and defaults to the lab's from others.
# shellcheck disable=SC2120
# The lab's shared helpers: messages, logged commands, our processes and pid files, and the mounts,
# loop devices and FUSE connections berth may leave under a lab's directory.
# Sourced by scripts/lab, which sets the lab's paths and settings (set_paths).

say() { echo "lab: $*" >&2; }
die() { say "$*" && exit 1; }
usage() {
  die "usage: $0 up DIR [--durable] [--no-docker] [--no-nfs] [--swarm] | down DIR | status DIR |" \
    "berthd-restart DIR | dockerd-restart DIR | osd-stop DIR | osd-start DIR"
}
# Seconds since $1 (an $EPOCHREALTIME), whatever the locale's decimal mark.
elapsed() {
  local us=$((${EPOCHREALTIME//[!0-9]/} - ${1//[!0-9]/}))
  printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}

var_get() { if [[ -f $VARS ]]; then sed -n "s/^$1=//p" "$VARS"; fi; }

ceph_cli() { timeout "$CMD_TIMEOUT" ceph --conf "$CONF" --id admin "$@"; }
rbd_as() { timeout "$CMD_TIMEOUT" rbd --conf "$CONF" --id "$@"; } # ID ARGS...
# Setup steps are chatty: their output goes to setup.log and is shown only when one fails.
logged() { "$@" >>"$LOG" 2>&1 || { tail -n 15 "$LOG" >&2 && die "failed: $*"; }; }
# Independent setup steps run as background jobs: overlapping process start-ups (python CLIs take
# ~0.2 s each) is most of what makes bring-up fast.
spawn() { "$@" & JOBS+=($!); }
await() {
  local job
  for job in "${JOBS[@]}"; do wait "$job" || die "a setup step failed (log: $LOG)"; done
  JOBS=()
}

# --- processes -----------------------------------------------------------------------------------

# A pid counts only if it is alive, not a zombie, and its command line names DIR: pids get reused,
# and a stale pid file must never make us signal a stranger.
is_ours() {
  local cmd
  alive "$1" || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $cmd == *"$DIR/"* ]]
}
alive() {
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}
pid_of() {
  local pid=
  # dockerd ends its pid file without a newline, which read reports as a failure.
  [[ -f $1 ]] && { read -r pid 2>/dev/null <"$1" || [[ -n $pid ]]; } || return 1
  [[ $pid =~ ^[0-9]+$ ]] && is_ours "$pid" && echo "$pid"
}

# SIGTERM all at once so the shutdowns overlap, then SIGKILL what outlives the grace period.
# Only pid files of processes we stopped are removed: the others may not be ours to touch.
stop_pidfiles() {
  local grace=$1 f pid pids=()
  shift
  for f in "$@"; do
    pid=$(pid_of "$f") || continue
    pids+=("$pid")
    rm -f -- "$f"
  done
  stop_pids "$grace" "${pids[@]}"
}
stop_pids() { # grace pid... (each already checked with is_ours)
  local grace=$1 pid end
  shift
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  end=$((SECONDS + grace))
  for pid in "$@"; do
    while is_ours "$pid" && ((SECONDS < end)); do sleep 0.05; done
    is_ours "$pid" || continue
    say "pid $pid ignored SIGTERM for ${grace}s, killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while is_ours "$pid"; do sleep 0.05; done
  done
}

# --- mounts, loop devices and FUSE that berth left under DIR --------------------------------------

# "depth<TAB>fstype<TAB>path" of the mounts strictly under DIR, or at or under any ROOT, deepest
# first. mountinfo escapes blanks and backslashes as \ooo, which printf %b decodes once written as
# \0ooo.
lab_mounts() { # [ROOT...]
  local fs mp slashes root hit
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1), $5; break } }' \
    /proc/self/mountinfo | while read -r fs mp; do
    [[ $mp != *\\* ]] || mp=$(printf '%b' "${mp//\\/\\0}")
    hit=0
    if (($# == 0)); then [[ $mp != "$DIR"/* ]] || hit=1; fi
    for root in "$@"; do [[ $mp != "$root" && $mp != "$root"/* ]] || hit=1; done
    ((hit)) || continue
    slashes=${mp//[!\/]/}
    printf '%d\t%s\t%s\n' "${#slashes}" "$fs" "$mp"
  done | sort -t $'\t' -k1,1nr
}

# Runs CMD (its stderr dropped) and waits up to SECS for it. A command still running then waits in
# the kernel on writeback that an rbd-fuse mapper cannot finish (its cluster refuses writes, say a
# full OSD): the lab's stuck FUSE connections are aborted, which fails that I/O, and CMD ends.
# Seen in a suite run: `losetup -d` under a full cluster stood still for good, before the abort.
bounded() { # SECS CMD...
  local secs=$1 pid end
  shift
  "$@" 2>/dev/null &
  pid=$!
  end=$((SECONDS + secs))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$1 is still waiting after ${secs}s; aborting the lab's stuck FUSE connections"
    abort_stuck_fuse
  fi
  wait "$pid"
}

# Unmounts every mount but FUSE strictly under DIR, or at or under any ROOT, deepest first.
unmount_under() { # [ROOT...]
  local _d fs mp found
  for _ in 1 2 3; do # a mount stacked under another shows up once the top one is gone
    found=0
    while IFS=$'\t' read -r _d fs mp; do
      [[ $fs == fuse* ]] && continue
      found=1
      bounded 15 umount -- "$mp" || { sleep 0.2 && bounded 15 umount -- "$mp"; } ||
        { say "lazy unmount of busy $mp" && umount -l -- "$mp"; } || say "cannot unmount $mp"
    done < <(lab_mounts "$@")
    ((found)) || break
  done
}

# Filesystems first (they hold the loop devices), then loop devices (they hold files inside rbd-fuse
# mounts), then the FUSE mounts: any other order fails with EBUSY.
cleanup_mounts() {
  local _d fs mp bf file held=()
  unmount_under

  for bf in /sys/block/loop*/loop/backing_file; do
    file=$(cat "$bf" 2>/dev/null) || continue
    [[ ${file% (deleted)} == "$DIR"/* ]] || continue
    file=${bf%/loop/backing_file}
    bounded 15 losetup -d "/dev/${file##*/}" || say "cannot detach /dev/${file##*/}"
    held+=("$bf")
  done
  # losetup -d only sets autoclear: the kernel lets go of the file a moment later.
  local end=$((SECONDS + 5))
  for bf in "${held[@]}"; do
    while [[ -e $bf ]] && ((SECONDS < end)); do sleep 0.02; done
    [[ ! -e $bf ]] || say "${bf#/sys/block/} still holds its file"
  done

  while IFS=$'\t' read -r _d fs mp; do
    [[ $fs == fuse* ]] || continue
    fusermount3 -u -- "$mp" 2>/dev/null || { say "lazy unmount of busy FUSE $mp" &&
      fusermount3 -uz -- "$mp"; } || say "cannot unmount $mp"
  done < <(lab_mounts)
}

# --- I/O that must not be stranded --------------------------------------------------------------

# The kernel's FUSE control filesystem: /sys/fs/fuse/connections/N/{waiting,abort} for the
# connection whose mounts have device number 0:N. systemd mounts it; a bare machine may not have.
fusectl_up() {
  local d=/sys/fs/fuse/connections
  [[ -d $d ]] || modprobe fuse 2>/dev/null || true
  [[ -d $d ]] || return 1
  grep -q " $d fusectl " /proc/self/mounts || mount -t fusectl fusectl "$d" 2>/dev/null || true
  grep -q " $d fusectl " /proc/self/mounts
}

# "N<TAB>mount point" of each FUSE mount under DIR (N names its connection in fusectl).
lab_fuse_connections() {
  awk -v dir="$DIR/" '{
    for (i = 7; i <= NF; i++) if ($i == "-") {
      if ($(i + 1) ~ /^fuse/ && index($5, dir) == 1) { split($3, dev, ":"); print dev[2] "\t" $5 }
      break
    }
  }' /proc/self/mountinfo
}

# Aborts every FUSE connection of the lab that still has requests waiting for its daemon: a
# daemon that cannot answer (its cluster is gone, it is stopped) would otherwise leave the
# writers, and any later sync(), in D state for good. The waiters get ECONNABORTED. Only
# connections mounted under DIR at this moment count: a connection's number is reused as soon as
# it is gone, and may then be another lab's. (A lazily detached mount of the lab has left
# mountinfo; its connection ends with its daemon, which `down` stops.)
abort_stuck_fuse() {
  local n mp c waiting
  while IFS=$'\t' read -r n mp; do
    fusectl_up || { say "no fusectl: cannot check the lab's FUSE connections" && return 0; }
    c=/sys/fs/fuse/connections/$n
    read -r waiting 2>/dev/null <"$c/waiting" || continue # gone: its daemon let go
    ((waiting > 0)) || continue
    echo 1 >"$c/abort" 2>/dev/null || { say "cannot abort FUSE connection $n" && continue; }
    say "aborted FUSE connection $n ($mp): $waiting requests were waiting"
  done < <(lab_fuse_connections)
}

# Processes in D state that belong to the lab: their command line, working directory or root
# lies in DIR (containers' roots are overlays under DIR/docker). Printed as "pid comm wchan".
lab_blocked() {
  local p stat cmd cwd root wchan
  for p in /proc/[0-9]*; do
    read -r stat 2>/dev/null <"$p/stat" || continue
    stat=${stat##*) }
    [[ ${stat:0:1} == D ]] || continue
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || cmd=
    cwd=$(readlink "$p/cwd" 2>/dev/null) || cwd=
    root=$(readlink "$p/root" 2>/dev/null) || root=
    [[ $cmd == *"$DIR/"* || $cwd == "$DIR"/* || $root == "$DIR"/* ]] || continue
    read -r wchan 2>/dev/null <"$p/wchan" || wchan='?'
    echo "${p#/proc/} $(cat "$p/comm" 2>/dev/null) ${wchan:-?}"
  done
}
