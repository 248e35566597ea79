#!/bin/sh
# PID 1 of the opsui test app.
# It stays the parent of httpd (instead of exec'ing it) because PID 1 only gets
# signals it handles: trapping TERM makes `docker stop` fast and logs it.
set -eu

echo "opsui test app ${APP_VERSION} starting (mode ${APP_MODE})"

if [ "$APP_MODE" = crash ]; then
    echo "fatal: cannot read /etc/app/config.yml (version ${APP_VERSION})" >&2
    exit 3
fi

# APP_TICK=<seconds> makes the app log "tick N" lines, for log-streaming tests.
if [ -n "${APP_TICK:-}" ]; then
    (i=0; while :; do i=$((i + 1)); echo "tick $i"; sleep "$APP_TICK"; done) &
fi

httpd -f -p 8080 -h /www &
httpd_pid=$!
echo "listening on :8080"

shutdown() {
    echo "received SIGTERM, shutting down"
    kill "$httpd_pid" 2>/dev/null || true
    exit 0
}
trap shutdown TERM INT

wait "$httpd_pid"
echo "httpd exited" >&2
exit 1
