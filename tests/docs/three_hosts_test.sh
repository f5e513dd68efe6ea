#!/usr/bin/env bash
# docs/operations.md's install on three Docker hosts, from a clean state, on the lab's Ceph: a
# pool made and initialized, a Ceph user whose keyring is written to the file berth.json names,
# a config per host with its own host_id, `berthd --check-config`, berthd started on each. Then
# a volume made on host 1 moves to host 2 and 3 with its data, as Docker would drive it over
# the plugin socket. A fourth host whose berth.json (host_id included) was copied from host 1,
# as a cloned VM would have it, is refused when it attaches, and changes nothing.
#
# It uses the suite's lab for Ceph only (a pool and a user of its own); the four berthds are its
# own, stopped by their pids.
#
#   three_hosts_test.sh SOURCE_DIR BIN_DIR     (needs root and the lab: BERTH_LAB_DIR)
set -euo pipefail
bin=$2
: "${BERTH_LAB_DIR:?needs the lab (source its env)}"
export PATH=$bin:$PATH
work=$(mktemp -d "$BERTH_LAB_DIR/three-hosts.XXXXXX")
id=${work##*.}
pool=three-$id user=three-$id volume=three-$id
id=${id,,}
pool=${pool,,} user=${user,,} volume=${volume,,}

fail() { echo "FAIL: $*" >&2 && exit 1; }
say() { echo "three-hosts: $*"; }

# Docker's side of the plugin protocol: POST /VolumeDriver.X with a JSON body.
call() {
  local host=$1 endpoint=$2 body=$3
  curl -s --max-time 120 --unix-socket "$work/$host/berthd.sock" \
    -H 'Accept: application/vnd.docker.plugins.v1.2+json' -X POST -d "$body" \
    "http://plugin/VolumeDriver.$endpoint"
}
call_ok() {
  local out
  out=$(call "$@") || fail "$1 $2: no answer"
  [[ $(jq -r '.Err // ""' <<<"$out") == "" ]] || fail "$1 $2 $3: $out"
  echo "$out"
}

# Mount (the path in $mount_path), waiting while the host that last unmounted the volume still
# finishes its detach (unmap and unlock run after the last Unmount has answered).
mount_when_free() {
  local host=$1 ref=$2 out
  for _ in $(seq 120); do
    out=$(call "$host" Mount "{\"Name\":\"$volume\",\"ID\":\"$ref\"}") || fail "$host Mount: no answer"
    [[ $(jq -r '.Err // ""' <<<"$out") == *"is attached read-write on host"* ]] || break
    sleep 0.5
  done
  [[ $(jq -r '.Err // ""' <<<"$out") == "" ]] || fail "$host Mount $volume: $out"
  mounted+=("$host $volume $ref")
  mount_path=$(jq -r .Mountpoint <<<"$out")
}

mounted=()  # "host volume id" of every Mount not yet unmounted
declare -A pids
cleanup() {
  local rc=$?
  for entry in "${mounted[@]}"; do
    read -r host vol ref <<<"$entry"
    call "$host" Unmount "{\"Name\":\"$vol\",\"ID\":\"$ref\"}" >/dev/null || rc=1
  done
  for host in "${!pids[@]}"; do
    kill -TERM "${pids[$host]}" 2>/dev/null || true
  done
  for host in "${!pids[@]}"; do
    tail --pid="${pids[$host]}" -f /dev/null || true
    rm -f "$BERTH_LAB_DIR/run/berthd-three-$host-$id.pid"
  done
  if ((rc == 0)); then
    ceph osd pool delete "$pool" "$pool" --yes-i-really-really-mean-it >/dev/null 2>&1 || true
    ceph auth del "client.$user" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT

# Once per cluster, where the admin keyring is: the pool, and the user with its keyring file
# (copied to each host; here the hosts share this machine).
ceph osd pool create "$pool" >/dev/null 2>&1 || fail "ceph osd pool create $pool"
rbd pool init "$pool" || fail "rbd pool init $pool"
ceph auth get-or-create "client.$user" mon 'profile rbd' osd "profile rbd pool=$pool" \
  -o "$work/ceph.client.$user.keyring" || fail "ceph auth get-or-create"
grep -q "key = " "$work/ceph.client.$user.keyring" || fail "no key in the keyring file"
chmod 600 "$work/ceph.client.$user.keyring"
say "pool $pool and client.$user made; keyring in $work"

mapper=$(jq -r '.backends.rbd.mapper' "$BERTH_CONFIG")
# berth.json for host N, as the docs show it, with the host's own host_id.
write_config() {
  local host=$1 host_id=$2
  mkdir -p "$work/$host"
  jq -n --arg host_id "$host_id" --arg dir "$work/$host" --arg conf "$CEPH_CONF" \
    --arg user "$user" --arg keyring "$work/ceph.client.$user.keyring" --arg pool "$pool" \
    --arg mapper "$mapper" '{
      host_id: $host_id, state_dir: ($dir + "/state"), mount_root: ($dir + "/mounts"),
      socket: ($dir + "/berthd.sock"), default_backend: "rbd",
      backends: {rbd: {type: "rbd", conf: $conf, user: $user, keyring: $keyring, pool: $pool,
                       mapper: $mapper}}}' >"$work/$host/berth.json"
}

start_berthd() {
  local host=$1
  berthd --check-config --config "$work/$host/berth.json" >"$work/$host/check.out" 2>&1 ||
    fail "$host: berthd --check-config: $(cat "$work/$host/check.out")"
  berthd --config "$work/$host/berth.json" >"$work/$host/berthd.log" 2>&1 &
  pids[$host]=$!
  echo "${pids[$host]}" >"$BERTH_LAB_DIR/run/berthd-three-$host-$id.pid"  # lab down stops it
  for _ in $(seq 300); do
    call "$host" Capabilities '{}' 2>/dev/null | jq -e .Capabilities >/dev/null 2>&1 && return 0
    kill -0 "${pids[$host]}" 2>/dev/null || fail "$host: berthd exited: $(cat "$work/$host/berthd.log")"
    sleep 0.1
  done
  fail "$host: berthd never served"
}

for n in 1 2 3; do
  write_config "host$n" "node-$id-$n"
  start_berthd "host$n"
done
say "three berthds serve, host ids node-$id-1..3"

# The volume follows its container from host to host, data and all.
call_ok host1 Create "{\"Name\":\"$volume\",\"Opts\":{\"size\":\"64M\"}}" >/dev/null
previous=
for n in 1 2 3; do
  mount_when_free "host$n" "c$n"
  path=$mount_path
  [[ -z $previous ]] || [[ $(cat "$path/written-by") == "$previous" ]] ||
    fail "host$n does not see what $previous wrote"
  echo "host$n" >"$path/written-by"
  sync -f "$path/written-by"
  call_ok "host$n" Unmount "{\"Name\":\"$volume\",\"ID\":\"c$n\"}" >/dev/null
  mounted=()
  previous=host$n
done
say "$volume moved host1 -> host2 -> host3 with its data"

# A clone of host 1: the same berth.json, host_id and all, and a state dir of its own.
mkdir -p "$work/clone"
jq --arg dir "$work/clone" '.state_dir = ($dir + "/state") | .mount_root = ($dir + "/mounts") |
  .socket = ($dir + "/berthd.sock")' "$work/host1/berth.json" >"$work/clone/berth.json"
start_berthd clone
out=$(call clone Mount "{\"Name\":\"$volume\",\"ID\":\"clone\"}")
err=$(jq -r '.Err // ""' <<<"$out")
[[ $err == *"host id node-$id-1 belongs to another berth installation"* ]] ||
  { mounted+=("clone $volume clone"); fail "the clone of host1 was not refused: $out"; }
! grep -qF -- "$work/clone/" <<<"$(findmnt -rn -o TARGET)" || fail "the clone mounted something"
[[ ! -e $work/clone/state/volumes/$volume.json ]] || fail "the clone recorded an attachment"
! grep -q "node-$id-1" <<<"$(rbd -p "$pool" lock ls "$volume" 2>/dev/null)" ||
  fail "the refused clone holds the lock"
say "the clone of host1 was refused: $err"

# host1 itself still attaches (the refusal took nothing from it), and the volume goes.
mount_when_free host1 again
call_ok host1 Unmount "{\"Name\":\"$volume\",\"ID\":\"again\"}" >/dev/null
mounted=()
call_ok host1 Remove "{\"Name\":\"$volume\"}" >/dev/null
say "ok"
