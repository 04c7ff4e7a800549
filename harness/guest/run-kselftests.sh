#!/bin/sh
# Run in the guest: every pt_share kselftest program in $1, one after the
# other, each with its TAP output prefixed by nothing (the host parses the
# "ok"/"not ok" lines). Prints "KSELFTEST_PROGRAM <name> <status>" after each.
dir=$1
rc=0
for t in "$dir"/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	echo "KSELFTEST_PROGRAM_START $(basename "$t")"
	"$t"
	st=$?
	echo "KSELFTEST_PROGRAM_END $(basename "$t") $st"
	[ $st -eq 0 ] || [ $st -eq 4 ] || rc=1
done
exit $rc
