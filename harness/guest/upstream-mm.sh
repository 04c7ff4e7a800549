#!/bin/sh
# Run in the guest (issue 5, part 1): the base tree's mm selftests, each
# twice in a row, with vm.pt_share=0 and then with vm.pt_share=1 and
# vm.pt_share_min_bytes=2097152 (everything eligible shares).
#
# usage: upstream-mm.sh BINDIR TESTS SKIP TIER OUTDIR
#   BINDIR  the built tools/testing/selftests/mm
#   TESTS   harness/upstream-mm.tests; SKIP harness/upstream-mm.skip
#   TIER    fast (only "fast" lines) or full (every line)
#   OUTDIR  gets <name>.<0|1>.log and, per run, a line in OUTDIR/index:
#           "<name> <pt_share> <exit status> <seconds> <pt_share_attach delta>"
# The host compares the runs (harness/upstream-mm.sh); this script only
# runs them, so a hang or a splat still leaves every finished result.
# POSIX sh: the guest's /bin/sh is the host's dash.
bindir=$1 tests=$2 skip=$3 tier=$4 out=$5
mkdir -p "$out"
: > "$out/index"

vmstat() { sed -n "s/^$1 //p" /proc/vmstat; }
min0=$(cat /proc/sys/vm/pt_share_min_bytes)
thp=/sys/kernel/mm/transparent_hugepage/enabled
thp0=$(sed 's/.*\[\(.*\)\].*/\1/' $thp)

# Like run_vmtests.sh: 256 MiB of huge pages for the hugetlb and uffd tests.
# Reserved once for both runs, so they see the same pool.
echo 3 > /proc/sys/vm/drop_caches
echo 128 > /proc/sys/vm/nr_hugepages
echo "# huge pages: $(cat /proc/sys/vm/nr_hugepages)"
# hugepage-shm needs larger SysV limits (as run_vmtests.sh sets).
echo 268435456 > /proc/sys/kernel/shmmax
echo 4194304 > /proc/sys/kernel/shmall
# The hugetlb cgroup tests mount hugetlbfs on /mnt/huge; the guest's root
# is the host's, read-only.
mount -t tmpfs upstream-mm-mnt /mnt
# Run from a copy on the guest's tmpfs: tests create their scratch files
# in the current directory (soft-dirty maps one MAP_SHARED), and the
# repository's 9p mount cannot be mapped shared writable; on tmpfs the
# mapping is shmem, which is what pt_share shares. World-readable for
# on-fault-limit, which runs as nobody.
work=/tmp/upstream-mm
rm -rf "$work"
cp -a "$bindir" "$work" && chmod -R a+rX "$work" && cd "$work" || exit 2

# Per-test timeout: the selftests' own "settings" says 180 s; TCG is slower.
per_test=${UPSTREAM_MM_TIMEOUT:-600}

grep -v '^#' "$tests" | while read -r t name cmd; do
	[ -n "$name" ] || continue
	[ "$tier" = full ] || [ "$t" = fast ] || continue
	if grep -q "^${name}[[:space:]]" "$skip"; then
		echo "UPSTREAM_MM_SKIPLISTED $name"
		continue
	fi
	for mode in 0 1; do
		echo "$mode" > /proc/sys/vm/pt_share
		if [ $mode = 1 ]; then
			echo 2097152 > /proc/sys/vm/pt_share_min_bytes
		else
			echo "$min0" > /proc/sys/vm/pt_share_min_bytes
		fi
		# Tests that need a given hugetlb pool (as run_vmtests.sh does).
		case $name in
		hugetlb_fault_after_madv|hugetlb_madv_vs_map)
			echo 1 > /proc/sys/vm/nr_hugepages ;;
		# uffd-stress maps 64 huge pages as source and 64 as
		# destination, the whole pool as run_vmtests.sh sizes it. After
		# each bounce it zaps the source while its uffd threads may
		# still copy from it (uffd-stress.c says so, expecting EEXIST):
		# UFFDIO_COPY then needs a temporary huge page (mm/hugetlb.c:6648
		# fallback) and the source read fault another, and with none
		# to spare it failed with ENOMEM (hugetlb-private, pt_share=0
		# run, 2026-12-02; the cause is a source reading, not traced).
		# 16 pages of headroom.
		uffd-stress-hugetlb|uffd-stress-hugetlb-private)
			echo 144 > /proc/sys/vm/nr_hugepages ;;
		*)	echo 128 > /proc/sys/vm/nr_hugepages ;;
		esac
		# hmm-tests' exclusive tests need small folios: 6.12's
		# make_device_exclusive_range() refuses tail pages of a large
		# folio (mm/rmap.c:2570), and with THP "always" (configs/debug)
		# their anonymous buffer is a THP, so they get EBUSY with
		# pt_share off and on alike. Its THP tests use MADV_HUGEPAGE.
		if [ "$name" = hmm-tests ]; then
			echo madvise > $thp
		else
			echo "$thp0" > $thp
		fi
		a0=$(vmstat pt_share_attach)
		t0=$(date +%s)
		# shellcheck disable=SC2086 # cmd is a word list from the tests file
		timeout -k 10 "$per_test" $cmd > "$out/$name.$mode.log" 2>&1 < /dev/null
		rc=$?
		t1=$(date +%s)
		a1=$(vmstat pt_share_attach)
		echo "$name $mode $rc $((t1 - t0)) $((a1 - a0))" >> "$out/index"
		echo "UPSTREAM_MM $name pt_share=$mode exit=$rc $((t1 - t0))s attach=+$((a1 - a0))"
	done
done
echo 0 > /proc/sys/vm/pt_share
echo "$min0" > /proc/sys/vm/pt_share_min_bytes
echo 0 > /proc/sys/vm/nr_hugepages
echo "$thp0" > $thp
echo "UPSTREAM_MM_DONE"
