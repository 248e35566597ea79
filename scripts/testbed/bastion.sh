#!/usr/bin/env bash
# A bastion topology for opsui's ProxyJump/ProxyCommand tests (issue 15):
#
#   host (root netns)                         netns opsui-bastion (own loopback only)
#   ----------------------------------------  ----------------------------------------
#   127.0.0.1:$BASTION_PORT  netns_inetd.py --> bastion sshd -i (one per connection)
#                                                  | direct-tcpip (the jump)
#                                                  v
#                                              inner sshd on 127.0.0.1:$INNER_PORT
#                                                  | sessions run `docker ...` on
#                                                  v the host's /var/run/docker.sock
#
# The inner sshd listens on the loopback of a network namespace that has no other
# interface, so nothing on the host can connect to it: 127.0.0.1:$INNER_PORT on the
# host is refused. The bastion's sshd runs inside that namespace (netns_inetd.py binds
# its port on the host's loopback, then enters the namespace and runs `sshd -i` per
# connection), so the only way in is through the bastion: a ProxyJump, or a
# ProxyCommand `ssh -W %h:%p opsui-bastion`. Every address is loopback.
#
#   bash scripts/testbed/bastion.sh up     idempotent; needs root (ip netns)
#   bash scripts/testbed/bastion.sh down   stops what `up` started (recorded pids,
#                                          checked against their command lines) and
#                                          removes the namespace and $STATE/bastion
#
# `up` writes $STATE/bastion/: host keys (bastion's and inner's differ), a client key
# both accept, known_hosts with both, ssh_config with the aliases opsui-bastion,
# opsui-inner (ProxyJump), opsui-inner-cmd (ProxyCommand) and opsui-inner-deep (a
# chain of two jumps: the bastion, then the inner sshd itself), and env with the
# OPSUI_TEST_BASTION_* variables. tests/integration/test_ssh_bastion.py runs `up`.
set -euo pipefail

# shellcheck source=scripts/testbed/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

NETNS=opsui-bastion
BASTION_PORT=${OPSUI_TEST_BASTION_PORT:-2322}
INNER_PORT=2224 # inside the namespace only
B=$STATE/bastion

# put FILE : replace FILE with stdin atomically, only when the content differs (a
# running sshd -i reads its config on every connection).
put() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if [[ -f $1 ]] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; else chmod 644 "$tmp" && mv -f "$tmp" "$1"; fi
}

lock() { # several test sessions may run `up` at once
  mkdir -p "$STATE"
  exec 8>"$STATE/.bastion.lock"
  flock -w 300 8 || die "could not lock $STATE/.bastion.lock"
}

sshd_common() { # AUTHORIZED_KEYS
  cat <<EOF
HostKey $B/HOSTKEY
AuthorizedKeysFile $1
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
MaxStartups 100
MaxSessions 100
PrintMotd no
LogLevel VERBOSE
EOF
}

inner_up() { ip netns exec "$NETNS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$INNER_PORT" 2>/dev/null; }
host_reaches_inner() { bash -c "exec 3<>/dev/tcp/127.0.0.1/$INNER_PORT" 2>/dev/null; }
jump_works() { ssh -F "$B/ssh_config" opsui-inner docker version --format '{{.Server.Version}}'; }

up() {
  require_root
  mkdir -p "$B" /run/sshd
  local k
  for k in bastion_host inner_host id; do
    [[ -f $B/${k}_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C "opsui-testbed-$k" -f "$B/${k}_ed25519"
    chmod 600 "$B/${k}_ed25519"
  done

  if ! ip netns list | grep -qw "^$NETNS"; then
    log "bastion: creating network namespace $NETNS"
    ip netns add "$NETNS"
  fi
  ip netns exec "$NETNS" ip link set lo up

  {
    sshd_common "$B/id_ed25519.pub" | sed "s|HOSTKEY|inner_host_ed25519|"
    echo "ListenAddress 127.0.0.1:$INNER_PORT"
    echo "PidFile $B/inner_sshd.pid"
    echo "AllowTcpForwarding yes"
  } | put "$B/inner_sshd_config"
  {
    sshd_common "$B/id_ed25519.pub" | sed "s|HOSTKEY|bastion_host_ed25519|"
    echo "# Run as sshd -i by netns_inetd.py: a jump host (no terminals needed)."
    echo "AllowTcpForwarding yes"
    echo "PermitTTY no"
  } | put "$B/bastion_sshd_config"
  /usr/sbin/sshd -t -f "$B/inner_sshd_config" || die "sshd rejected $B/inner_sshd_config"
  /usr/sbin/sshd -t -f "$B/bastion_sshd_config" || die "sshd rejected $B/bastion_sshd_config"

  {
    echo "[127.0.0.1]:$BASTION_PORT $(cut -d' ' -f1,2 "$B/bastion_host_ed25519.pub")"
    echo "[127.0.0.1]:$INNER_PORT $(cut -d' ' -f1,2 "$B/inner_host_ed25519.pub")"
  } | put "$B/known_hosts"
  put "$B/ssh_config" <<EOF
# ssh -F $B/ssh_config opsui-inner ...   (written by scripts/testbed/bastion.sh)
Host opsui-bastion
    HostName 127.0.0.1
    Port $BASTION_PORT

Host opsui-inner
    HostName 127.0.0.1
    Port $INNER_PORT
    ProxyJump opsui-bastion

Host opsui-inner-cmd
    HostName 127.0.0.1
    Port $INNER_PORT
    ProxyCommand ssh -F $B/ssh_config -W %h:%p opsui-bastion

Host opsui-inner-deep
    HostName 127.0.0.1
    Port $INNER_PORT
    ProxyJump opsui-bastion,root@127.0.0.1:$INNER_PORT

Host *
    User root
    IdentityFile $B/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $B/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
EOF
  put "$B/env" <<EOF
# Written by scripts/testbed/bastion.sh up
export OPSUI_TEST_BASTION_DIR=$B
export OPSUI_TEST_BASTION_NETNS=$NETNS
export OPSUI_TEST_BASTION_PORT=$BASTION_PORT
export OPSUI_TEST_BASTION_INNER_PORT=$INNER_PORT
EOF

  local pid
  pid=$(read_pid "$B/inner_sshd.pid")
  if ! pid_matches "$pid" "$B/inner_sshd_config"; then
    log "bastion: starting the inner sshd on 127.0.0.1:$INNER_PORT inside $NETNS"
    ip netns exec "$NETNS" /usr/sbin/sshd -f "$B/inner_sshd_config" -E "$B/inner_sshd.log" 8>&- 9>&-
  fi
  wait_for 20 "inner sshd in $NETNS" inner_up || die "inner sshd did not start; see $B/inner_sshd.log"

  pid=$(read_pid "$B/inetd.pid")
  if ! pid_matches "$pid" "$B/bastion_sshd_config"; then
    if ss -Hltn "sport = :$BASTION_PORT" | grep -q .; then
      die "port 127.0.0.1:$BASTION_PORT is taken by a process this script did not start"
    fi
    log "bastion: listening on 127.0.0.1:$BASTION_PORT, sshd -i inside $NETNS"
    setsid python3 "$TESTBED_DIR/netns_inetd.py" "127.0.0.1:$BASTION_PORT" "$NETNS" \
      /usr/sbin/sshd -i -f "$B/bastion_sshd_config" -E "$B/bastion_sshd.log" \
      </dev/null >>"$B/inetd.log" 2>&1 8>&- 9>&- &
    echo $! >"$B/inetd.pid"
  fi
  if ! wait_for 30 "ssh through the bastion" jump_works; then
    tail -n 20 "$B/bastion_sshd.log" "$B/inner_sshd.log" "$B/inetd.log" >&2 || true
    die "cannot reach the inner host through the bastion"
  fi
  if host_reaches_inner; then
    die "127.0.0.1:$INNER_PORT answers on the host: the inner sshd must be reachable only through the bastion"
  fi
  log "bastion: ssh -F $B/ssh_config opsui-inner works; 127.0.0.1:$INNER_PORT is refused on the host"
}

down() {
  local pid p
  pid=$(read_pid "$B/inetd.pid")
  if pid_matches "$pid" "$B/bastion_sshd_config"; then
    log "bastion: stopping the listener and its sshd -i children (process group $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait_gone 10 "$pid" || kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  pid=$(read_pid "$B/inner_sshd.pid")
  stop_pid "$pid" "$B/inner_sshd_config" "inner sshd"
  if ip netns list | grep -qw "^$NETNS"; then
    # Sessions may outlive their sshd. Every process in this namespace was started by
    # the two servers above (nothing else enters it), so they are all ours to stop.
    for p in $(ip netns pids "$NETNS"); do
      log "bastion: stopping pid $p left in $NETNS ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60))"
      kill -TERM "$p" 2>/dev/null || true
    done
    for p in $(ip netns pids "$NETNS"); do
      wait_gone 10 "$p" || kill -KILL "$p" 2>/dev/null || true
    done
    log "bastion: removing network namespace $NETNS"
    ip netns del "$NETNS"
  fi
  rm -rf "$B"
}

case ${1:-} in
  up) lock && up ;;
  down) lock && down ;;
  *) die "usage: $0 up|down" ;;
esac
