#!/usr/bin/env bash
# demo.sh BIN: install the default plan on a throwaway systemd host, show the
# service, then uninstall it and show that nothing is left. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:?usage: demo.sh BIN}")
dir=$(mktemp -d /tmp/notifyctl-demo.XXXXXX)
rmdir "$dir"
trap '"$here/testhost.sh" down "$dir"' EXIT
host() { "$here/testhost.sh" exec "$dir" "$@"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

"$here/testhost.sh" up "$dir" "$bin" >/dev/null
echo "a throwaway Debian host with systemd as PID 1 is up ($(host systemctl --version | head -1))"

step notifyctl plan
host notifyctl plan 2>&1 | sed -n "1,30p"  # sed reads it all: no SIGPIPE
step notifyctl install
host notifyctl install
step systemctl status notifydemo
host systemctl status --no-pager notifydemo || true
step curl http://127.0.0.1:5001/health
host curl -fsS http://127.0.0.1:5001/health
step notifyctl install "   # again: nothing to do"
host notifyctl install
step notifyctl uninstall
host notifyctl uninstall
step "ls /opt /var/lib/notifyctl; getent passwd notifydemo; systemctl show -p LoadState notifydemo"
host sh -c 'ls -A /opt; ls /var/lib/notifyctl 2>&1; getent passwd notifydemo || echo "no user notifydemo"; systemctl show -p LoadState notifydemo'
