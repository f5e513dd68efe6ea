# shellcheck shell=bash
# --swarm: the lab's dockerd is a newer Docker Engine, from Debian's testing (else unstable), and
# runs a one-node swarm on 127.0.0.1. Swarm cluster volumes (CSI) need Engine 23 or later; Debian
# 12 ships 20.10, and Debian 13's 26.1 never hands a managed CSI plugin to Swarm ("does not
# implement PluginAddr"); 28.5 works. The two packages (docker.io, docker-cli) are fetched once per
# machine with a private apt configuration and unpacked into a cache dir: the system's apt
# sources, lists and installed packages are never touched. Sourced by scripts/lab.

read -ra SWARM_SUITES <<<"${BERTH_LAB_DOCKER_SUITE:-forky sid}" # the first with Engine >= 28
SWARM_MIN_MAJOR=28
SWARM_CACHE=/var/cache/berth-lab
SWARM_DOCKER=$SWARM_CACHE/docker # usr/bin/docker, usr/sbin/dockerd, ..., VERSIONS
# The swarm's ports are fixed machine-wide (2377 listens on 127.0.0.1; gossip takes 7946): one
# swarm lab at a time per machine.
SWARM_PORTS=(2377 7946)

is_swarm_lab() { [[ -f $DIR/swarm ]]; }

# What a lab's docker commands put first on PATH: the newer Docker in a swarm lab.
docker_path() { if is_swarm_lab; then echo "$SWARM_DOCKER/usr/bin:$SWARM_DOCKER/usr/sbin:"; fi; }

# The system's own Debian mirror (one-line or deb822 sources), for the newer suite.
debian_mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)[a-z]+://[^[:space:]]+' |
    grep -oE '[a-z]+://[^[:space:]]+' | grep -v -- '-security' | head -n1) || true
  echo "${uri:-http://deb.debian.org/debian}"
}

# Fetches and unpacks docker.io and docker-cli into $SWARM_DOCKER, once: a lock keeps two labs
# from fetching at once, and only a whole unpack is moved into place.
swarm_docker_fetch() {
  local work deb apt suite version=
  [[ ! -x $SWARM_DOCKER/usr/sbin/dockerd ]] || return 0
  mkdir -p -- "$SWARM_CACHE"
  exec 6>>"$SWARM_CACHE/fetch.lock"
  flock -w 300 6 || die "timed out waiting for $SWARM_CACHE/fetch.lock"
  if [[ ! -x $SWARM_DOCKER/usr/sbin/dockerd ]]; then
    work=$(mktemp -d -- "$SWARM_CACHE/fetch.XXXXXX")
    for suite in "${SWARM_SUITES[@]}"; do
      rm -rf -- "${work:?}"/*
      mkdir -p -- "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
      echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror)" \
        "$suite main" >"$work/sources.list"
      apt=(-q -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
      logged apt-get "${apt[@]}" update
      version=$(apt-cache "${apt[@]}" show docker.io 2>/dev/null | sed -n 's/^Version: //p' |
        sort -V | tail -n1)
      say "Debian $suite has docker.io ${version:-(none)}"
      [[ ${version%%.*} =~ ^[0-9]+$ ]] && ((${version%%.*} >= SWARM_MIN_MAJOR)) && break
      version=
    done
    [[ -n $version ]] || die "no suite of ${SWARM_SUITES[*]} has docker.io >= $SWARM_MIN_MAJOR"
    say "fetching docker.io and docker-cli $version from Debian $suite into $SWARM_DOCKER (once)"
    (cd -- "$work/debs" && apt-get "${apt[@]}" download docker.io docker-cli) >>"$LOG" 2>&1 ||
      { tail -n 15 "$LOG" >&2 && die "cannot download docker.io and docker-cli ($suite)"; }
    for deb in "$work"/debs/*.deb; do
      logged dpkg-deb -x "$deb" "$work/root"
      echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) ($suite)" \
        >>"$work/root/VERSIONS"
    done
    [[ -x $work/root/usr/sbin/dockerd && -x $work/root/usr/bin/docker ]] ||
      die "the $suite packages hold no usr/sbin/dockerd and usr/bin/docker"
    rm -rf -- "$SWARM_DOCKER"
    mv -- "$work/root" "$SWARM_DOCKER"
    rm -rf -- "$work"
  fi
  flock -u 6 && exec 6>&-
}

# Before dockerd starts: the newer Docker is there, and the swarm's ports are free (or ours).
swarm_prepare() {
  local port
  swarm_docker_fetch
  pid_of "$RUN/dockerd.pid" >/dev/null && return 0
  for port in "${SWARM_PORTS[@]}"; do
    [[ -z $(ss -Hltn "sport = :$port") ]] ||
      die "port $port is taken (another swarm lab, or a swarm of the system's dockerd)"
  done
}

# After dockerd: a one-node swarm on 127.0.0.1, the node its own manager. Offline, in ~1 s.
swarm_up() {
  [[ $(docker_cli info -f '{{.Swarm.LocalNodeState}}') != active ]] || return 0
  logged docker_cli swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377
}

# Before dockerd stops: leaving the swarm stops its tasks, so none is restarted meanwhile.
swarm_down() {
  is_swarm_lab && pid_of "$RUN/dockerd.pid" >/dev/null || return 0
  docker_cli swarm leave --force >/dev/null 2>&1 || say "could not leave the swarm"
}
