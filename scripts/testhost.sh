#!/usr/bin/env bash
# testhost.sh: throwaway Debian 12 hosts with systemd as PID 1, for end-to-end tests.
#
# A base root filesystem is built once with debootstrap and cached; every host is a
# fresh overlayfs on top of it, booted with systemd-nspawn. The overlay's upper
# directory holds exactly what the host changed.
#
#   testhost.sh deps               install systemd-nspawn and debootstrap (Debian packages)
#   testhost.sh base               build the cached base (idempotent; prints its path)
#   testhost.sh up DIR [BIN]       boot a host in DIR (DIR/root, DIR/upper); BIN is bound
#                                  read-only at /usr/local/bin/notifyctl; prints the leader PID
#   testhost.sh exec DIR CMD...    run CMD inside the host (all namespaces)
#   testhost.sh down DIR           power the host off and remove DIR
#
# Environment: NOTIFYCTL_TESTHOST_CACHE (default /var/cache/notifyctl-testhost),
# NOTIFYCTL_TESTHOST_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

cache=${NOTIFYCTL_TESTHOST_CACHE:-/var/cache/notifyctl-testhost}
mirror=${NOTIFYCTL_TESTHOST_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# What the shipped plans need is preinstalled so tests do not depend on the network
# from inside a host (hosts get a private network with only a loopback).
packages=systemd,systemd-sysv,dbus,passwd,python3,python3-flask,curl,gunicorn,python3-uvicorn,python3-fastapi,procps
# Downloaded into the base's apt cache but not installed, for the tests that
# install them offline (apt-get install --no-download).
cached=postfix
stamp=$(printf '%s %s %s %s\n' "$suite" "$packages" "$cached" v2 | sha256sum | cut -c1-12)
base=$cache/base-$stamp

die() { echo "testhost: $*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

cmd_deps() {
	need_root
	if command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null; then
		return 0
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd-container debootstrap >/dev/null
}

cmd_base() {
	need_root
	cmd_deps
	if [ -f "$base/.complete" ]; then
		echo "$base"
		return 0
	fi
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9
	if [ ! -f "$base/.complete" ]; then
		rm -rf "$base.tmp"
		echo "testhost: building base $base (debootstrap, about a minute)" >&2
		debootstrap --variant=minbase --include="$packages" "$suite" "$base.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
			{ tail -20 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
		# A stable machine identity is generated at first boot of each host instead.
		rm -f "$base.tmp/etc/machine-id"
		: >"$base.tmp/etc/machine-id"
		rm -rf "$base.tmp/var/cache/apt/archives/"*.deb
		chroot "$base.tmp" apt-get install -y -qq --download-only $cached >>"$cache/debootstrap.log" 2>&1 ||
			{ tail -20 "$cache/debootstrap.log" >&2; die "downloading $cached failed (log: $cache/debootstrap.log)"; }
		touch "$base.tmp/.complete"
		mv "$base.tmp" "$base"
		# Bases built for another package list are stale; drop those no host uses.
		for old in "$cache"/base-*; do
			[ "$old" = "$base" ] || grep -qF "lowerdir=$old," /proc/mounts || rm -rf "$old"
		done
	fi
	echo "$base"
}

# nspawn wants to clean up below /run/systemd/nspawn and refuses when /run is not a tmpfs.
ensure_run_tmpfs() {
	if [ "$(stat -f -c %T /run)" != tmpfs ]; then
		mkdir -p /run/systemd/nspawn
		if [ "$(stat -f -c %T /run/systemd/nspawn)" != tmpfs ]; then
			mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn
		fi
	fi
}

# leader_of prints the host's PID 1 as seen from outside: the child of nspawn
# that runs systemd. nspawn forks helpers first, so a child that is not (yet)
# systemd is not taken for the leader.
leader_of() {
	local nspawn=$1 child
	for child in $(cat "/proc/$nspawn/task/$nspawn/children" 2>/dev/null); do
		if [ "$(cat "/proc/$child/comm" 2>/dev/null)" = systemd ]; then
			echo "$child"
			return 0
		fi
	done
	return 1
}

cmd_up() {
	need_root
	local dir=${1:?usage: up DIR [BIN]} bin=${2:-}
	local b
	b=$(cmd_base)
	ensure_run_tmpfs
	mkdir -p "$dir/upper" "$dir/work" "$dir/root"
	mount -t overlay overlay -o "lowerdir=$b,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
	echo "$b" >"$dir/lower"
	local args=(-D "$dir/root" --boot --register=no --keep-unit --console=read-only
		--private-network -M "nctl-$(basename "$dir" | tr -c 'a-zA-Z0-9-\n' - | cut -c1-40)")
	if [ -n "$bin" ]; then
		args+=(--bind-ro="$bin:/usr/local/bin/notifyctl")
	fi
	setsid systemd-nspawn "${args[@]}" >"$dir/console.log" 2>&1 </dev/null &
	local nspawn=$!
	echo "$nspawn" >"$dir/nspawn.pid"
	local leader="" state=""
	for _ in $(seq 1 1200); do
		kill -0 "$nspawn" 2>/dev/null || { cat "$dir/console.log" >&2; die "host exited while booting"; }
		if [ -z "$leader" ] || [ ! -d "/proc/$leader" ]; then
			leader=$(leader_of "$nspawn") || leader=""
		fi
		if [ -n "$leader" ]; then
			state=$(nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null || true)
			case "$state" in
			running | degraded) break ;;
			esac
		fi
		sleep 0.05
	done
	case "$state" in
	running | degraded) ;;
	*) tail -20 "$dir/console.log" >&2; die "host did not finish booting in 60 s (state: ${state:-none}, leader: ${leader:-none})" ;;
	esac
	echo "$leader" >"$dir/leader"
	echo "$leader"
}

cmd_exec() {
	local dir=${1:?usage: exec DIR CMD...}
	shift
	exec nsenter -t "$(cat "$dir/leader")" -a "$@"
}

cmd_down() {
	need_root
	local dir=${1:?usage: down DIR}
	[ -d "$dir" ] || return 0
	local nspawn="" leader=""
	[ -f "$dir/nspawn.pid" ] && nspawn=$(cat "$dir/nspawn.pid")
	[ -f "$dir/leader" ] && leader=$(cat "$dir/leader")
	# Killing nspawn alone leaves the host's systemd running as an orphan, with
	# its services and inotify instances: kill the host's PID 1 first, once
	# sure it is this host's (a child of this host's nspawn).
	if [ -n "$leader" ] && [ -n "$nspawn" ] && [ "$(awk '{print $4}' "/proc/$leader/stat" 2>/dev/null)" = "$nspawn" ]; then
		kill -KILL "$leader" 2>/dev/null || true
	fi
	if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
		# Powering off properly takes a second; the host is thrown away, so kill it.
		kill -KILL "$nspawn" 2>/dev/null || true
		for _ in $(seq 1 200); do
			kill -0 "$nspawn" 2>/dev/null || break
			sleep 0.05
		done
	fi
	if mountpoint -q "$dir/root"; then
		umount "$dir/root" 2>/dev/null || umount -l "$dir/root"
	fi
	rm -rf "$dir"
}

case "${1:-}" in
deps) cmd_deps ;;
base) cmd_base ;;
up) shift; cmd_up "$@" ;;
exec) shift; cmd_exec "$@" ;;
down) shift; cmd_down "$@" ;;
*) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
