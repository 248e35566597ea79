# shellcheck shell=bash
# Shared helpers for scripts/testbed/*.sh. Sourced, never executed.
#
# Everything the test bed starts or writes lives in one state dir so that
# down.sh can find (and stop) exactly what up.sh started, and nothing else.

# shellcheck disable=SC2034 # these are used by the scripts that source this file
OPSUI_TEST_STATE="${OPSUI_TEST_STATE:-/tmp/opsui-testbed}"
STATE="$OPSUI_TEST_STATE"
# shellcheck disable=SC2034
TESTBED_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Ports can be moved (e.g. when 2222 is taken, or to try these scripts on a second
# bed); the defaults are what the tests and docs assume. Loopback only, always.
# shellcheck disable=SC2034
SSH_PORT=${OPSUI_TEST_SSH_PORT:-2222}
# shellcheck disable=SC2034
REGISTRY_ADDR=${OPSUI_TEST_REGISTRY:-127.0.0.1:5000}
# shellcheck disable=SC2034
TEST_LABEL=opsui.test=1
[[ $SSH_PORT =~ ^[0-9]+$ ]] || { echo "OPSUI_TEST_SSH_PORT must be a number" >&2; exit 1; }
[[ $REGISTRY_ADDR =~ ^127\.0\.0\.1:[0-9]+$ ]] ||
  { echo "OPSUI_TEST_REGISTRY must be 127.0.0.1:PORT (loopback only)" >&2; exit 1; }

# Always talk to the default engine socket: a DOCKER_HOST or context left over in
# the caller's shell must not make us build images on (or stop) some other engine.
# OPSUI_TESTBED_DOCKER_HOST exists only to exercise these scripts against a
# throwaway engine (tests/integration/second_engine.py); up.sh never starts one there.
export DOCKER_HOST=${OPSUI_TESTBED_DOCKER_HOST:-unix:///var/run/docker.sock}
unset DOCKER_CONTEXT
# The docker CLI on PATH may be newer than the engine and have no buildx plugin;
# the classic builder works with both, so ask for it explicitly.
export DOCKER_BUILDKIT=0

_T0=$SECONDS

log() { printf '[testbed %3ds] %s\n' "$((SECONDS - _T0))" "$*" >&2; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts dockerd/sshd)"
}

# wait_for SECONDS WHAT CMD... : poll CMD until it succeeds or the deadline passes.
# Polling with a deadline instead of fixed sleeps keeps fast machines fast and
# gives slow ones a clear failure instead of a flaky one.
wait_for() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  while ! "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for: $what"
      return 1
    fi
    sleep 0.1
  done
}

# wait_gone SECONDS PID : poll until PID no longer exists.
wait_gone() {
  local timeout=$1 pid=$2
  local deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# pid_matches PID PATTERN : PID is alive and its command line contains PATTERN.
# Guards against a recycled pid: we only ever signal a process whose command line
# still names our own config/state files.
pid_matches() {
  local pid=$1 pattern=$2
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

# read_pid FILE : print the pid stored in FILE (empty if missing).
read_pid() {
  if [[ -f $1 ]]; then tr -dc '0-9' <"$1"; fi
}

# stop_pid PID PATTERN NAME : SIGTERM a process we started, escalate to SIGKILL.
stop_pid() {
  local pid=$1 pattern=$2 name=$3
  pid_matches "$pid" "$pattern" || return 0
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone 20 "$pid"; then
    log "$name did not exit on SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone 5 "$pid" || die "$name (pid $pid) would not die"
  fi
}

docker_up() { docker info >/dev/null 2>&1; }

# take_lock : serialise up.sh/down.sh runs (several test sessions may start at once).
take_lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  if ! flock -n 9; then
    log "another testbed script is running; waiting for it"
    flock -w 900 9 || die "could not get $STATE/.lock within 900s"
  fi
}
