#!/bin/bash
# guest.sh OUTDIR KERNEL: run the "make bench" scenarios inside the guest
# (scripts/bench/run.sh boots the kernel and starts this). KERNEL is the
# flavour booted: "release" (the pt_share kernel: contenders stock, pt_share,
# shmem-thp, hugetlb) or "stock" (the unpatched kernel: contender
# "unpatched", regression guard only).
#
# Raw results are appended to OUTDIR/raw-KERNEL.txt, one line per
# measurement ("RESULT key=value ..."; "ERROR ..." for a run that failed);
# scripts/bench/report.py turns them into tables and plots. Progress goes
# to stderr, one line per scenario, contender and repetition.
#
# Environment (run.sh passes it on the command line):
#   QUICK=1                 the reduced set
#   BENCH_SCENARIOS="1 2"   only these scenarios (default: all that apply)
#   BENCH_CONTENDERS="..."  only these contenders
#   BENCH_NS, BENCH_SIZE_MB, BENCH_REPS, BENCH_PROBE_N  override the sizes
#   BENCH_STRESS_ARGS       extra stress-ng options ("none": no extra)
#   BENCH_ICOUNT=1          the guest runs under QEMU -icount (run.sh boots
#                           it so for scenario 5): results go to
#                           raw-KERNEL-icount.txt, and a second counts 10^9
#                           instructions, so the loops run for fewer

# The scenario functions are called through run_scenario.
# shellcheck disable=SC2317
set -euo pipefail

OUT=${1:?usage: guest.sh OUTDIR release|stock}
KERNEL=${2:?usage: guest.sh OUTDIR release|stock}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BIN=${BENCH_BIN:-$TOP/.build/bench}
TAG=$KERNEL
[ "${BENCH_ICOUNT:-0}" = 1 ] && TAG=$KERNEL-icount
RAW=$OUT/raw-$TAG.txt
QUICK=${QUICK:-0}
T0=$(date +%s)
FAILED=0

if [ "$QUICK" = 1 ]; then
	NS=${BENCH_NS:-1 16 64}
	SIZE_MB=${BENCH_SIZE_MB:-256}
	REPS=${BENCH_REPS:-1}
	PROBE_N=${BENCH_PROBE_N:-16}
	PROBE_REPS=3
	PF_SECS=5
	PF_MB=32
	STRESS_SECS=5
	PG_BUFFERS=256MB
	PG_SCALE=2
	PG_CLIENTS=16
	PG_SECS=10
	FIO_JOBS=4
	FIO_SECS=6
	RMAP_NS=${BENCH_RMAP_NS:-8}
	RMAP_MB=32
	CHURN_N=16
else
	NS=${BENCH_NS:-1 16 64 256 1024}
	SIZE_MB=${BENCH_SIZE_MB:-1024}
	REPS=${BENCH_REPS:-3}
	PROBE_N=${BENCH_PROBE_N:-64}
	PROBE_REPS=3
	PF_SECS=10
	PF_MB=32
	STRESS_SECS=30
	PG_BUFFERS=1GB
	PG_SCALE=10
	PG_CLIENTS=64
	PG_SECS=20
	FIO_JOBS=16
	FIO_SECS=10
	RMAP_NS=${BENCH_RMAP_NS:-8 64}
	RMAP_MB=128
	CHURN_N=32
fi
FIO_MB=$SIZE_MB
CHURN_PCT=10
# Under -icount a second is 10^9 instructions per vCPU, about 6 s of wall
# time here: the regression loops run shorter, and their figures do not
# move with the host's load.
if [ "${BENCH_ICOUNT:-0}" = 1 ]; then
	PF_SECS=1
	STRESS_SECS=$((STRESS_SECS < 10 ? STRESS_SECS : 10))
fi
# Extra stress-ng options. The default 256 MiB per worker makes one bogo op
# last ~2.5 s under TCG (too coarse); 64 MiB keeps every mapping eligible
# for pt_share (>= 16 MiB) and gives 4x the ops. BENCH_STRESS_ARGS=none
# runs the plain command.
STRESS_ARGS=${BENCH_STRESS_ARGS:---mmap-bytes 64M}
[ "$STRESS_ARGS" = none ] && STRESS_ARGS=

if [ "$KERNEL" = stock ]; then
	ALL_SCENARIOS="5"
	ALL_CONTENDERS="unpatched"
else
	ALL_SCENARIOS="1 2 3 4 5 6 7 8 9"
	ALL_CONTENDERS="stock pt_share pt_share+idle shmem-thp hugetlb"
fi
SCENARIOS=${BENCH_SCENARIOS:-$ALL_SCENARIOS}
CONTENDERS=${BENCH_CONTENDERS:-$ALL_CONTENDERS}

THP_DIR=/run/ptb-thp
HUGE_DIR=/run/ptb-huge
PGBIN=/usr/lib/postgresql/15/bin
PGDATA=/tmp/ptb-pg
PGSOCK=/tmp

progress() {
	printf '[bench %5ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2
}

want_scenario() { case " $SCENARIOS " in *" $1 "*) return 0 ;; esac; return 1; }
want() { case " $CONTENDERS " in *" $1 "*) return 0 ;; esac; return 1; }
# The contenders of a scenario: those asked for, in the order given.
pick() {
	local c out=()
	for c in "$@"; do want "$c" && out+=("$c"); done
	echo "${out[@]}"
}

have_pt_share() { [ -e /proc/sys/vm/pt_share ]; }

set_pt_share() {
	if have_pt_share; then
		echo "$1" > /proc/sys/vm/pt_share
	elif [ "$1" != 0 ]; then
		echo "no /proc/sys/vm/pt_share on this kernel" >&2
		return 1
	fi
}

pt_kb() {
	echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null || true
	awk '/^PageTables:/ { print $2 }' /proc/meminfo
}

# sample_pt SECONDS FILE: after SECONDS, write the exact PageTables to FILE.
# One sample at a fixed point of a run: vm.stat_refresh waits for a worker
# on every CPU, which takes seconds when the CPUs are busy under TCG, so a
# sampling loop would see only a sample or two, at random points.
sample_pt() {
	sleep "$1"
	pt_kb > "$2"
}

# run TAG CMD...: run a measurement, append its RESULT lines to RAW with
# TAG in front of their fields, and log one progress line.
run() {
	local tag=$1 t rc=0 out
	shift
	t=$(date +%s)
	out=$("$@" -t "$tag") || rc=$?
	if [ "$rc" -eq 0 ]; then
		printf '%s\n' "$out" | grep '^RESULT ' >> "$RAW" || true
		progress "$tag: done in $(( $(date +%s) - t ))s"
	else
		echo "ERROR $tag rc=$rc" >> "$RAW"
		progress "$tag: FAILED (rc=$rc) after $(( $(date +%s) - t ))s"
		FAILED=1
	fi
}

record() { echo "RESULT $*" >> "$RAW"; }

# ---- contenders --------------------------------------------------------

# The file each contender maps, and how (ptb_share -k).
cfile() {
	case "$1" in
	shmem-thp) echo "$THP_DIR/ptb.dat" ;;
	hugetlb) echo "$HUGE_DIR/ptb.dat" ;;
	*) echo /dev/shm/ptb.dat ;;
	esac
}
ckind() { [ "$1" = hugetlb ] && echo hugetlb || echo file; }

# set_idle 0|1: vm.pt_share_idle. Leaving 1 drops the idle tables, so that
# the next contender starts from none.
set_idle() {
	[ -e /proc/sys/vm/pt_share_idle ] || { [ "$1" = 0 ] && return 0; }
	if [ "$1" = 0 ] && [ "$(cat /proc/sys/vm/pt_share_idle)" = 1 ]; then
		echo 0 > /proc/sys/vm/pt_share_idle
		echo 2 > /proc/sys/vm/drop_caches
	elif [ "$1" = 1 ]; then
		echo 1 > /proc/sys/vm/pt_share_idle
	fi
}

# use CONTENDER: the knobs of this contender. pt_share+idle is pt_share
# with idle tables kept (vm.pt_share_idle = 1, default 0).
use() {
	case "$1" in
	pt_share) set_idle 0; set_pt_share 1 ;;
	pt_share+idle) set_pt_share 1; set_idle 1 ;;
	*) set_idle 0; set_pt_share 0 ;;
	esac
}

mount_backings() {
	mkdir -p "$THP_DIR" "$HUGE_DIR"
	mountpoint -q "$THP_DIR" ||
		mount -t tmpfs -o huge=always,mode=1777 ptb-thp "$THP_DIR"
	mountpoint -q "$HUGE_DIR" ||
		mount -t hugetlbfs -o pagesize=2M,mode=1777 ptb-huge "$HUGE_DIR"
}

# Make the file of each contender in CONTENDERS that maps one.
make_files() {
	local c f need free made=" " kb0 kb1
	mount_backings
	for c in $CONTENDERS; do
		f=$(cfile "$c")
		case "$made" in *" $f "*) continue ;; esac
		if [ "$c" = hugetlb ]; then
			need=$(( SIZE_MB / 2 ))
			free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
			if [ "$free" -lt "$need" ]; then
				echo $(( $(awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo) + need - free )) \
					> /proc/sys/vm/nr_hugepages || true
				free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
			fi
			if [ "$free" -lt "$need" ]; then
				echo "ERROR scenario=setup contender=hugetlb only $free of $need hugepages" >> "$RAW"
				progress "WARNING: only $free free 2 MiB hugepages, need $need: no hugetlb contender"
				CONTENDERS=$(echo " $CONTENDERS " | sed 's/ hugetlb / /')
				FAILED=1
				continue
			fi
		fi
		kb0=$(awk '/^ShmemHugePages:/ { print $2 }' /proc/meminfo)
		"$BIN/ptb_share" mkfile -f "$f" -s "$SIZE_MB" -k "$(ckind "$c")"
		kb1=$(awk '/^ShmemHugePages:/ { print $2 }' /proc/meminfo)
		record "scenario=setup contender=$c file=$f size_mb=$SIZE_MB shmem_huge_kb=$(( kb1 - kb0 ))"
		made+="$f "
	done
}

remove_files() {
	rm -f /dev/shm/ptb.dat "$THP_DIR/ptb.dat" "$HUGE_DIR/ptb.dat"
}

# ---- scenarios -----------------------------------------------------------

# 1. page-table memory vs N, with a baseline of N processes mapping nothing.
scenario_1() {
	local n r c cs
	cs=$(pick stock pt_share shmem-thp hugetlb)
	for n in $NS; do
		for r in $(seq 1 "$REPS"); do
			use stock
			run "scenario=s1 contender=baseline n=$n rep=$r" \
				"$BIN/ptb_share" hold -k none -s "$SIZE_MB" -n "$n"
			for c in $cs; do
				use "$c"
				run "scenario=s1 contender=$c n=$n rep=$r" \
					"$BIN/ptb_share" hold -f "$(cfile "$c")" \
					-k "$(ckind "$c")" -s "$SIZE_MB" -n "$n"
			done
		done
	done
	use stock
}

# per_contender SCENARIO MODE ARGS...: REPS times, for every mapping
# contender, ptb_share MODE on the contender's file, then ARGS.
per_contender() {
	local scen=$1 mode=$2 r c
	shift 2
	for r in $(seq 1 "$REPS"); do
		for c in $(pick stock pt_share shmem-thp hugetlb); do
			use "$c"
			run "scenario=$scen contender=$c rep=$r" \
				"$BIN/ptb_share" "$mode" -f "$(cfile "$c")" \
				-k "$(ckind "$c")" -s "$SIZE_MB" "$@"
		done
	done
	use stock
}

# 2 and 3. attach (read, write, at two fault_around_bytes) and detach
# (munmap, exit) of one process while PROBE_N-1 others hold the mapping.
scenario_23() {
	per_contender s23 probe -n "$PROBE_N" -r "$PROBE_REPS" -a 65536,4096
}

# 4. fork + child full read + exit of a parent holding the mapping.
scenario_4() {
	per_contender s4 fork -r "$PROBE_REPS"
}

stress_ng() {
	local tag=$1 t dir out line ops secs rate
	t=$(date +%s)
	dir=$(mktemp -d /dev/shm/ptb-stress.XXXX)
	# shellcheck disable=SC2086 # STRESS_ARGS is a list of options
	if out=$(cd "$dir" && stress-ng --mmap 2 --mmap-file --timeout "${STRESS_SECS}s" \
		--metrics-brief --temp-path "$dir" $STRESS_ARGS 2>&1); then
		# "stress-ng: metrc: [pid] mmap OPS REAL USR SYS OPS/S(real) OPS/S(cpu)"
		line=$(printf '%s\n' "$out" | awk '$2 == "metrc:" && $4 == "mmap" { print $5, $6, $9 }')
		if [ -n "$line" ]; then
			read -r ops secs rate <<< "$line"
			record "$tag bogo_ops=$ops real_s=$secs bogo_ops_per_s=$rate"
			progress "$tag: done in $(( $(date +%s) - t ))s"
		else
			echo "ERROR $tag no metrics line" >> "$RAW"
			printf '%s\n' "$out" >&2
			FAILED=1
		fi
	else
		echo "ERROR $tag stress-ng failed" >> "$RAW"
		printf '%s\n' "$out" | tail -20 >&2
		progress "$tag: FAILED"
		FAILED=1
	fi
	rm -rf "$dir"
}

# 5. regression guard: workloads where sharing cannot apply.
scenario_5() {
	local r c m cs
	if [ "$KERNEL" = stock ]; then cs=unpatched; else cs=$(pick stock pt_share); fi
	for r in $(seq 1 "$REPS"); do
		for c in $cs; do
			use "$c"
			for m in shared misalign private; do
				run "scenario=s5 contender=$c rep=$r mode=$m" \
					"$BIN/ptb_pf" -m "$m" -s "$PF_MB" -p 2 -d "$PF_SECS"
			done
			stress_ng "scenario=s5 contender=$c rep=$r mode=stress-ng-mmap"
		done
	done
	use stock
}

# ---- 6. PostgreSQL ---------------------------------------------------------

pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

pg_start() {
	pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/log" -w -t 300 start > /dev/null
}

pg_stop() {
	pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 300 stop > /dev/null
}

pg_prewarm() {
	"$PGBIN/psql" -q -At -c \
		"SET client_min_messages = warning;
		 CREATE EXTENSION IF NOT EXISTS pg_prewarm;
		 SELECT sum(pg_prewarm(c.oid)) FROM pg_class c
		 WHERE c.relname LIKE 'pgbench_%' AND c.relkind IN ('r', 'i');"
}

# pg_bench TAG ARGS...: one pgbench run with PageTables sampled meanwhile.
pg_bench() {
	local tag=$1 log pid pt0 ptmax rc=0 tps conn t
	shift
	t=$(date +%s)
	log=$OUT/pgbench-$(echo "$tag" | tr ' =' '_-').log
	pt0=$(pt_kb)
	"$PGBIN/pgbench" -n -j 2 "$@" > "$log" 2>&1 &
	pid=$!
	# Half-way through the timed part (connections take a second or more).
	sample_pt $(( PG_SECS / 2 + 1 )) "$log.pt" &
	wait "$pid" || rc=$?
	wait
	ptmax=$(cat "$log.pt")
	rm -f "$log.pt"
	if [ "$rc" -ne 0 ]; then
		echo "ERROR $tag pgbench rc=$rc" >> "$RAW"
		tail -5 "$log" >&2
		progress "$tag: FAILED"
		FAILED=1
		return 0
	fi
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | head -1)
	conn=$(sed -n 's/^\(initial\|average\) connection time = \([0-9.]*\) ms.*/\2/p' "$log" | head -1)
	record "$tag tps=${tps:-nan} conn_ms=${conn:-nan} pt_idle_kb=$pt0 pt_run_kb=$ptmax pt_growth_kb=$(( ptmax - pt0 ))"
	progress "$tag: tps=$tps conn=${conn}ms PageTables +$(( ptmax - pt0 )) kB ($(( $(date +%s) - t ))s)"
}

scenario_6() {
	local r c t cs
	[ -x "$PGBIN/postgres" ] || { echo "ERROR scenario=s6 no PostgreSQL 15" >> "$RAW"; FAILED=1; return 0; }
	export PGHOST=$PGSOCK PGUSER=postgres PGDATABASE=postgres
	trap 'pg_stop 2>/dev/null || true; echo never > /sys/kernel/mm/transparent_hugepage/shmem_enabled' EXIT
	cs=$(pick stock pt_share shmem-thp)
	t=$(date +%s)
	rm -rf "$PGDATA"
	install -d -o postgres -g postgres "$PGDATA"
	pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust --no-sync \
		--locale=C -E UTF8 > "$OUT/pg-initdb.log" 2>&1
	cat >> "$PGDATA/postgresql.conf" <<-EOF
		listen_addresses = ''
		unix_socket_directories = '$PGSOCK'
		shared_buffers = $PG_BUFFERS
		huge_pages = off
		shared_memory_type = mmap
		max_connections = 300
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		autovacuum = off
		max_wal_size = 4GB
	EOF
	pg_start
	"$PGBIN/pgbench" -i -q -s "$PG_SCALE" \
		> "$OUT/pgbench-init.log" 2>&1
	pg_stop
	progress "scenario=s6: initdb + pgbench -i -s $PG_SCALE in $(( $(date +%s) - t ))s"
	for r in $(seq 1 "$REPS"); do
		for c in $cs; do
			use "$c"
			# Shared anonymous memory lives on the internal shm mount,
			# whose huge pages follow shmem_enabled.
			if [ "$c" = shmem-thp ]; then
				echo always > /sys/kernel/mm/transparent_hugepage/shmem_enabled
			fi
			pg_start
			pg_prewarm > /dev/null
			pg_bench "scenario=s6 contender=$c rep=$r mode=select clients=$PG_CLIENTS" \
				-S -c "$PG_CLIENTS" -T "$PG_SECS"
			pg_bench "scenario=s6 contender=$c rep=$r mode=connect clients=$PG_CLIENTS" \
				-S -C -c "$PG_CLIENTS" -T "$PG_SECS"
			pg_stop
			echo never > /sys/kernel/mm/transparent_hugepage/shmem_enabled
		done
	done
	use stock
	trap - EXIT
	rm -rf "$PGDATA"
}

# ---- 7. fio --------------------------------------------------------------

scenario_7() {
	local r c f pid pt0 ptmax json t cs
	cs=$(pick stock pt_share shmem-thp)
	mount_backings
	for r in $(seq 1 "$REPS"); do
		for c in $cs; do
			case "$c" in
			shmem-thp) f=$THP_DIR/fio.dat ;;
			*) f=/dev/shm/fio.dat ;;
			esac
			[ -e "$f" ] || "$BIN/ptb_share" mkfile -f "$f" -s "$FIO_MB"
			use "$c"
			t=$(date +%s)
			json=$OUT/fio-$c-$r.json
			pt0=$(pt_kb)
			fio --name=ptb --filename="$f" --size="${FIO_MB}m" \
				--ioengine=mmap --rw=randread --bs=4k \
				--numjobs="$FIO_JOBS" --fadvise_hint=0 --time_based \
				--runtime="$FIO_SECS" --group_reporting \
				--output-format=json --output="$json" > /dev/null 2>&1 &
			pid=$!
			sample_pt $(( FIO_SECS / 2 + 1 )) "$json.pt" &
			if wait "$pid"; then
				wait
				ptmax=$(cat "$json.pt")
				record "scenario=s7 contender=$c rep=$r jobs=$FIO_JOBS size_mb=$FIO_MB fio_json=$(basename "$json") pt_idle_kb=$pt0 pt_run_kb=$ptmax pt_growth_kb=$(( ptmax - pt0 ))"
				progress "scenario=s7 contender=$c rep=$r: PageTables +$(( ptmax - pt0 )) kB ($(( $(date +%s) - t ))s)"
			else
				wait
				echo "ERROR scenario=s7 contender=$c rep=$r fio failed" >> "$RAW"
				progress "scenario=s7 contender=$c rep=$r: FAILED"
				FAILED=1
			fi
			rm -f "$json.pt"
		done
	done
	use stock
	rm -f /dev/shm/fio.dat "$THP_DIR/fio.dat"
}

# 8. rmap-driven changes: move_pages() to the other node, truncation, and
# reclaim (memory.reclaim, swap on zram) of a file that N processes have
# mapped and read, sharing off and on (scripts/bench/ptb_rmap.c). Times are
# emulated; the IPI counts from /proc/interrupts are exact.
scenario_8() {
	local r n op c cg=/sys/fs/cgroup/ptb-rmap
	swapoff /dev/zram0 2>/dev/null || true
	echo 1 > /sys/block/zram0/reset
	echo $(( RMAP_MB * 4 ))M > /sys/block/zram0/disksize
	mkswap /dev/zram0 > /dev/null
	swapon /dev/zram0
	echo +memory > /sys/fs/cgroup/cgroup.subtree_control
	mkdir -p "$cg"
	for r in $(seq "$REPS"); do
		for n in $RMAP_NS; do
			for op in migrate truncate reclaim; do
				for c in $(pick stock pt_share); do
					use "$c"
					run "scenario=s8 contender=$c rep=$r" \
						"$BIN/ptb_rmap" -o "$op" -n "$n" \
						-s "$RMAP_MB" -c "$cg"
					echo 3 > /proc/sys/vm/drop_caches
				done
			done
		done
	done
	use stock
	swapoff /dev/zram0
	echo 1 > /sys/block/zram0/reset
	rmdir "$cg"
}

# 9. idle tables: a fresh process maps a populated file that nobody maps
# at that moment ("cold"), short-lived processes one after another each
# read CHURN_PCT% of it at random ("churn"), and what memory.reclaim takes
# to free the idle tables of SIZE_MB ("shrink"), in a memcg that pays for
# nothing else. Times are emulated (TCG); faults and counters are exact.
scenario_9() {
	local r c cg=/sys/fs/cgroup/ptb-idle
	make_files
	for r in $(seq 1 "$REPS"); do
		for c in $(pick stock pt_share pt_share+idle shmem-thp hugetlb); do
			use "$c"
			run "scenario=s9 contender=$c rep=$r mode=cold" \
				"$BIN/ptb_idle" cold -f "$(cfile "$c")" \
				-k "$(ckind "$c")" -s "$SIZE_MB" -r "$PROBE_REPS"
			run "scenario=s9 contender=$c rep=$r mode=churn" \
				"$BIN/ptb_idle" churn -f "$(cfile "$c")" \
				-k "$(ckind "$c")" -s "$SIZE_MB" -n "$CHURN_N" \
				-p "$CHURN_PCT"
		done
		echo +memory > /sys/fs/cgroup/cgroup.subtree_control
		mkdir -p "$cg"
		for c in $(pick stock pt_share+idle); do
			use "$c"
			run "scenario=s9 contender=$c rep=$r mode=shrink" \
				"$BIN/ptb_idle" shrink -f "$(cfile "$c")" \
				-k "$(ckind "$c")" -s "$SIZE_MB" -c "$cg"
		done
		use stock
		rmdir "$cg"
	done
	use stock
	remove_files
}

# ---- main ------------------------------------------------------------------

mkdir -p "$OUT"
{
	echo "kernel_flavour=$KERNEL"
	echo "uname=$(uname -r)"
	echo "version=$(cat /proc/version)"
	echo "guest_nproc=$(nproc)"
	echo "guest_mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
	echo "hugepages=$(awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo)"
	echo "pt_share_knob=$(cat /proc/sys/vm/pt_share 2>/dev/null || echo absent)"
	echo "pt_share_min_bytes=$(cat /proc/sys/vm/pt_share_min_bytes 2>/dev/null || echo absent)"
	echo "fault_around_bytes=$(cat /sys/kernel/debug/fault_around_bytes 2>/dev/null || echo absent)"
	echo "shmem_enabled=$(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled)"
	echo "quick=$QUICK"
	echo "size_mb=$SIZE_MB"
	echo "ns=$NS"
	echo "reps=$REPS"
	echo "probe_n=$PROBE_N"
	echo "probe_reps=$PROBE_REPS"
	echo "pf_mb=$PF_MB"
	echo "pf_secs=$PF_SECS"
	echo "stress_secs=$STRESS_SECS"
	echo "icount=${BENCH_ICOUNT:-0}"
	echo "stress_args=$STRESS_ARGS"
	echo "pg_buffers=$PG_BUFFERS"
	echo "pg_scale=$PG_SCALE"
	echo "pg_clients=$PG_CLIENTS"
	echo "pg_secs=$PG_SECS"
	echo "fio_jobs=$FIO_JOBS"
	echo "fio_secs=$FIO_SECS"
	echo "fio_mb=$FIO_MB"
	echo "rmap_ns=$RMAP_NS"
	echo "rmap_mb=$RMAP_MB"
	echo "churn_n=$CHURN_N"
	echo "churn_pct=$CHURN_PCT"
	echo "pt_share_idle_knob=$(cat /proc/sys/vm/pt_share_idle 2>/dev/null || echo absent)"
	echo "scenarios=$SCENARIOS"
	echo "contenders=$CONTENDERS"
	echo "start=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$OUT/env-$TAG.txt"
: > "$RAW"
progress "kernel $(uname -r) ($KERNEL), scenarios: $SCENARIOS; contenders: $CONTENDERS"
set_pt_share 0 || true

# run_scenario FN: run one scenario in a subshell that stops at its first
# failing command, so that a failed scenario does not stop the others.
run_scenario() {
	local rc=0
	set +e
	(set -e; "$1"; exit "$FAILED")
	rc=$?
	set -e
	if [ "$rc" -ne 0 ]; then
		FAILED=1
		echo "ERROR scenario=$1 rc=$rc" >> "$RAW"
		progress "$1: FAILED (rc=$rc)"
	fi
}

scenarios_1234() {
	make_files
	if want_scenario 1; then scenario_1; fi
	if want_scenario 2 || want_scenario 3; then scenario_23; fi
	if want_scenario 4; then scenario_4; fi
	remove_files
}

if want_scenario 1 || want_scenario 2 || want_scenario 3 || want_scenario 4; then
	run_scenario scenarios_1234
	remove_files
fi
for s in 5 6 7 8 9; do
	if want_scenario $s; then run_scenario scenario_$s; fi
done
set_pt_share 0 || true

echo "end=$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$OUT/env-$TAG.txt"
echo "elapsed_s=$(( $(date +%s) - T0 ))" >> "$OUT/env-$TAG.txt"
progress "all scenarios done (failures: $FAILED)"
exit $FAILED
