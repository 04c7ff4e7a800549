#!/bin/sh
# Run in the guest (issue 5, part 4): a stress-ng soak of the mm paths
# pt_share hooks, with vm.pt_share=1 and vm.pt_share_min_bytes=2097152,
# while pt_share_racer runs in a memory cgroup limited to about half its
# working set, with zram swap under it.
#
# usage: soak.sh RACER_DIR SECONDS OUTDIR [PCT [SHARE]]
# PCT: the racer's memory.high: its kernel memory plus PCT percent of the
# rest of its measured working set (default 50). SHARE: 1 (default) runs
# with vm.pt_share=1 and the racer's sharing cases; 0 runs the same soak
# with sharing off, for comparison.
# Prints "SOAK_RESULT PASS|FAIL <name>|<why>" lines for harness/check.sh
# and "SOAK_INFO ..." lines with the numbers. POSIX sh (dash).
racer_dir=$1 secs=$2 out=$3 pct=${4:-50} share=${5:-1}
# The racer's cases, and the one its working set is measured with.
if [ "$share" = 1 ]; then
	cases="-v tmpfs_shared -v memfd_shared" cal=tmpfs_shared
else
	cases="-v tmpfs_unshared -v memfd_unshared" cal=tmpfs_unshared
fi
racer=$racer_dir/pt_share_racer
cg=/sys/fs/cgroup
mkdir -p "$out"

res() { echo "SOAK_RESULT $1 $2|${3:-}"; }
info() { echo "SOAK_INFO $*"; }
vmstat() { sed -n "s/^$1 //p" /proc/vmstat; }
live_tables() { echo $(($(vmstat pt_share_table_alloc) - $(vmstat pt_share_table_free))); }
attached() { echo $(($(vmstat pt_share_attach) - $(vmstat pt_share_detach))); }

[ -x "$racer" ] || { res FAIL "soak: setup" "no $racer"; exit 1; }
command -v stress-ng > /dev/null || { res FAIL "soak: setup" "no stress-ng"; exit 1; }

# zram swap: reclaim of the racer's shared tmpfs/memfd pages goes through
# swap, so the shared tables lose and regain pages under the racer.
if ! { echo 1G > /sys/block/zram0/disksize &&
	mkswap /dev/zram0 > /dev/null && swapon /dev/zram0; }; then
	res FAIL "soak: setup" "zram swap"
	exit 1
fi
echo "+memory" > $cg/cgroup.subtree_control

# The racer's working set: one short run in an unlimited cgroup, in the
# soak's sharing mode, read back as memory.peak (its file, control area,
# 17 processes and their tables). Its kernel memory (page tables, stacks,
# slab: about 2 MB) cannot be reclaimed, so the limit is that plus PCT
# percent of the rest: a flat half of the peak left some runs with sharing
# on and off too little room to make progress, and the memcg OOM-killed a
# worker whatever the mode.
mkdir -p $cg/ptsoak-cal
PT_SHARE_RACER_SECONDS=3 sh -c "echo \$\$ > $cg/ptsoak-cal/cgroup.procs &&
	exec $racer -v $cal" > "$out/racer-calibrate.log" 2>&1 &
cpid=$!
kmax=0
while kill -0 $cpid 2> /dev/null; do
	k=$(sed -n 's/^kernel //p' $cg/ptsoak-cal/memory.stat)
	[ "${k:-0}" -gt $kmax ] && kmax=$k
	sleep 0.2
done
wait $cpid
peak=$(cat $cg/ptsoak-cal/memory.peak)
rmdir $cg/ptsoak-cal
limit=$((kmax + (peak - kmax) * pct / 100))
info "racer working set (memory.peak of a 3 s run) $((peak / 1024)) kB, of it kernel $((kmax / 1024)) kB; memory.high $((limit / 1024)) kB, memory.max $((peak / 1024)) kB"
# The limit is memory.high, the throttling limit: every charge above it
# reclaims (the same try_to_free_mem_cgroup_pages() as memory.max) and
# the task sleeps until reclaim keeps up, so the racer's shared pages go
# to swap and come back through shared tables just as under memory.max.
# memory.max at the limit OOM-killed a worker now and then (one 60 s soak
# in several, 2026-12-02, in a swap-in charge): 17 processes faulting and
# reclaiming at once in a memcg of under 2,000 pages, with every page hot
# (each checkpoint reads the whole file in every worker), can reclaim
# nothing MAX_RECLAIM_RETRIES times running, and the memcg then OOM-kills.
# A flat half of the peak did that with sharing off as well as on. That is
# the OOM heuristic giving up, not a leak: the memcg held 2.0 MB of kernel
# memory, less than the unlimited run's peak.
# memory.max stays as a backstop at the whole measured working set: a
# racer that reclaim cannot hold near the limit, because pages or tables
# leak or cannot be reclaimed, still ends in an OOM kill and fails.
mkdir -p $cg/ptsoak
echo $peak > $cg/ptsoak/memory.max
echo $limit > $cg/ptsoak/memory.high

echo "$share" > /proc/sys/vm/pt_share
echo 2097152 > /proc/sys/vm/pt_share_min_bytes
dmesg -c > /dev/null
live0=$(live_tables) att0=$(attached) attach0=$(vmstat pt_share_attach)
swp0=$(vmstat pswpout)
t0=$(date +%s)

# One instance of each stressor: 2 vCPUs run 12 stressors and 17 racer
# processes. Files go to the guest's tmpfs (/tmp), so --mmap-file maps
# shmem that shares. --fork-vm is the fork stressor's option. The mmap and
# mremap regions are smaller than the 256 MB defaults, which do not finish
# one bogo op per minute under TCG. One mmap op on 32 MB takes 20 s of
# guest CPU alone (debug kernel, same with sharing off and on), and it
# finished none in a 10-minute soak beside 12 other stressors and the
# racer. Alone for 90 s it did 4 ops on 32 MB and 15 on 8 MB (4 tables).
#
# The madvise stressor runs in a second, unprivileged instance: with
# CAP_SYS_ADMIN it also injects memory failures (MADV_HWPOISON, possible
# with CONFIG_MEMORY_FAILURE in the debug config), whose kernel messages
# --klog-check rightly counts as errors. Every other advice is the same.
cd /tmp || exit 1
stress-ng --temp-path /tmp --timeout "${secs}s" --metrics-brief --verify \
	--klog-check \
	--mmap 1 --mmap-file --mmap-bytes 8M --mremap 1 --mremap-bytes 32M \
	--mprotect 1 \
	--pagemove 1 --userfaultfd 1 --fork 1 --fork-vm --shm 1 \
	--msyncmany 1 --remap 1 --tlb-shootdown 1 --munmap 1 \
	> "$out/stress-ng.log" 2>&1 &
sng=$!
mkdir -p /tmp/sng-nobody && chown nobody /tmp/sng-nobody
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	stress-ng --temp-path /tmp/sng-nobody --timeout "${secs}s" \
	--metrics-brief --verify --madvise 1 \
	> "$out/stress-ng-madvise.log" 2>&1 &
sng2=$!

# The racer's two sharing cases (tmpfs, memfd) share the soak's length.
half=$((secs / 2))
# The racer's leak check compares global figures that stress-ng moves at
# the same time: the soak checks them itself once everything has exited.
PT_SHARE_RACER_LEAK_CHECK=0 PT_SHARE_RACER_SECONDS=$half \
	sh -c "echo \$\$ > $cg/ptsoak/cgroup.procs &&
	exec $racer $cases" > "$out/racer.log" 2>&1 &
rac=$!

wait $sng
src=$?
wait $sng2
src2=$?
[ $src -ne 0 ] || src=$src2
cat "$out/stress-ng-madvise.log" >> "$out/stress-ng.log"
wait $rac
rrc=$?
t1=$(date +%s)
info "soak ran $((t1 - t0)) s (stress-ng exit $src, racer exit $rrc)"

# stress-ng: exit status, verification failures, metrics.
sed 's/^/    sng| /' "$out/stress-ng.log"
# pr_fail() lines ("stress-ng: fail:") carry --verify failures; klog-check
# reports kernel messages of error level and above.
sfail='^stress-ng: fail:|klog-check: (error|critical|alert|emergency)|verif.*fail'
# "stress-ng: metrc: [pid] mmap 1234 60.00 ..." -> "mmap 1234"
ops=$(sed -n 's/^stress-ng: metrc: \[[0-9]*\] \([a-z-]*\) *\([0-9][0-9]*\) .*/\1 \2/p' \
	"$out/stress-ng.log" | sed '/^ *$/d' | tr '\n' ',' | sed 's/,$//; s/,/, /g')
if [ $src -eq 0 ] && ! grep -qiE "$sfail" "$out/stress-ng.log"; then
	res PASS "soak: stress-ng --verify --klog-check ($secs s, 12 stressors, pt_share=$share)" \
		"bogo-ops: $ops"
else
	res FAIL "soak: stress-ng --verify --klog-check ($secs s, 12 stressors, pt_share=$share)" \
		"exit $src: $(grep -iE "$sfail" "$out/stress-ng.log" | head -1)"
fi
sed -n 's/^stress-ng: metrc: \[[0-9]*\] \([a-z-]*\) *\([0-9][0-9]*\) .*/\1 \2/p' \
	"$out/stress-ng.log" | while read -r s n; do
	info "stress-ng bogo-ops $s $n"
done

# The racer, without its leak check (done below once everything has
# exited): every other check must hold, so its exit status is the verdict:
# no worker failure, no abort, pages verified.
sed 's/^/    racer| /' "$out/racer.log"
bad=$(grep -E 'Expected|# \[[0-9]+\]|abort' "$out/racer.log" | head -3)
# Both cases ran to their end (they print their operation totals).
nrun=$(grep -c 'ops total' "$out/racer.log")
rops=$(sed -n 's/.*ops total \([0-9]*\); pages verified \([0-9]*\).*/\1 \2/p' "$out/racer.log" |
	awk '{ o += $1; v += $2 } END { printf "%d ops, %d pages verified", o, v }')
if [ $rrc -eq 0 ] && [ -z "$bad" ] && [ "$nrun" -eq 2 ]; then
	res PASS "soak: pt_share_racer in a memcg at half its pageable working set, zram swap" \
		"tmpfs + memfd cases, $rops, memory.high $((limit / 1024)) of $((peak / 1024)) kB"
else
	res FAIL "soak: pt_share_racer in a memcg at half its pageable working set, zram swap" \
		"exit $rrc, $nrun/2 cases finished: $(echo "$bad" | head -1)"
fi
grep -E 'ops [a-z_]+ +[0-9]+|ops total|ran [0-9.]+ s' "$out/racer.log" |
	sed 's/^.*verify://; s/^# *//' | while read -r l; do info "racer $l"; done

# Memory pressure happened, and killed nothing.
oom=$(sed -n 's/^oom_kill //p' $cg/ptsoak/memory.events)
info "memcg ptsoak memory.events: $(tr '\n' ' ' < $cg/ptsoak/memory.events)"
swapped=$(($(cat $cg/ptsoak/memory.swap.peak 2>/dev/null || echo 0) / 4096))
hithigh=$(sed -n 's/^high //p' $cg/ptsoak/memory.events)
upeak=$(($(cat $cg/ptsoak/memory.peak) / 1024))
info "memcg ptsoak memory.swap.peak $swapped pages; memory.peak $upeak kB; pswpout +$(($(vmstat pswpout) - swp0))"
if [ "${swapped:-0}" -gt 0 ] && [ "${hithigh:-0}" -gt 0 ]; then
	res PASS "soak: the racer's memcg was under pressure" \
		"memory.high hit $hithigh times, up to $swapped pages in swap, memory.peak $upeak kB"
else
	res FAIL "soak: the racer's memcg was under pressure" \
		"memory.high hit ${hithigh:-?} times, up to $swapped pages in swap"
fi
dmesg > "$out/dmesg.log"
cat $cg/ptsoak/memory.stat > "$out/memory.stat"
if [ "${oom:-0}" -eq 0 ] && ! dmesg | grep -qE 'Out of memory|oom-kill|Killed process'; then
	res PASS "soak: no OOM kill (memory.events oom_kill 0, none in dmesg)"
else
	res FAIL "soak: no OOM kill" "oom_kill ${oom:-?}: $(dmesg | grep -E 'Killed process|oom-kill' | head -1)"
fi

# After every process is gone, no shared table and no attachment is left.
sync
live1=$(live_tables) att1=$(attached)
info "pt_share_attach +$(($(vmstat pt_share_attach) - attach0)); live tables $live0 -> $live1, attached $att0 -> $att1"
if [ "$live0" -eq "$live1" ] && [ "$att0" -eq "$att1" ]; then
	res PASS "soak: no shared table or attachment left after the soak"
else
	res FAIL "soak: no shared table or attachment left after the soak" \
		"live tables $live0 -> $live1, attached $att0 -> $att1"
fi

rmdir $cg/ptsoak 2>/dev/null
swapoff /dev/zram0
echo 0 > /proc/sys/vm/pt_share
echo SOAK_DONE
