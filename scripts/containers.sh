#!/usr/bin/env bash
# Prepares ZooKeeper containers on a machine with no Docker engine running and no registry
# within reach (see /work/shared/containers.md): Debian's docker.io engine with its own socket and
# state under a cache folder, no bridge and no iptables rules (containers use the host network),
# and a ZooKeeper image built locally from Debian's packages with debootstrap, once.
#
# Usage:
#   eval "$(bash scripts/containers.sh start)"   # installs what is missing, starts dockerd, builds
#                                                # the image if absent, prints the env to stdout
#   bash scripts/containers.sh env               # prints the env only (daemon must be running)
#   bash scripts/containers.sh status            # says whether the daemon answers and the image exists
#   bash scripts/containers.sh stop              # removes the test kit's leftover containers and
#                                                # stops the daemon by its pidfile
#
# Everything but the env lines goes to stderr (each step with its duration), so stdout can be
# eval'ed or written to a file and sourced. The env printed:
#   DOCKER_HOST=unix://$ZK_DOCKER_DIR/docker.sock, TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1,
#   TESTCONTAINERS_RYUK_DISABLED=true (the reaper image cannot be pulled; the test kit removes its
#   containers itself), ZK_IMAGE, ZK_CONTAINER_NETWORK=host.
#
# Settings (env):
#   ZK_DOCKER_DIR            daemon socket, data root (keeps the image between runs), exec root,
#                            pidfile and log     [default $HOME/.cache/zk-recipes/docker]
#   ZK_IMAGE                 name of the image to build/use   [default zk-recipes/zookeeper:3.8-debian]
#   ZK_DEBIAN_SUITE          Debian suite for debootstrap     [default bookworm]
#   ZK_DEBIAN_MIRROR         Debian mirror for debootstrap    [default: debootstrap's own]
#   ZK_DOCKER_START_TIMEOUT  seconds to wait for dockerd      [default 60]
#   ZK_IMAGE_REBUILD=1       build the image even if it exists
set -euo pipefail

ZK_DOCKER_DIR=${ZK_DOCKER_DIR:-${HOME:-/root}/.cache/zk-recipes/docker}
ZK_IMAGE=${ZK_IMAGE:-zk-recipes/zookeeper:3.8-debian}
ZK_DEBIAN_SUITE=${ZK_DEBIAN_SUITE:-bookworm}
ZK_DEBIAN_MIRROR=${ZK_DEBIAN_MIRROR:-}
ZK_DOCKER_START_TIMEOUT=${ZK_DOCKER_START_TIMEOUT:-60}
# Bump when the image recipe below changes: an image with another recipe label is rebuilt.
IMAGE_RECIPE=2
LABEL=org.zk-recipes.testing

SOCK="$ZK_DOCKER_DIR/docker.sock"
PIDFILE="$ZK_DOCKER_DIR/dockerd.pid"
DLOG="$ZK_DOCKER_DIR/dockerd.log"
export DOCKER_HOST="unix://$SOCK"

log() { printf '[containers] %s\n' "$*" >&2; }
die() { printf '[containers] ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
# step <description> <command...>: runs the command, prints how long it took.
step() {
  local what=$1; shift
  local t0; t0=$(now_ms)
  log "$what ..."
  "$@" || { local rc=$?; log "$what: FAILED after $(elapsed "$t0")"; return "$rc"; }
  log "$what: done in $(elapsed "$t0")"
}
elapsed() { local ms=$(( $(now_ms) - $1 )); printf '%d.%01d s' $((ms / 1000)) $((ms % 1000 / 100)); }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "missing $* and no apt-get to install it; install it by hand"
  if [ -z "$APT_UPDATED" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_engine_installed() {
  if command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; then
    log "engine: dockerd $(dockerd --version | sed 's/^Docker version //') is installed"
    return
  fi
  step "installing Debian's docker.io (apt-get)" apt_install docker.io
}

daemon_pid() {
  [ -s "$PIDFILE" ] || return 1
  local pid; pid=$(cat "$PIDFILE")
  kill -0 "$pid" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

daemon_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

wait_for_daemon() {
  local pid=$1 deadline=$(( $(date +%s) + ZK_DOCKER_START_TIMEOUT ))
  until daemon_answers; do
    if ! kill -0 "$pid" 2>/dev/null && ! daemon_pid >/dev/null; then
      tail -n 20 "$DLOG" >&2 || true
      die "dockerd (pid $pid) exited during start-up; its log is $DLOG (last lines above)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 20 "$DLOG" >&2 || true
      kill -TERM "$pid" 2>/dev/null || true
      die "dockerd (pid $pid) did not answer on $SOCK within ${ZK_DOCKER_START_TIMEOUT} s (stopped it); log: $DLOG"
    fi
    sleep 0.2
  done
}

start_daemon() {
  mkdir -p "$ZK_DOCKER_DIR"
  local pid
  if pid=$(daemon_pid); then
    if daemon_answers; then log "dockerd: already running (pid $pid) on $SOCK"; return; fi
    log "dockerd: pid $pid is alive but does not answer yet; waiting"
    wait_for_daemon "$pid"
    return
  fi
  rm -f "$PIDFILE" "$SOCK"
  # setsid + no inherited stdio or lock fd: the daemon outlives this script and holds neither a
  # caller's pipe nor our lock.
  setsid dockerd \
    --host "unix://$SOCK" \
    --data-root "$ZK_DOCKER_DIR/data" \
    --exec-root "$ZK_DOCKER_DIR/exec" \
    --pidfile "$PIDFILE" \
    --iptables=false --ip6tables=false --bridge=none \
    </dev/null >"$DLOG" 2>&1 9>&- &
  pid=$!
  wait_for_daemon "$pid"
  log "dockerd: pid $(cat "$PIDFILE") answers on $SOCK (storage driver $(docker info --format '{{.Driver}}' 2>/dev/null))"
}

image_ok() {
  [ "${ZK_IMAGE_REBUILD:-}" = 1 ] && return 1
  local recipe
  recipe=$(docker image inspect --format "{{ index .Config.Labels \"$LABEL.image-recipe\" }}" "$ZK_IMAGE" 2>/dev/null) || return 1
  [ "$recipe" = "$IMAGE_RECIPE" ]
}

# Pulled in by Debian's zookeeper package through Java GUI libraries; a headless server never
# loads them (about 190 MB). Purged with --force-depends; packages not installed are ignored.
GRAPHICS_PKGS="libllvm15 libgl1-mesa-dri libz3-4 adwaita-icon-theme libgtk2.0-0 libgtk2.0-common"

slim_rootfs() {
  local r=$1
  # shellcheck disable=SC2086
  as_root chroot "$r" dpkg --purge --force-depends $GRAPHICS_PKGS >/dev/null 2>&1 \
    || log "warning: purging the graphics libraries failed; the image works but is bigger"
  rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
    "$r"/usr/share/lintian "$r"/usr/share/bash-completion \
    "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin \
    "$r"/var/cache/debconf/*-old "$r"/var/log/* "$r"/tmp/* "$r"/root/.cache "$r"/usr/share/icons
}

# An interrupted debootstrap can leave proc/sys mounted inside the rootfs: never rm -rf through them.
unmount_under() {
  findmnt -rn -o TARGET | grep "^$1/" | sort -r | while read -r m; do as_root umount -l "$m" || true; done
}

build_image() {
  command -v debootstrap >/dev/null 2>&1 || step "installing Debian's debootstrap (apt-get)" apt_install debootstrap
  local build="$ZK_DOCKER_DIR/build" rootfs
  rootfs="$build/rootfs"
  unmount_under "$build"
  as_root rm -rf "$build"
  mkdir -p "$build"
  step "debootstrap --variant=minbase $ZK_DEBIAN_SUITE (openjdk-17-jre-headless, zookeeper)" \
    run_debootstrap "$rootfs" "$build/debootstrap.log" \
    || { tail -n 20 "$build/debootstrap.log" >&2; die "debootstrap failed; log: $build/debootstrap.log"; }
  [ -f "$rootfs/usr/share/java/zookeeper.jar" ] || die "debootstrap finished but $rootfs has no /usr/share/java/zookeeper.jar"
  log "rootfs: $(du -sh "$rootfs" | cut -f1) before slimming"
  step "slimming the rootfs (graphics libraries, docs, man pages, locales, apt lists and caches)" slim_rootfs "$rootfs"
  log "rootfs: $(du -sh "$rootfs" | cut -f1) after slimming"
  step "docker import -> $ZK_IMAGE" import_rootfs "$rootfs"
  docker image prune -f >/dev/null 2>&1 || true   # an older build of the same tag, now untagged
  as_root rm -rf "$build"
}

run_debootstrap() {
  # shellcheck disable=SC2086
  as_root debootstrap --variant=minbase --include=openjdk-17-jre-headless,zookeeper \
    "$ZK_DEBIAN_SUITE" "$1" $ZK_DEBIAN_MIRROR >"$2" 2>&1
}

import_rootfs() {
  tar --numeric-owner -C "$1" -c . | docker import \
    --change "LABEL $LABEL.image-recipe=$IMAGE_RECIPE" \
    --change "LABEL $LABEL.suite=$ZK_DEBIAN_SUITE" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    - "$ZK_IMAGE" >/dev/null
}

ensure_image() {
  if image_ok; then
    log "image: $ZK_IMAGE found in $ZK_DOCKER_DIR/data (created $(docker image inspect --format '{{.Created}}' "$ZK_IMAGE"), $(docker image inspect --format '{{.Size}}' "$ZK_IMAGE" | awk '{printf "%d MB", $1/1e6}')): reused, no build"
    return
  fi
  step "building image $ZK_IMAGE (first run only)" build_image
  log "image: $ZK_IMAGE is $(docker image inspect --format '{{.Size}}' "$ZK_IMAGE" | awk '{printf "%d MB", $1/1e6}')"
}

remove_leftovers() {
  local ids
  ids=$(docker ps -aq --filter "label=$LABEL" 2>/dev/null || true)
  if [ -n "$ids" ]; then
    log "removing $(echo "$ids" | wc -l) leftover test container(s)"
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null 2>&1 || true
  fi
}

print_env() {
  printf "export DOCKER_HOST='%s'\n" "$DOCKER_HOST"
  printf "export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1\n"
  printf "export TESTCONTAINERS_RYUK_DISABLED=true\n"
  printf "export ZK_IMAGE='%s'\n" "$ZK_IMAGE"
  printf "export ZK_CONTAINER_NETWORK=host\n"
}

stop_daemon() {
  local pid
  if ! pid=$(daemon_pid); then log "dockerd: not running (no live pid in $PIDFILE)"; rm -f "$PIDFILE"; return; fi
  daemon_answers && remove_leftovers
  kill -TERM "$pid"
  local deadline=$(( $(date +%s) + 30 ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "dockerd (pid $pid) still running after 30 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  # dockerd can leave its network namespace (exec/netns/default) or overlay mounts behind.
  unmount_under "$ZK_DOCKER_DIR"
  log "dockerd: pid $pid stopped"
}

cmd=${1:-start}
case "$cmd" in
  start)
    t_all=$(now_ms)
    mkdir -p "$ZK_DOCKER_DIR"
    exec 9>"$ZK_DOCKER_DIR/.lock"
    if ! flock -n 9; then
      log "waiting (at most 15 min) for another containers.sh start, which holds $ZK_DOCKER_DIR/.lock"
      flock -w 900 9 || die "another containers.sh still holds $ZK_DOCKER_DIR/.lock after 15 min"
    fi
    ensure_engine_installed
    step "starting dockerd (socket $SOCK)" start_daemon
    remove_leftovers
    ensure_image
    log "ready in $(elapsed "$t_all"); env for callers on stdout"
    print_env
    ;;
  env)
    print_env
    ;;
  status)
    if pid=$(daemon_pid) && daemon_answers; then log "dockerd: running (pid $pid) on $SOCK"; else log "dockerd: not running"; exit 1; fi
    if image_ok; then log "image: $ZK_IMAGE present"; else log "image: $ZK_IMAGE absent"; fi
    ;;
  stop)
    t_all=$(now_ms)
    stop_daemon
    log "stop: done in $(elapsed "$t_all")"
    ;;
  *)
    die "usage: $0 start|env|status|stop"
    ;;
esac
