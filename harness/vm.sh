#!/bin/bash
# vm.sh CMD...: boot a pt_share kernel in QEMU, run CMD in the guest, print
# its output live and exit with its status.
#
# Environment:
#   FLAVOUR=release|debug|kasan|stock  kernel to boot (default release)
#   MEM=4G                       guest memory, split over two (emulated) NUMA nodes
#   VM_TIMEOUT=600               seconds before the guest is killed
#   ACCEL=tcg                    tcg, or kvm where KVM really boots a guest
#   APPEND=...                   extra kernel command line
#   VM_ICOUNT=1                  guest time = instructions executed (TCG)
#
# The run fails (non-zero) if the command fails, if the sentinel line is
# missing (hang, panic, timeout), or if the console shows any kernel splat; a
# console excerpt is printed then. The run dir keeps console.log and output.log.
. "$(dirname "$0")/lib.sh"

FLAVOUR=${FLAVOUR:-release}
MEM=${MEM:-4G}
VM_TIMEOUT=${VM_TIMEOUT:-600}
ACCEL=${ACCEL:-tcg}
[ $# -gt 0 ] || die "usage: $0 CMD..."

need_pkgs $VM_PKGS
kernel=$BUILD/out-$FLAVOUR/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $FLAVOUR kernel at $kernel; run: harness/kernel.sh build $FLAVOUR"

# The initramfs is rebuilt only when the init script or busybox changed.
initrd=$BUILD/initramfs.cpio.gz
if [ ! -f "$initrd" ] || [ "$TOP/harness/guest/init" -nt "$initrd" ] ||
   [ /bin/busybox -nt "$initrd" ]; then
	d=$(mktemp -d)
	mkdir -p "$d"/{bin,dev,proc,sys,host}
	cp /bin/busybox "$d/bin/busybox"
	cp "$TOP/harness/guest/init" "$d/init"
	(cd "$d" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$d"
fi

mkdir -p "$BUILD/vm"
if [ -n "${VM_RUN_DIR:-}" ]; then
	run=$VM_RUN_DIR
	mkdir -p "$run"
else
	run=$(mktemp -d "$BUILD/vm/run-$(date +%Y%m%d-%H%M%S)-XXXX")
fi
{
	echo "cd $(printf '%q' "$PWD") || exit 125"
	printf '%s\n' "$*"
} > "$run/cmd.sh"

mem_mb=$(numfmt --from=iec "$MEM")
mem_mb=$((mem_mb / 1048576))
cmdline="console=ttyS0 panic=-1 oops=panic panic_on_warn=1 softlockup_panic=1"
cmdline+=" hung_task_panic=1 rdinit=/init no_hash_pointers numa=fake=2"
# Debug boots: page_table_check, and freed pages zeroed at once, so that a
# read through a TLB entry that outlived its page's free sees zeros.
case $FLAVOUR in debug | kasan) cmdline+=" page_table_check=on init_on_free=1" ;; esac
cmdline+=" pt_share.repo=$TOP pt_share.run=$run ${APPEND:-}"

# Two sockets of one core: without ACPI the guest finds its CPUs in
# SeaBIOS's MP table, which lists one processor per socket only.
accel="-accel tcg,thread=multi"
[ "$ACCEL" = kvm ] && accel="-accel kvm"
# VM_ICOUNT=1: guest time counts instructions (1 ns each, TSC at 1 GHz),
# so timings do not depend on the host's load; single-threaded TCG.
if [ "${VM_ICOUNT:-0}" = 1 ]; then
	accel="-accel tcg,thread=single -icount shift=0,sleep=off"
	cmdline+=" tsc_early_khz=1000000 tsc=reliable"
elif [ "$ACCEL" = tcg ] && grep -qw constant_tsc /proc/cpuinfo; then
	# Without ACPI the guest has no HPET or PM timer to calibrate its TSC
	# against, marks it unstable and falls back to the jiffies
	# clocksource: 4 ms steps, and lost ticks when the host is loaded.
	# TCG passes the host's TSC through, so tell the guest its rate.
	cmdline+=" tsc_early_khz=$(host_tsc_khz) tsc=reliable"
fi
log "booting $FLAVOUR kernel ($ACCEL, 2 vCPUs, $MEM, numa=fake=2): $*"
: > "$run/output.log"
t0=$(date +%s%N)
# shellcheck disable=SC2086
timeout --foreground -k 5 "$VM_TIMEOUT" qemu-system-x86_64 $accel -cpu max \
	-smp 2,sockets=2,cores=1,threads=1 -m "${mem_mb}M" \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	-nodefaults -display none -no-reboot \
	-serial "file:$run/console.log" -serial "file:$run/output.log" \
	-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
	-fsdev local,id=repo,path="$TOP",security_model=none \
	-device virtio-9p-pci,fsdev=repo,mount_tag=repo \
	> "$run/qemu.log" 2>&1 &
qpid=$!
tail -n +1 -F --pid=$qpid "$run/output.log" 2>/dev/null | grep --line-buffered -v '^PT_SHARE_VM_EXIT=' || true
qrc=0
wait $qpid || qrc=$?
elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))

rc=$(sed -n 's/^PT_SHARE_VM_EXIT=\([0-9]*\).*/\1/p' "$run/output.log" | tail -n 1)
boot=$(sed -n 's/^\[ *\([0-9.]*\)\] guest init: running.*/\1/p' "$run/console.log" | head -1)

# Kernel splats: any of these fails the run whatever the command said.
splat='BUG:|WARNING:|Call Trace:|KASAN|Bad page|bad pmd|page_table_check|Bad rss-counter'
splat+='|Kernel panic|Oops|general protection fault|INFO: task .* blocked'
splat+='|inconsistent lock state|possible recursive locking|circular locking'
splat+='|self-detected stall|rcu_.* detected stall'
hits=$(grep -nE "$splat" "$run/console.log" | grep -vE 'Command line:|Kernel command line:' || true)

status=0
if [ -n "$hits" ]; then
	first=$(echo "$hits" | head -1 | cut -d: -f1)
	echo "vm: kernel splat on the console ($run/console.log), excerpt:" >&2
	sed -n "$((first > 5 ? first - 5 : 1)),$((first + 60))p" "$run/console.log" | sed 's/^/    | /' >&2
	status=3
fi
if [ -z "$rc" ]; then
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		echo "vm: timed out after ${VM_TIMEOUT}s without the exit sentinel" >&2
	else
		echo "vm: guest ended (qemu status $qrc) without the exit sentinel" >&2
	fi
	[ -n "$hits" ] || { echo "vm: last console lines:" >&2; tail -30 "$run/console.log" | sed 's/^/    | /' >&2; }
	grep -v '^$' "$run/qemu.log" | sed 's/^/    qemu: /' >&2 || true
	status=${status/#0/124}
elif [ "$rc" != 0 ] && [ $status = 0 ]; then
	status=$rc
fi
log "vm: exit status ${rc:-none}, guest userspace after ${boot:-?}s, wall $((elapsed / 1000)).$((elapsed % 1000 / 100))s, logs in ${run#"$TOP"/}"
exit $status
