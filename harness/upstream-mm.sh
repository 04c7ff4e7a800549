#!/bin/bash
# upstream-mm.sh: the base tree's mm selftests with pt_share off and on
# (issue 5, part 1).
#
#   upstream-mm.sh build            build tools/testing/selftests/mm of the
#                                   base tree into .build/kselftest/mm
#   upstream-mm.sh compare OUTDIR TIER
#                                   compare the two runs the guest script
#                                   (guest/upstream-mm.sh) left in OUTDIR;
#                                   prints "PASS|FAIL|SKIP<TAB>name<TAB>why"
#
# A test passes when its pt_share=0 and pt_share=1 runs give the same
# result: the same exit status and the same per-subtest verdicts. A test
# that fails identically in both runs is not hidden either: it is a FAIL
# too, until someone looks at why and puts it in upstream-mm.skip with the
# reason (so it is not run at all).
. "$(dirname "$0")/lib.sh"

OUT=$BUILD/kselftest/mm
# UPSTREAM_MM_TESTS: another tests file (a part of the list, run by hand).
TESTS=${UPSTREAM_MM_TESTS:-$TOP/harness/upstream-mm.tests}
SKIP=$TOP/harness/upstream-mm.skip

build() {
	# libnuma: migration, ksm_tests; libcap: mlock-random-test.
	need_pkgs libnuma-dev libcap-dev
	"$TOP/harness/kernel.sh" headers debug
	local src prog
	src=$(readlink -f "$WORK_LINK")/tools/testing/selftests/mm
	mkdir -p "$OUT"
	# -k: build what builds; what does not is listed below and must be in
	# the skip list.
	local mk=(make -C "$src" OUTPUT="$OUT" CC=gcc
		  KHDR_INCLUDES="-isystem $BUILD/out-debug/usr/include")
	"${mk[@]}" -k -j"$(nproc)" > "$OUT.log" 2>&1 || true
	# khugepaged.c uses KSFT_SKIP without including kselftest.h in the
	# base tree (6.12.117); it builds with the header forced in.
	"${mk[@]}" EXTRA_CFLAGS="-include $src/../kselftest.h" "$OUT/khugepaged" \
		>> "$OUT.log" 2>&1 || true
	# The shell tests are TEST_FILES, which only "install" copies.
	cp "$src"/*.sh "$OUT"/
	# Every program the tests file runs ("./prog" in its command) must
	# have built; the ones that did not are in the skip list.
	local missing=0
	for prog in $(grep -v '^#' "$TESTS" | grep -oE '\./[A-Za-z0-9_.-]+' | sort -u); do
		[ -x "$OUT/$prog" ] || { echo "not built: $prog" >&2; missing=1; }
	done
	[ $missing -eq 0 ] || { tail -30 "$OUT.log" >&2; return 1; }
}

# sig LOG RC: what must be equal between the two runs: the exit status and
# the verdict lines, without test numbers, timings or addresses; numbers in
# a TAP description are measurements (pagemap_ioctl's "Extra pages 119"),
# not verdicts.
sig() {
	echo "exit $2"
	# TAP (kselftest.h, kselftest_harness.h) and uffd-unit-tests' own
	# "Testing X on Y... done|skipped|failed" lines.
	grep -aE '^(ok|not ok) [0-9]+ |^# (PASSED|FAILED|SKIP)|^Testing .*\.\.\. |(pass|skip|fail)=[0-9]+' "$1" |
		sed -E 's/^(ok|not ok) [0-9]+ /\1 /; s/0x[0-9a-f]+/ADDR/g;
			s/[0-9]+(\.[0-9]+)? ?(s|ms|us|ns|sec|seconds)\b/TIME/g;
			/^(ok|not ok) /s/[0-9]+/N/g' || true
}

compare() {
	local dir=$1 tier=$2 name mode rc secs att
	declare -A rc0 rc1 s0 s1 a1
	while read -r name mode rc secs att; do
		if [ "$mode" = 0 ]; then rc0[$name]=$rc; s0[$name]=$secs
		else rc1[$name]=$rc; s1[$name]=$secs; a1[$name]=$att; fi
	done < "$dir/index"
	while read -r t name _; do
		[ -n "$name" ] || continue
		[ "$tier" = full ] || [ "$t" = fast ] || continue
		if grep -q "^${name}[[:space:]]" "$SKIP"; then
			continue
		fi
		if [ -z "${rc0[$name]:-}" ] || [ -z "${rc1[$name]:-}" ]; then
			printf 'FAIL\tupstream-mm: %s\tno result with pt_share %s (the guest ended early: splat, hang or timeout)\n' \
				"$name" "$([ -z "${rc0[$name]:-}" ] && echo off || echo on)"
			continue
		fi
		local d
		# diff and grep fail when the runs agree: not an error here.
		d=$(diff <(sig "$dir/$name.0.log" "${rc0[$name]}") \
			 <(sig "$dir/$name.1.log" "${rc1[$name]}") | grep '^[<>]' | head -4 | tr '\n' ' ') || true
		local why="exit ${rc0[$name]}/${rc1[$name]}, ${s0[$name]}s/${s1[$name]}s, pt_share_attach +${a1[$name]} with pt_share on"
		if [ -n "$d" ]; then
			printf 'FAIL\tupstream-mm: %s: different result with pt_share off and on\t%s; diff: %s\n' \
				"$name" "$why" "$d"
		elif [ "${rc0[$name]}" = 0 ]; then
			printf 'PASS\tupstream-mm: %s: same result with pt_share off and on (ok)\t%s\n' "$name" "$why"
		elif [ "${rc0[$name]}" = 4 ]; then
			printf 'SKIP\tupstream-mm: %s: skipped itself in both runs\t%s: %s\n' "$name" "$why" \
				"$(grep -aE 'SKIP|skip' "$dir/$name.0.log" | head -1)"
		else
			# Same failure both ways: not caused by sharing, but not
			# hidden: it needs a look and a skip-list entry.
			printf 'FAIL\tupstream-mm: %s: fails the same way with pt_share off and on\t%s: %s\n' \
				"$name" "$why" "$(grep -aE '^not ok|FAIL|[Ee]rror|failed' "$dir/$name.0.log" | head -1)"
		fi
	done < <(grep -v '^#' "$TESTS")
	# The skip list, so that make check shows it the same way every time.
	while read -r name why; do
		[ -n "$name" ] || continue
		printf 'SKIP\tupstream-mm: %s\tnot run with pt_share off or on: %s\n' "$name" "$why"
	done < <(grep -v '^#' "$SKIP")
}

case "${1:-}" in
build) build ;;
compare) compare "${2:?outdir}" "${3:?tier}" ;;
*) die "usage: $0 build | compare OUTDIR fast|full" ;;
esac
