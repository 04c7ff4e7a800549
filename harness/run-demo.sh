#!/bin/bash
# run-demo.sh: "make run". Build the release kernel and the demo, boot the
# kernel under QEMU and run the demo in the guest.
#   N=32 SIZE_MB=256: processes and file size (environment).
. "$(dirname "$0")/lib.sh"

N=${N:-32}
SIZE_MB=${SIZE_MB:-256}
need_pkgs $BUILD_PKGS
stage "build: release kernel" "$TOP/harness/kernel.sh" build release
mkdir -p "$BUILD/demo"
stage "build: demo" gcc -O2 -Wall -o "$BUILD/demo/pt_share_demo" "$TOP/demo/pt_share_demo.c"
stage "guest: demo ($N processes, $SIZE_MB MiB)" env FLAVOUR=release \
	MEM=${MEM:-4G} "$TOP/harness/vm.sh" "$BUILD/demo/pt_share_demo -n $N -s $SIZE_MB"
log "make run finished in $(( $(date +%s) - _T0 ))s"
