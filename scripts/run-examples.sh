#!/usr/bin/env bash
# Runs every example once, one after another, each with its own embedded ZooKeeper (or ZK_CONNECT),
# under a per-example timeout. Prints pass/fail and the time of each; exits non-zero if any failed.
#
#   bash scripts/run-examples.sh                 all examples, then the demo
#   bash scripts/run-examples.sh lock queue      only these (names as in examples/, without .ts)
#   EXAMPLE_TIMEOUT=180 SKIP_DEMO=1 bash scripts/run-examples.sh
set -uo pipefail
cd "$(dirname "$0")/.."

timeout_s="${EXAMPLE_TIMEOUT:-120}"
if [ "$#" -gt 0 ]; then
  names=("$@")
else
  names=()
  for f in examples/*.ts; do
    n="$(basename "$f" .ts)"
    case "$n" in _*|demo|demo-*) continue ;; esac # helpers, and the demo (run last)
    names+=("$n")
  done
  [ -n "${SKIP_DEMO:-}" ] || names+=(demo)
fi

logdir="$(mktemp -d "${TMPDIR:-/tmp}/zk-examples.XXXXXX")"
failed=()
t_all=$(date +%s)
for n in "${names[@]}"; do
  file="examples/$n.ts"
  if [ ! -f "$file" ]; then echo "FAIL  $n  (no such file: $file)"; failed+=("$n"); continue; fi
  t0=$(date +%s%N)
  # --kill-after: a stuck example that ignores SIGTERM is killed anyway.
  timeout --kill-after=10 "$timeout_s" node --import tsx "$file" </dev/null >"$logdir/$n.log" 2>&1
  rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  secs="$(printf '%d.%01d s' $((ms / 1000)) $(((ms % 1000) / 100)))"
  if [ "$rc" -eq 0 ]; then
    printf 'pass  %-20s %8s\n' "$n" "$secs"
  else
    why="exit $rc"; [ "$rc" -eq 124 ] && why="timed out after ${timeout_s} s"
    printf 'FAIL  %-20s %8s  (%s)\n' "$n" "$secs" "$why"
    sed 's/^/      | /' "$logdir/$n.log" | tail -40
    failed+=("$n")
  fi
done
total=$(( $(date +%s) - t_all ))
rm -rf "$logdir"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "${#failed[@]} of ${#names[@]} examples FAILED in ${total} s: ${failed[*]}"
  exit 1
fi
echo "all ${#names[@]} examples passed in ${total} s"
