#!/usr/bin/env bash
# The layers hold in the build (cmake/Layers.cmake): in the fsutil layer, an include of a header
# below compiles, and an include of engine/engine.h, above, fails because the header cannot be
# found. Usage: layers_test.sh BUILD_DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$1
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cmake --build "$build" --target berth_layers_downward >"$build/layers-downward.log" 2>&1 ||
  { cat "$build/layers-downward.log" >&2; fail "the downward include does not compile"; }
echo "ok: fsutil includes common/ and fsutil/"

if cmake --build "$build" --target berth_layers_upward >"$build/layers-upward.log" 2>&1; then
  fail "fsutil's include of engine/engine.h compiled: the layers are not enforced"
fi
grep -q 'engine/engine.h: No such file or directory' "$build/layers-upward.log" ||
  { cat "$build/layers-upward.log" >&2; fail "the upward include failed, but not for want of the header"; }
echo "ok: fsutil's include of engine/engine.h fails: 'engine/engine.h: No such file or directory'"
