#!/bin/bash
# mutate.sh [NAME...]: show that each CVE-class test fails on a kernel that
# has its bug class (issue 5, part 3).
#
# harness/mutations/NAME.patch puts one such bug into the work tree's
# mm/pt_share.c and names the pt_share_cve test that must catch it
# ("Caught-by:"). For each one: build the debug kernel with the bug, run
# that test in the guest, and expect it to fail, by a failed assertion, a
# kernel splat or a hang. One "PASS|FAIL<TAB>mutation ..." line each; a bug
# that its test does not catch is a FAIL. The debug kernel is rebuilt
# without any bug at the end.
. "$(dirname "$0")/lib.sh"

MUT=$TOP/harness/mutations
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for m in "$MUT"/*.patch; do
		names+=("$(basename "$m" .patch)")
	done
fi

restore() {
	"$TOP/harness/kernel.sh" build debug > "$BUILD/mutate-restore.log" 2>&1 ||
		{ tail -20 "$BUILD/mutate-restore.log" >&2; die "rebuilding the debug kernel failed"; }
}
trap restore EXIT

"$TOP/harness/selftests.sh" build debug > "$BUILD/mutate-selftests.log" 2>&1 ||
	{ cat "$BUILD/mutate-selftests.log" >&2; die "kselftest build failed"; }
cve=$BUILD/kselftest/pt_share/pt_share_cve
rc_all=0
for name in "${names[@]}"; do
	m=$MUT/$name.patch
	[ -f "$m" ] || die "no mutation $m"
	t=$(sed -n 's/^Caught-by: //p' "$m")
	[ -n "$t" ] || die "$m names no Caught-by: test"
	if ! MUTATION=$m "$TOP/harness/kernel.sh" build debug > "$BUILD/mutate-$name.build.log" 2>&1; then
		tail -20 "$BUILD/mutate-$name.build.log" >&2
		printf 'FAIL\tmutation %s: the kernel with the bug does not build\n' "$name"
		rc_all=1
		continue
	fi
	run=$BUILD/vm/mutate-$name rc=0
	rm -rf "$run"
	VM_RUN_DIR=$run FLAVOUR=debug VM_TIMEOUT=900 "$TOP/harness/vm.sh" "$cve -t $t" \
		> "$BUILD/mutate-$name.log" 2>&1 || rc=$?
	how=$(grep -m1 -E '^# +[a-z_0-9]+\.c:[0-9]+:|not ok ' "$run/output.log" 2>/dev/null | cut -c1-160)
	case $rc in
	0) printf 'FAIL\tmutation %s: %s passed on a kernel with the bug\n' "$name" "$t"
	   rc_all=1 ;;
	3) printf 'PASS\tmutation %s: caught by %s (kernel splat: %s)\n' "$name" "$t" \
		"$(sed -E 's/^\[ *[0-9.]+\] //' "$run/console.log" |
		grep -m1 -E '^(BUG|WARNING|Oops|Kernel panic|general protection)' | cut -c1-120)" ;;
	124) printf 'PASS\tmutation %s: caught by %s (the guest hung or panicked)\n' "$name" "$t" ;;
	*) printf 'PASS\tmutation %s: caught by %s (%s)\n' "$name" "$t" "${how:-exit $rc}" ;;
	esac
done
exit $rc_all
