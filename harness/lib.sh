#!/bin/bash
# Shared helpers for the pt_share harness. Sourced, never run.
#
# Layout of the ignored build area (BUILD, default .build/ in the repo):
#   src/pristine-<ver>/   the base tree exactly as Debian ships it
#   src/work-<ver>/       hard-linked copy with the overlay applied
#   out-<flavour>/        kbuild output (O=) for release, debug, stock
#   vm/                   per-run scratch dirs shared with the guest
#   results/              benchmark and check results

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/.build}
# The Debian package version the overlay was made against.
PIN_PKG_VERSION=${PIN_PKG_VERSION:-6.12.117-1~deb12u1}
SRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Paths under the repository are hashed relative to it, so that a fresh clone
# elsewhere (as CI makes) hits the cache filled by earlier builds.
export CCACHE_BASEDIR=$TOP
export CCACHE_NOHASHDIR=1

# Overlay roots: top-level kernel directories whose files in this repo are
# copied into (or patched onto) the kernel tree. scripts/ is deliberately not
# one of them: scripts/bench/ holds our benchmarks, not kernel code.
OVERLAY_DIRS="arch block Documentation drivers fs include init ipc kernel lib mm security tools virt"
# Files at the root of the kernel tree that the overlay may patch.
OVERLAY_ROOT_FILES="MAINTAINERS.patch"

_T0=${_T0:-$(date +%s)}
export _T0

log() { printf '[%5ss] %s\n' "$(( $(date +%s) - _T0 ))" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# stage NAME CMD...: run CMD, print how long it took.
stage() {
	local name=$1 t rc=0
	shift
	t=$(date +%s)
	log "stage '$name' ..."
	"$@" || rc=$?
	log "stage '$name' took $(( $(date +%s) - t ))s (rc=$rc)"
	return $rc
}

# need_pkgs PKG...: install missing Debian packages (we are root on every
# machine of this project; a fresh machine has none of these).
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing Debian packages: ${missing[*]}"
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	if [ ! -e "$BUILD/.apt-updated" ]; then
		$sudo apt-get update -q >&2
		mkdir -p "$BUILD" && touch "$BUILD/.apt-updated"
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
		--no-install-recommends "${missing[@]}" >&2
}

BUILD_PKGS="build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils
	kmod python3 rsync ccache perl"
VM_PKGS="qemu-system-x86 busybox-static"
# What the tests run in the guest, from the host's root over 9p: the soak's
# stress-ng, mkfs.ext4 and losetup for pt_share_cve's O_DIRECT test,
# setpriv and setarch for the upstream mm selftests.
GUEST_TEST_PKGS="stress-ng e2fsprogs mount util-linux"

# install_base_source: make sure the pinned linux-source-6.12 is installed.
install_base_source() {
	local have
	have=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
	[ "$have" = "$PIN_PKG_VERSION" ] && [ -f "$SRC_TARBALL" ] && return 0
	need_pkgs apt-utils
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	[ -e "$BUILD/.apt-updated" ] || { $sudo apt-get update -q >&2; mkdir -p "$BUILD"; touch "$BUILD/.apt-updated"; }
	if apt-cache madison linux-source-6.12 | grep -q " $PIN_PKG_VERSION "; then
		log "installing linux-source-6.12=$PIN_PKG_VERSION (pinned base)"
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
			--no-install-recommends --allow-downgrades \
			"linux-source-6.12=$PIN_PKG_VERSION" >&2
	else
		log "WARNING: pinned base linux-source-6.12=$PIN_PKG_VERSION is no longer in the archive;"
		log "WARNING: trying the newest linux-source-6.12. The overlay must apply or fail loudly."
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
			--no-install-recommends linux-source-6.12 >&2
	fi
}

# base_version: "6.12.117" from the installed package's tarball name/Makefile.
base_pkg_version() { dpkg-query -W -f='${Version}' linux-source-6.12; }

PRISTINE_LINK=$BUILD/src/pristine
WORK_LINK=$BUILD/src/work

# host_tsc_khz: the host TSC's rate in kHz, measured once per build area
# (scripts/bench/ptb_tsc.c); QEMU TCG passes that TSC to the guest.
host_tsc_khz() {
	local bin=$BUILD/bin/ptb_tsc src=$TOP/scripts/bench/ptb_tsc.c
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
		mkdir -p "$BUILD/bin"
		gcc -O2 -Wall -Wextra -Werror -o "$bin" "$src" || die "cannot build $src"
		rm -f "$BUILD/tsc_khz"
	fi
	[ -s "$BUILD/tsc_khz" ] || "$bin" > "$BUILD/tsc_khz"
	cat "$BUILD/tsc_khz"
}
