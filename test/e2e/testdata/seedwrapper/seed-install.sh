#!/bin/bash
# The first seed's install steps as a shell script, for timing only.
set -euo pipefail
src=$(dirname "$0")
useradd --system --home /opt/notifydemo --shell /usr/sbin/nologin notifydemo
mkdir -p /opt/notifydemo
install -m 0644 "$src/app.py" /opt/notifydemo/app.py
install -m 0755 "$src/run.sh" /opt/notifydemo/run.sh
chown -R notifydemo:notifydemo /opt/notifydemo
install -m 0644 "$src/notifydemo.service" /etc/systemd/system/notifydemo.service
systemctl daemon-reload
systemctl enable --now notifydemo
