#!/usr/bin/env bash
# Tear down what scripts/testbed/up.sh (and the test fixtures) made:
#   - containers, swarm services, networks and volumes labelled opsui.test=1
#   - second engines the tests started (tests/integration/second_engine.py)
#   - the bastion bed the ProxyJump tests start (scripts/testbed/bastion.sh down)
#   - the three-node swarm the cluster tests start (scripts/testbed/swarm.sh down)
#   - the test sshd and registry, by the pids up.sh recorded
#   - the opt-in stack parts (up.sh --stack): the authenticated registry (by its pid),
#     the compose project dirs and stack.env (the next up.sh drops them from env)
#   - dockerd, but only if up.sh started it
# Processes are stopped by recorded pid (checked against their command line),
# never by name. Images are kept so the next up.sh is fast; --purge also removes
# the opsui-test images, the state dir (keys, registry storage) and
# /usr/local/bin/docker-credential-opsuitest.
set -euo pipefail

# shellcheck source=scripts/testbed/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

PURGE=0
for arg in "$@"; do
  case $arg in
    --purge) PURGE=1 ;;
    -h | --help)
      sed -n '2,15p' "$0"
      exit 0
      ;;
    *) die "unknown argument: $arg (use --purge or --help)" ;;
  esac
done

remove_labelled() {
  docker_up || {
    log "engine not reachable: nothing to remove from it"
    return 0
  }
  local ids
  mapfile -t ids < <(docker ps -aq --filter "label=$TEST_LABEL")
  if ((${#ids[@]})); then
    log "removing ${#ids[@]} container(s)"
    docker rm -f -v "${ids[@]}" >/dev/null
  fi
  if [[ $(docker info --format '{{.Swarm.LocalNodeState}}') == active ]]; then
    mapfile -t ids < <(docker service ls -q --filter "label=$TEST_LABEL")
    if ((${#ids[@]})); then
      log "removing ${#ids[@]} service(s)"
      docker service rm "${ids[@]}" >/dev/null
    fi
    # The swarm fixture records when it was the one that turned swarm mode on.
    if [[ -f $STATE/swarm-initialised ]]; then
      log "leaving the swarm the tests created"
      docker swarm leave --force >/dev/null
      rm -f "$STATE/swarm-initialised"
    fi
  fi
  mapfile -t ids < <(docker network ls -q --filter "label=$TEST_LABEL")
  if ((${#ids[@]})); then
    log "removing ${#ids[@]} network(s)"
    docker network rm "${ids[@]}" >/dev/null
  fi
  mapfile -t ids < <(docker volume ls -q --filter "label=$TEST_LABEL")
  if ((${#ids[@]})); then
    log "removing ${#ids[@]} volume(s)"
    docker volume rm -f "${ids[@]}" >/dev/null
  fi
  if ((PURGE)); then
    mapfile -t ids < <(docker image ls -q --filter label=opsui.test.context | sort -u)
    if ((${#ids[@]})); then
      log "removing ${#ids[@]} test image(s)"
      docker image rm -f "${ids[@]}" >/dev/null
    fi
  fi
}

stop_second_engines() {
  # second_engine.py keeps each engine's files under $STATE/engines/<name>/.
  local dir pid
  for dir in "$STATE"/engines/*/; do
    [[ -d $dir ]] || continue
    pid=$(read_pid "$dir/docker.pid")
    [[ -n $pid ]] && stop_pid "$pid" "$dir" "second engine $(basename "$dir")"
    # An engine killed with SIGKILL can leave overlay mounts behind.
    grep -F " ${dir%/}/" /proc/self/mountinfo | awk '{print $5}' | sort -r |
      while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
    # Its own bridge (never docker0: that belongs to the main engine).
    local br
    br=$(cat "$dir/bridge" 2>/dev/null || true)
    if [[ $br == oe2-* ]] && ip link show "$br" >/dev/null 2>&1; then
      ip link del "$br" || true
    fi
    rm -rf "$dir"
  done
}

main() {
  require_root
  take_lock
  remove_labelled
  stop_second_engines
  bash "$TESTBED_DIR/bastion.sh" down # the ProxyJump bed (its sshds and netns)
  bash "$TESTBED_DIR/swarm.sh" down   # the three-node swarm (its dockerds and netns)
  stop_pid "$(read_pid "$STATE/sshd.pid")" "$STATE/sshd_config" "test sshd"
  stop_pid "$(read_pid "$STATE/registry.pid")" "$STATE/registry.yml" registry
  stop_pid "$(read_pid "$STATE/auth-registry/registry.pid")" "$STATE/auth-registry/registry.yml" \
    "auth registry"
  rm -rf "$STATE/stack" "$STATE/stack.env" "$STATE/auth-registry/registry.pid"
  local pid
  pid=$(read_pid "$STATE/dockerd.pid")
  if pid_matches "$pid" dockerd; then
    stop_pid "$pid" dockerd dockerd
  else
    log "dockerd was not started by up.sh: leaving it running"
  fi
  rm -f "$STATE/sshd.pid" "$STATE/registry.pid" "$STATE/dockerd.pid"
  if ((PURGE)); then
    log "removing $STATE"
    # Keep the lock file we hold until we exit; everything else goes.
    find "$STATE" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
    rm -f /usr/local/bin/docker-credential-opsuitest
  fi
  log "test bed is down"
}

main
