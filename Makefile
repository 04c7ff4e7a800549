# pt_share: page-table sharing for MAP_SHARED file mappings (Linux 6.12).
#
#   make run        build the release kernel, boot it, run the demo
#   make check      every test: host checks, debug kernel, KUnit, kselftests
#                   (FULL=1: all upstream mm selftests, 10-minute soak;
#                   STAGES="kselftests soak upstream mutations": a subset)
#   make vm CMD=... run one command in the guest (FLAVOUR=release|debug)
#   make kernel     build the FLAVOUR kernel (incremental)
#   make series     write the overlay as a git-am-able patch series
#   make bench      the benchmark suite (QUICK=1: reduced set, minutes)
#   make clean      remove build outputs, keep the extracted base tree

FLAVOUR ?= release
CMD ?= uname -a
export FLAVOUR MEM VM_TIMEOUT ACCEL APPEND
# FULL=1 make check: the long forms of the upstream mm comparison and the soak.
export FULL STAGES
export QUICK BENCH_NO_BUILD BENCH_NO_STOCK BENCH_SCENARIOS BENCH_CONTENDERS
export BENCH_NS BENCH_SIZE_MB BENCH_REPS BENCH_PROBE_N BENCH_STRESS_ARGS

.PHONY: run check vm kernel series bench clean distclean

run:
	@harness/run-demo.sh

check:
	@harness/check.sh

vm: kernel
	@harness/vm.sh '$(subst ','\'',$(CMD))'

kernel:
	@harness/kernel.sh build $(FLAVOUR)

series:
	@harness/series.sh

bench:
	@scripts/bench/run.sh

clean:
	rm -rf .build/out-* .build/vm .build/kselftest .build/demo .build/series .build/bench

distclean:
	chmod -R u+w .build 2>/dev/null || true
	rm -rf .build
