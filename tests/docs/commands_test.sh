#!/usr/bin/env bash
# Every command in docs/operations.md still works: each line of its `sh` blocks (and each `$ `
# line of its `console` blocks) is either run here against the lab, exactly as written but for
# the substitutions below, or names the suite's test that runs it; a command this script does
# not know fails the test, so a new command in the docs needs a check here. Substitutions: the
# lab already has client.berth (with its own pool's caps), so the docs' user is made as
# client.docs-berth; the snapshot date is today's; the blocklisted address is the one this test
# fenced; the Docker driver `berth` is this lab's berth-<lab id> (BERTH_DRIVER).
#
# It runs on a lab of its own (this build's berthd), since it fences, restarts and breaks locks.
#
#   operations_test.sh SOURCE_DIR BIN_DIR     (needs root)
set -euo pipefail
src=$1 bin=$2
doc=$src/docs/operations.md
lab=$(mktemp -d /tmp/berth-docs.XXXXXX)
lab_down() {
  "$src/scripts/lab" down "$lab" >/dev/null || return 1
  findmnt -rn -o TARGET | grep -qF -- "$lab/" || rm -rf --one-file-system -- "$lab"
}
BERTH_LAB_BERTHD=$bin/berthd "$src/scripts/lab" up "$lab" >/dev/null || { lab_down; exit 1; }
# shellcheck source=/dev/null
source "$lab/env"
export PATH=$bin:$PATH BERTH_CONFIG=$BERTH_LAB_DIR/berth.json
work=$(mktemp -d "$BERTH_LAB_DIR/docs-test.XXXXXX")
today=$(date +%F)

fail() { echo "FAIL: $*" >&2 && exit 1; }
say() { echo "docs-test: $*"; }

# The commands of the document, one per line (continuation lines joined).
commands() {
  awk '
    /^```sh$/ { block = "sh"; next }
    /^```console$/ { block = "console"; next }
    /^```/ { block = ""; next }
    block == "sh" && /^[^#]/ { line = line $0 }
    block == "console" && /^\$ / { line = substr($0, 3) }
    line != "" { if (line ~ /\\$/) { sub(/\\$/, " ", line) } else { print line; line = "" } }
  ' "$doc"
}

# "run", "covered TEST" (a test of the suite runs that command) or "manual WHY".
classify() {
  case $1 in
    "ceph auth get-or-create "* | "berthd --check-config"* | "berthctl health"* | \
      "docker volume create -d berth -o size=10G pgdata" | "berthctl snapshot "* | \
      "berthctl lock "* | "ceph osd blocklist "*) echo run ;;
    "apt install ./berth_"*) echo "covered integration.packaging.Deb" ;;
    "systemctl enable --now berthd") echo "covered integration.packaging.Deb" ;;
    "packaging/docker-plugin/build.sh "* | "docker plugin set "* | "docker plugin enable "* | \
      "docker plugin disable "* | "mkdir -p /var/lib/berth-plugin && editor "*)
      echo "covered e2e.packaging.DockerPlugin" ;;
    "packaging/kubernetes/install.sh "*) echo "covered integration.packaging.KubernetesInstall" ;;
    "curl -s http://127.0.0.1:9464/metrics") echo "covered integration.metrics.MetricsScrapeTest" ;;
    "editor /etc/berth/berth.json") echo "manual an interactive edit" ;;
    "docker plugin upgrade "*) echo "manual needs an image registry, which the lab has none of" ;;
    "kubectl "*) echo "manual needs a Kubernetes cluster; integration.flex.* runs kubelet's calls" ;;
    *) echo unknown ;;
  esac
}

# The lab's berthd on a second host, holding `db` read-write (for the fencing runbook).
host_b_config() {
  jq --arg d "$work/host-b" '.host_id = "docs-host-b" | .state_dir = ($d + "/state") |
    .mount_root = ($d + "/mnt")' "$BERTH_CONFIG" >"$work/host-b.json"
  echo "$work/host-b.json"
}

# Answers "y" on a terminal, for commands that ask before they act.
confirm_yes() { script -qec "$1" /dev/null <<<y; }

# Everything the commands made is in the lab, which goes down whole (its mappers, host B's too).
cleanup() {
  local rc=$?
  lab_down || rc=1
  exit "$rc"
}
trap cleanup EXIT

mapfile -t all < <(commands)
((${#all[@]} > 10)) || fail "found only ${#all[@]} commands in $doc"
ran=0 covered=0 manual=0
for cmd in "${all[@]}"; do
  kind=$(classify "$cmd")
  case $kind in
    unknown) fail "docs/operations.md has a command this test does not know: $cmd" ;;
    covered*)
      test=${kind#covered }
      grep -rqF "${test##*.}" "$src/tests" || fail "no test $test for: $cmd"
      covered=$((covered + 1))
      ;;
    manual*) manual=$((manual + 1)) ;;
  esac
done

# The runnable ones, in the document's order, each checked for what the docs say it does.
berthctl volume create db -o size=64M >/dev/null
for cmd in "${all[@]}"; do
  [[ $(classify "$cmd") == run ]] || continue
  cmd=${cmd//nightly-2026-11-26/nightly-$today}
  cmd=${cmd//client.berth /client.docs-berth }
  cmd=${cmd//-d berth /-d $BERTH_DRIVER }
  say "$cmd"
  case $cmd in
    "ceph auth get-or-create "*)
      out=$(eval "$cmd") || fail "$cmd: exit $?"
      grep -q "key = " <<<"$out" || fail "$cmd: no key in: $out" ;;
    "berthd --check-config"*)
      eval "$cmd" >/dev/null || fail "$cmd: exit $?" ;;
    "berthctl health --fix"*)
      # "then, on the rebooted host": host B's mapper is gone, its state is stale.
      pid=$(jq -r '.attachment.pid' "$work/host-b/state/volumes/db.json")
      kill -9 "$pid"
      berthctl --config "$work/host-b.json" health --fix >"$work/fix.out" 2>&1 || true
      [[ ! -e $work/host-b/state/volumes/db.json ]] || fail "$cmd left host B's state: $(cat "$work/fix.out")"
      ! findmnt -rn -o TARGET | grep -F -- "$work/host-b/" || fail "$cmd left a mount under host B" ;;
    "berthctl health"*)
      # 0, or 7 when something on this host needs a look (other tests' leftovers, say).
      rc=0 && eval "$cmd" >"$work/health.out" || rc=$?
      ((rc == 0 || rc == 7)) || fail "$cmd: exit $rc: $(cat "$work/health.out")"
      grep -Eq "^backend rbd +ok" "$work/health.out" || fail "$cmd: $(cat "$work/health.out")" ;;
    "docker volume create "*)
      [[ $(eval "$cmd") == pgdata ]] || fail "$cmd"
      docker volume inspect pgdata >/dev/null || fail "pgdata was not created" ;;
    "berthctl snapshot create "*)
      eval "$cmd" >/dev/null
      berthctl --json snapshot ls db | jq -e --arg s "nightly-$today" 'any(.[]; .name == $s)' \
        >/dev/null || fail "$cmd: no snapshot nightly-$today" ;;
    "berthctl snapshot clone "*)
      eval "$cmd" >/dev/null
      berthctl volume inspect db-restore-test >/dev/null || fail "$cmd: no clone" ;;
    "berthctl snapshot rollback "*)
      confirm_yes "${cmd%%#*}" >"$work/rollback.out" 2>&1 ||
        fail "$cmd: $(cat "$work/rollback.out")" ;;
    "berthctl lock ls "*)
      # A second host mounts db first, so there is a holder to show and to fence.
      berthctl --config "$(host_b_config)" volume mount db --ref docs >/dev/null
      eval "$cmd" >"$work/locks.out"
      grep -q "docs-host-b" "$work/locks.out" || fail "$cmd: $(cat "$work/locks.out")" ;;
    "berthctl lock break "*)
      confirm_yes "${cmd%%#*}" >"$work/break.out" 2>&1 || fail "$cmd: $(cat "$work/break.out")"
      berthctl --json lock ls db | jq -e '.holders | length == 0' >/dev/null ||
        fail "$cmd: the lock is still held" ;;
    "ceph osd blocklist ls"*)
      # Only what this test fenced: other tests' fences must stay.
      fenced=$(grep -o "fenced client [^ ]*" "$work/break.out" | awk '{print $3}' |
        tr -d '\r' | sed 's/^v[12]://')
      [[ -n $fenced ]] || fail "lock break fenced nothing: $(cat "$work/break.out")"
      eval "$cmd" >"$work/blocklist.out" 2>&1
      for address in $fenced; do
        grep -qF "$address" "$work/blocklist.out" || fail "$cmd does not list $address"
      done ;;
    "ceph osd blocklist rm "*)
      for address in $fenced; do
        eval "${cmd//127.0.0.1:0\/3141592/$address}" >/dev/null 2>&1 || fail "$cmd ($address)"
      done
      ceph osd blocklist ls 2>&1 | grep -qF "$(head -1 <<<"$fenced")" && fail "$cmd: still listed" ;;
    *) fail "no check for: $cmd" ;;
  esac
  ran=$((ran + 1))
done
say "$ran commands run, $covered run by other tests, $manual need a human or a cluster"
