#!/usr/bin/env bash
# The guides-shaped compose project of the test bed (issue 13): nginx -> app (2
# replicas) -> PostgreSQL, redis; files in scripts/testbed/stack/ (compose.yml's header
# explains them). Needs `scripts/testbed/up.sh --stack` first (images, compose, the
# authenticated registry the app image comes from).
#
#   stack.sh up [--project NAME] [--nginx dynamic|static] [--haproxy] [--ports]
#               [--tag APP_TAG]
#       Copies scripts/testbed/stack/ to $OPSUI_TEST_STATE/stack/NAME/ (default NAME
#       opsui-stack), writes its .env (COMPOSE_PROJECT_NAME, COMPOSE_FILE, APP_TAG,
#       NGINX_CONF, ...), runs `docker-compose up -d` there and waits until every
#       container runs (and is healthy where the image has a health check). Prints the
#       project directory. Proxy ports are loopback, chosen by Docker (see `docker-compose
#       port nginx 80` in that directory); --ports publishes the app on 127.0.0.1:3000
#       unless OPSUI_STACK_APP_PORT says otherwise (empty: Docker picks).
#   stack.sh down [--project NAME]
#       `docker-compose down -v` in that directory, then removes the directory.
#
# Compose runs with DOCKER_CONFIG=$OPSUI_TEST_STATE/docker-config-auths (the test
# credentials from `docker login`), so a pull of the app works; root's ~/.docker is not
# used. Everything is labelled opsui.test=1 (down.sh also removes leftovers).
set -euo pipefail

# shellcheck source=scripts/testbed/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

usage() {
  sed -n '2,21p' "$0" >&2
  exit 2
}

PROJECT=opsui-stack
NGINX_CONF=dynamic
FILES=compose.yml
APP_TAG=1.0.0

parse() {
  while (($#)); do
    case $1 in
      --project) PROJECT=${2:?}; shift ;;
      --nginx) NGINX_CONF=${2:?}; shift ;;
      --haproxy) FILES+=:compose.haproxy.yml ;;
      --ports) FILES+=:compose.ports.yml ;;
      --tag) APP_TAG=${2:?}; shift ;;
      -h | --help) usage ;;
      *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
  done
  # compose v1 keeps only [-_a-z0-9] of a project name; keep the directory name equal.
  [[ $PROJECT =~ ^[a-z0-9][-_a-z0-9]*$ ]] || die "--project: lower-case letters, digits, - and _"
  [[ $NGINX_CONF == dynamic || $NGINX_CONF == static ]] || die "--nginx: dynamic or static"
  [[ $APP_TAG =~ ^[A-Za-z0-9_.-]+$ ]] || die "--tag: not a tag: $APP_TAG"
  DIR=$STATE/stack/$PROJECT
}

auth_registry() {
  local line
  line=$(grep -s '^export OPSUI_TEST_AUTH_REGISTRY=' "$STATE/stack.env") ||
    die "the stack parts are not up: run scripts/testbed/up.sh --stack"
  printf '%s' "${line#*=}"
}

compose() { (cd "$DIR" && DOCKER_CONFIG=$STATE/docker-config-auths docker-compose "$@"); }

# all_ready : every container of the project runs, and is healthy if it has a check.
all_ready() {
  local ids states
  mapfile -t ids < <(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
  ((${#ids[@]})) || return 1
  states=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}healthy{{end}}' "${ids[@]}")
  ! grep -qv '^running healthy$' <<<"$states"
}

up() {
  command -v docker-compose >/dev/null || die "docker-compose missing: run scripts/testbed/up.sh --stack"
  local registry
  registry=$(auth_registry)
  mkdir -p "$DIR"
  cp -a "$TESTBED_DIR/stack/." "$DIR/"
  cat >"$DIR/.env" <<EOF
# Written by scripts/testbed/stack.sh up; docker-compose reads it in this directory.
COMPOSE_PROJECT_NAME=$PROJECT
COMPOSE_FILE=$FILES
OPSUI_STACK_REGISTRY=$registry
NGINX_CONF=$NGINX_CONF
APP_TAG=$APP_TAG
EOF
  log "stack: docker-compose up -d in $DIR ($FILES, nginx $NGINX_CONF, app $APP_TAG)"
  local out
  out=$(compose up -d 2>&1) || {
    printf '%s\n' "$out" >&2
    die "docker-compose up -d failed in $DIR"
  }
  if ! wait_for 90 "every container of $PROJECT running and healthy" all_ready; then
    compose ps >&2 || true
    die "the stack $PROJECT did not come up"
  fi
  log "stack: $PROJECT is up"
  printf '%s\n' "$DIR"
}

down() {
  if [[ -f $DIR/.env ]] && command -v docker-compose >/dev/null; then
    log "stack: docker-compose down -v in $DIR"
    compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
  fi
  # Whatever compose could not take down (e.g. the directory was lost): by label.
  local ids
  mapfile -t ids < <(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=$TEST_LABEL")
  if ((${#ids[@]})); then docker rm -f -v "${ids[@]}" >/dev/null; fi
  # opsui's kept release copies carry compose's labels hidden (so compose leaves them).
  mapfile -t ids < <(docker ps -aq --filter "label=opsui.hidden.com.docker.compose.project=$PROJECT" \
    --filter "label=$TEST_LABEL")
  if ((${#ids[@]})); then docker rm -f -v "${ids[@]}" >/dev/null; fi
  mapfile -t ids < <(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=$TEST_LABEL")
  if ((${#ids[@]})); then docker network rm "${ids[@]}" >/dev/null; fi
  mapfile -t ids < <(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=$TEST_LABEL")
  if ((${#ids[@]})); then docker volume rm -f "${ids[@]}" >/dev/null; fi
  rm -rf "$DIR"
  log "stack: $PROJECT is down"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  parse "$@"
  case $cmd in
    up) up ;;
    down) down ;;
    *) usage ;;
  esac
}

main "$@"
