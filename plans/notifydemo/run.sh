#!/bin/bash
# notifydemo readiness wrapper: start the app, wait until /health answers, then
# tell systemd READY=1. Kept close to the original demo; a later notifyctl
# release replaces it with a wrapper that notifies from the main process.
set -euo pipefail

port="${PORT:-5001}"

/usr/bin/python3 /opt/notifydemo/app.py &
app=$!
trap 'kill -TERM "$app" 2>/dev/null; wait "$app"' TERM INT

# Poll every 100 ms for up to 30 s (the unit's TimeoutStartSec bounds it too).
for _ in $(seq 1 300); do
  if ! kill -0 "$app" 2>/dev/null; then
    wait "$app" || exit $?
    exit 1
  fi
  if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:${port}/health" 2>/dev/null; then
    /usr/bin/systemd-notify --ready --status="notifydemo ready on :${port}"
    break
  fi
  sleep 0.1
done

wait "$app"
