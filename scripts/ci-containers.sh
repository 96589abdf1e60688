#!/usr/bin/env bash
# CI, after the local-server test run: the container-backed tests. Prepares the engine and the
# ZooKeeper image (scripts/containers.sh start), runs the files below with ZK_STRATEGY=container
# (the test kit then starts every server as a container), and stops the daemon again, also when
# the tests fail or the script is interrupted. Set ZK_KEEP_DOCKER=1 to leave the daemon running.
# Extra arguments are passed to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Test files run against containers; names that do not exist (yet) are skipped with a note.
CONTAINER_TESTS=(
  test/session.test.ts
  test/containers.test.ts
  test/leader-latch.test.ts
  test/ensemble.test.ts
)

now_ms() { date +%s%3N; }
secs() { local ms=$(( $(now_ms) - $1 )); printf '%d.%01d s' $((ms / 1000)) $((ms % 1000 / 100)); }
say() { printf '[ci-containers] %s\n' "$*"; }

t_all=$(now_ms)
files=()
for f in "${CONTAINER_TESTS[@]}"; do
  if [ -f "$f" ]; then files+=("$f"); else say "skipping $f (does not exist yet)"; fi
done
[ "${#files[@]}" -gt 0 ] || { say "ERROR: none of the container test files exist"; exit 1; }

env_file=$(mktemp "${TMPDIR:-/tmp}/zk-containers-env.XXXXXX")
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "${ZK_KEEP_DOCKER:-}" = 1 ]; then
    say "ZK_KEEP_DOCKER=1: leaving dockerd running (stop it with: bash scripts/containers.sh stop)"
  else
    local t; t=$(now_ms)
    bash scripts/containers.sh stop || rc=1
    say "stop: $(secs "$t")"
  fi
  rm -f "$env_file"
  say "total: $(secs "$t_all") (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t=$(now_ms)
say "== containers.sh start"
bash scripts/containers.sh start >"$env_file"
# shellcheck disable=SC1090
source "$env_file"
say "start: $(secs "$t") (DOCKER_HOST=$DOCKER_HOST, ZK_IMAGE=$ZK_IMAGE, ZK_CONTAINER_NETWORK=$ZK_CONTAINER_NETWORK)"

t=$(now_ms)
say "== vitest on containers: ${files[*]}"
ZK_STRATEGY=container npx vitest run "${files[@]}" "$@"
say "tests: $(secs "$t")"
