#!/bin/bash
# rmap.sh: the cost of rmap-driven changes (migration, truncation, reclaim)
# to pages that N processes map, with vm.pt_share=0 and =1 in one boot.
# Shared tables clear an entry once and flush only the mms attached to the
# table (batched under reclaim); see ptb_rmap.c.
#
# On the host: builds ptb_rmap and boots the release kernel with this
# script; in the guest: runs REPS x {8, 64 mappers} x {migrate, truncate,
# reclaim} x {off, on} and prints the RESULT lines and their medians.
#   REPS=3 SIZE_MB=128 NS="8 64" scripts/bench/rmap.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BIN=$TOP/.build/bench/ptb_rmap
REPS=${REPS:-3}
SIZE_MB=${SIZE_MB:-128}
NS=${NS:-8 64}

if [ -z "${PT_SHARE_GUEST:-}" ]; then
	mkdir -p "$(dirname "$BIN")"
	gcc -O2 -Wall -Wextra -Werror -o "$BIN" "$HERE/ptb_rmap.c"
	exec env FLAVOUR=release MEM=${MEM:-6G} VM_TIMEOUT=${VM_TIMEOUT:-1800} \
		"$TOP/harness/vm.sh" "REPS=$REPS SIZE_MB=$SIZE_MB NS='$NS' $0"
fi

echo "QEMU TCG guest: times are emulated; compare off/on within this run."
echo 2097152 > /proc/sys/vm/pt_share_min_bytes
# Reclaim needs swap: zram, twice the file.
echo $((SIZE_MB * 4))M > /sys/block/zram0/disksize
mkswap /dev/zram0 > /dev/null
swapon /dev/zram0
mkdir -p /sys/fs/cgroup/ptb-rmap
echo +memory > /sys/fs/cgroup/cgroup.subtree_control
out=$(mktemp)
for rep in $(seq "$REPS"); do
	for n in $NS; do
		for op in migrate truncate reclaim; do
			for s in 0 1; do
				echo "$s" > /proc/sys/vm/pt_share
				"$BIN" -o "$op" -n "$n" -s "$SIZE_MB" \
					-c /sys/fs/cgroup/ptb-rmap -t "rep=$rep pt_share=$s" |
					tee -a "$out"
				echo 3 > /proc/sys/vm/drop_caches
			done
		done
	done
done
echo 0 > /proc/sys/vm/pt_share
swapoff /dev/zram0
echo "medians of $REPS: ms, TLB-shootdown IPIs (pages: moved, truncated or swapped out):"
awk '
function median(list,	a, c, i, j, t) {
	c = split(substr(list, 2), a, " ")
	for (i = 2; i <= c; i++)	# insertion sort: mawk has no asort
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return a[int((c + 1) / 2)]
}
{
	for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	k = f["op"] " n=" f["n"] " pt_share=" f["pt_share"]
	ms[k] = ms[k] " " f["ms"]; pg[k] = pg[k] " " f["pages"]
	tlb[k] = tlb[k] " " f["tlb_ipis"]; cal[k] = cal[k] " " f["cal_ipis"]
} END {
	for (k in ms)
		printf "  %-32s %10.1f ms %8d TLB %8d CAL IPIs  (pages %s)\n", k,
		       median(ms[k]), median(tlb[k]), median(cal[k]), pg[k]
}' "$out" | sort
