#!/bin/bash
# check.sh: every test of the project. Ends with "N passed, N failed, N skipped"
# and exits non-zero on any failure or kernel splat.
#
# Stages: host checks (overlay, checkpatch, series), the patched directories built
# with CONFIG_PT_SHARE=n, the debug kernel build,
# the kselftest build, then one boot of the debug kernel
# (page_table_check=on) that runs KUnit at boot and the kselftests, one that
# compares the base tree's mm selftests with pt_share off and on
# (harness/upstream-mm.sh), and one that soaks stress-ng and the racer
# under memory pressure (harness/guest/soak.sh).
#
# FULL=1: the racer and the CVE-class tests in their full form, every
# upstream mm selftest instead of the fast subset, a 10-minute soak instead
# of a 1-minute one, harness/mutate.sh (the CVE-class tests run against
# kernels that have their bugs), and the kasan stage: the KASAN kernel
# (configs/kasan.config, about 12 minutes to build from nothing) boots
# for KUnit and the kselftests, the racer among them, in their short forms
# whatever FULL says (about 25 minutes).
#
# STAGES: the guest stages to run, a subset of "kselftests soak upstream
# mutations kasan" (default: the first three, all five with FULL=1).
# The host checks and the builds run every time. A FULL=1 run takes longer
# than one session leaves room for, so it can be run stage by stage on the
# same commit: make check FULL=1 STAGES=upstream, and so on.
. "$(dirname "$0")/lib.sh"

FULL=${FULL:-0}
ALL_STAGES="kselftests soak upstream mutations kasan"
if [ "$FULL" = 1 ]; then
	STAGES=${STAGES:-$ALL_STAGES}
else
	STAGES=${STAGES:-kselftests soak upstream}
fi
for s in $STAGES; do
	case " $ALL_STAGES " in
	*" $s "*) ;;
	*) die "STAGES: unknown stage '$s' (one of: $ALL_STAGES)" ;;
	esac
done
# want STAGE: is STAGE among the stages asked for?
want() { case " $STAGES " in *" $1 "*) return 0 ;; esac; return 1; }
# The short forms' guest timeout, also the kasan stage's before its 3x.
KSELFTEST_SHORT_TIMEOUT=1800
# KSELFTEST_ENV: PT_SHARE_FULL=1 runs the racer and the CVE-class tests in
# their full form (120 s per case, 25 times the stale-TLB iterations).
if [ "$FULL" = 1 ]; then
	UMM_TIER=full UMM_TIMEOUT=7200 SOAK_SECONDS=600
	KSELFTEST_ENV=PT_SHARE_FULL=1 KSELFTEST_TIMEOUT=5400
else
	UMM_TIER=fast UMM_TIMEOUT=1200 SOAK_SECONDS=60
	KSELFTEST_ENV= KSELFTEST_TIMEOUT=$KSELFTEST_SHORT_TIMEOUT
fi

RES=$BUILD/check
rm -rf "$RES"
mkdir -p "$RES"
: > "$RES/results"

# result PASS|FAIL|SKIP NAME [WHY]
result() {
	printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >> "$RES/results"
	printf '  %-4s %s%s\n' "$1" "$2" "${3:+ ($3)}" >&2
}

# logged_step NAME LOG CMD...: run CMD with its output in $RES/LOG; one
# result NAME, and on failure the end of the log on stderr and a non-zero
# return.
logged_step() {
	local name=$1 log=$RES/$2
	shift 2
	if "$@" > "$log" 2>&1; then
		result PASS "$name"
		return 0
	fi
	tail -60 "$log" >&2
	result FAIL "$name"
	return 1
}

host_overlay() {
	# The base version is known once the source package is in place.
	"$TOP/harness/kernel.sh" source > "$RES/overlay.log" 2>&1 ||
		{ cat "$RES/overlay.log" >&2; result FAIL "host: overlay applies"; return 1; }
	result PASS "host: overlay applies to linux-source-6.12 $(base_pkg_version)"
}

host_checkpatch() {
	local pristine f
	pristine=$(readlink -f "$PRISTINE_LINK")
	cd "$TOP"
	# New kernel files (not patches, not selftest build glue).
	for f in $(for d in $OVERLAY_DIRS; do if [ -d "$d" ]; then find "$d" -type f; fi; done |
		   grep -vE '\.patch$|/\.gitignore$|/Makefile$|/config$' | LC_ALL=C sort); do
		if (cd "$pristine" && perl scripts/checkpatch.pl --strict --no-signoff \
			--quiet -f "$TOP/$f") > "$RES/cp.log" 2>&1; then
			result PASS "host: checkpatch --strict $f"
		else
			sed 's/^/    /' "$RES/cp.log" >&2
			result FAIL "host: checkpatch --strict $f"
		fi
	done
}

host_series() {
	if ! "$TOP/harness/series.sh" > "$RES/series.log" 2>&1; then
		sed 's/^/    /' "$RES/series.log" >&2
		result FAIL "host: make series (git am on the base tree, checkpatch)"
		return 0
	fi
	grep -E '^(PASS|FAIL)	' "$RES/series.log" | while IFS=$'\t' read -r r name why; do
		result "$r" "$name" "$why"
	done
	grep -q '^FAIL	' "$RES/series.log" && sed 's/^/    /' "$RES/series.log" >&2
	return 0
}

build_debug() {
	if "$TOP/harness/kernel.sh" build debug; then
		result PASS "build: debug kernel"
	else
		result FAIL "build: debug kernel"
		return 1
	fi
}

build_nopt() {
	# A failure here does not stop the stages after it.
	logged_step "build: mm/ and fs/ with CONFIG_PT_SHARE=n" nopt.log \
		"$TOP/harness/kernel.sh" objects nopt || true
}

build_selftests() {
	logged_step "build: pt_share kselftests" kselftest-build.log \
		"$TOP/harness/selftests.sh" build debug
}

# guest_tests FLAVOUR: KUnit (at boot) and the kselftests on the debug or
# the kasan kernel; the kasan boot's results are named "kasan: ...".
guest_tests() {
	local flavour=$1 run=$BUILD/vm/check rc=0 pfx= timeout=$KSELFTEST_TIMEOUT
	local env=$KSELFTEST_ENV
	if [ "$flavour" = kasan ]; then
		run=$BUILD/vm/check-kasan pfx="kasan: "
		# The short forms whatever FULL says: KASAN's shadow checks
		# make the guest about 3x slower, and the long forms would
		# take hours. They run every case, with fewer iterations; the
		# long forms run on the debug kernel.
		env=
		timeout=$((KSELFTEST_SHORT_TIMEOUT * 3))
	fi
	need_pkgs $GUEST_TEST_PKGS
	rm -rf "$run"
	VM_RUN_DIR=$run FLAVOUR=$flavour VM_TIMEOUT=$timeout "$TOP/harness/vm.sh" \
		"$env $TOP/harness/guest/run-kselftests.sh $BUILD/kselftest/pt_share" || rc=$?

	# KUnit ran at boot; its KTAP is on the console.
	sed -E 's/^\[ *[0-9.]+\] //' "$run/console.log" > "$RES/console-$flavour.txt"
	local kunit=0
	while read -r st rest; do
		kunit=$((kunit + 1))
		case "$st:$rest" in
		ok:*"# SKIP"*) result SKIP "${pfx}kunit: ${rest%% #*}" "${rest#*# SKIP }" ;;
		ok:*) result PASS "${pfx}kunit: $rest" ;;
		*) result FAIL "${pfx}kunit: $rest" ;;
		esac
	done < <(grep -E '^    (not )?ok [0-9]+ ' "$RES/console-$flavour.txt" |
		 sed -E 's/^ +//; s/^ok [0-9]+ /ok /; s/^not ok [0-9]+ /notok /')
	[ $kunit -gt 0 ] || result FAIL "${pfx}kunit: no KUnit results on the console"

	# kselftests: one result per TAP line, per program.
	local prog="" ntests=0
	while IFS= read -r line; do
		case "$line" in
		KSELFTEST_PROGRAM_START*) prog=${line#* }; ntests=0 ;;
		KSELFTEST_PROGRAM_END*)
			set -- $line
			[ $ntests -gt 0 ] || result FAIL "${pfx}kselftest: $2 reported no test (status $3)"
			;;
		"ok "*"# SKIP"*)
			ntests=$((ntests + 1))
			result SKIP "${pfx}kselftest: $prog: $(echo "${line%%#*}" | cut -d' ' -f3-)" "${line#*# SKIP }" ;;
		"ok "*)
			ntests=$((ntests + 1))
			result PASS "${pfx}kselftest: $prog: $(echo "$line" | cut -d' ' -f3-)" ;;
		"not ok "*)
			ntests=$((ntests + 1))
			result FAIL "${pfx}kselftest: $prog: $(echo "$line" | cut -d' ' -f4-)" ;;
		esac
	done < "$run/output.log"

	case $rc in
	0) result PASS "${pfx}guest: $flavour boot, console free of splats, exit sentinel seen" ;;
	3) result FAIL "${pfx}guest: kernel splat on the console (excerpt above)" ;;
	124) result FAIL "${pfx}guest: no exit sentinel (hang, panic or timeout)" ;;
	*) result PASS "${pfx}guest: $flavour boot, console free of splats, exit sentinel seen"
	   log "guest command exited $rc (failed tests are listed above)" ;;
	esac
}

build_kasan() {
	if "$TOP/harness/kernel.sh" build kasan; then
		result PASS "build: kasan kernel"
	else
		result FAIL "build: kasan kernel"
		return 1
	fi
}

# vm_status NAME RC: one result line for the boot itself.
vm_status() {
	case $2 in
	3) result FAIL "guest: $1: kernel splat on the console (excerpt above)" ;;
	124) result FAIL "guest: $1: no exit sentinel (hang, panic or timeout)" ;;
	*) result PASS "guest: $1: debug boot, console free of splats, exit sentinel seen" ;;
	esac
}

build_upstream_mm() {
	logged_step "build: upstream mm selftests of the base tree" upstream-mm-build.log \
		"$TOP/harness/upstream-mm.sh" build
}

# Issue 5, part 1: every test twice, pt_share off and on; same results.
guest_upstream_mm() {
	local run=$BUILD/vm/upstream-mm rc=0 r name why
	rm -rf "$run"
	VM_RUN_DIR=$run FLAVOUR=debug VM_TIMEOUT=$UMM_TIMEOUT "$TOP/harness/vm.sh" \
		"sh $TOP/harness/guest/upstream-mm.sh $BUILD/kselftest/mm" \
		"$TOP/harness/upstream-mm.tests $TOP/harness/upstream-mm.skip" \
		"$UMM_TIER $run/res" > "$RES/upstream-mm-guest.log" 2>&1 || rc=$?
	grep -vE '^UPSTREAM_MM' "$RES/upstream-mm-guest.log" >&2 || true
	mkdir -p "$run/res"
	touch "$run/res/index"
	while IFS=$'\t' read -r r name why; do
		result "$r" "$name" "$why"
	done < <("$TOP/harness/upstream-mm.sh" compare "$run/res" "$UMM_TIER")
	vm_status "upstream mm selftests, pt_share off and on ($UMM_TIER)" $rc
}

# Issue 5, part 4: stress-ng and the racer in a small memcg with zram swap.
guest_soak() {
	local run=$BUILD/vm/soak rc=0 r rest
	rm -rf "$run"
	VM_RUN_DIR=$run FLAVOUR=debug VM_TIMEOUT=$((SOAK_SECONDS * 4 + 600)) "$TOP/harness/vm.sh" \
		"sh $TOP/harness/guest/soak.sh $BUILD/kselftest/pt_share $SOAK_SECONDS $run/res" \
		> "$RES/soak-guest.log" 2>&1 || rc=$?
	grep -E '^SOAK_INFO' "$RES/soak-guest.log" | sed 's/^SOAK_INFO /  soak: /' >&2 || true
	grep -vE '^SOAK_|^    (sng|racer)\| ' "$RES/soak-guest.log" >&2 || true
	grep -qE '^SOAK_RESULT' "$RES/soak-guest.log" ||
		result FAIL "soak: no result (see $RES/soak-guest.log)"
	while read -r r rest; do
		result "$r" "${rest%%|*}" "${rest#*|}"
	done < <(sed -n 's/\r$//; s/^SOAK_RESULT //p' "$RES/soak-guest.log")
	vm_status "soak, ${SOAK_SECONDS}s" $rc
}

# Issue 5, part 3: each CVE-class test fails on a kernel with its bug.
guest_mutations() {
	local r rest
	"$TOP/harness/mutate.sh" > "$RES/mutations.log" 2> "$RES/mutations.err" || true
	while IFS=$'\t' read -r r rest; do
		result "$r" "$rest"
	done < <(grep -E '^(PASS|FAIL)	' "$RES/mutations.log")
	grep -qE '^(PASS|FAIL)	' "$RES/mutations.log" ||
		{ cat "$RES/mutations.err" >&2; result FAIL "mutations: no result"; }
}

summary() {
	local p f s
	p=$(grep -c '^PASS' "$RES/results" || true)
	f=$(grep -c '^FAIL' "$RES/results" || true)
	s=$(grep -c '^SKIP' "$RES/results" || true)
	if [ "$f" -gt 0 ]; then
		echo "Failed:" >&2
		grep '^FAIL' "$RES/results" | cut -f2 | sed 's/^/  /' >&2
	fi
	log "make check (FULL=$FULL, stages: $STAGES) finished in $(( $(date +%s) - _T0 ))s"
	echo "$p passed, $f failed, $s skipped"
	[ "$f" -eq 0 ]
}

stage "host: overlay" host_overlay || { summary; exit 1; }
stage "host: checkpatch" host_checkpatch
stage "host: series" host_series
stage "build: CONFIG_PT_SHARE=n" build_nopt
if stage "build: debug kernel" build_debug && stage "build: kselftests" build_selftests; then
	if want kselftests; then
		stage "guest: KUnit + kselftests (debug, page_table_check=on, init_on_free=1)" guest_tests debug
	fi
	if want soak; then
		stage "guest: soak (stress-ng + racer, ${SOAK_SECONDS}s)" guest_soak
	fi
	if want upstream && stage "build: upstream mm selftests" build_upstream_mm; then
		stage "guest: upstream mm selftests, pt_share off/on ($UMM_TIER)" guest_upstream_mm
	fi
	# FULL=1: the CVE-class tests against kernels that have their bugs.
	if want mutations; then
		stage "mutations: the CVE-class tests catch their bugs" guest_mutations
	fi
	# After the mutations: harness/mutate.sh rebuilds the debug kernel only.
	if want kasan && stage "build: kasan kernel" build_kasan; then
		stage "guest: KUnit + kselftests (kasan, page_table_check=on)" guest_tests kasan
	fi
fi
summary
