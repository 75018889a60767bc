#!/bin/bash
# The first seed's clean-up steps, for timing only.
systemctl disable --now notifydemo
rm -f /etc/systemd/system/notifydemo.service
systemctl daemon-reload
rm -rf /opt/notifydemo
userdel notifydemo 2>/dev/null || true
