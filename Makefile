# pt_share: page-table sharing for MAP_SHARED file mappings (Linux 6.12).
#
#   make run        build the release kernel, boot it, run the demo
#   make check      every test: host checks, debug kernel, KUnit, kselftests
#   make vm CMD=... run one command in the guest (FLAVOUR=release|debug)
#   make kernel     build the FLAVOUR kernel (incremental)
#   make series     write the overlay as a git-am-able patch series
#   make clean      remove build outputs, keep the extracted base tree

FLAVOUR ?= release
CMD ?= uname -a
export FLAVOUR MEM VM_TIMEOUT ACCEL APPEND

.PHONY: run check vm kernel series clean distclean

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

clean:
	rm -rf .build/out-* .build/vm .build/kselftest .build/demo .build/series

distclean:
	chmod -R u+w .build 2>/dev/null || true
	rm -rf .build
