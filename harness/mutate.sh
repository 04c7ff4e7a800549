#!/bin/bash
# mutate.sh [NAME...]: show that each CVE-class test fails on a kernel that
# has its bug class (issue 5, part 3).
#
# harness/mutations/NAME.patch puts one such bug into files of the work tree
# that the overlay writes (mm/pt_share*.c, or the hook sites of the core
# patches) and names the test that must catch it ("Caught-by:"): a
# pt_share_cve test, "PROGRAM:TEST" for a test of another pt_share kselftest
# program (pt_share_isolate:prot_write_via_migration), or "kunit:CASE" for a
# case of the pt_share KUnit suite, which runs at every boot. For each one: build the debug kernel with the
# bug, run that test in the guest, and expect it to fail, by a failed
# assertion, a kernel splat or a hang. One "PASS|FAIL<TAB>mutation ..." line
# each; a bug that its test does not catch is a FAIL. The debug kernel is
# rebuilt without any bug at the end.
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
ksdir=$BUILD/kselftest/pt_share

# kunit_verdict NAME CASE CONSOLE: the KUnit case must have failed at boot.
kunit_verdict() {
	local console line
	console=$(sed -E 's/\r$//; s/^\[ *[0-9.]+\] //' "$3")
	line=$(grep -m1 -E "^ *(not )?ok [0-9]+ $2\$" <<< "$console") || true
	case $line in
	*"not ok "*)
		printf 'PASS\tmutation %s: caught by kunit %s (%s)\n' "$1" "$2" \
			"$(grep -m1 -A1 'EXPECTATION FAILED' <<< "$console" |
			tail -1 | sed 's/^ *//' | cut -c1-100)" ;;
	*"ok "*)
		printf 'FAIL\tmutation %s: kunit %s passed on a kernel with the bug\n' "$1" "$2"
		return 1 ;;
	*)
		printf 'FAIL\tmutation %s: no result of kunit %s on the console\n' "$1" "$2"
		return 1 ;;
	esac
}
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
	# KUnit runs at boot: the guest need not run anything.
	case $t in
	kunit:*) cmd=true ;;
	*:*) [ -x "$ksdir/${t%%:*}" ] || die "$m: no kselftest program ${t%%:*}"
	     cmd="$ksdir/${t%%:*} -t ${t#*:}" ;;
	*) cmd="$ksdir/pt_share_cve -t $t" ;;
	esac
	VM_RUN_DIR=$run FLAVOUR=debug VM_TIMEOUT=900 "$TOP/harness/vm.sh" "$cmd" \
		> "$BUILD/mutate-$name.log" 2>&1 || rc=$?
	case $t in
	kunit:*)
		kunit_verdict "$name" "${t#kunit:}" "$run/console.log" || rc_all=1
		continue ;;
	esac
	# The first failure the test reports, else its first message; none
	# when the kernel died before the test said anything (no match is not
	# an error here: the verdict comes from rc below).
	how=$( { grep -m1 -iE '^# +[a-z_0-9]+\.c:[0-9]+:.*(fail|expected)' "$run/output.log" ||
		grep -m1 -E '^# +[a-z_0-9]+\.c:[0-9]+:|not ok ' "$run/output.log"; } 2>/dev/null |
		cut -c1-160) || true
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
