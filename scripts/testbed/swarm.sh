#!/usr/bin/env bash
# A three-node Docker Swarm on this one machine, for opsui's cluster tests (issue 15):
#
#   netns opsui-swhub:  bridge br0 10.77.0.254/24, veths n1 n2 n3, and a registry
#                       on 10.77.0.254:5000 the nodes pull from
#                        |            |            |
#   netns opsui-sw1      netns opsui-sw2           netns opsui-sw3
#   eth0 10.77.0.1/24    eth0 10.77.0.2/24         eth0 10.77.0.3/24
#   hostname opsui-sw1   hostname opsui-sw2        hostname opsui-sw3
#   dockerd (manager,    dockerd (manager)         dockerd (manager)
#   swarm init)
#
# The hub namespace holds the only bridge and has no link to the host's network, and no
# node namespace has a route off 10.77.0.0/24: no packet of this swarm can leave the
# machine (or even reach the host's own interfaces). Each dockerd runs in its own
# network and UTS namespace (so each swarm node has its own hostname) with its own
# --data-root, --exec-root, --pidfile and unix socket under $STATE/swarm/nN/; the host
# talks to it only over that socket. Three managers: losing any one keeps the raft
# quorum, so a test can stop a manager and read the cluster from another.
# The test images opsui-test/app:* are copied from the main engine (docker save | load)
# and pushed (from node 1) to the bed's own registry, a docker-registry process in the
# hub namespace on 10.77.0.254:5000 (storage under $STATE/swarm/registry): the main test
# bed's registry on the host's 127.0.0.1:5000 is out of the nodes' reach. Every dockerd
# trusts it over plain HTTP (--insecure-registry), so a Swarm deploy can pull a tag on
# the manager, pin its digest and let every node pull that digest.
#
# The SSH path: an sshd in node 1's network namespace, the way an operator reaches a
# manager. netns_inetd.py (as for scripts/testbed/bastion.sh) listens on the host's
# 127.0.0.1:$SWARM_SSH_PORT (2330; loopback only, never off the machine), enters
# opsui-sw1 and runs `sshd -i` there per connection; its sessions' docker CLI talks to
# node 1's engine (sshd_config SetEnv DOCKER_HOST). It uses the main bed's sshd host
# key and client key (scripts/testbed/up.sh); $S/ssh_config names it opsui-sw1.
#
#   bash scripts/testbed/swarm.sh up       idempotent: starts missing namespaces and
#                                          dockerds (a killed node comes back and rejoins),
#                                          forms the swarm, loads the images, writes
#                                          $STATE/swarm.env
#   bash scripts/testbed/swarm.sh kill N   SIGKILL node N's dockerd (a crashed node)
#   bash scripts/testbed/swarm.sh status   exit 0 when all three nodes are up and ready
#   bash scripts/testbed/swarm.sh down     stops node 1's sshd listener and the
#                                          dockerds this script started (by pidfile,
#                                          checked against their command line),
#                                          deletes the namespaces and $STATE/swarm
#
# Needs root (ip netns). The engine is the one scripts/testbed/up.sh installs (Debian's
# docker.io, dockerd 20.10). tests/integration/swarm_bed.py runs `up` (and `down` at
# the end of a pytest session that brought it up).
set -euo pipefail

# shellcheck source=scripts/testbed/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

HUB=opsui-swhub
NODES=(1 2 3)
SUBNET_PREFIX=10.77.0
S=$STATE/swarm
ENV_FILE=$STATE/swarm.env
APP_REPO=opsui-test/app
HUB_ADDR=$SUBNET_PREFIX.254
SWARM_REGISTRY=$HUB_ADDR:5000
SWARM_SSH_PORT=${OPSUI_TEST_SWARM_SSH_PORT:-2330}
SSH_ALIAS=opsui-sw1
# Heartbeats every 2 s (the engine's default is 5 s): a dead node is noticed sooner.
HEARTBEAT=2s

netns_of() { echo "opsui-sw$1"; }
dir_of() { echo "$S/n$1"; }
addr_of() { echo "$SUBNET_PREFIX.$1"; }
sock_of() { echo "unix://$(dir_of "$1")/docker.sock"; }
node_docker() { # N ARGS... : the docker CLI against node N
  local n=$1
  shift
  DOCKER_HOST=$(sock_of "$n") docker "$@"
}
has_netns() { ip netns list | grep -qw "^$1"; }

lock() { # several test sessions may run `up` at once
  mkdir -p "$STATE"
  exec 8>"$STATE/.swarm.lock"
  flock -w 600 8 || die "could not lock $STATE/.swarm.lock"
}

ensure_network() {
  if ! has_netns "$HUB"; then
    log "swarm: creating the hub namespace $HUB (bridge br0)"
    ip netns add "$HUB"
  fi
  ip -n "$HUB" link set lo up
  ip -n "$HUB" link show br0 >/dev/null 2>&1 || ip -n "$HUB" link add br0 type bridge
  ip -n "$HUB" link set br0 up
  if ! ip -n "$HUB" -4 addr show dev br0 | grep -qF "$HUB_ADDR/24"; then
    ip -n "$HUB" addr add "$HUB_ADDR/24" dev br0
  fi
  local n ns
  for n in "${NODES[@]}"; do
    ns=$(netns_of "$n")
    if ! has_netns "$ns"; then
      log "swarm: creating namespace $ns ($(addr_of "$n")/24)"
      ip netns add "$ns"
    fi
    ip -n "$ns" link set lo up
    if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
      ip -n "$HUB" link del "n$n" 2>/dev/null || true
      # Both ends are made inside the namespaces: the host never sees the pair.
      ip -n "$HUB" link add "n$n" type veth peer name eth0 netns "$ns"
    fi
    ip -n "$HUB" link set "n$n" master br0 up
    if ! ip -n "$ns" -4 addr show dev eth0 | grep -qF "$(addr_of "$n")/24"; then
      ip -n "$ns" addr add "$(addr_of "$n")/24" dev eth0
    fi
    ip -n "$ns" link set eth0 up
  done
}

dockerd_pid() { # N : the node's dockerd pid if it runs (checked against its command line)
  local pid
  pid=$(read_pid "$(dir_of "$1")/docker.pid")
  if pid_matches "$pid" "$(dir_of "$1")/data"; then echo "$pid"; fi
}

trusts_registry() { # PID : started with --insecure-registry for the bed's registry
  pid_matches "$1" "--insecure-registry=$SWARM_REGISTRY"
}

node_answers() { node_docker "$1" version --format '{{.Server.Version}}'; }

start_node() { # N
  local n=$1 d ns
  d=$(dir_of "$n")
  ns=$(netns_of "$n")
  local pid
  pid=$(dockerd_pid "$n")
  if [[ -n $pid ]] && ! trusts_registry "$pid"; then
    # Started by an older swarm.sh: it would refuse the bed's registry (plain HTTP).
    log "swarm: restarting node $n's dockerd (pid $pid) to trust $SWARM_REGISTRY"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone 30 "$pid" || kill -KILL "$pid" 2>/dev/null || true
  fi
  if [[ -n $(dockerd_pid "$n") ]]; then
    wait_for 60 "node $n's dockerd" node_answers "$n" ||
      die "node $n's dockerd runs but does not answer; see $d/dockerd.log"
    return
  fi
  mkdir -p "$d"
  # A killed dockerd leaves its pid files; a new one refuses to start next to a pid in
  # them, or waits for a containerd that is gone (or a zombie: no command line).
  rm -f "$d/docker.pid"
  if ! pid_matches "$(read_pid "$d/exec/containerd/containerd.pid")" "$d"; then
    rm -f "$d/exec/containerd/containerd.pid"
  fi
  log "swarm: starting node $n's dockerd in $ns (log: $d/dockerd.log)"
  mkdir -p "$d/cgroup"
  # Its own network, UTS (the hostname is the swarm node's name) and mount namespace:
  # a fresh sysfs shows the node's own interfaces (not the host's docker0, which the
  # engine would otherwise read and tune), with the host's cgroups bound back under it.
  # setsid + closed stdin: the engine outlives this script.
  setsid nsenter --net="/run/netns/$ns" unshare --uts --mount --propagation slave sh -c "
    set -e
    mount --rbind /sys/fs/cgroup $d/cgroup
    mount -t sysfs sysfs /sys
    mount --rbind $d/cgroup /sys/fs/cgroup
    umount -l $d/cgroup
    hostname $ns
    exec dockerd --host=$(sock_of "$n") --data-root=$d/data --exec-root=$d/exec \
      --pidfile=$d/docker.pid --insecure-registry=$SWARM_REGISTRY --log-level=warn" \
    </dev/null >>"$d/dockerd.log" 2>&1 8>&- 9>&- &
  local started=$! deadline=$((SECONDS + 90))
  until node_answers "$n" >/dev/null 2>&1; do
    if ! kill -0 "$started" 2>/dev/null || ((SECONDS >= deadline)); then
      tail -n 30 "$d/dockerd.log" >&2 || true
      die "node $n's dockerd did not come up; see $d/dockerd.log"
    fi
    sleep 0.1
  done
}

swarm_state() { node_docker "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || true; }
is_active() { [[ $(swarm_state "$1") == active ]]; }
all_ready() { # every node is Ready in the manager's view
  local states
  states=$(node_docker 1 node ls --format '{{.Status}}' 2>/dev/null) || return 1
  [[ $(grep -c '^Ready$' <<<"$states") -eq ${#NODES[@]} ]]
}

form_swarm() {
  local n state token
  state=$(swarm_state 1)
  if [[ $state == inactive ]]; then
    log "swarm: node 1 initialises the swarm on $(addr_of 1):2377"
    node_docker 1 swarm init --advertise-addr "$(addr_of 1)" --listen-addr "$(addr_of 1):2377" \
      --default-addr-pool 10.79.0.0/16 --dispatcher-heartbeat "$HEARTBEAT" >/dev/null
  fi
  wait_for 60 "node 1 to be an active manager" is_active 1 || die "node 1 is not active: $(swarm_state 1)"
  token=$(node_docker 1 swarm join-token -q manager)
  for n in "${NODES[@]:1}"; do
    state=$(swarm_state "$n")
    if [[ $state == error ]]; then
      node_docker "$n" swarm leave --force >/dev/null 2>&1 || true
      state=inactive
    fi
    if [[ $state == inactive ]]; then
      log "swarm: node $n joins as a manager"
      node_docker "$n" swarm join --token "$token" --advertise-addr "$(addr_of "$n")" \
        --listen-addr "$(addr_of "$n"):2377" "$(addr_of 1):2377" >/dev/null
    fi
    # A restarted node rejoins by itself (pending, then active).
    wait_for 90 "node $n to be active" is_active "$n" || die "node $n is not active: $(swarm_state "$n")"
  done
  if ! wait_for 90 "all nodes Ready" all_ready; then
    node_docker 1 node ls >&2 || true
    die "the swarm's nodes did not all become Ready"
  fi
}

load_images() {
  local refs=() need=() ref n id pids=() tar=$S/images.tar
  mapfile -t refs < <(docker image ls "$APP_REPO" --format '{{.Repository}}:{{.Tag}}' | LC_ALL=C sort)
  ((${#refs[@]})) || die "no $APP_REPO images on the main engine: run scripts/testbed/up.sh"
  for n in "${NODES[@]}"; do
    for ref in "${refs[@]}"; do
      id=$(docker image inspect -f '{{.Id}}' "$ref")
      if [[ $(node_docker "$n" image inspect -f '{{.Id}}' "$ref" 2>/dev/null) != "$id" ]]; then
        need+=("$n")
        break
      fi
    done
  done
  ((${#need[@]})) || return 0
  # One save (the tags share their layers), then every node loads it at once.
  log "swarm: loading ${refs[*]} into node(s) ${need[*]}"
  docker save -o "$tar" "${refs[@]}"
  for n in "${need[@]}"; do
    node_docker "$n" load -q -i "$tar" >/dev/null &
    pids+=($!)
  done
  for id in "${pids[@]}"; do wait "$id" || die "docker load into a swarm node failed"; done
  rm -f "$tar"
}

registry_tool() { # ARGS... : registry_tool.py from inside the hub, the one place reaching it
  ip netns exec "$HUB" python3 "$TESTBED_DIR/registry_tool.py" "$@"
}

start_registry() {
  local conf=$S/registry.yml pid
  mkdir -p "$S/registry"
  cat >"$conf" <<EOF
# the swarm bed's registry, written by scripts/testbed/swarm.sh
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $S/registry
  delete:
    enabled: true
http:
  addr: $SWARM_REGISTRY
EOF
  pid=$(read_pid "$S/registry.pid")
  if ! pid_matches "$pid" "$conf"; then
    log "swarm: starting the registry on $SWARM_REGISTRY in $HUB (log: $S/registry.log)"
    setsid ip netns exec "$HUB" docker-registry serve "$conf" \
      </dev/null >>"$S/registry.log" 2>&1 8>&- 9>&- &
    echo $! >"$S/registry.pid"
  fi
  if ! registry_tool wait "http://$SWARM_REGISTRY/v2/" 30 2>/dev/null; then
    tail -n 20 "$S/registry.log" >&2 || true
    die "the swarm registry did not answer on http://$SWARM_REGISTRY/v2/"
  fi
}

push_images() { # node 1 pushes every test tag the registry lacks (or holds another image of)
  local refs=() ref repo tag digest remote
  mapfile -t refs < <(node_docker 1 image ls "$APP_REPO" --format '{{.Repository}}:{{.Tag}}' |
    LC_ALL=C sort)
  for ref in "${refs[@]}"; do
    repo=${ref%%:*} tag=${ref##*:} remote=$SWARM_REGISTRY/$ref
    digest=$(registry_tool digest "$SWARM_REGISTRY" "$repo" "$tag")
    if [[ -n $digest ]] &&
      node_docker 1 image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" |
      grep -qxF "$SWARM_REGISTRY/$repo@$digest"; then
      continue
    fi
    log "swarm: pushing $remote"
    node_docker 1 tag "$ref" "$remote"
    node_docker 1 push -q "$remote" >/dev/null || die "pushing $remote from node 1 failed"
  done
}

stop_registry() {
  local pid
  pid=$(read_pid "$S/registry.pid")
  if pid_matches "$pid" "$S/registry.yml"; then
    log "swarm: stopping the registry (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone 10 "$pid" || kill -KILL "$pid" 2>/dev/null || true
  fi
}

ssh_node1() { ssh -F "$S/ssh_config" "$SSH_ALIAS" "$@"; }
ssh_reaches_node1() { [[ $(ssh_node1 docker info --format '{{.Name}}' 2>/dev/null) == "$(netns_of 1)" ]]; }

start_sshd() { # node 1's sshd: sshd -i in its namespace, behind 127.0.0.1:$SWARM_SSH_PORT
  local host_key=$STATE/ssh_host_ed25519_key client_key=$STATE/id_ed25519 pid
  [[ -f $host_key && -f $client_key.pub ]] ||
    die "no test bed ssh keys in $STATE: run scripts/testbed/up.sh"
  mkdir -p /run/sshd
  cat >"$S/sshd_config.tmp" <<EOF
# node 1's sshd, written by scripts/testbed/swarm.sh; run as sshd -i by netns_inetd.py
HostKey $host_key
AuthorizedKeysFile $client_key.pub
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
MaxSessions 100
PrintMotd no
LogLevel VERBOSE
# Sessions (docker system dial-stdio) talk to node 1's engine.
SetEnv DOCKER_HOST=$(sock_of 1)
EOF
  if cmp -s "$S/sshd_config.tmp" "$S/sshd_config"; then
    rm -f "$S/sshd_config.tmp"
  else
    mv -f "$S/sshd_config.tmp" "$S/sshd_config"
  fi
  /usr/sbin/sshd -t -f "$S/sshd_config" || die "sshd rejected $S/sshd_config"
  echo "[127.0.0.1]:$SWARM_SSH_PORT $(cut -d' ' -f1,2 "$host_key.pub")" >"$S/known_hosts"
  cat >"$S/ssh_config" <<EOF
# ssh -F $S/ssh_config $SSH_ALIAS ...   (written by scripts/testbed/swarm.sh)
Host $SSH_ALIAS
    HostName 127.0.0.1
    Port $SWARM_SSH_PORT
    User root
    IdentityFile $client_key
    IdentitiesOnly yes
    UserKnownHostsFile $S/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
EOF
  pid=$(read_pid "$S/sshd-inetd.pid")
  if ! pid_matches "$pid" "$S/sshd_config"; then
    if ss -Hltn "sport = :$SWARM_SSH_PORT" | grep -q .; then
      die "port 127.0.0.1:$SWARM_SSH_PORT is taken by a process this script did not start"
    fi
    log "swarm: node 1's sshd on 127.0.0.1:$SWARM_SSH_PORT (sshd -i inside $(netns_of 1))"
    setsid python3 "$TESTBED_DIR/netns_inetd.py" "127.0.0.1:$SWARM_SSH_PORT" "$(netns_of 1)" \
      /usr/sbin/sshd -i -f "$S/sshd_config" -E "$S/sshd.log" \
      </dev/null >>"$S/sshd-inetd.log" 2>&1 8>&- 9>&- &
    echo $! >"$S/sshd-inetd.pid"
  fi
  if ! wait_for 30 "ssh -F $S/ssh_config $SSH_ALIAS reaching node 1's engine" ssh_reaches_node1; then
    tail -n 20 "$S/sshd.log" "$S/sshd-inetd.log" >&2 || true
    die "node 1's sshd does not reach its engine"
  fi
}

stop_sshd() { # by its pid file: the listener's process group holds its sshd -i sessions
  local pid
  pid=$(read_pid "$S/sshd-inetd.pid")
  if pid_matches "$pid" "$S/sshd_config"; then
    log "swarm: stopping node 1's sshd listener and its sessions (process group $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait_gone 10 "$pid" || kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$S/sshd-inetd.pid"
}

write_env() {
  local n
  {
    echo "# Written by scripts/testbed/swarm.sh up; source it for the swarm tests."
    echo "export OPSUI_TEST_SWARM_DIR=$S"
    echo "export OPSUI_TEST_SWARM_REGISTRY=$SWARM_REGISTRY"
    echo "export OPSUI_TEST_SWARM_NODES=\"$(for n in "${NODES[@]}"; do printf '%s ' "$(netns_of "$n")"; done | sed 's/ $//')\""
    for n in "${NODES[@]}"; do
      echo "export OPSUI_TEST_SWARM_HOST_$n=$(sock_of "$n")"
      echo "export OPSUI_TEST_SWARM_NAME_$n=$(netns_of "$n")"
      echo "export OPSUI_TEST_SWARM_ADDR_$n=$(addr_of "$n")"
    done
    echo "export OPSUI_TEST_SWARM_SSH_HOST=$SSH_ALIAS"
    echo "export OPSUI_TEST_SWARM_SSH_PORT=$SWARM_SSH_PORT"
    echo "export OPSUI_TEST_SWARM_SSH_CONFIG=$S/ssh_config"
    echo "export OPSUI_TEST_SWARM_KNOWN_HOSTS=$S/known_hosts"
  } >"$ENV_FILE.tmp"
  mv -f "$ENV_FILE.tmp" "$ENV_FILE"
}

up() {
  require_root
  command -v dockerd >/dev/null || die "dockerd not installed: run scripts/testbed/up.sh"
  docker_up || die "the main engine does not answer (it holds the test images): run scripts/testbed/up.sh"
  mkdir -p "$S"
  ensure_network
  local n
  for n in "${NODES[@]}"; do start_node "$n"; done
  form_swarm
  load_images
  start_registry
  push_images
  start_sshd
  write_env
  log "swarm: 3 managers up; source $ENV_FILE (node 1: $(sock_of 1); ssh -F $S/ssh_config $SSH_ALIAS)"
}

kill_node() { # N
  local n=$1 pid
  [[ " ${NODES[*]} " == *" $n "* ]] || die "no node $n (nodes: ${NODES[*]})"
  pid=$(dockerd_pid "$n")
  [[ -n $pid ]] || die "node $n's dockerd is not running"
  log "swarm: killing node $n's dockerd (pid $pid)"
  kill -KILL "$pid"
  wait_gone 20 "$pid" || die "node $n's dockerd (pid $pid) would not die"
}

status() {
  local n
  for n in "${NODES[@]}"; do
    [[ -n $(dockerd_pid "$n") ]] && is_active "$n" || return 1
  done
  all_ready
}

stop_nodes() {
  local n d ns pid p pids=()
  for n in "${NODES[@]}"; do
    d=$(dir_of "$n")
    if [[ -d $d/data && -z $(dockerd_pid "$n") ]] && has_netns "$(netns_of "$n")"; then
      # A killed node leaves its tasks' containers running; a dockerd started once
      # more stops them before it exits (no live-restore), which killing shims would not.
      (start_node "$n") || true
    fi
  done
  # All three at once: each engine takes a few seconds to leave.
  for n in "${NODES[@]}"; do
    pid=$(dockerd_pid "$n")
    [[ -n $pid ]] || continue
    log "swarm: stopping node $n's dockerd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    wait_gone 30 "$pid" || { log "swarm: pid $pid ignored SIGTERM, sending SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
  done
  for n in "${NODES[@]}"; do
    ns=$(netns_of "$n")
    has_netns "$ns" || continue
    # Every process in this namespace was started by this script (its dockerd, or
    # node 1's sshd listener, stopped already).
    for p in $(ip netns pids "$ns"); do
      log "swarm: stopping pid $p left in $ns ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60))"
      kill -TERM "$p" 2>/dev/null || true
    done
    for p in $(ip netns pids "$ns"); do
      wait_gone 10 "$p" || kill -KILL "$p" 2>/dev/null || true
    done
    log "swarm: removing namespace $ns"
    ip netns del "$ns"
  done
}

down() {
  if [[ -n $(dockerd_pid 1) ]]; then
    # Services first, so the engines have no tasks left to stop one by one.
    local ids
    mapfile -t ids < <(node_docker 1 service ls -q 2>/dev/null || true)
    if ((${#ids[@]})); then node_docker 1 service rm "${ids[@]}" >/dev/null 2>&1 || true; fi
  fi
  stop_sshd
  stop_nodes
  stop_registry
  if has_netns "$HUB"; then
    log "swarm: removing namespace $HUB"
    ip netns del "$HUB"
  fi
  if [[ -d $S ]]; then
    # Mounts are made inside `ip netns exec`'s own mount namespace and go with it, but
    # lift any that reached the host's before deleting the data roots.
    grep -F " $S/" /proc/self/mountinfo | awk '{print $5}' | sort -r |
      while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done || true
    rm -rf "$S"
  fi
  rm -f "$ENV_FILE"
  rm -rf "$STATE/swarm-users" # the pytest sessions using the bed (tests/integration/swarm_bed.py)
}

case ${1:-} in
  up) lock && up ;;
  down) require_root && lock && down ;;
  kill) [[ -n ${2:-} ]] || die "usage: $0 kill N"; require_root && lock && kill_node "$2" ;;
  status) status ;;
  *) die "usage: $0 up|down|kill N|status" ;;
esac
