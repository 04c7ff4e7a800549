#!/bin/bash
# mkpatch.sh PATH EDITED: write PATH.patch in the overlay from the difference
# between the base tree's PATH and the file EDITED. A developer's helper:
#   cp .build/src/pristine/mm/memory.c /tmp/memory.c; edit it;
#   harness/mkpatch.sh mm/memory.c /tmp/memory.c
. "$(dirname "$0")/lib.sh"
path=${1:?path}
edited=${2:?edited file}
pristine=$(readlink -f "$PRISTINE_LINK")
mkdir -p "$TOP/$(dirname "$path")"
rc=0
diff -u --label "a/$path" --label "b/$path" "$pristine/$path" "$edited" \
	> "$TOP/$path.patch" || rc=$?
[ $rc -eq 1 ] || { rm -f "$TOP/$path.patch"; die "no difference (or diff failed) for $path"; }
log "wrote $path.patch"
