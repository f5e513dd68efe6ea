#!/usr/bin/env bash
# Every error message that suggests breaking a lock suggests the safe way: with --fence, which
# blocklists the holder first (docs/operations.md's fencing runbook). Someone paged at night
# copies the command from the message, so an unfenced `lock break` in a message could let two
# writers at one volume. Scans the string literals of the product's sources (adjacent literals
# joined, as the compiler joins them); put `--fence` in the same literal as `lock break`.
set -euo pipefail
root=${1:?usage: remediation_test.sh REPO_ROOT}
cd "$root"

# Prints FILE: LITERAL for each literal that names `lock break` without `--fence`; with -c, the
# count of literals that name `lock break` at all.
scan() {
  perl -0777 -ne '
    my $count = 0;
    while (/("(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*)/g) {
      my $literal = $1;
      $literal =~ s/"\s*"//g;
      next unless $literal =~ /lock break/;
      ++$count;
      print "$ARGV: $literal\n" unless $literal =~ /--fence/;
    }
    print "count $count\n" if $ENV{SCAN_COUNT};
  ' "$@"
}

# The scan itself: an unsafe message split over two literals is caught, a safe one is not.
sample=$(mktemp)
trap 'rm -f "$sample"' EXIT
printf '%s\n' 'throw Error("stop it there or run berthctl "' '            "lock break " + v);' \
  'throw Error("or fence it: berthctl lock break --fence " + v);' >"$sample"
[[ $(scan "$sample" | wc -l) == 1 ]] || { echo "FAIL: the scan missed an unfenced lock break" >&2; exit 1; }

mapfile -t sources < <(git ls-files -- backends cli common engine fsutil plugin | grep -E '\.(cc|h)$')
unsafe=$(scan "${sources[@]}")
found=$(SCAN_COUNT=1 scan "${sources[@]}" | awk '$1 == "count" { n += $2 } END { print n + 0 }')
if [[ -n $unsafe ]]; then
  echo "FAIL: messages suggest breaking a lock without --fence:" >&2
  echo "$unsafe" >&2
  exit 1
fi
# The busy-volume message (backends/rbd/lock.cc) names the command: the scan must see it.
((found >= 1)) || { echo "FAIL: no message names lock break; did the scan break?" >&2; exit 1; }
echo "remediation: $found messages suggest lock break, all with --fence"
