#!/usr/bin/env bash
# Every command in the docs a user follows works as written: docs/operations.md, README.md,
# docs/user-guide.md and docs/kubernetes.md. Each line of their `sh` blocks (and each `$ ` line
# of their `console` blocks) is either run here against the lab, exactly as written but for the
# substitutions below, and checked for what the docs say it does; or names the suite's test that
# runs it; or says why it needs a human. A command this script does not know fails the test, so a
# new command in the docs needs a check here.
#
# Substitutions: the lab already has client.berth (with its own pool's caps), so the docs' user
# is made as client.docs-berth; the snapshot date is today's; the blocklisted address is the one
# this test fenced; the Docker driver `berth` is this lab's berth-<lab id> (BERTH_DRIVER); the
# host id the README forgets (node-1) is the second host this test fenced. The documents run one
# after the other in one lab, so a volume name a later document reuses gets the document's
# suffix (README's db is db-readme).
#
# It runs on a lab of its own (this build's berthd), since it fences, restarts and breaks locks.
#
#   commands_test.sh SOURCE_DIR BIN_DIR     (needs root)
set -euo pipefail
src=$1 bin=$2
docs=(docs/operations.md README.md docs/user-guide.md docs/kubernetes.md)
lab=$(mktemp -d /tmp/berth-docs.XXXXXX)
lab_down() {
  "$src/scripts/lab" down "$lab" >/dev/null || return 1
  grep -qF -- "$lab/" <<<"$(findmnt -rn -o TARGET)" || rm -rf --one-file-system -- "$lab"
}
BERTH_LAB_BERTHD=$bin/berthd "$src/scripts/lab" up "$lab" >/dev/null || { lab_down; exit 1; }
# shellcheck source=/dev/null
source "$lab/env"
export PATH=$bin:$PATH BERTH_CONFIG=$BERTH_LAB_DIR/berth.json
work=$(mktemp -d "$BERTH_LAB_DIR/docs-test.XXXXXX")
today=$(date +%F)
doc=setup

fail() { echo "FAIL: $doc: $*" >&2 && exit 1; }
say() { echo "docs-test: $doc: $*"; }

# The commands of a document, one per line (continuation lines joined).
commands() {
  awk '
    /^```sh$/ { block = "sh"; next }
    /^```console$/ { block = "console"; next }
    /^```/ { block = ""; next }
    block == "sh" && /^[^#]/ { line = line $0 }
    block == "console" && /^\$ / { line = substr($0, 3) }
    line != "" { if (line ~ /\\$/) { sub(/\\$/, " ", line) } else { print line; line = "" } }
  ' "$src/$1"
}

# "run", "covered TEST" (a test of the suite runs that command) or "manual WHY".
classify() {
  case $1 in
    "ceph auth get-or-create "* | "ceph auth caps "* | "berthd --check-config"* | "berthctl health"* | \
      "docker volume create -d berth "* | "docker volume inspect "* | "berthctl snapshot "* | \
      "berthctl lock "* | "ceph osd blocklist "* | "berthctl volume "* | "berthctl create "* | \
      "berthctl host forget "* | "source <(berthctl completion bash)") echo run ;;
    "ceph osd pool create tenant-a "*)
      echo "covered integration.flex.FlexTest.TenantVolumesUseTheTenantsKeyAndLeaveNoTrace" ;;
    "ceph osd pool create "*) echo "covered e2e.docs.ThreeHosts" ;;
    "sudo scripts/try"* | "sudo scripts/test"*)
      echo "manual the suite's own entry points (CI runs scripts/test; scripts/try is its demo)" ;;
    "apt install ./"* | "systemctl enable --now berthd" | \
      "sudo scripts/deps && BERTH_FAULT_INJECTION=0 scripts/build && "*)
      echo "covered integration.packaging.Deb" ;;
    "editor /etc/berth/berth.json && berthd --check-config && systemctl enable --now berthd"*)
      echo "covered integration.packaging.Deb" ;;
    "berthd --config /etc/berth/berth.json &"*)
      echo "covered integration.docker.BerthdNotify.ReadyOnlyOnceServingAndStoppingOnSigterm" ;;
    "docker run -d --volume-driver berth -v pgdata:"*)
      echo "covered e2e.docker.DockerTest.DataSurvivesContainerRemoval" ;;
    "docker run --mount type=volume,"*) echo "covered e2e.docker.DockerTest.ImplicitCreateAndVolumeOpts" ;;
    "packaging/docker-plugin/build.sh "* | "docker plugin set "* | "docker plugin enable "* | \
      "docker plugin disable "* | "mkdir -p /var/lib/berth-plugin && editor "*)
      echo "covered e2e.packaging.DockerPlugin" ;;
    "packaging/kubernetes/install.sh "*) echo "covered integration.packaging.KubernetesInstall" ;;
    "packaging/kubernetes/build-image.sh "*) echo "covered e2e.packaging.NodeImage" ;;
    "docker tag berth/berth-flex-installer:"*)
      echo "manual pushes to the reader's registry, which the lab has none of" ;;
    "curl -s http://127.0.0.1:9464/metrics") echo "covered integration.metrics.MetricsScrapeTest" ;;
    "editor /etc/berth/berth.json") echo "manual an interactive edit" ;;
    "docker plugin upgrade "*) echo "manual needs an image registry, which the lab has none of" ;;
    "docker run ... "* | "docker stop pg && docker rm pg"*)
      echo "manual the reader's own database container (no image registry here)" ;;
    "kubectl "*) echo "manual needs a Kubernetes cluster; integration.flex.* runs kubelet's calls" ;;
    *) echo unknown ;;
  esac
}

# Volume names that a document reuses from an earlier one, given the document's suffix.
rename() {
  case $doc in
    README.md) perl -pe 's/(?<![\w-])(db|pgdata)(?!\w)/$1-readme/g' <<<"$1" ;;
    docs/user-guide.md) perl -pe 's/(?<![\w-])(pgdata)(?!\w)/$1-guide/g' <<<"$1" ;;
    *) echo "$1" ;;
  esac
}

# The lab's berthd on a second host, holding a volume read-write (for the fencing runbook).
host_b_config() {
  jq --arg d "$work/host-b" '.host_id = "docs-host-b" | .state_dir = ($d + "/state") |
    .mount_root = ($d + "/mnt")' "$BERTH_CONFIG" >"$work/host-b.json"
  echo "$work/host-b.json"
}

# Host B dies: its mapper is killed; then, "rebooted", it cleans up its own stale state.
host_b_dies_and_reboots() {
  local volume=$1 pid
  pid=$(jq -r '.attachment.pid' "$work/host-b/state/volumes/$volume.json")
  kill -9 "$pid"
  berthctl --config "$work/host-b.json" health --fix >"$work/fix.out" 2>&1 || true
  [[ ! -e $work/host-b/state/volumes/$volume.json ]] ||
    fail "health --fix left host B's state: $(cat "$work/fix.out")"
  ! findmnt -rn -o TARGET | grep -F -- "$work/host-b/" || fail "health --fix left a mount under host B"
}

# Answers "y" on a terminal, for commands that ask before they act.
confirm_yes() { script -qec "$1" /dev/null <<<y; }

inspect() { berthctl --json volume inspect "$1"; }

# Everything the commands made is in the lab, which goes down whole (its mappers, host B's too).
cleanup() {
  local rc=$?
  lab_down || rc=1
  exit "$rc"
}
trap cleanup EXIT

# Runs one command of the document and checks what the docs say it does.
run_and_check() {
  local cmd=$1 words
  cmd=${cmd//nightly-2026-11-26/nightly-$today}
  cmd=${cmd//client.berth /client.docs-berth }
  cmd=${cmd//-d berth /-d $BERTH_DRIVER }
  cmd=${cmd//host forget node-1/host forget docs-host-b}
  cmd=${cmd//-o \/etc\/ceph\//-o $work\/}
  cmd=$(rename "$cmd")
  local bare=${cmd%%#*}
  read -ra words <<<"$bare"
  say "$cmd"
  case $bare in
    "ceph auth get-or-create "*)
      out=$(eval "$bare") || fail "$cmd: exit $?"
      keyring=$(grep -o -- '-o [^ ]*' <<<"$bare" | cut -c4- || true)
      [[ -z $keyring ]] || out=$(cat "$keyring")
      grep -q "key = " <<<"$out" || fail "$cmd: no key in: $out" ;;
    "ceph auth caps "*)
      eval "$bare" >/dev/null 2>&1 || fail "$cmd: exit $?"
      local user=${words[3]} osd_caps
      osd_caps=$(ceph auth get "$user" 2>/dev/null | grep 'caps osd')
      [[ $osd_caps == *"allow rwx object_prefix berth."* ]] ||
        fail "$cmd: $user has osd caps: $osd_caps" ;;
    "berthd --check-config"*)
      eval "$bare" >/dev/null || fail "$cmd: exit $?" ;;
    "berthctl health --fix"*)
      if [[ $doc == docs/operations.md ]]; then
        host_b_dies_and_reboots db  # "then, on the rebooted host"
      else
        rc=0 && eval "$bare" >"$work/health.out" 2>&1 || rc=$?
        ((rc == 0 || rc == 7)) || fail "$cmd: exit $rc: $(cat "$work/health.out")"
      fi ;;
    "berthctl health"*)
      # 0, or 7 when something on this host needs a look (other tests' leftovers, say).
      rc=0 && eval "$bare" >"$work/health.out" || rc=$?
      ((rc == 0 || rc == 7)) || fail "$cmd: exit $rc: $(cat "$work/health.out")"
      grep -Eq "^backend rbd +ok" "$work/health.out" || fail "$cmd: $(cat "$work/health.out")" ;;
    "docker volume create "*)
      local name=${words[-1]}
      if [[ $bare == *subdir=legacy/site-assets* ]]; then
        mkdir -p "$BERTH_NFS_EXPORT_DIR/legacy/site-assets"  # the directory it adopts
      fi
      [[ $(eval "$bare") == "$name" ]] || fail "$cmd"
      docker volume inspect "$name" >/dev/null || fail "$name was not created" ;;
    "docker volume inspect "*)
      out=$(eval "$bare") || fail "$cmd: exit $?"
      for field in size fstype backend; do
        jq -e --arg f "$field" '.[0].Status | has($f)' <<<"$out" >/dev/null ||
          fail "$cmd shows no $field: $out"
      done ;;
    "berthctl volume create "* | "berthctl create "*)
      local name=${words[3]}
      [[ ${words[1]} != create ]] || name=${words[2]}
      if [[ $bare == *image=old-db-image* ]]; then
        rbd -p "$BERTH_POOL" create old-db-image --size 64M  # the image it adopts
      fi
      eval "$bare" >/dev/null || fail "$cmd: exit $?"
      out=$(inspect "$name") || fail "$cmd: no volume $name"
      while read -r option; do
        [[ ${option%%=*} == size ]] && continue  # shown in bytes
        grep -qF -- "\"${option#*=}\"" <<<"$out" || fail "$cmd: inspect does not show $option: $out"
      done < <(grep -o -- '-o [a-z_]*=[^ ]*' <<<"$bare" | cut -c4-) ;;
    "berthctl volume ls"*)
      out=$(eval "$bare") || fail "$cmd: exit $?"
      grep -qw "$(rename db)" <<<"$out" || fail "$cmd does not list $(rename db): $out" ;;
    "berthctl volume inspect "*)
      out=$(eval "$bare") || fail "$cmd: exit $?"
      grep -qF -- "${words[3]}" <<<"$out" || fail "$cmd: $out" ;;
    "berthctl volume resize "*)
      eval "$bare" >/dev/null || fail "$cmd: exit $?"
      bytes=$(numfmt --from=iec "${words[4]}")
      inspect "${words[3]}" | jq -e --argjson b "$bytes" '[.. | numbers] | index($b) != null' \
        >/dev/null || fail "$cmd: inspect shows no size of $bytes bytes" ;;
    "berthctl snapshot create "*)
      eval "$bare" >/dev/null || fail "$cmd: exit $?"
      local spec  # as the shell expands it: db@nightly-$(date +%F)
      spec=$(eval "printf '%s' ${bare#berthctl snapshot create }")
      berthctl --json snapshot ls "${spec%@*}" | jq -e --arg s "${spec#*@}" 'any(.[]; .name == $s)' \
        >/dev/null || fail "$cmd: no snapshot ${spec#*@}" ;;
    "berthctl snapshot ls "*)
      out=$(eval "$bare") || fail "$cmd: exit $?"
      grep -q "before-upgrade\|nightly-" <<<"$out" || fail "$cmd lists no snapshot: $out" ;;
    "berthctl snapshot rm "*)
      eval "$bare" >/dev/null || fail "$cmd: exit $?"
      berthctl --json snapshot ls "${words[3]%@*}" |
        jq -e --arg s "${words[3]#*@}" 'any(.[]; .name == $s) | not' >/dev/null ||
        fail "$cmd: the snapshot is still listed" ;;
    "berthctl snapshot clone "*)
      eval "$bare" >/dev/null || fail "$cmd: exit $?"
      inspect "${words[4]}" >/dev/null || fail "$cmd: no clone ${words[4]}" ;;
    "berthctl snapshot rollback "*)
      confirm_yes "$bare" >"$work/rollback.out" 2>&1 || fail "$cmd: $(cat "$work/rollback.out")" ;;
    "berthctl lock ls "*)
      # A second host mounts the volume first, so there is a holder to show and to fence.
      berthctl --config "$(host_b_config)" volume mount "${words[3]}" --ref docs >/dev/null
      eval "$bare" >"$work/locks.out"
      grep -q "docs-host-b" "$work/locks.out" || fail "$cmd: $(cat "$work/locks.out")" ;;
    "berthctl lock break "*)
      local volume
      volume=$(printf '%s\n' "${words[@]:3}" | grep -v '^-' | head -1)
      confirm_yes "$bare" >"$work/break.out" 2>&1 || fail "$cmd: $(cat "$work/break.out")"
      berthctl --json lock ls "$volume" | jq -e '.holders | length == 0' >/dev/null ||
        fail "$cmd: the lock is still held"
      grep -q "fenced client" "$work/break.out" || fail "$cmd fenced nothing: $(cat "$work/break.out")"
      # The operations runbook goes on with host B; elsewhere host B was the dead host.
      [[ $doc == docs/operations.md ]] || host_b_dies_and_reboots "$volume" ;;
    "ceph osd blocklist ls"*)
      # Only what this test fenced: other tests' fences must stay.
      fenced=$(grep -o "fenced client [^ ]*" "$work/break.out" | awk '{print $3}' |
        tr -d '\r' | sed 's/^v[12]://')
      [[ -n $fenced ]] || fail "lock break fenced nothing: $(cat "$work/break.out")"
      eval "$bare" >"$work/blocklist.out" 2>&1
      for address in $fenced; do
        grep -qF "$address" "$work/blocklist.out" || fail "$cmd does not list $address"
      done ;;
    "ceph osd blocklist rm "*)
      for address in $fenced; do
        eval "${bare//127.0.0.1:0\/3141592/$address}" >/dev/null 2>&1 || fail "$cmd ($address)"
      done
      if grep -qF "$(head -1 <<<"$fenced")" <<<"$(ceph osd blocklist ls 2>&1)"; then
        fail "$cmd: still listed"
      fi ;;
    "berthctl host forget "*)
      rados -p "$BERTH_POOL" stat "berth.host.${words[3]}" >/dev/null 2>&1 ||
        fail "$cmd: host ${words[3]} was never registered, so the check would prove nothing"
      confirm_yes "$bare" >"$work/forget.out" 2>&1 || fail "$cmd: $(cat "$work/forget.out")"
      ! rados -p "$BERTH_POOL" stat "berth.host.${words[3]}" >/dev/null 2>&1 ||
        fail "$cmd: the host is still registered" ;;
    "berthctl volume mount "*)
      mounted=$(eval "$bare") || fail "$cmd: exit $?"
      mountpoint -q "$mounted" || fail "$cmd: $mounted is not a mount point" ;;
    "berthctl volume unmount "*)
      eval "$bare" >/dev/null || fail "$cmd: exit $?"
      ! mountpoint -q "$mounted" || fail "$cmd: $mounted is still mounted" ;;
    "berthctl volume rm "*)
      eval "$bare" >"$work/rm.out" 2>&1 || fail "$cmd: $(cat "$work/rm.out")"
      ! inspect "${words[3]}" >/dev/null 2>&1 || fail "$cmd: ${words[3]} is still there" ;;
    "source <(berthctl completion bash)"*)
      eval "$bare"
      complete -p berthctl >/dev/null || fail "$cmd: no completion for berthctl" ;;
    *) fail "no check for: $cmd" ;;
  esac
  return 0
}

# First, every command of every document is known: run here, run by a named test, or manual.
declare -A counts
for doc in "${docs[@]}"; do
  mapfile -t all < <(commands "$doc")
  ((${#all[@]} >= 2)) || fail "found only ${#all[@]} commands"
  covered=0 manual=0
  for cmd in "${all[@]}"; do
    kind=$(classify "$cmd")
    case $kind in
      unknown) fail "a command this test does not know: $cmd" ;;
      covered*)
        test=${kind#covered }
        grep -rqF "${test##*.}" "$src/tests" || fail "no test $test for: $cmd"
        covered=$((covered + 1))
        ;;
      manual*) manual=$((manual + 1)) ;;
    esac
  done
  counts[$doc]="$covered run by other tests, $manual need a human or a cluster"
done

# Then the runnable ones, document by document, in each document's order.
summary=()
for doc in "${docs[@]}"; do
  mapfile -t all < <(commands "$doc")
  # The operations runbook's snapshots and locks need a volume named db.
  [[ $doc != docs/operations.md ]] || berthctl volume create db -o size=64M >/dev/null
  ran=0
  for cmd in "${all[@]}"; do
    [[ $(classify "$cmd") == run ]] || continue
    run_and_check "$cmd"
    ran=$((ran + 1))
  done
  summary+=("$doc: $ran run here, ${counts[$doc]}")
done
doc=all
printf 'docs-test: %s\n' "${summary[@]}"
