#!/bin/bash
# selftests.sh build FLAVOUR: build the pt_share kselftests against the uapi
# headers of the FLAVOUR kernel, into .build/kselftest/pt_share.
. "$(dirname "$0")/lib.sh"

OUT=$BUILD/kselftest/pt_share
case "${1:-}" in
build)
	flavour=${2:?flavour}
	"$TOP/harness/overlay.sh"
	"$TOP/harness/kernel.sh" headers "$flavour"
	work=$(readlink -f "$WORK_LINK")
	mkdir -p "$OUT"
	make -s -C "$work/tools/testing/selftests/mm/pt_share" OUTPUT="$OUT" \
		KHDR_INCLUDES="-isystem $BUILD/out-$flavour/usr/include" \
		CC=gcc all
	;;
*) die "usage: $0 build FLAVOUR" ;;
esac
