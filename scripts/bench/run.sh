#!/bin/bash
# run.sh: "make bench". Build the kernels and the benchmark programs, boot
# the pt_share (release) kernel once for every scenario, the unpatched
# (stock) kernel once for the regression guard, and write the report.
#
# Environment:
#   QUICK=1             the reduced set (a few minutes)
#   BENCH_NO_BUILD=1    do not (re)build the kernels, use what is built
#   BENCH_NO_STOCK=1    skip the unpatched-kernel boot
#   BENCH_SCENARIOS, BENCH_CONTENDERS, BENCH_NS, BENCH_SIZE_MB, BENCH_REPS,
#   BENCH_PROBE_N, BENCH_RMAP_NS
#                       passed to the guest (see scripts/bench/guest.sh)
#   MEM                 guest memory (default 8G)
#   BENCH_OUT           results directory (default results/bench-<timestamp>)
# shellcheck source=SCRIPTDIR/../../harness/lib.sh
. "$(dirname "$0")/../../harness/lib.sh"

QUICK=${QUICK:-0}
[ "$QUICK" = 1 ] || QUICK=0
MEM=${MEM:-8G}
HERE=$TOP/scripts/bench
BIN=$BUILD/bench

# shellcheck disable=SC2086 # the package lists are word lists
need_pkgs $BUILD_PKGS $VM_PKGS fio stress-ng postgresql-15 gnuplot-nox python3

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	stage "build: release kernel" "$TOP/harness/kernel.sh" build release
	[ "${BENCH_NO_STOCK:-0}" = 1 ] ||
		stage "build: stock kernel" "$TOP/harness/kernel.sh" build stock
fi

mkdir -p "$BIN"
for prog in ptb_share ptb_pf ptb_rmap ptb_idle; do
	if [ ! -x "$BIN/$prog" ] || [ "$HERE/$prog.c" -nt "$BIN/$prog" ] ||
	   [ "$HERE/ptb_lib.h" -nt "$BIN/$prog" ]; then
		gcc -O2 -Wall -Wextra -Werror -o "$BIN/$prog" "$HERE/$prog.c"
	fi
done

ts=$(date +%Y%m%d-%H%M%S)
out=${BENCH_OUT:-$TOP/results/bench-$ts}
mkdir -p "$out"
if [ -z "${BENCH_OUT:-}" ]; then
	ln -sfn "bench-$ts" "$TOP/results/bench-latest"
fi
log "results in ${out#"$TOP"/}"

if [ "$QUICK" = 1 ]; then
	size_mb=${BENCH_SIZE_MB:-256}
	timeout=${VM_TIMEOUT:-1500}
else
	size_mb=${BENCH_SIZE_MB:-1024}
	timeout=${VM_TIMEOUT:-5400}
fi
# 2 MiB pages for the hugetlb contender's file, plus some slack.
hugepages=$(( size_mb / 2 + 8 ))
append="hugepages=$hugepages"
# harness/vm.sh gives every TCG guest the host TSC's rate (see ptb_tsc.c).
append+=" ${APPEND:-}"

{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host_nproc=$(nproc)"
	echo "host_tsc_khz=$(host_tsc_khz)"
	echo "host_mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
	echo "host_kernel=$(uname -r)"
	echo "host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "accel=${ACCEL:-tcg}"
	echo "qemu=$(qemu-system-x86_64 --version | head -1)"
	echo "guest_mem=$MEM"
	echo "guest_append=$append"
	echo "git_rev=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "git_dirty=$(git -C "$TOP" status --porcelain 2>/dev/null | grep -c . || true)"
	echo "quick=$QUICK"
	for f in release stock; do
		img=$BUILD/out-$f/arch/x86/boot/bzImage
		[ -f "$img" ] && echo "image_$f=.build/out-$f bzImage sha256 $(sha256sum "$img" | cut -c1-12), built $(date -u -r "$img" +%Y-%m-%dT%H:%M:%SZ)"
	done
	echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/host.txt"

# The guest gets a clean environment: pass the knobs on its command line.
genv="QUICK=$QUICK"
for v in BENCH_CONTENDERS BENCH_NS BENCH_SIZE_MB BENCH_REPS \
	BENCH_PROBE_N BENCH_STRESS_ARGS BENCH_RMAP_NS; do
	[ -n "${!v:-}" ] && genv+=" $v='${!v}'"
done

# Scenario 5 (the regression guard) compares a few percent: it runs in
# boots of its own under QEMU -icount, where guest time counts
# instructions, so host load cannot move it. The rest runs in one
# ordinary boot.
scen=${BENCH_SCENARIOS:-1 2 3 4 5 6 7 8 9}
main_scen=$(echo " $scen " | sed 's/ 5 / /; s/^ *//; s/ *$//')
icount_5=0
case " $scen " in *" 5 "*) icount_5=1 ;; esac

rc=0
# guest FLAVOUR SCENARIOS ICOUNT
# shellcheck disable=SC2317 # called through stage
guest() {
	local flavour=$1 sfx=
	[ "$3" = 1 ] && sfx=-icount
	FLAVOUR=$flavour MEM=$MEM VM_TIMEOUT=$timeout APPEND="$append" \
		VM_ICOUNT=$3 VM_RUN_DIR="$out/vm-$flavour$sfx" \
		"$TOP/harness/vm.sh" "$genv BENCH_SCENARIOS='$2' BENCH_ICOUNT=$3 $HERE/guest.sh $out $flavour"
}

if [ -n "$main_scen" ]; then
	stage "guest: release kernel, scenarios $main_scen" guest release "$main_scen" 0 || rc=$?
fi
if [ $icount_5 = 1 ]; then
	stage "guest: release kernel, regression guard (icount)" guest release 5 1 || rc=$?
	if [ "${BENCH_NO_STOCK:-0}" = 1 ]; then
		log "BENCH_NO_STOCK=1: no unpatched-kernel run"
	elif [ ! -f "$BUILD/out-stock/arch/x86/boot/bzImage" ]; then
		log "WARNING: no stock kernel at .build/out-stock: no unpatched-kernel run"
		rc=1
	else
		stage "guest: stock (unpatched) kernel, regression guard (icount)" guest stock 5 1 || rc=$?
	fi
fi
echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/host.txt"
echo "wall_s=$(( $(date +%s) - _T0 ))" >> "$out/host.txt"

stage "report" python3 "$HERE/report.py" "$out" || rc=$?
[ -f "$out/table.md" ] && cat "$out/table.md"
log "make bench finished in $(( $(date +%s) - _T0 ))s (status $rc); results in ${out#"$TOP"/}"
exit $rc
