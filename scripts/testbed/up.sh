#!/usr/bin/env bash
# Bring up opsui's real test bed on this machine, idempotently:
#   - Debian packages (only when some are missing, so reruns are fast)
#   - a Docker engine on the default socket (started here only if none answers)
#   - a private sshd on 127.0.0.1:2222 with generated keys (never touches ~/.ssh
#     or the system sshd)
#   - a registry on 127.0.0.1:5000
#   - test images built FROM scratch (there is no internet registry), pushed to it
#   - $OPSUI_TEST_STATE/env with the OPSUI_TEST_* variables for the tests
#   With --engine-only: packages and the Docker engine only (for running opsui).
#   With --stack (or OPSUI_TESTBED_STACK=1; scripts/test.sh, and so CI, always asks):
#   also the parts of a guides-shaped production stack (stack_parts.sh's header lists
#   them): Debian's docker-compose, nginx/HAProxy/redis images FROM scratch, a second
#   registry with htpasswd auth on 127.0.0.1:5001 holding the app images, the
#   docker-credential-opsuitest helper, docker config dirs $STATE/docker-config-*
#   (use with DOCKER_CONFIG=...) and the OPSUI_TEST_AUTH_* variables in the env file.
#   The compose project itself: scripts/testbed/stack.sh up|down. Tests of these
#   parts: tests/integration/test_testbed_stack.py (they run when OPSUI_TESTBED_STACK=1).
# Safe to run again and again, and non-interactively in CI. This header is the test
# bed's documentation (docs/ARCHITECTURE.md, "Test bed", says how tests use it);
# scripts/testbed/down.sh is the reverse.
set -euo pipefail

# shellcheck source=scripts/testbed/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

PACKAGES=(docker.io openssh-server busybox-static postgresql docker-registry iproute2 tmux sqlite3)
APP_REPO=opsui-test/app
PG_REPO=opsui-test/postgres
PG_TAG=15
PG_VERSION=15
# tag -> build mode of the app image (see images/app/Dockerfile)
declare -A APP_MODES=([1.0.0]=healthy [2.0.0]=healthy [3.0.0]=unhealthy [4.0.0]=crash [5.0.0]=healthy)
APP_TAGS=(1.0.0 2.0.0 3.0.0 4.0.0 5.0.0)

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    log "packages: all present"
    return
  fi
  log "packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
}

ensure_dockerd() {
  if docker_up; then
    log "engine: answering on $DOCKER_HOST"
    return
  fi
  [[ $DOCKER_HOST == unix:///var/run/docker.sock ]] ||
    die "no engine answers on $DOCKER_HOST (up.sh only starts one on the default socket)"
  local pid started=0
  pid=$(read_pid "$STATE/dockerd.pid")
  if ! pid_matches "$pid" dockerd; then
    # A killed dockerd leaves its pid files behind, and a new one waits for (or
    # refuses to start next to) the pids in them. pid_matches also treats a zombie
    # (empty cmdline, not yet reaped by init) as dead, which kill -0 would not.
    local f
    for f in /var/run/docker.pid:dockerd /var/run/docker/containerd/containerd.pid:containerd; do
      if [[ -f ${f%%:*} ]] && ! pid_matches "$(read_pid "${f%%:*}")" "${f##*:}"; then
        rm -f "${f%%:*}"
      fi
    done
    log "engine: starting dockerd (log: $STATE/dockerd.log)"
    # setsid + closed stdin: dockerd must outlive this script and its terminal.
    setsid dockerd >>"$STATE/dockerd.log" 2>&1 </dev/null 9>&- &
    echo $! >"$STATE/dockerd.pid"
    started=1
  fi
  if ! wait_for 60 "docker info" docker_up; then
    tail -n 30 "$STATE/dockerd.log" >&2 || true
    die "dockerd did not come up; see $STATE/dockerd.log"
  fi
  if ((started)); then
    # Record dockerd's own idea of its pid (in case setsid had to fork).
    pid=$(read_pid /var/run/docker.pid)
    if pid_matches "$pid" dockerd; then echo "$pid" >"$STATE/dockerd.pid"; fi
  fi
  log "engine: up ($(docker version --format '{{.Server.Version}}'))"
}

write_if_changed() { # FILE : replace FILE with stdin only when the content differs
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if [[ -f $1 ]] && cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
    return 1
  fi
  chmod 644 "$tmp" # mktemp makes it 0600; these files hold no secrets
  mv -f "$tmp" "$1"
}

ssh_ok() {
  ssh -F "$STATE/ssh_config" opsui-test docker version --format '{{.Server.Version}}'
}

ensure_sshd() {
  local host_key=$STATE/ssh_host_ed25519_key client_key=$STATE/id_ed25519
  local conf=$STATE/sshd_config changed=0
  [[ -f $host_key ]] || ssh-keygen -q -t ed25519 -N '' -C opsui-testbed-host -f "$host_key"
  [[ -f $client_key ]] || ssh-keygen -q -t ed25519 -N '' -C opsui-testbed-client -f "$client_key"
  chmod 600 "$host_key" "$client_key"

  # Only write files that really change, so a running sshd is kept when nothing did.
  if write_if_changed "$conf" <<EOF; then changed=1; fi
# opsui test sshd, written by scripts/testbed/up.sh. Loopback only.
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $host_key
PidFile $STATE/sshd.pid
AuthorizedKeysFile $client_key.pub
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
# Tests open many sessions at once (docker-over-ssh opens one per API connection).
MaxStartups 200
MaxSessions 200
ClientAliveInterval 5
ClientAliveCountMax 3
PrintMotd no
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
  write_if_changed "$STATE/known_hosts" <<EOF || true
[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$host_key.pub")
EOF
  write_if_changed "$STATE/ssh_config" <<EOF || true
# ssh -F $STATE/ssh_config opsui-test ...   (written by scripts/testbed/up.sh)
Host opsui-test
    HostName 127.0.0.1
    Port $SSH_PORT
    User root

Host opsui-test 127.0.0.1 localhost
    IdentityFile $client_key
    IdentitiesOnly yes
    UserKnownHostsFile $STATE/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    ServerAliveInterval 5
    LogLevel ERROR
EOF
  # `ssh` wrapper that always uses our config: put $STATE/bin first on PATH and the
  # docker SDK's use_ssh_client=True mode (which runs plain `ssh`) reaches this sshd.
  mkdir -p "$STATE/bin"
  write_if_changed "$STATE/bin/ssh" <<EOF || true
#!/bin/sh
exec /usr/bin/ssh -F '$STATE/ssh_config' "\$@"
EOF
  chmod 755 "$STATE/bin/ssh"

  mkdir -p /run/sshd # privilege separation dir; /run is a tmpfs on most machines
  /usr/sbin/sshd -t -f "$conf" || die "sshd rejected $conf"

  local pid
  pid=$(read_pid "$STATE/sshd.pid")
  if pid_matches "$pid" "$conf" && ((changed)); then
    stop_pid "$pid" "$conf" "test sshd (config changed)"
  fi
  pid=$(read_pid "$STATE/sshd.pid")
  if ! pid_matches "$pid" "$conf"; then
    if ss -Hltn "sport = :$SSH_PORT" | grep -q .; then
      die "port 127.0.0.1:$SSH_PORT is taken by a process this script did not start:
$(ss -Hltnp "sport = :$SSH_PORT")"
    fi
    log "sshd: starting on 127.0.0.1:$SSH_PORT (log: $STATE/sshd.log)"
    # sshd daemonises itself and writes its PidFile.
    /usr/sbin/sshd -f "$conf" -E "$STATE/sshd.log" 9>&-
  fi
  if ! wait_for 30 "ssh -F $STATE/ssh_config opsui-test docker version" ssh_ok; then
    tail -n 20 "$STATE/sshd.log" >&2 || true
    ssh -F "$STATE/ssh_config" opsui-test docker version >&2 || true
    die "cannot reach the engine over ssh on 127.0.0.1:$SSH_PORT"
  fi
  log "sshd: docker over ssh works (ssh -F $STATE/ssh_config opsui-test)"
}

ensure_registry() {
  local conf=$STATE/registry.yml pid
  mkdir -p "$STATE/registry"
  write_if_changed "$conf" <<EOF || true
# opsui test registry, written by scripts/testbed/up.sh
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
  pid=$(read_pid "$STATE/registry.pid")
  if ! pid_matches "$pid" "$conf"; then
    if python3 "$TESTBED_DIR/registry_tool.py" wait "http://$REGISTRY_ADDR/v2/" 0.5 2>/dev/null; then
      # e.g. Debian's docker-registry service started by apt: it works the same.
      log "registry: reusing the registry already answering on $REGISTRY_ADDR"
      return
    fi
    log "registry: starting on $REGISTRY_ADDR (log: $STATE/registry.log)"
    setsid docker-registry serve "$conf" >>"$STATE/registry.log" 2>&1 </dev/null 9>&- &
    echo $! >"$STATE/registry.pid"
  fi
  if ! python3 "$TESTBED_DIR/registry_tool.py" wait "http://$REGISTRY_ADDR/v2/" 30; then
    tail -n 20 "$STATE/registry.log" >&2 || true
    die "registry did not answer on http://$REGISTRY_ADDR/v2/"
  fi
  log "registry: up"
}

# tree_hash DIR : content hash of every file (path, mode, bytes) under DIR.
tree_hash() {
  (cd "$1" && find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z |
    xargs -0 stat -c '%n %a' && find . -type f -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum) | sha256sum | cut -c1-32
}

image_label() { # IMAGE LABEL : print the label's value, empty if no such image
  docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}

# build_image REF CONTEXT HASH [docker build args...]
# Skips the build when REF already carries opsui.test.context=HASH.
build_image() {
  local ref=$1 ctx=$2 hash=$3
  shift 3
  if [[ $(image_label "$ref" opsui.test.context) == "$hash" ]]; then
    log "image: $ref up to date"
    return
  fi
  log "image: building $ref"
  local out
  if ! out=$(docker build --rm --force-rm -q --label "$TEST_LABEL" \
    --label "opsui.test.context=$hash" -t "$ref" "$@" "$ctx" 2>&1); then
    printf '%s\n' "$out" >&2
    die "docker build of $ref failed"
  fi
}

build_app_images() {
  local ctx tag hash
  ctx=$(mktemp -d "$STATE/build-app.XXXXXX")
  # Copy busybox into a throwaway context: the binary is never committed.
  cp -a "$TESTBED_DIR/images/app/." "$ctx/"
  cp -L /bin/busybox "$ctx/busybox"
  # psql and the libraries ldd lists for it, so migrations (issue 5) can run in a
  # one-off container of the app image against the test PostgreSQL.
  local psql=/usr/lib/postgresql/$PG_VERSION/bin/psql
  [[ -x $psql ]] || die "$psql missing (apt-get install postgresql)"
  mkdir -p "$ctx/rootfs/etc"
  cp "$TESTBED_DIR/images/postgres/etc/nsswitch.conf" "$ctx/rootfs/etc/"
  # -L: real files at the paths the loader looks at, not host symlinks.
  cp -L --parents "$psql" $(ldd "$psql" |
    awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' |
    LC_ALL=C sort -u) "$ctx/rootfs/"
  hash=$(tree_hash "$ctx")
  for tag in "${APP_TAGS[@]}"; do
    build_image "$APP_REPO:$tag" "$ctx" "$hash-$tag-${APP_MODES[$tag]}" \
      --build-arg "APP_VERSION=$tag" --build-arg "APP_MODE=${APP_MODES[$tag]}"
  done
  rm -rf "$ctx"
}

# pg_sources : absolute paths of every host file the postgres image needs.
pg_sources() {
  local bindir=/usr/lib/postgresql/$PG_VERSION/bin libdir=/usr/lib/postgresql/$PG_VERSION/lib
  local bins=("$bindir"/{postgres,initdb,pg_ctl,pg_dump,pg_restore,psql,pg_isready})
  # Leave out the LLVM JIT provider: it pulls in libLLVM (100+ MB); the image sets jit=off.
  local mods
  mapfile -t mods < <(find "$libdir" -name '*.so' ! -name 'llvmjit*' | LC_ALL=C sort)
  printf '%s\n' "${bins[@]}" "${mods[@]}" /bin/busybox
  # The dynamic loader and every library ldd resolves for binaries and modules.
  ldd "${bins[@]}" "${mods[@]}" 2>/dev/null |
    awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | LC_ALL=C sort -u
  find "$libdir" -type f ! -name '*.so' ! -name 'llvmjit*' ! -path '*/bitcode/*' | LC_ALL=C sort
}

build_postgres_image() {
  local ref=$PG_REPO:$PG_TAG srcs hash
  [[ -x /usr/lib/postgresql/$PG_VERSION/bin/postgres ]] ||
    die "postgresql-$PG_VERSION binaries missing (apt-get install postgresql)"
  mapfile -t srcs < <(pg_sources)
  # Hash the sources' metadata rather than copying ~100 MB on every run: a package
  # upgrade changes sizes/mtimes and so triggers a rebuild.
  hash=$( {
    stat -L -c '%n %s %Y' "${srcs[@]}"
    dpkg-query -W "postgresql-$PG_VERSION" tzdata busybox-static 2>/dev/null || true
    tree_hash "$TESTBED_DIR/images/postgres"
  } | sha256sum | cut -c1-32)
  if [[ $(image_label "$ref" opsui.test.context) == "$hash" ]]; then
    log "image: $ref up to date"
    return
  fi
  local ctx
  ctx=$(mktemp -d "$STATE/build-postgres.XXXXXX")
  mkdir -p "$ctx/rootfs/usr/share" "$ctx/rootfs/etc"
  cp "$TESTBED_DIR/images/postgres/Dockerfile" "$ctx/"
  cp "$TESTBED_DIR/images/postgres/etc/"* "$ctx/rootfs/etc/"
  cp "$TESTBED_DIR/images/postgres/seed.sql" "$ctx/rootfs/usr/share/opsui-seed.sql"
  # -L: the image gets real files at the paths the loader looks at, not host symlinks.
  cp -L --parents "${srcs[@]}" "$ctx/rootfs/"
  cp -a /usr/share/postgresql "$ctx/rootfs/usr/share/"
  cp -a /usr/share/zoneinfo "$ctx/rootfs/usr/share/"
  build_image "$ref" "$ctx" "$hash"
  rm -rf "$ctx"
}

# push_image REF : push REF to the local registry unless it already holds that image.
push_image() {
  local ref=$1 repo=${1%%:*} tag=${1##*:} remote digest
  remote=$REGISTRY_ADDR/$ref
  digest=$(python3 "$TESTBED_DIR/registry_tool.py" digest "$REGISTRY_ADDR" "$repo" "$tag")
  if [[ -n $digest ]] &&
    docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" |
    grep -qxF "$REGISTRY_ADDR/$repo@$digest"; then
    log "registry: $remote up to date"
    return
  fi
  log "registry: pushing $remote"
  docker tag "$ref" "$remote"
  local out
  out=$(docker push "$remote" 2>&1) || {
    printf '%s\n' "$out" >&2
    die "docker push $remote failed"
  }
}

build_images() {
  mkdir -p "$STATE"
  rm -rf "$STATE"/build-*.* # leftovers of an interrupted run
  build_app_images
  build_postgres_image
  # Rebuilt tags leave their old image dangling; drop only our own dangling ones.
  docker image prune -f --filter label=opsui.test.context >/dev/null
  local tag
  for tag in "${APP_TAGS[@]}"; do push_image "$APP_REPO:$tag"; done
  push_image "$PG_REPO:$PG_TAG"
}

write_env() {
  {
    cat <<EOF
# Written by scripts/testbed/up.sh; source it before running tests.
export OPSUI_TEST_STATE=$STATE
export OPSUI_TEST_SSH_HOST=127.0.0.1
export OPSUI_TEST_SSH_PORT=$SSH_PORT
export OPSUI_TEST_SSH_USER=root
export OPSUI_TEST_SSH_KEY=$STATE/id_ed25519
export OPSUI_TEST_SSH_KNOWN_HOSTS=$STATE/known_hosts
export OPSUI_TEST_SSH_CONFIG=$STATE/ssh_config
export OPSUI_TEST_SSH_BIN=$STATE/bin
export OPSUI_TEST_REGISTRY=$REGISTRY_ADDR
EOF
    # The opt-in stack parts' variables, while their auth registry still runs (it stays
    # up until down.sh, but a new session or a reboot ends it; then the stack tests
    # must skip, not fail against a registry that is gone).
    if [[ -f $STATE/stack.env ]] && pid_matches "$(read_pid "$STATE/auth-registry/registry.pid")" \
        "$STATE/auth-registry/registry.yml"; then
      cat "$STATE/stack.env"
    fi
  } | write_if_changed "$STATE/env" || true
}

summary() {
  cat >&2 <<EOF

opsui test bed is up ($((SECONDS - _T0))s)
  engine    $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})') on $DOCKER_HOST
  ssh       ssh -F $STATE/ssh_config opsui-test   (root@127.0.0.1:$SSH_PORT, key $STATE/id_ed25519)
  registry  http://$REGISTRY_ADDR/v2/
  images    $(docker image ls --filter "label=$TEST_LABEL" --filter dangling=false \
    --format '{{.Repository}}:{{.Tag}}' | grep -v "^127\.0\.0\.1:[0-9]*/" | LC_ALL=C sort | tr '\n' ' ')
  env       source $STATE/env
EOF
}

main() {
  local stack=0 arg
  case ${OPSUI_TESTBED_STACK:-} in "" | 0 | false | no) ;; *) stack=1 ;; esac
  for arg in "$@"; do
    case $arg in
      --engine-only) ;;
      --stack) stack=1 ;;
      *) die "unknown argument: $arg (use --engine-only or --stack)" ;;
    esac
  done
  require_root
  take_lock
  if ((stack)) && [[ ${1:-} != --engine-only ]]; then
    # shellcheck source=scripts/testbed/stack_parts.sh
    source "$TESTBED_DIR/stack_parts.sh"
    PACKAGES+=("${STACK_PACKAGES[@]}")
  else
    stack=0
  fi
  ensure_packages
  ensure_dockerd
  # --engine-only: just a running Docker engine (for `opsui` on a machine without one).
  if [[ ${1:-} == --engine-only ]]; then
    echo "Docker engine is up on ${DOCKER_HOST:-unix:///var/run/docker.sock}" >&2
    return 0
  fi
  ensure_sshd
  ensure_registry
  build_images
  if ((stack)); then ensure_stack_parts; fi
  write_env
  summary
}

main "$@"
