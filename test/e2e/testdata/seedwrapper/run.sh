#!/bin/bash
# The first seed's readiness wrapper, for comparison only: the app in the
# background, /health polled with curl once a second, READY=1 from a
# systemd-notify child (hence NotifyAccess=all).
set -euo pipefail
port="${PORT:-5001}"
/usr/bin/python3 /opt/notifydemo/app.py &
app=$!
for i in {1..30}; do
  if curl -fsS "http://127.0.0.1:${port}/health" >/dev/null; then
    /usr/bin/systemd-notify --ready --status="notifydemo ready on :${port}"
    break
  fi
  sleep 1
done
kill -0 "$app" 2>/dev/null || exit 1
wait "$app"
