#!/usr/bin/env bash
# mkdeb.sh: build notifyctl's Debian package from a built binary and its man pages.
#
#   mkdeb.sh [-V VERSION] [-o DIR] BIN MANDIR   write DIR/notifyctl_VERSION_ARCH.deb (DIR: dist)
#                                               and print its path
#   mkdeb.sh --print-version                    print the version derived from git
#
# The package holds BIN as /usr/bin/notifyctl, MANDIR/*.1 gzipped in
# /usr/share/man/man1, and the bash, zsh and fish completions, written by BIN
# itself. VERSION defaults to one derived from `git describe`: 1.2.3 at tag
# v1.2.3, 1.2.3+4.gSHA four commits later, 0.0.0+N.gSHA (N commits) before any
# tag, with .dirty appended when the work tree has changes; a pre-release tag
# v1.2.3-rc1 gives 1.2.3~rc1, which sorts before 1.2.3. ARCH is the binary's.
#
# Environment: SOURCE_DATE_EPOCH (default: the last commit's time) dates the
# files; DEBFULLNAME and DEBEMAIL name the maintainer (default: git config
# user.name and user.email). Needs dpkg-deb and gzip; no root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

die() { echo "mkdeb: $*" >&2; exit 2; }

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# git_version prints the Debian version of the checked-out commit.
git_version() {
	local d ver count sha dirty=""
	git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || die "not a git work tree: give the version with -V"
	case "$(git -C "$repo" describe --tags --always --dirty)" in
	*-dirty) dirty=.dirty ;;
	esac
	if d=$(git -C "$repo" describe --tags --match 'v[0-9]*' --long --abbrev=7 2>/dev/null); then
		# v1.2.3[-rc1]-COUNT-gSHA
		sha=${d##*-g}
		d=${d%-g*}
		count=${d##*-}
		ver=${d%-*}
		ver=${ver#v}
		ver=${ver//-/\~}
		if [ "$count" = 0 ] && [ -z "$dirty" ]; then
			echo "$ver"
		else
			echo "$ver+$count.g$sha$dirty"
		fi
		return
	fi
	count=$(git -C "$repo" rev-list --count HEAD)
	sha=$(git -C "$repo" rev-parse --short=7 HEAD)
	echo "0.0.0+$count.g$sha$dirty"
}

valid_version() {
	[[ $1 =~ ^[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)?$ ]] || return 1
	if dpkg --validate-version "$1" >/dev/null 2>&1 || ! command -v dpkg >/dev/null; then
		return 0
	fi
	return 1
}

# deb_arch prints the Debian architecture of an ELF binary, from its header.
deb_arch() {
	local class machine
	[ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ] || die "$1 is not an ELF binary"
	class=$(od -An -t u1 -j 4 -N 1 "$1" | tr -d ' ')
	machine=$(od -An -t u2 -j 18 -N 2 --endian=little "$1" | tr -d ' ')
	case "$class:$machine" in
	2:62) echo amd64 ;;
	2:183) echo arm64 ;;
	1:3) echo i386 ;;
	1:40) echo armhf ;;
	2:243) echo riscv64 ;;
	2:21) echo ppc64el ;;
	2:22) echo s390x ;;
	*) die "$1: unknown ELF class $class machine $machine" ;;
	esac
}

version="" out=dist
while [ $# -gt 0 ]; do
	case "$1" in
	--print-version) git_version; exit 0 ;;
	-V) version=${2:?-V needs a version}; shift 2 ;;
	-o) out=${2:?-o needs a directory}; shift 2 ;;
	-h | --help) usage ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# = 2 ] || usage
bin=$1 man=$2
[ -f "$bin" ] && [ -x "$bin" ] || die "$bin is not an executable file"
compgen -G "$man/*.1" >/dev/null || die "no man pages (*.1) in $man: run make man"
[ -n "$version" ] || version=$(git_version)
valid_version "$version" || die "$version is not a valid Debian version"
arch=$(deb_arch "$bin")
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
name=${DEBFULLNAME:-$(git -C "$repo" config user.name 2>/dev/null || true)}
email=${DEBEMAIL:-$(git -C "$repo" config user.email 2>/dev/null || true)}
[ -n "$name" ] && [ -n "$email" ] || die "name the maintainer with DEBFULLNAME and DEBEMAIL (or git config user.name and user.email)"
maintainer="$name <$email>"
first=$(git -C "$repo" log --reverse --format=%cd --date=format:%Y 2>/dev/null | sed -n 1p)
years=${first:-$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)}
last=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)
[ "$years" = "$last" ] || years="$years-$last"

umask 022
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
root=$tree/notifyctl

install -D -m 0755 "$bin" "$root/usr/bin/notifyctl"
mkdir -p "$root/usr/share/man/man1"
for page in "$man"/*.1; do
	gzip -9n <"$page" >"$root/usr/share/man/man1/$(basename "$page").gz"
done
mkdir -p "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
	"$root/usr/share/fish/vendor_completions.d"
"$bin" completion bash >"$root/usr/share/bash-completion/completions/notifyctl"
"$bin" completion zsh >"$root/usr/share/zsh/vendor-completions/_notifyctl"
"$bin" completion fish >"$root/usr/share/fish/vendor_completions.d/notifyctl.fish"

doc=$root/usr/share/doc/notifyctl
mkdir -p "$doc"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: notifyctl
Source: https://github.com/notifyctl/notifyctl

Files: *
Copyright: $years the notifyctl authors
License: no-license-given
 The notifyctl repository does not state a license yet.
EOF
# Static on purpose: one binary that runs on any host, and that plans install
# next to their services as the readiness wrapper.
mkdir -p "$root/usr/share/lintian/overrides"
echo "notifyctl: statically-linked-binary [usr/bin/notifyctl]" >"$root/usr/share/lintian/overrides/notifyctl"
{
	printf 'notifyctl (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built from commit %s.\n\n' "$(git -C "$repo" rev-parse --short=7 HEAD 2>/dev/null || echo unknown)"
	printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.gz"

mkdir -p "$root/DEBIAN"
installed_size=$(du -k -s --apparent-size "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: notifyctl
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: systemd
Section: admin
Priority: optional
Homepage: https://github.com/notifyctl/notifyctl
Description: install a systemd service from a plan, verified ready
 notifyctl installs a service on a host from a plan: a system user,
 directories, app files, a systemd unit and how to tell the service is
 ready. It returns only once systemd reports the unit active (for a
 Type=notify unit: once the service itself said READY=1), rolls a failed
 install back, and uninstalls without a trace, from a journal of every
 change it made.
EOF
(cd "$root" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$out"
deb=$out/notifyctl_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
