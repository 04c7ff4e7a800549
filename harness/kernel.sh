#!/bin/bash
# Build the pt_share kernel.
#   kernel.sh source            extract the pinned base once, apply the overlay
#   kernel.sh build FLAVOUR     configure (if needed) and build bzImage
#   kernel.sh headers FLAVOUR   install uapi headers for the selftests
#   kernel.sh objects nopt      compile the patched directories without pt_share
# FLAVOUR is release, debug, kasan (debug plus KASAN, for make check FULL=1),
# stock (the unpatched base, release config) or nopt (the release config
# with CONFIG_PT_SHARE=n; objects only).
. "$(dirname "$0")/lib.sh"

cmd_source() {
	need_pkgs $BUILD_PKGS
	install_base_source
	local ver dir
	ver=$(base_pkg_version)
	dir=$BUILD/src/pristine-${ver//\~/_}
	if [ ! -d "$dir" ]; then
		log "extracting $SRC_TARBALL (linux-source-6.12 $ver)"
		rm -rf "$BUILD/src/extract.tmp"
		mkdir -p "$BUILD/src/extract.tmp"
		tar -C "$BUILD/src/extract.tmp" -xf "$SRC_TARBALL"
		mv "$BUILD/src/extract.tmp/linux-source-6.12" "$dir"
		rmdir "$BUILD/src/extract.tmp"
		chmod -R a-w "$dir"
	fi
	local work=$BUILD/src/work-${ver//\~/_}
	if [ ! -d "$work" ]; then
		log "creating work tree (hard links to the pristine tree)"
		cp -al "$dir" "$work.tmp"
		# Files stay read-only: they are the pristine inodes. The overlay
		# replaces files by rename, so only directories must be writable.
		find "$work.tmp" -type d -exec chmod u+w {} +
		mv "$work.tmp" "$work"
	fi
	ln -sfn "$(basename "$dir")" "$PRISTINE_LINK"
	ln -sfn "$(basename "$work")" "$WORK_LINK"
	if [ "$ver" != "$PIN_PKG_VERSION" ]; then
		log "WARNING: base is linux-source-6.12 $ver, not the pinned $PIN_PKG_VERSION"
	fi
	"$TOP/harness/overlay.sh"
}

kmake() {
	local flavour=$1 src
	shift
	src=$(readlink -f "$WORK_LINK")
	[ "$flavour" = stock ] && src=$(readlink -f "$PRISTINE_LINK")
	make -C "$src" O="$BUILD/out-$flavour" ARCH=x86_64 \
		CC="ccache gcc" HOSTCC="ccache gcc" \
		KBUILD_BUILD_USER=pt_share KBUILD_BUILD_HOST=harness \
		KBUILD_BUILD_TIMESTAMP="pt_share" \
		-j"$(nproc)" "$@"
}

fragments() {
	case "$1" in
	release|stock) echo "$TOP/configs/common.config $TOP/configs/release.config" ;;
	debug) echo "$TOP/configs/common.config $TOP/configs/debug.config" ;;
	nopt) echo "$TOP/configs/common.config $TOP/configs/release.config $TOP/configs/nopt.config" ;;
	kasan) echo "$TOP/configs/common.config $TOP/configs/debug.config $TOP/configs/kasan.config" ;;
	*) die "unknown flavour '$1' (release, debug, kasan, stock, nopt)" ;;
	esac
}

# Check that every symbol a fragment asks for survived olddefconfig.
verify_config() {
	local flavour=$1 cfg=$BUILD/out-$1/.config bad=0 line sym val got
	for frag in $(fragments "$flavour"); do
		while IFS= read -r line; do
			case "$line" in CONFIG_*=*) ;; *) continue ;; esac
			sym=${line%%=*}; val=${line#*=}
			# The stock kernel has no CONFIG_PT_SHARE by definition.
			[ "$flavour" = stock ] && [ "${sym#CONFIG_PT_SHARE}" != "$sym" ] && continue
			# nopt overrides the release fragment's pt_share symbols.
			[ "$flavour" = nopt ] && [ "$frag" != "$TOP/configs/nopt.config" ] &&
				[ "${sym#CONFIG_PT_SHARE}" != "$sym" ] && continue
			if [ "$val" = n ]; then
				grep -q "^$sym=" "$cfg" && { echo "config: $sym=n requested, got $(grep "^$sym=" "$cfg")" >&2; bad=1; }
			else
				got=$(grep "^$sym=" "$cfg" || echo "$sym is not set")
				[ "$got" = "$line" ] || { echo "config: requested $line, got: $got" >&2; bad=1; }
			fi
		done < "$frag"
	done
	[ $bad -eq 0 ] || die "the $flavour config dropped requested symbols (see above)"
}

cmd_config() {
	local flavour=$1 out=$BUILD/out-$1 stamp
	stamp=$(cat $(fragments "$flavour") | md5sum | cut -d' ' -f1)
	if [ -f "$out/.config" ] && [ "$(cat "$out/.pt_share_frag" 2>/dev/null)" = "$stamp" ]; then
		# Kconfig files may have changed through the overlay.
		kmake "$flavour" olddefconfig >/dev/null
		verify_config "$flavour"
		return 0
	fi
	log "configuring $flavour kernel: tinyconfig + $(fragments "$flavour" | xargs -n1 basename | tr '\n' ' ')"
	mkdir -p "$out"
	kmake "$flavour" tinyconfig >/dev/null
	local src
	src=$(readlink -f "$WORK_LINK")
	[ "$flavour" = stock ] && src=$(readlink -f "$PRISTINE_LINK")
	KCONFIG_CONFIG=$out/.config "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" $(fragments "$flavour") >/dev/null
	kmake "$flavour" olddefconfig >/dev/null
	verify_config "$flavour"
	echo "$stamp" > "$out/.pt_share_frag"
}

cmd_build() {
	local flavour=${1:?flavour}
	need_pkgs $BUILD_PKGS
	# Cheap when nothing changed: only files whose content differs are written.
	[ "$flavour" = stock ] && [ -L "$WORK_LINK" ] || cmd_source
	cmd_config "$flavour"
	local kver
	log "building $flavour kernel from linux-source-6.12 $(base_pkg_version) ($(kmake "$flavour" -s kernelversion))"
	if ! kmake "$flavour" bzImage > "$BUILD/out-$flavour/build.log" 2>&1; then
		tail -40 "$BUILD/out-$flavour/build.log" >&2
		die "$flavour kernel build failed (full log: $BUILD/out-$flavour/build.log)"
	fi
	grep -E '^(ld|.*warning:)' "$BUILD/out-$flavour/build.log" >&2 || true
	log "built $BUILD/out-$flavour/arch/x86/boot/bzImage"
}

# Compile the directories of every .c file the overlay patches, with the
# nopt config: call sites must build against the !CONFIG_PT_SHARE stubs.
cmd_objects() {
	local flavour=${1:?flavour} objs
	need_pkgs $BUILD_PKGS
	cmd_source
	cmd_config "$flavour"
	objs=$(cd "$TOP" && for d in $OVERLAY_DIRS; do
		if [ -d "$d" ]; then find "$d" -name '*.c.patch'; fi
	done | grep -v '^tools/' | xargs -n1 dirname | sed 's|$|/|' | LC_ALL=C sort -u)
	# Whole directories: a patched file the config leaves out (such as
	# mm/mmu_notifier.c without CONFIG_MMU_NOTIFIER) must not be forced.
	log "compiling $(echo $objs) with the $flavour config"
	if ! kmake "$flavour" $objs > "$BUILD/out-$flavour/build.log" 2>&1; then
		tail -40 "$BUILD/out-$flavour/build.log" >&2
		die "$flavour objects failed (full log: $BUILD/out-$flavour/build.log)"
	fi
	grep -E 'warning:' "$BUILD/out-$flavour/build.log" >&2 || true
}

cmd_headers() {
	local flavour=${1:?flavour}
	kmake "$flavour" headers > /dev/null
}

case "${1:-}" in
source) cmd_source ;;
config) cmd_config "${2:?flavour}" ;;
build) cmd_build "${2:?flavour}" ;;
headers) cmd_headers "${2:?flavour}" ;;
objects) cmd_objects "${2:?flavour}" ;;
*) die "usage: $0 source | config FLAVOUR | build FLAVOUR | headers FLAVOUR | objects nopt" ;;
esac
