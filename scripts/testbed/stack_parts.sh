# shellcheck shell=bash
# The opt-in "stack" parts of the test bed (issue 13), sourced by up.sh when it runs
# with --stack (or OPSUI_TESTBED_STACK=1). Sourced, never executed; needs lib.sh and
# up.sh's build_image/tree_hash/write_if_changed. Adds:
#   - Debian's docker-compose (compose v1, 1.29: python; same com.docker.compose.*
#     labels as v2, but container names PROJECT_SERVICE_N instead of PROJECT-SERVICE-N)
#   - images FROM scratch from Debian's packages, like the PostgreSQL one:
#     opsui-test/nginx:1, opsui-test/haproxy:1, opsui-test/redis:7
#   - a second registry on $AUTH_REGISTRY_ADDR with htpasswd (bcrypt) authentication,
#     holding the app images (pushed after `docker login` with the test credentials)
#   - docker-credential-opsuitest in /usr/local/bin (on PATH locally and over ssh)
#   - docker config dirs for each way the docker CLI finds credentials; use one with
#     DOCKER_CONFIG=$STATE/docker-config-<kind> (root's ~/.docker stays untouched):
#       auths    config.json "auths" (what `docker login` writes without a helper)
#       helper   config.json "credHelpers" {"REGISTRY": "opsuitest"}
#       store    config.json "credsStore" "opsuitest"
#       none     no credentials at all (anonymous: pulls get 401)
#   - $STATE/stack.env (appended to $STATE/env): OPSUI_TESTBED_STACK=1 and the
#     OPSUI_TEST_AUTH_* variables. The compose project itself: scripts/testbed/stack.sh.

# shellcheck disable=SC2034 # read by up.sh
STACK_PACKAGES=(docker-compose nginx haproxy redis-server apache2-utils)
AUTH_REGISTRY_ADDR=${OPSUI_TEST_AUTH_REGISTRY:-127.0.0.1:5001}
[[ $AUTH_REGISTRY_ADDR =~ ^127\.0\.0\.1:[0-9]+$ ]] ||
  die "OPSUI_TEST_AUTH_REGISTRY must be 127.0.0.1:PORT (loopback only)"
AUTH_USER=opsui-test
AUTH_DIR=$STATE/auth-registry
CRED_HELPER=/usr/local/bin/docker-credential-opsuitest
NGINX_REF=opsui-test/nginx:1
HAPROXY_REF=opsui-test/haproxy:1
REDIS_REF=opsui-test/redis:7

# scratch_sources FILE... : FILEs, a static busybox, the dynamic loader and every
# library ldd resolves for the FILEs (those that are not ELF objects are skipped by ldd).
scratch_sources() {
  printf '%s\n' "$@" /bin/busybox
  ldd "$@" 2>/dev/null |
    awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | LC_ALL=C sort -u
}

# build_scratch_image REF IMAGE_DIR "PACKAGES" FILE... : build REF FROM scratch out of
# IMAGE_DIR (its Dockerfile; everything else in it is laid over the root) and the host
# FILEs with their libraries. Like the PostgreSQL image, the cache key is the sources'
# metadata plus the package versions, so a Debian upgrade triggers a rebuild.
build_scratch_image() {
  local ref=$1 dir=$2 pkgs=$3 srcs hash ctx
  shift 3
  local f
  for f in "$@"; do [[ -e $f ]] || die "$f missing (apt-get install $pkgs)"; done
  mapfile -t srcs < <(scratch_sources "$@")
  # shellcheck disable=SC2086 # pkgs is a word list
  hash=$( {
    stat -L -c '%n %s %Y' "${srcs[@]}"
    dpkg-query -W $pkgs busybox-static 2>/dev/null || true
    tree_hash "$dir"
  } | sha256sum | cut -c1-32)
  if [[ $(image_label "$ref" opsui.test.context) == "$hash" ]]; then
    log "image: $ref up to date"
    return
  fi
  ctx=$(mktemp -d "$STATE/build-stack.XXXXXX")
  mkdir -p "$ctx/rootfs"
  cp -a "$dir/." "$ctx/rootfs/"
  mv "$ctx/rootfs/Dockerfile" "$ctx/"
  # -L: real files at the paths the loader looks at, not host symlinks (redis-server
  # is a symlink to redis-check-rdb and picks its mode from argv[0]: the copy keeps
  # the name).
  cp -L --parents "${srcs[@]}" "$ctx/rootfs/"
  build_image "$ref" "$ctx" "$hash"
  rm -rf "$ctx"
}

build_stack_images() {
  build_scratch_image "$NGINX_REF" "$TESTBED_DIR/images/nginx" "nginx nginx-common" \
    /usr/sbin/nginx /etc/nginx/mime.types
  build_scratch_image "$HAPROXY_REF" "$TESTBED_DIR/images/haproxy" haproxy /usr/sbin/haproxy
  build_scratch_image "$REDIS_REF" "$TESTBED_DIR/images/redis" "redis-server redis-tools" \
    /usr/bin/redis-server /usr/bin/redis-cli
  docker image prune -f --filter label=opsui.test.context >/dev/null
}

# The test credentials: made once (random, letters and digits only so that no JSON or
# shell quoting is ever needed), kept in $AUTH_DIR/credentials as "REGISTRY USER PASSWORD".
auth_password() {
  local creds=$AUTH_DIR/credentials
  if [[ ! -s $creds ]]; then
    mkdir -p "$AUTH_DIR"
    (
      umask 077
      printf '%s %s %s\n' "$AUTH_REGISTRY_ADDR" "$AUTH_USER" \
        "opsuitest$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 20)" >"$creds"
    )
  fi
  # A moved registry port keeps the password.
  local password
  password=$(awk 'NR == 1 {print $3}' "$creds")
  if [[ $(awk 'NR == 1 {print $1 " " $2}' "$creds") != "$AUTH_REGISTRY_ADDR $AUTH_USER" ]]; then
    (umask 077 && printf '%s %s %s\n' "$AUTH_REGISTRY_ADDR" "$AUTH_USER" "$password" >"$creds")
  fi
  printf '%s' "$password"
}

ensure_auth_registry() {
  local conf=$AUTH_DIR/registry.yml pid password changed=0
  password=$(auth_password)
  mkdir -p "$AUTH_DIR/storage"
  # bcrypt (-B): the only hash docker-registry's htpasswd auth accepts. Rewritten only
  # when it no longer verifies (bcrypt salts differ on every run).
  if ! htpasswd -vb "$AUTH_DIR/htpasswd" "$AUTH_USER" "$password" >/dev/null 2>&1; then
    htpasswd -Bbc "$AUTH_DIR/htpasswd" "$AUTH_USER" "$password" 2>/dev/null
    changed=1
  fi
  if write_if_changed "$conf" <<EOF; then changed=1; fi
# opsui test registry WITH authentication, written by scripts/testbed/stack_parts.sh
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $AUTH_DIR/storage
  delete:
    enabled: true
auth:
  htpasswd:
    realm: opsui-test
    path: $AUTH_DIR/htpasswd
http:
  addr: $AUTH_REGISTRY_ADDR
EOF
  pid=$(read_pid "$AUTH_DIR/registry.pid")
  if pid_matches "$pid" "$conf" && ((changed)); then
    stop_pid "$pid" "$conf" "auth registry (config changed)"
  fi
  pid=$(read_pid "$AUTH_DIR/registry.pid")
  if ! pid_matches "$pid" "$conf"; then
    if ss -Hltn "sport = :${AUTH_REGISTRY_ADDR##*:}" | grep -q .; then
      die "port $AUTH_REGISTRY_ADDR is taken by a process this script did not start"
    fi
    log "auth registry: starting on $AUTH_REGISTRY_ADDR (log: $AUTH_DIR/registry.log)"
    setsid docker-registry serve "$conf" >>"$AUTH_DIR/registry.log" 2>&1 </dev/null 9>&- &
    echo $! >"$AUTH_DIR/registry.pid"
  fi
  if ! python3 "$TESTBED_DIR/registry_tool.py" wait "http://$AUTH_REGISTRY_ADDR/v2/" 30; then
    tail -n 20 "$AUTH_DIR/registry.log" >&2 || true
    die "auth registry did not answer on http://$AUTH_REGISTRY_ADDR/v2/"
  fi
  log "auth registry: up"
}

install_cred_helper() {
  # The state dir is baked in: over ssh the helper runs without our environment.
  local tmp
  tmp=$(mktemp "$CRED_HELPER.XXXXXX")
  sed "s|@CREDENTIALS@|$AUTH_DIR/credentials|; s|@LOG@|$AUTH_DIR/helper.log|" \
    "$TESTBED_DIR/docker-credential-opsuitest" >"$tmp"
  chmod 755 "$tmp"
  if cmp -s "$tmp" "$CRED_HELPER"; then rm -f "$tmp"; else mv -f "$tmp" "$CRED_HELPER"; fi
}

write_docker_configs() {
  local kind
  for kind in auths helper store none; do mkdir -p "$STATE/docker-config-$kind"; done
  write_if_changed "$STATE/docker-config-helper/config.json" <<EOF || true
{"credHelpers": {"$AUTH_REGISTRY_ADDR": "opsuitest"}}
EOF
  write_if_changed "$STATE/docker-config-store/config.json" <<EOF || true
{"credsStore": "opsuitest"}
EOF
  write_if_changed "$STATE/docker-config-none/config.json" <<EOF || true
{}
EOF
  # "auths" is written by `docker login` itself (the way users get it), then kept 0600.
  local password
  password=$(auth_password)
  printf '%s' "$password" | DOCKER_CONFIG=$STATE/docker-config-auths \
    docker login -u "$AUTH_USER" --password-stdin "$AUTH_REGISTRY_ADDR" >/dev/null 2>&1 ||
    die "docker login $AUTH_REGISTRY_ADDR with the test credentials failed"
}

# push_auth_image REF : push REF to the auth registry unless it already holds that image.
push_auth_image() {
  local ref=$1 repo=${1%%:*} tag=${1##*:} remote digest
  remote=$AUTH_REGISTRY_ADDR/$ref
  digest=$(REGISTRY_TOOL_BASIC="$AUTH_USER:$(auth_password)" \
    python3 "$TESTBED_DIR/registry_tool.py" digest "$AUTH_REGISTRY_ADDR" "$repo" "$tag")
  if [[ -n $digest ]] &&
    docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" |
    grep -qxF "$AUTH_REGISTRY_ADDR/$repo@$digest"; then
    log "auth registry: $remote up to date"
    return
  fi
  log "auth registry: pushing $remote"
  docker tag "$ref" "$remote"
  local out
  out=$(DOCKER_CONFIG=$STATE/docker-config-auths docker push "$remote" 2>&1) || {
    printf '%s\n' "$out" >&2
    die "docker push $remote failed"
  }
}

write_stack_env() {
  local password
  password=$(auth_password)
  write_if_changed "$STATE/stack.env" <<EOF || true
# The opt-in stack parts (scripts/testbed/up.sh --stack); test credentials, loopback only.
export OPSUI_TESTBED_STACK=1
export OPSUI_TEST_AUTH_REGISTRY=$AUTH_REGISTRY_ADDR
export OPSUI_TEST_AUTH_USER=$AUTH_USER
export OPSUI_TEST_AUTH_PASSWORD=$password
EOF
  chmod 600 "$STATE/stack.env"
}

ensure_stack_parts() {
  local t0=$SECONDS tag
  build_stack_images
  log "stack: images took $((SECONDS - t0))s"
  ensure_auth_registry
  install_cred_helper
  write_docker_configs
  for tag in "${APP_TAGS[@]}"; do push_auth_image "$APP_REPO:$tag"; done
  write_stack_env
  log "stack: parts ready ($((SECONDS - t0))s after the packages)"
}
