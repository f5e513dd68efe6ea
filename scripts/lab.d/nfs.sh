# shellcheck shell=bash
# NFS: rpcbind (shared with the machine's, or started without network) and nfs-ganesha.
# Sourced by scripts/lab, which sets the lab's paths and settings (set_paths).

# --- NFS: rpcbind and nfs-ganesha ----------------------------------------------------------------

nfs_ports() {
  local mon
  mon=$(var_get mon_port)
  [[ -n $mon ]] || die "no mon port in $VARS"
  NFS_PORT=$((mon + NFS_PORT_OFFSET)) MNT_PORT=$((mon + MNT_PORT_OFFSET))
}

# rpcbind is machine-wide (one /run/rpcbind.sock, one /run/rpcbind.lock), so every lab and anyone
# else share one: the lab starts it only if none answers, and records that it did in RPCBIND_REC
# ("PID STARTTIME") so that `down` stops only that one. Its command line cannot name DIR, so is_ours
# does not apply: the start time (field 22 of /proc/PID/stat) tells a reused pid apart instead.
# Everything that starts, reuses or stops it holds /tmp/berth-lab-nfs.lock (fd 7).
RPCBIND_REC=rpcbind.started
proc_start() { # PID: its start time in clock ticks since boot
  local stat fields
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  read -ra fields <<<"${stat##*) }" # fields 3... of stat: the comm may hold blanks
  echo "${fields[19]}"
}
rpcbind_ours() { # prints the pid of the rpcbind this lab started, if it still runs
  local pid start comm
  read -r pid start 2>/dev/null <"$RUN/$RPCBIND_REC" || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  read -r comm 2>/dev/null <"/proc/$pid/comm" && [[ $comm == rpcbind ]] || return 1
  [[ $(proc_start "$pid") == "$start" ]] && echo "$pid"
}
# rpcinfo without a host asks through /run/rpcbind.sock, which works whatever network namespace
# the rpcbind is in (ss cannot see a socket of another namespace, so it is no test).
rpcbind_answers() { timeout 5 rpcinfo -s >/dev/null 2>&1; }

# Ganesha only registers at start (and unregisters at stop): once it runs, NFS clients that name
# both ports, as libnfs URLs with mountport do, never ask the portmapper. So rpcbind is needed only
# while ganesha starts, but it must answer then, or ganesha exits with status 2 and no FATAL line.
# `unshare -n` gives it a network namespace of its own: port 111 stays off every network, while
# ganesha still registers through the socket file. (`rpcbind -h 127.0.0.1` crashes on Debian 12.)
# No -w: warm-start files would carry other processes' registrations over from an earlier run.
rpcbind_up() { # with fd 7 locked
  local pid end
  if pid=$(rpcbind_ours); then
    rpcbind_answers && return 0
    say "our rpcbind (pid $pid) does not answer: restarting it"
    rpcbind_stop "$pid"
  fi
  rm -f -- "$RUN/$RPCBIND_REC"
  rpcbind_answers && return 0 # someone else's: use it, never stop it
  detach "$RUN/$RPCBIND_REC.part" "$DIR/log/rpcbind.log" unshare -n -- rpcbind -f
  read -r pid <"$RUN/$RPCBIND_REC.part"
  rm -f -- "$RUN/$RPCBIND_REC.part"
  # Recorded before it answers, so that a failure below still leaves it for `down` to stop.
  echo "$pid $(proc_start "$pid")" >"$RUN/$RPCBIND_REC"
  end=$((SECONDS + 10))
  until rpcbind_answers; do
    if ! alive "$pid"; then
      tail -n 15 "$DIR/log/rpcbind.log" >&2 || true
      die "rpcbind died at start (another one holds /run/rpcbind.lock?) (log: $DIR/log/rpcbind.log)"
    fi
    ((SECONDS < end)) || die "rpcbind (pid $pid) did not answer within 10 s"
    sleep 0.01
  done
}

rpcbind_stop() { # PID, from rpcbind_ours
  local end=$((SECONDS + 5))
  kill -TERM "$1" 2>/dev/null || true
  while rpcbind_ours >/dev/null && ((SECONDS < end)); do sleep 0.02; done
  if rpcbind_ours >/dev/null; then
    say "rpcbind (pid $1) ignored SIGTERM for 5 s, killing it"
    kill -KILL "$1" 2>/dev/null || true
    while rpcbind_ours >/dev/null; do sleep 0.02; done
  fi
  rm -f -- "$RUN/$RPCBIND_REC"
}

write_ganesha_conf() {
  # NLM, RQUOTA and UDP would want more ports (and statd); krb5 and the v4 recovery database would
  # default to /var: everything is switched off or kept in DIR. No setting turns D-Bus off, so only
  # its complaints are. No grace period: a restart must serve at once (no client recovers state).
  # mount_path_pseudo makes v3's MOUNT path the same /export as v4's pseudo path.
  cat >"$DIR/ganesha.conf" <<EOF
# Written by scripts/lab for the lab in $DIR.
NFS_CORE_PARAM {
  Bind_addr = 127.0.0.1;
  NFS_Port = $NFS_PORT;
  MNT_Port = $MNT_PORT;
  Protocols = 3, 4;
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Enable_UDP = false;
  mount_path_pseudo = true;
}
NFS_KRB5 { Active_krb5 = false; CCacheDir = $DIR/nfs/krb5; }
NFSv4 { Graceless = true; RecoveryRoot = $DIR/nfs/recovery; }
LOG { COMPONENTS { DBUS = FATAL; } }
EXPORT {
  Export_Id = 1;
  Path = $DIR/export;
  Pseudo = /export;
  Access_Type = RW;
  Squash = No_Root_Squash;
  SecType = sys;
  Protocols = 3, 4;
  Transports = TCP;
  FSAL { Name = VFS; }
}
EOF
}

# The pid of whatever listens on TCP port $1, if anything does.
port_owner() {
  ss -Hltnp "sport = :$1" 2>/dev/null |
    awk 'match($0, /pid=[0-9]+/) { print substr($0, RSTART + 4, RLENGTH - 4); exit }'
}

# Ganesha logs "NFS SERVER INITIALIZED" once it has bound, registered and serves; a failed
# registration ends it right before that. The log is appended to, so only what this start wrote
# counts. A readdir with libnfs then proves the export answers as berth will use it.
ganesha_up() {
  local pid log=$DIR/log/ganesha.log size p end url
  command -v ganesha.nfsd >/dev/null || die "no ganesha.nfsd: run scripts/deps"
  nfs_ports
  url="nfs://127.0.0.1/export?nfsport=$NFS_PORT&mountport=$MNT_PORT"
  if pid=$(pid_of "$RUN/ganesha.pid") && [[ $(port_owner "$NFS_PORT") == "$pid" ]]; then
    timeout "$CMD_TIMEOUT" nfs-ls "$url" >/dev/null 2>&1 && return 0
    say "ganesha (pid $pid) does not answer on $url: restarting it"
  fi
  ganesha_stop
  for p in "$NFS_PORT" "$MNT_PORT"; do
    pid=$(port_owner "$p")
    [[ -z $pid ]] || die "port $p, ganesha's, is taken by pid $pid" \
      "($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | sed 's/ $//' || true))"
  done
  mkdir -p -- "$DIR/export" "$DIR/nfs/krb5" "$DIR/nfs/recovery" "$DIR/log" "$RUN"
  write_ganesha_conf
  exec 7>>/tmp/berth-lab-nfs.lock
  flock -w 30 7 || die "timed out waiting for /tmp/berth-lab-nfs.lock"
  rpcbind_up
  size=$(stat -c %s -- "$log" 2>/dev/null) || size=0
  # -F: stays in the foreground, so detach owns it and its pid is the one in the pid file (which
  # ganesha rewrites with the same pid, and leaves behind when it fails).
  detach "$RUN/ganesha.pid" "$log" ganesha.nfsd -F -f "$DIR/ganesha.conf" -p "$RUN/ganesha.pid" \
    -L "$log"
  read -r pid <"$RUN/ganesha.pid"
  end=$((SECONDS + 10))
  until grep -q 'NFS SERVER INITIALIZED' <<<"$(tail -c +$((size + 1)) -- "$log" 2>/dev/null)"; do
    if ! alive "$pid"; then
      tail -n 15 "$log" >&2 || true
      die "ganesha died at start (exit status 2 without a FATAL line: rpcbind did not take its" \
        "registration) (log: $log)"
    fi
    if ((SECONDS >= end)); then
      tail -n 15 "$log" >&2 || true
      die "ganesha did not initialize within 10 s (log: $log)"
    fi
    sleep 0.01
  done
  flock -u 7 && exec 7>&-
  timeout "$CMD_TIMEOUT" nfs-ls "$url" >/dev/null 2>>"$log" ||
    die "ganesha runs but nfs-ls $url fails (log: $log)"
  alive "$pid" || die "ganesha died after it started (log: $log)"
}

ganesha_stop() { stop_pidfiles 5 "$RUN/ganesha.pid"; } # SIGTERM ends it in ~15 ms

# Ganesha, then the rpcbind this lab started, even if other labs' ganeshas registered with it
# since: with port 111 off the network no client can ask it anyway, and a ganesha that starts
# later (under the lock) finds none and starts its own.
nfs_down() {
  local pid
  ganesha_stop
  [[ -f $RUN/$RPCBIND_REC ]] || return 0
  exec 7>>/tmp/berth-lab-nfs.lock
  flock -w 30 7 || die "timed out waiting for /tmp/berth-lab-nfs.lock"
  if pid=$(rpcbind_ours); then rpcbind_stop "$pid"; fi
  rm -f -- "$RUN/$RPCBIND_REC"
  flock -u 7 && exec 7>&-
}
