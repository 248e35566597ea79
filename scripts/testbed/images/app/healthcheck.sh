#!/bin/sh
# Docker runs this every second; whatever it prints lands in .State.Health.Log[].Output.
# Same check for every tag: it is the served body that decides (3.0.0 serves an error).
# (No wget -T: Debian bookworm's static busybox segfaults with it; docker's --timeout=2s
# bounds the check instead.)
if ! body="$(wget -q -O- http://127.0.0.1:8080/api/health 2>&1)"; then
    echo "health: http check failed: ${body}"
    exit 1
fi
case "$body" in
    *'"status":"ok"'*)
        echo "$body"
        exit 0
        ;;
esac
echo "health: database unreachable (${body})"
exit 1
