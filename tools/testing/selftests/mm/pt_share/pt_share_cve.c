// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_cve: one test per class of bug that shared page tables invite,
 * each written to fail on a kernel that has it.
 *
 * stale_tlb_after_detach: a reader thread on CPU 0 keeps reading through a
 *   mapping while its process unmaps it on CPU 1; then the file is
 *   truncated and its pages reused with another pattern. A read that
 *   succeeds after munmap() returned, or that shows the new pattern, is
 *   a stale TLB entry (a detach that did not flush).
 * stale_tlb_after_last_detach: the same, but no other process holds the
 *   tables and the reader's process detaches with mprotect(PROT_NONE).
 *   Its table is then freed without a flush of every CPU, and nothing
 *   but the detach flushes the reader's TLB: munmap() may flush the range
 *   when it frees the page tables above it, and truncation of a table
 *   that is still cached flushes every CPU, which would hide the bug.
 * gup_vs_attach_detach: vmsplice(), process_vm_readv(), /proc/PID/mem,
 *   pagemap and smaps readers take and drop references to pages and
 *   tables while their targets attach and detach over and over; every
 *   byte read is right, and no table leaks or is freed twice.
 * split_race: mprotect() and munmap() split VMAs inside shared tables
 *   while other processes fault, write and the file is truncated and
 *   punched; every read is the page's own tag or zero.
 * gup_fast_vs_unshare: O_DIRECT reads from an ext4 file on a loop device
 *   into a shared mapping (GUP-fast pins its pages) race with detach and
 *   table reuse; the data lands in the right pages and nowhere else.
 * stale_tlb_after_migration, stale_tlb_after_reclaim: writers on both
 *   CPUs keep writing counters into a few pages while the first process
 *   to map the file migrates them between the nodes, or reclaims them to
 *   swap on zram. A sharer whose TLB was not flushed when the entry was
 *   cleared writes into the old page after it was copied or written out,
 *   and the write is lost. Each runs with sharing off and then on.
 *
 * zap_recheck_window: a thread of P sleeps in its MADV_DONTNEED of a
 *   span between zap_pmd_range()'s look at P's private table and the
 *   table's lock (a debugfs window of the debug kernel). Meanwhile
 *   MADV_COLLAPSE in another process frees that table (khugepaged holds no
 *   lock of P), P faults the span into a shared table and the other
 *   process attaches to it. The zap must then detach P, not clear the
 *   shared entries under the other process. Sharing off, then on.
 * erase_window: the last sharer of a table unmaps it, and sleeps (a
 *   second debugfs window) once the table has left the file's cache and
 *   before it is freed, while the file is truncated. The table must have
 *   been zapped before it left: a folio it still mapped would be deleted
 *   from the page cache while mapped (a DEBUG_VM BUG).
 *
 * All of them end with the live shared tables, the attachments and
 * PageTables where they started. PT_SHARE_FULL=1 runs them longer.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/falloc.h>
#include <linux/mempolicy.h>

#include "../../kselftest_harness.h"
#include "pt_share_util.h"

#define NR_SPANS	2
#define SIZE		(NR_SPANS * PT_SPAN)
#define NR_PAGES	(SIZE / PT_PAGE)

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static inline uint64_t tag(unsigned long i, unsigned long salt)
{
	return (uint64_t)(i + 1) << 32 | salt;
}

/* Shared by every process of a test: flags, counts, the first error. */
struct shared {
	long iter, ready, mapped, unmapped, refilled, done, stop, held;
	uint64_t last[2][8];	/* rmap cases: each writer's last values */
	long writes, moved, rounds;
	char *addr[4];
	long fails, ops, reads_ok, faults, attached;
	long window, collapsed, touched, zapped;	/* zap_recheck_window */
	long vmpte_kb[2];
	double zap_secs;
	char msg[256];
};

static struct shared *sh;

static void fail_msg(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_fetch_add(&sh->fails, 1, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
	va_end(ap);
}

static bool two_cpus;

/*
 * With two CPUs the reader runs on CPU 0 and everything else on CPU 1, so
 * that a detach must reach the reader's TLB by IPI. With one, the test
 * still catches a detach that flushes no TLB at all.
 */
static int pin_to(int cpu)
{
	cpu_set_t set;

	if (!two_cpus)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Fill the whole file with tag(i, salt) in every word of page i. */
static int fill(int fd, unsigned long salt)
{
	uint64_t buf[PT_PAGE / 8];
	unsigned long i, k;

	for (i = 0; i < NR_PAGES; i++) {
		for (k = 0; k < PT_PAGE / 8; k++)
			buf[k] = tag(i, salt);
		if (pwrite(fd, buf, PT_PAGE, i * PT_PAGE) != PT_PAGE)
			return -1;
	}
	return 0;
}

static int wait_pid_ok(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

FIXTURE(cve) {
	struct pt_knobs knobs;
	char path[64];
	int fd;
	struct pt_leak_snap s0;
};

FIXTURE_SETUP(cve)
{
	self->fd = -1;
	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "kernel without CONFIG_PT_SHARE");
	if (getuid())
		SKIP(return, "needs root to set vm.pt_share");
	ASSERT_EQ(0, pt_knobs_save_and_enable(&self->knobs, true));
	snprintf(self->path, sizeof(self->path), "/dev/shm/pt_share_cve.%d",
		 getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, SIZE));
	ASSERT_EQ(0, fill(self->fd, 0));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	pt_fault_setup();
	pt_leak_snap(&self->s0);
}

FIXTURE_TEARDOWN(cve)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->path[0])
		unlink(self->path);
	pt_knobs_restore(&self->knobs);
}

/* After every process of the test is gone: nothing left behind. */
static void report(struct __test_metadata *_metadata)
{
	TH_LOG("ops %ld, good reads %ld, faults %ld, attaches seen %ld",
	       sh->ops, sh->reads_ok, sh->faults, sh->attached);
	EXPECT_EQ(0, sh->fails) TH_LOG("first failure: %s", sh->msg);
}

/* Map the whole file read-write and touch every page: attached. */
static char *map_touched(int fd)
{
	char *p = pt_map_aligned(fd, SIZE, PROT_READ | PROT_WRITE);
	unsigned long off;

	for (off = 0; p && off < SIZE; off += PT_PAGE)
		pt_touch(p + off);
	return p;
}

/* A holder keeps the shared tables of the whole file alive. */
static pid_t start_holder(int fd)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (!map_touched(fd))
		_exit(1);
	/* Attached: from now on the file may be truncated under us. */
	STORE(sh->held, 1);
	while (!LOAD(sh->stop))
		usleep(1000);
	_exit(0);
}

static long iterations(long fast)
{
	return pt_full_mode() ? fast * 25 : fast;
}

/* ---- stale TLB after detach ------------------------------------------- */

#define READS_AFTER	2000

static char *stale_p;

/* How the reader's process leaves the tables. */
enum stale_detach { STALE_MUNMAP, STALE_MPROTECT };

/*
 * The reader keeps to a few pages, spread over both tables, so that their
 * entries stay in its CPU's TLB: a read that misses the TLB and faults
 * hides a missing flush. Measured under QEMU TCG: a kernel whose detach
 * did not flush passed 1,000 iterations with reads spread over every
 * page, and failed at once with these.
 */
#define HOT_PAGES	8

/*
 * CPU 0: read pages through the mapping for as long as it may hold, and
 * some more after the pages were freed and reused. A read that began
 * after munmap() returned must fault; a stale entry would let it succeed,
 * and once the page is reused show the refill pattern.
 */
static void *stale_reader(void *arg)
{
	uint64_t rnd = (uintptr_t)arg | 1, v;
	long it, after, unmapped;
	unsigned long i;
	int sig;

	if (pin_to(0))
		fail_msg("cannot pin the reader to CPU 0");
	for (;;) {
		it = LOAD(sh->iter);
		if (it == -1)
			break;
		if (it < 0 || LOAD(sh->mapped) != it) {
			sched_yield();
			continue;
		}
		for (after = 0; after < READS_AFTER;) {
			i = pt_rand(&rnd) % HOT_PAGES * (NR_PAGES / HOT_PAGES);
			unmapped = LOAD(sh->unmapped);
			sig = pt_access64((uint64_t *)(stale_p + i * PT_PAGE),
					  false, &v);
			if (!sig) {
				if (unmapped == it)
					fail_msg("iter %ld: page %lu read %#lx after detach",
						 it, i, (unsigned long)v);
				else if (v != tag(i, 2 * it))
					fail_msg("iteration %ld: page %lu read %#lx, not %#lx",
						 it, i, (unsigned long)v,
						 (unsigned long)tag(i, 2 * it));
				else
					__atomic_add_fetch(&sh->reads_ok, 1,
							   __ATOMIC_RELAXED);
			} else if (sig != SIGSEGV) {
				fail_msg("iteration %ld: page %lu: %s", it, i,
					 strsignal(sig));
			} else {
				__atomic_add_fetch(&sh->faults, 1,
						   __ATOMIC_RELAXED);
			}
			if (LOAD(sh->refilled) == it)
				after++;
			if (LOAD(sh->iter) != it)
				break;
		}
		/* Done with this iteration: tell the others. */
		STORE(sh->done, it + 1);
		while (LOAD(sh->iter) == it)
			sched_yield();
	}
	return NULL;
}

/* The reader's process: maps, lets the reader run, detaches on CPU 1. */
static void stale_process(int fd, long iters, enum stale_detach how)
{
	uint64_t rnd = getpid() | 1;
	unsigned long off;
	pthread_t t;
	long it, a0;
	char *hole = pt_aligned_hole(SIZE), *p;

	if (!hole || pin_to(1))
		_exit(2);
	stale_p = hole;
	if (pthread_create(&t, NULL, stale_reader, (void *)(uintptr_t)getpid()))
		_exit(3);
	for (it = 0; it < iters; it++) {
		/* The parent filled the file with tag(i, 2 * it). */
		while (LOAD(sh->ready) != it)
			sched_yield();
		a0 = pt_read_vmstat("pt_share_attach");
		/* Read-write like the holder: its table outlives our detach. */
		p = mmap(hole, SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
		if (p != hole)
			_exit(4);
		for (off = 0; off < SIZE; off += PT_PAGE)
			if (PT_LOAD(*(uint64_t *)(p + off)) !=
			    tag(off / PT_PAGE, 2 * it))
				fail_msg("iteration %ld: wrong data before munmap",
					 it);
		sh->attached += pt_read_vmstat("pt_share_attach") - a0;
		STORE(sh->iter, it);
		STORE(sh->mapped, it);
		usleep(pt_rand(&rnd) % 2000);
		if (how == STALE_MPROTECT) {
			/* The VMA stays: no page table above the span goes. */
			if (mprotect(p, SIZE, PROT_NONE))
				_exit(5);
			STORE(sh->unmapped, it);
		} else {
			if (munmap(p, SIZE))
				_exit(5);
			STORE(sh->unmapped, it);
			/* Keep the range ours: nothing else may go there. */
			if (mmap(hole, SIZE, PROT_NONE, MAP_PRIVATE |
				 MAP_ANONYMOUS | MAP_FIXED, -1, 0) != hole)
				_exit(6);
		}
		sh->ops++;
		while (LOAD(sh->done) != it + 1)
			sched_yield();
	}
	STORE(sh->iter, -1);
	pthread_join(t, NULL);
	_exit(0);
}

/* @holder: another process keeps the tables attached throughout. */
static void stale_tlb(struct __test_metadata *_metadata,
		      struct _test_data_cve *self, bool holder,
		      enum stale_detach how)
{
	long iters = iterations(40), it;
	pid_t hpid = 0, reader;

	two_cpus = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
	if (!two_cpus)
		TH_LOG("one CPU online: no cross-CPU flush to test, local only");
	if (holder) {
		hpid = start_holder(self->fd);
		ASSERT_LE(0, hpid);
		while (!LOAD(sh->held)) {
			ASSERT_NE(hpid, waitpid(hpid, NULL, WNOHANG));
			usleep(1000);
		}
	}
	STORE(sh->refilled, -1);
	STORE(sh->mapped, -1);
	STORE(sh->unmapped, -1);
	STORE(sh->iter, -2);
	STORE(sh->ready, 0);
	reader = fork();
	ASSERT_LE(0, reader);
	if (!reader)
		stale_process(self->fd, iters, how);
	ASSERT_EQ(0, pin_to(1));
	/* Iteration 0 reads tag(i, 0), which the fixture wrote. */
	for (it = 0; it < iters; it++) {
		if (it) {
			ASSERT_EQ(0, fill(self->fd, 2 * it));
			STORE(sh->ready, it);
		}
		while (LOAD(sh->unmapped) != it) {
			if (waitpid(reader, NULL, WNOHANG) == reader)
				ASSERT_TRUE(0) TH_LOG("reader died");
			sched_yield();
		}
		/*
		 * The reader's process is detached. Free the pages (on this
		 * CPU, so that they are the first to be reused) and reuse
		 * them with another pattern while the reader keeps going.
		 */
		ASSERT_EQ(0, ftruncate(self->fd, 0));
		ASSERT_EQ(0, ftruncate(self->fd, SIZE));
		ASSERT_EQ(0, fill(self->fd, 2 * it + 1));
		STORE(sh->refilled, it);
		while (LOAD(sh->done) != it + 1) {
			if (waitpid(reader, NULL, WNOHANG) == reader)
				ASSERT_TRUE(0) TH_LOG("reader died");
			sched_yield();
		}
	}
	ASSERT_EQ(0, wait_pid_ok(reader));
	STORE(sh->stop, 1);
	if (holder)
		ASSERT_EQ(0, wait_pid_ok(hpid));
	report(_metadata);
	EXPECT_LE(iters * NR_SPANS, sh->attached);
	EXPECT_LT(0, sh->faults);
	pt_leak_expect(self->s0);
}

TEST_F_TIMEOUT(cve, stale_tlb_after_detach, 1200)
{
	stale_tlb(_metadata, self, true, STALE_MUNMAP);
}

TEST_F_TIMEOUT(cve, stale_tlb_after_last_detach, 1200)
{
	stale_tlb(_metadata, self, false, STALE_MPROTECT);
}

/* ---- GUP and other foreign references vs attach/detach ------------------- */

#define NR_TARGETS	2

static bool page_ok(const uint64_t *buf, unsigned long i)
{
	return buf[0] == tag(i, 0) && buf[PT_PAGE / 8 - 1] == tag(i, 0);
}

/* In the target: vmsplice pages of its own mapping and check the pipe. */
static void *splicer(void *arg)
{
	char *p = arg;
	uint64_t rnd = (uintptr_t)p | 1, buf[PT_PAGE / 8];
	struct iovec iov;
	unsigned long i;
	int pfd[2];
	ssize_t n;

	if (pipe(pfd))
		return (void *)1;
	while (!LOAD(sh->stop)) {
		i = pt_rand(&rnd) % NR_PAGES;
		iov.iov_base = p + i * PT_PAGE;
		iov.iov_len = PT_PAGE;
		n = vmsplice(pfd[1], &iov, 1, 0);
		if (n < 0) {
			if (errno != EFAULT)
				fail_msg("vmsplice: %s", strerror(errno));
			continue;
		}
		/* A short splice takes what was mapped; read it all back. */
		if (read(pfd[0], buf, n) != n) {
			fail_msg("pipe read");
			break;
		}
		if (n == PT_PAGE && !page_ok(buf, i))
			fail_msg("vmsplice of page %lu: %#lx", i,
				 (unsigned long)buf[0]);
		__atomic_add_fetch(&sh->reads_ok, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Attach and detach in every way there is, as fast as possible. */
static void target(int fd, int idx)
{
	char *hole = pt_aligned_hole(SIZE), *p;
	uint64_t rnd = getpid() | 1;
	unsigned long off;
	pthread_t t;
	long a0;

	if (!hole)
		_exit(2);
	p = mmap(hole, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	if (p != hole)
		_exit(3);
	STORE(sh->addr[idx], p);
	if (pthread_create(&t, NULL, splicer, p))
		_exit(4);
	while (!LOAD(sh->stop)) {
		a0 = pt_read_vmstat("pt_share_attach");
		for (off = 0; off < SIZE; off += PT_PAGE)
			pt_touch(p + off);
		__atomic_add_fetch(&sh->attached,
				   pt_read_vmstat("pt_share_attach") - a0,
				   __ATOMIC_RELAXED);
		switch (pt_rand(&rnd) % 4) {
		case 0:
			if (munmap(p, SIZE) ||
			    mmap(p, SIZE, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_FIXED, fd, 0) != p)
				_exit(5);
			break;
		case 1:
			if (madvise(p, SIZE, MADV_DONTNEED))
				_exit(6);
			break;
		case 2:
			if (mprotect(p + PT_SPAN, PT_SPAN, PROT_READ) ||
			    mprotect(p + PT_SPAN, PT_SPAN,
				     PROT_READ | PROT_WRITE))
				_exit(7);
			break;
		case 3:
			/* A partial unmap splits; the remap merges again. */
			off = (pt_rand(&rnd) % NR_PAGES) * PT_PAGE;
			if (munmap(p + off, PT_PAGE) ||
			    mmap(p + off, PT_PAGE, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_FIXED, fd, off) != p + off)
				_exit(8);
			break;
		}
		__atomic_add_fetch(&sh->ops, 1, __ATOMIC_RELAXED);
	}
	pthread_join(t, NULL);
	_exit(0);
}

struct foreign {
	pid_t pid[NR_TARGETS];
	int kind;
};

/* From the test process: read the targets' memory every way /proc has. */
static void *foreign_reader(void *arg)
{
	struct foreign *f = arg;
	uint64_t rnd = (uintptr_t)f * 31 + f->kind, buf[PT_PAGE / 8];
	uint64_t *pm = malloc(NR_PAGES * 8);
	struct iovec local, remote;
	char path[64], *big = malloc(1 << 16);
	unsigned long i;
	ssize_t n;
	int t, fd;

	if (!pm || !big)
		return (void *)1;
	while (!LOAD(sh->stop)) {
		t = pt_rand(&rnd) % NR_TARGETS;
		i = pt_rand(&rnd) % NR_PAGES;
		switch (f->kind) {
		case 0:
			local.iov_base = buf;
			local.iov_len = PT_PAGE;
			remote.iov_base = sh->addr[t] + i * PT_PAGE;
			remote.iov_len = PT_PAGE;
			n = process_vm_readv(f->pid[t], &local, 1, &remote, 1,
					     0);
			if (n == PT_PAGE && !page_ok(buf, i))
				fail_msg("process_vm_readv page %lu: %#lx", i,
					 (unsigned long)buf[0]);
			else if (n < 0 && errno != EFAULT)
				fail_msg("process_vm_readv: %s",
					 strerror(errno));
			break;
		case 1:
			snprintf(path, sizeof(path), "/proc/%d/mem", f->pid[t]);
			fd = open(path, O_RDONLY);
			if (fd < 0) {
				fail_msg("open %s: %s", path, strerror(errno));
				break;
			}
			n = pread(fd, buf, PT_PAGE,
				  (unsigned long)sh->addr[t] + i * PT_PAGE);
			if (n == PT_PAGE && !page_ok(buf, i))
				fail_msg("/proc/PID/mem page %lu: %#lx", i,
					 (unsigned long)buf[0]);
			else if (n < 0 && errno != EIO && errno != EFAULT)
				fail_msg("/proc/PID/mem: %s", strerror(errno));
			close(fd);
			break;
		case 2:
			snprintf(path, sizeof(path), "/proc/%d/pagemap",
				 f->pid[t]);
			fd = open(path, O_RDONLY);
			n = fd < 0 ? -1 :
			    pread(fd, pm, NR_PAGES * 8,
				  (unsigned long)sh->addr[t] / PT_PAGE * 8);
			if (n != (ssize_t)(NR_PAGES * 8))
				fail_msg("pagemap read %zd: %s", n,
					 strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		case 3:
			snprintf(path, sizeof(path), "/proc/%d/smaps",
				 f->pid[t]);
			fd = open(path, O_RDONLY);
			if (fd < 0) {
				fail_msg("open %s: %s", path, strerror(errno));
				break;
			}
			while (read(fd, big, 1 << 16) > 0)
				;
			close(fd);
			break;
		}
		__atomic_add_fetch(&sh->reads_ok, 1, __ATOMIC_RELAXED);
	}
	free(pm);
	free(big);
	return NULL;
}

TEST_F_TIMEOUT(cve, gup_vs_attach_detach, 1200)
{
	struct foreign f[4];
	pid_t pid[NR_TARGETS];
	pthread_t t[4];
	int i;

	for (i = 0; i < NR_TARGETS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i])
			target(self->fd, i);
	}
	for (i = 0; i < NR_TARGETS; i++)
		while (!LOAD(sh->addr[i]))
			usleep(1000);
	for (i = 0; i < 4; i++) {
		memcpy(f[i].pid, pid, sizeof(pid));
		f[i].kind = i;
		/* Without CONFIG_CROSS_MEMORY_ATTACH: one more mem reader. */
		if (!i && !pt_have_process_vm_readv()) {
			TH_LOG("no process_vm_readv(): /proc/PID/mem instead");
			f[i].kind = 1;
		}
		ASSERT_EQ(0, pthread_create(&t[i], NULL, foreign_reader, &f[i]));
	}
	sleep(pt_full_mode() ? 120 : 8);
	STORE(sh->stop, 1);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	for (i = 0; i < NR_TARGETS; i++)
		EXPECT_EQ(0, wait_pid_ok(pid[i]));
	report(_metadata);
	EXPECT_LT(0, sh->attached);
	pt_leak_expect(self->s0);
}

/* ---- VMA splits inside shared tables vs faults and truncation ------------ */

#define NR_SPLITTERS	4

static void splitter(int fd)
{
	char *p = pt_map_aligned(fd, SIZE, PROT_READ | PROT_WRITE);
	uint64_t rnd = getpid() | 1, v;
	unsigned long a, n, i;
	long a0;
	int sig;

	if (!p)
		_exit(2);
	while (!LOAD(sh->stop)) {
		a = pt_rand(&rnd) % NR_PAGES;
		n = 1 + pt_rand(&rnd) % 64;
		if (a + n > NR_PAGES)
			n = NR_PAGES - a;
		switch (pt_rand(&rnd) % 3) {
		case 0:
			if (mprotect(p + a * PT_PAGE, n * PT_PAGE, PROT_READ))
				_exit(3);
			/*
			 * The read-write VMA below now ends inside the span of
			 * page a, so it must not share the span's table: one
			 * attached by the read below would map page a writable
			 * with the entry other processes installed.
			 */
			if (a)
				pt_access64((uint64_t *)(p + (a - 1) * PT_PAGE),
					    false, &v);
			v = tag(a, 0);
			sig = pt_access64((uint64_t *)(p + a * PT_PAGE), true,
					  &v);
			if (sig != SIGSEGV)
				fail_msg("write to read-only page %lu: %s", a,
					 sig ? strsignal(sig) : "no fault");
			if (mprotect(p + a * PT_PAGE, n * PT_PAGE,
				     PROT_READ | PROT_WRITE))
				_exit(3);
			break;
		case 1:
			if (munmap(p + a * PT_PAGE, n * PT_PAGE) ||
			    mmap(p + a * PT_PAGE, n * PT_PAGE,
				 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
				 fd, a * PT_PAGE) != p + a * PT_PAGE)
				_exit(4);
			break;
		case 2:
			/* The value every writer writes: idempotent. */
			v = tag(a, 0);
			sig = pt_access64((uint64_t *)(p + a * PT_PAGE), true,
					  &v);
			if (sig && (sig != SIGBUS || a < NR_PAGES / 2))
				fail_msg("write page %lu: %s", a,
					 strsignal(sig));
			break;
		}
		a0 = pt_read_vmstat("pt_share_attach");
		for (i = 0; i < NR_PAGES; i += 1 + pt_rand(&rnd) % 8) {
			sig = pt_access64((uint64_t *)(p + i * PT_PAGE), false,
					  &v);
			if (sig == SIGBUS && i >= NR_PAGES / 2)
				continue;
			if (sig)
				fail_msg("read page %lu: %s", i, strsignal(sig));
			else if (v && v != tag(i, 0))
				fail_msg("page %lu read %#lx", i,
					 (unsigned long)v);
			else
				__atomic_add_fetch(&sh->reads_ok, 1,
						   __ATOMIC_RELAXED);
		}
		__atomic_add_fetch(&sh->attached,
				   pt_read_vmstat("pt_share_attach") - a0,
				   __ATOMIC_RELAXED);
		__atomic_add_fetch(&sh->ops, 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

TEST_F_TIMEOUT(cve, split_race, 1200)
{
	double end = pt_now() + (pt_full_mode() ? 120 : 8);
	uint64_t rnd = pt_seed() | 1;
	pid_t pid[NR_SPLITTERS];
	unsigned long a, n;
	int i;

	for (i = 0; i < NR_SPLITTERS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i])
			splitter(self->fd);
	}
	/* Never below half: readers take SIGBUS only in the upper half. */
	while (pt_now() < end) {
		a = NR_PAGES / 2 + pt_rand(&rnd) % (NR_PAGES / 2);
		ASSERT_EQ(0, ftruncate(self->fd, a * PT_PAGE));
		usleep(pt_rand(&rnd) % 3000);
		ASSERT_EQ(0, ftruncate(self->fd, SIZE));
		a = pt_rand(&rnd) % NR_PAGES;
		n = 1 + pt_rand(&rnd) % 256;
		ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, a * PT_PAGE,
				       n * PT_PAGE));
		usleep(pt_rand(&rnd) % 3000);
		ASSERT_EQ(0, fill(self->fd, 0));
	}
	STORE(sh->stop, 1);
	for (i = 0; i < NR_SPLITTERS; i++)
		EXPECT_EQ(0, wait_pid_ok(pid[i]));
	report(_metadata);
	EXPECT_LT(0, sh->attached);
	pt_leak_expect(self->s0);
}

/* ---- O_DIRECT (GUP-fast) into a shared mapping vs detach ----------------- */

#define ROUNDS		4	/* source blocks per destination page */
#define MNT		"/tmp/pt_share_cve.mnt"
#define IMG		"/tmp/pt_share_cve.img"

static uint64_t block_tag(unsigned long b)
{
	return tag(b, 0xd10);
}

static int tmpfs_fd;

/*
 * Every page of the destination file holds its initial tag or a source
 * block meant for it, in its first and last word: -1, or the first page
 * that does not (data that a stale pin wrote to the wrong page).
 */
static long scan_destination(int fd)
{
	uint64_t buf[PT_PAGE / 8], v;
	unsigned long i;

	for (i = 0; i < NR_PAGES; i++) {
		if (pread(fd, buf, PT_PAGE, i * PT_PAGE) != PT_PAGE)
			return i;
		v = buf[0];
		if (v != buf[PT_PAGE / 8 - 1])
			return i;
		if (v != tag(i, 0) && ((v & 0xffffffff) != 0xd10 ||
				       ((v >> 32) - 1) % NR_PAGES != i))
			return i;
	}
	return -1;
}

/* Source block b may only ever land in destination page b % NR_PAGES. */
static void *direct_reader(void *arg)
{
	int dfd = (intptr_t)arg;
	uint64_t rnd = dfd * 77 + 1, v[2];
	unsigned long j, n, r, k, nr = 0;
	char *p = sh->addr[0];
	ssize_t ret;
	long bad;

	while (!LOAD(sh->stop)) {
		j = pt_rand(&rnd) % NR_PAGES;
		n = 1 + pt_rand(&rnd) % 16;
		if (j + n > NR_PAGES)
			n = NR_PAGES - j;
		r = pt_rand(&rnd) % ROUNDS;
		ret = pread(dfd, p + j * PT_PAGE, n * PT_PAGE,
			    (r * NR_PAGES + j) * PT_PAGE);
		if (ret < 0) {
			if (errno != EFAULT)
				fail_msg("O_DIRECT pread: %s", strerror(errno));
			continue;
		}
		/* The file, not the mapping: where did the data land? */
		for (k = j; k < j + ret / PT_PAGE; k++) {
			if (pread(tmpfs_fd, v, 8, k * PT_PAGE) != 8 ||
			    pread(tmpfs_fd, v + 1, 8,
				  (k + 1) * PT_PAGE - 8) != 8)
				fail_msg("pread of the tmpfs file");
			if (v[0] != block_tag(r * NR_PAGES + k) || v[1] != v[0])
				fail_msg("page %lu holds %#lx/%#lx, not block %lu",
					 k, (unsigned long)v[0],
					 (unsigned long)v[1], r * NR_PAGES + k);
		}
		__atomic_add_fetch(&sh->reads_ok, 1, __ATOMIC_RELAXED);
		/* Now and then, check that nothing landed anywhere else. */
		if (!(++nr % 32)) {
			bad = scan_destination(tmpfs_fd);
			if (bad >= 0)
				fail_msg("page %ld holds a block not meant for it",
					 bad);
		}
	}
	return NULL;
}

static void direct_process(int fd, int dfd)
{
	char *p = pt_map_aligned(fd, SIZE, PROT_READ | PROT_WRITE);
	uint64_t rnd = getpid() | 1;
	unsigned long off;
	pthread_t t;

	if (!p)
		_exit(2);
	STORE(sh->addr[0], p);
	tmpfs_fd = fd;
	if (pthread_create(&t, NULL, direct_reader, (void *)(intptr_t)dfd))
		_exit(3);
	while (!LOAD(sh->stop)) {
		for (off = 0; off < SIZE; off += PT_PAGE)
			pt_touch(p + off);
		usleep(pt_rand(&rnd) % 500);
		/* Detach under the pins: every way but unmapping. */
		switch (pt_rand(&rnd) % 3) {
		case 0:
			if (madvise(p, SIZE, MADV_DONTNEED))
				_exit(4);
			break;
		case 1:
			if (mprotect(p, SIZE, PROT_READ) ||
			    mprotect(p, SIZE, PROT_READ | PROT_WRITE))
				_exit(5);
			break;
		case 2:
			off = pt_rand(&rnd) % NR_SPANS * PT_SPAN;
			if (mprotect(p + off + PT_PAGE, PT_PAGE, PROT_READ) ||
			    mprotect(p + off + PT_PAGE, PT_PAGE,
				     PROT_READ | PROT_WRITE))
				_exit(6);
			break;
		}
		__atomic_add_fetch(&sh->ops, 1, __ATOMIC_RELAXED);
	}
	pthread_join(t, NULL);
	_exit(0);
}

/* Map, touch, unmap: the tables are freed and allocated again and again. */
static void churner(int fd)
{
	unsigned long off;
	long a0;
	char *p;

	while (!LOAD(sh->stop)) {
		a0 = pt_read_vmstat("pt_share_attach");
		p = pt_map_aligned(fd, SIZE, PROT_READ | PROT_WRITE);
		if (!p)
			_exit(2);
		for (off = 0; off < SIZE; off += PT_PAGE)
			pt_touch(p + off);
		__atomic_add_fetch(&sh->attached,
				   pt_read_vmstat("pt_share_attach") - a0,
				   __ATOMIC_RELAXED);
		usleep(1000);
		if (munmap(p, SIZE))
			_exit(3);
	}
	_exit(0);
}

static int make_source(void)
{
	uint64_t buf[PT_PAGE / 8];
	unsigned long b, k;
	int fd;

	fd = open(MNT "/src", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	for (b = 0; b < ROUNDS * NR_PAGES; b++) {
		for (k = 0; k < PT_PAGE / 8; k++)
			buf[k] = block_tag(b);
		if (write(fd, buf, PT_PAGE) != PT_PAGE)
			return -1;
	}
	if (fsync(fd))
		return -1;
	close(fd);
	return open(MNT "/src", O_RDONLY | O_DIRECT);
}

TEST_F_TIMEOUT(cve, gup_fast_vs_unshare, 1200)
{
	pid_t reader, churn[2];
	int dfd, i;

	pt_sh("umount " MNT " 2>/dev/null");
	if (pt_sh("mkdir -p " MNT) || pt_sh("truncate -s 64M " IMG) ||
	    pt_sh("mkfs.ext4 -q -F " IMG " >/dev/null 2>&1") ||
	    pt_sh("mount -o loop " IMG " " MNT)) {
		pt_sh("rm -f " IMG);
		SKIP(return, "needs mkfs.ext4, ext4 and loop mounts");
	}
	dfd = make_source();
	ASSERT_LE(0, dfd) TH_LOG("source file on ext4: %s", strerror(errno));
	/* The mount's per-CPU memory may take fresh vmalloc space. */
	pt_leak_rebase(&self->s0);
	reader = fork();
	ASSERT_LE(0, reader);
	if (!reader)
		direct_process(self->fd, dfd);
	for (i = 0; i < 2; i++) {
		churn[i] = fork();
		ASSERT_LE(0, churn[i]);
		if (!churn[i])
			churner(self->fd);
	}
	sleep(pt_full_mode() ? 120 : 8);
	STORE(sh->stop, 1);
	EXPECT_EQ(0, wait_pid_ok(reader));
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, wait_pid_ok(churn[i]));
	close(dfd);
	EXPECT_EQ(-1, scan_destination(self->fd));
	EXPECT_EQ(0, pt_sh("umount " MNT " && rm -f " IMG " && rmdir " MNT));
	report(_metadata);
	EXPECT_LT(0, sh->reads_ok);
	EXPECT_LT(0, sh->attached);
	pt_leak_expect(self->s0);
}

/* ---- stale TLB after migration and reclaim ------------------------------ */

#define RMAP_WRITERS	2
#define RMAP_HOT	8
#define RMAP_SHARERS	(RMAP_WRITERS + 1)	/* and the mover */
#define RMAP_CG		"/sys/fs/cgroup/pt_share_cve"

enum rmap_op { RMAP_MIGRATE, RMAP_RECLAIM };

/* The hot pages: a few, spread over both tables, to stay in the TLB. */
static unsigned long hot_page(int h)
{
	return h * (NR_PAGES / RMAP_HOT) + 5;
}

/* The file offset of the word of hot page @h that writer @w alone writes. */
static off_t hot_off(int h, int w)
{
	return hot_page(h) * PT_PAGE + (16 + w) * sizeof(uint64_t);
}

/*
 * Writer @w, on CPU @w: check that its word of every hot page still holds
 * the value it wrote last, round after round, and write a new value every
 * RMAP_WRITE_EVERY rounds. A write that went through a stale TLB entry
 * into a page that was already copied (migration) or written out
 * (reclaim) is not in the page the file now holds: the next check through
 * a fresh entry, or the final check through read(), finds the value
 * before it. The rounds in between leave pages that were read in again
 * clean, so that reclaim frees them without writing them out: a read
 * through a stale entry after the free sees the page zeroed (the debug
 * kernel boots with init_on_free=1) or reused.
 */
#define RMAP_WRITE_EVERY	8

static void rmap_writer(int fd, int w)
{
	uint64_t expect[RMAP_HOT], v, seq = 0;
	unsigned long round;
	uint64_t *word;
	char *p;
	int h;

	if (pin_to(w))
		_exit(2);
	p = pt_map_aligned(fd, SIZE, PROT_READ | PROT_WRITE);
	if (!p)
		_exit(3);
	for (h = 0; h < RMAP_HOT; h++)
		expect[h] = tag(hot_page(h), 0);
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_RELEASE);
	for (round = 0; !LOAD(sh->stop); round++) {
		for (h = 0; h < RMAP_HOT; h++) {
			word = (uint64_t *)(p + hot_off(h, w));
			v = PT_LOAD(*word);
			if (v != expect[h]) {
				fail_msg("writer %d: page %lu: %#lx, not %#lx (stale TLB)",
					 w, hot_page(h), (unsigned long)v,
					 (unsigned long)expect[h]);
				goto out;
			}
			if (round % RMAP_WRITE_EVERY)
				continue;
			expect[h] = (uint64_t)(w + 1) << 56 | ++seq;
			PT_STORE(*word, expect[h]);
		}
	}
out:
	memcpy(sh->last[w], expect, sizeof(expect));
	__atomic_add_fetch(&sh->writes, seq, __ATOMIC_RELAXED);
	_exit(0);
}

/* move_pages() the hot pages to node 1, 0, 1, ...; how many moved. */
static long rmap_migrate(char *p, int node)
{
	void *pages[RMAP_HOT];
	int nodes[RMAP_HOT], status[RMAP_HOT], h;
	long moved = 0;

	for (h = 0; h < RMAP_HOT; h++) {
		pages[h] = p + hot_page(h) * PT_PAGE;
		nodes[h] = node;
	}
	if (syscall(__NR_move_pages, 0, RMAP_HOT, pages, nodes, status,
		    MPOL_MF_MOVE_ALL) < 0) {
		fail_msg("move_pages: %s", strerror(errno));
		return 0;
	}
	for (h = 0; h < RMAP_HOT; h++)
		moved += status[h] == node;
	return moved;
}

/*
 * The mover, on CPU 1: the first to map the file, so that its VMA comes
 * first in the file's i_mmap tree and a flush that reaches only the first
 * sharer misses both writers. It migrates the hot pages or reclaims the
 * cgroup that holds the file's pages until @secs are up.
 */
static void rmap_mover(int fd, enum rmap_op op, int secs)
{
	double end;
	int node = 1;
	char *p;

	if (pin_to(1))
		_exit(2);
	p = map_touched(fd);
	if (!p)
		_exit(3);
	STORE(sh->mapped, 1);
	while (LOAD(sh->ready) < RMAP_WRITERS)
		sched_yield();
	for (end = pt_now() + secs; pt_now() < end; sh->rounds++) {
		if (op == RMAP_MIGRATE) {
			sh->moved += rmap_migrate(p, node);
			node = !node;
		} else {
			/* Fails with EAGAIN once little is left: go on. */
			pt_write_file(RMAP_CG "/memory.reclaim", "4M");
		}
	}
	STORE(sh->stop, 1);
	_exit(0);
}

/* The file's pages, charged to RMAP_CG: the fill runs in there. */
static int rmap_fill_in_cgroup(void *arg)
{
	int fd = *(int *)arg;

	if (pt_cg_enter(RMAP_CG))
		return 1;
	if (ftruncate(fd, 0) || ftruncate(fd, SIZE) || fill(fd, 0))
		return 2;
	return 0;
}

struct rmap_counts {
	long attach, flush, batched, mms, moved, swapped;
};

static void rmap_counts(struct rmap_counts *c)
{
	c->attach = pt_read_vmstat("pt_share_attach");
	c->flush = pt_read_vmstat("pt_share_flush");
	c->batched = pt_read_vmstat("pt_share_flush_batched");
	c->mms = pt_read_vmstat("pt_share_flush_mms");
	c->moved = pt_read_vmstat("pgmigrate_success");
	c->swapped = pt_read_vmstat("pswpout");
}

/* One run, with vm.pt_share = @on; false if it could not be set up. */
static void rmap_run(struct __test_metadata *_metadata,
		     struct _test_data_cve *self, enum rmap_op op, bool on)
{
	static const char *const onoff[] = { "off", "on" };
	int secs = pt_full_mode() ? 30 : 4, w, h;
	struct rmap_counts c0, c1;
	pid_t mover, writer[RMAP_WRITERS];
	long entries;
	uint64_t v;

	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, on ? "1" : "0"));
	memset(sh, 0, sizeof(*sh));
	/* Fresh pages, charged to RMAP_CG for reclaim. */
	ASSERT_EQ(0, op == RMAP_RECLAIM ?
		     pt_in_child(rmap_fill_in_cgroup, &self->fd) :
		     fill(self->fd, 0));
	rmap_counts(&c0);
	mover = fork();
	ASSERT_LE(0, mover);
	if (!mover)
		rmap_mover(self->fd, op, secs);
	while (!LOAD(sh->mapped)) {
		ASSERT_NE(mover, waitpid(mover, NULL, WNOHANG));
		sched_yield();
	}
	for (w = 0; w < RMAP_WRITERS; w++) {
		writer[w] = fork();
		ASSERT_LE(0, writer[w]);
		if (!writer[w])
			rmap_writer(self->fd, w);
	}
	EXPECT_EQ(0, wait_pid_ok(mover));
	for (w = 0; w < RMAP_WRITERS; w++)
		EXPECT_EQ(0, wait_pid_ok(writer[w]));
	rmap_counts(&c1);

	/* What the file holds, read through no TLB at all. */
	for (w = 0; w < RMAP_WRITERS; w++)
		for (h = 0; h < RMAP_HOT; h++) {
			ASSERT_EQ((ssize_t)sizeof(v),
				  pread(self->fd, &v, sizeof(v), hot_off(h, w)));
			if (v != sh->last[w][h])
				fail_msg("after the run: writer %d, page %lu: %#lx, not %#lx",
					 w, hot_page(h), (unsigned long)v,
					 (unsigned long)sh->last[w][h]);
		}
	entries = c1.flush - c0.flush + c1.batched - c0.batched;
	TH_LOG("%s: %ld writes, %ld rounds; %ld pages migrated, %ld swapped out",
	       onoff[on], sh->writes, sh->rounds, c1.moved - c0.moved,
	       c1.swapped - c0.swapped);
	TH_LOG("%s: entries flushed %ld (batched %ld), from %ld mms", onoff[on],
	       entries, c1.batched - c0.batched, c1.mms - c0.mms);
	EXPECT_EQ(0, sh->fails) TH_LOG("%s: %s", onoff[on], sh->msg);
	EXPECT_LT(0, sh->writes);
	EXPECT_LT(0, op == RMAP_MIGRATE ? c1.moved - c0.moved :
					  c1.swapped - c0.swapped);
	if (!on) {
		EXPECT_EQ(0, entries);
		return;
	}
	/* Shared, and every cleared entry flushed from all three sharers. */
	EXPECT_LE(RMAP_SHARERS * NR_SPANS, c1.attach - c0.attach);
	EXPECT_LT(0, entries);
	EXPECT_EQ(RMAP_SHARERS * entries, c1.mms - c0.mms);
	/* Reclaim batches its flushes (migration does too, at first). */
	if (op == RMAP_RECLAIM)
		EXPECT_LT(0, c1.batched - c0.batched);
}

static void stale_tlb_rmap(struct __test_metadata *_metadata,
			   struct _test_data_cve *self, enum rmap_op op)
{
	two_cpus = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
	if (!two_cpus)
		TH_LOG("one CPU online: no cross-CPU flush to test, local only");
	ASSERT_EQ(0, pin_to(1));
	rmap_run(_metadata, self, op, false);
	rmap_run(_metadata, self, op, true);
	pt_leak_expect(self->s0);
}

TEST_F_TIMEOUT(cve, stale_tlb_after_migration, 600)
{
	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "needs two NUMA nodes (numa=fake=2)");
	stale_tlb_rmap(_metadata, self, RMAP_MIGRATE);
}

TEST_F_TIMEOUT(cve, stale_tlb_after_reclaim, 600)
{
	if (!pt_swap_setup(RMAP_CG, NULL)) {
		pt_swap_teardown(RMAP_CG);
		SKIP(return, "needs zram, mkswap and the memory controller");
	}
	stale_tlb_rmap(_metadata, self, RMAP_RECLAIM);
	pt_swap_teardown(RMAP_CG);
}

/* ---- the re-check under the table lock -------------------------------- */

#define WINDOW_MS	3000
#define SPAN_PAGES	(PT_SPAN / PT_PAGE)

static char *recheck_p;

/* How many of the SPAN_PAGES pages at @p this process's pagemap has present. */
static long present_pages(const char *p)
{
	uint64_t pm[SPAN_PAGES];
	int fd = open("/proc/self/pagemap", O_RDONLY);
	ssize_t n;
	long k, present = 0;

	if (fd < 0)
		return -1;
	n = pread(fd, pm, sizeof(pm), (unsigned long)p / PT_PAGE * sizeof(pm[0]));
	close(fd);
	if (n != sizeof(pm))
		return -1;
	for (k = 0; k < SPAN_PAGES; k++)
		present += pm[k] >> 63;
	return present;
}

/* Read every page of span 0 at @p (faulting it in): all hold their tags. */
static bool span0_ok(const char *p)
{
	unsigned long i;

	for (i = 0; i < SPAN_PAGES; i++)
		if (LOAD(*(const uint64_t *)(p + i * PT_PAGE)) != tag(i, 0))
			return false;
	return true;
}

/* P's thread T1: its MADV_DONTNEED of span 0 sleeps in the window. */
static void *recheck_zapper(void *arg)
{
	char ms[16];
	double t0;

	snprintf(ms, sizeof(ms), "%d", WINDOW_MS);
	if (pt_write_file(PT_WINDOW_DIR "/zap_window_ms", ms)) {
		fail_msg("arming the zap window: %s", strerror(errno));
	} else {
		t0 = pt_now();
		if (madvise(recheck_p, PT_SPAN, MADV_DONTNEED))
			fail_msg("MADV_DONTNEED: %s", strerror(errno));
		sh->zap_secs = pt_now() - t0;
	}
	STORE(sh->zapped, 1);
	return NULL;
}

/* P: maps span 0 into a private table, then zaps and faults it at once. */
static void recheck_process(int fd, unsigned long w0)
{
	pthread_t t1;

	recheck_p = pt_map_aligned(fd, SIZE, PROT_READ | PROT_WRITE);
	/* VM_NOHUGEPAGE: after the collapse, P faults the span by PTEs. */
	if (!recheck_p || madvise(recheck_p, SIZE, MADV_NOHUGEPAGE))
		_exit(1);
	if (!span0_ok(recheck_p))
		_exit(2);
	STORE(sh->ready, 1);
	while (!LOAD(sh->mapped))
		usleep(1000);
	if (pthread_create(&t1, NULL, recheck_zapper, NULL))
		_exit(3);
	/* T1 counts the window before it sleeps in it. */
	while (pt_read_ulong(PT_WINDOW_DIR "/zap_windows") == w0 &&
	       !LOAD(sh->zapped))
		usleep(1000);
	sh->vmpte_kb[0] = pt_proc_kb("/proc/self/status", "VmPTE");
	STORE(sh->window, 1);
	while (!LOAD(sh->collapsed))
		usleep(1000);
	sh->vmpte_kb[1] = pt_proc_kb("/proc/self/status", "VmPTE");
	/* The private table is gone: with sharing on, this attaches. */
	if (!span0_ok(recheck_p))
		fail_msg("P read a wrong tag after the collapse");
	STORE(sh->touched, 1);
	pthread_join(t1, NULL);
	if (!span0_ok(recheck_p))
		fail_msg("P read a wrong tag after its zap");
	_exit(0);
}

static void recheck_run(struct __test_metadata *_metadata,
			struct _test_data_cve *self, bool on)
{
	unsigned long w0 = pt_read_ulong(PT_WINDOW_DIR "/zap_windows");
	long a0, d0, attached, detached, present, early;
	int tries = 0, ret;
	char *c, *r;
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	/* Small folios again: the last run collapsed span 0. */
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, SIZE));
	ASSERT_EQ(0, fill(self->fd, 0));
	/* P's table is private: sharing is off when P faults. */
	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "0"));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		recheck_process(self->fd, w0);
	while (!LOAD(sh->ready))
		ASSERT_EQ(0, waitpid(pid, NULL, WNOHANG));
	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, on ? "1" : "0"));
	a0 = pt_read_vmstat("pt_share_attach");
	d0 = pt_read_vmstat("pt_share_detach_unmap");
	STORE(sh->mapped, 1);
	while (!LOAD(sh->window))
		usleep(1000);

	/* Collapse span 0: collapse_file() frees P's private table. */
	c = pt_map_aligned(self->fd, PT_SPAN, PROT_READ);
	ASSERT_NE(NULL, c);
	/* EAGAIN: a page of the span was busy for a moment (locked, off LRU). */
	do
		ret = madvise(c, PT_SPAN, MADV_COLLAPSE);
	while (ret && errno == EAGAIN && ++tries < 10);
	ASSERT_EQ(0, ret) TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	ASSERT_EQ(0, munmap(c, PT_SPAN));
	STORE(sh->collapsed, 1);
	while (!LOAD(sh->touched))
		usleep(1000);

	/* R: with sharing on, attached to the table P faulted into. */
	r = pt_map_aligned(self->fd, PT_SPAN, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, madvise(r, PT_SPAN, MADV_NOHUGEPAGE));
	ASSERT_TRUE(span0_ok(r));
	attached = pt_read_vmstat("pt_share_attach") - a0;
	early = LOAD(sh->zapped);
	while (!LOAD(sh->zapped))
		usleep(1000);
	/* Before any read of R, which would fault lost entries back in. */
	present = present_pages(r);
	ASSERT_EQ(0, wait_pid_ok(pid));
	detached = pt_read_vmstat("pt_share_detach_unmap") - d0;
	TH_LOG("sharing %s: P's VmPTE %ld -> %ld kB in the window, zap slept %.2f s,",
	       on ? "on" : "off", sh->vmpte_kb[0], sh->vmpte_kb[1],
	       sh->zap_secs);
	TH_LOG("  attaches %ld, unmap detaches %ld, R present %ld/%lu",
	       attached, detached, present, SPAN_PAGES);
	/* The collapse freed P's private table while T1 slept. */
	EXPECT_EQ(PT_PAGE >> 10, sh->vmpte_kb[0] - sh->vmpte_kb[1]);
	EXPECT_EQ(0, early) TH_LOG("T1's zap returned before R attached");
	EXPECT_EQ(w0 + 1, pt_read_ulong(PT_WINDOW_DIR "/zap_windows"));
	EXPECT_LE(WINDOW_MS / 1000.0 - 0.1, sh->zap_secs);
	/* P's zap cleared none of R's entries. */
	EXPECT_EQ(SPAN_PAGES, present);
	/* On: P and R attached, and P's zap detached P. Off: nobody. */
	EXPECT_EQ(on ? 2 : 0, attached);
	EXPECT_LE(on ? 1 : 0, detached);
	EXPECT_TRUE(span0_ok(r));
	EXPECT_EQ(0, munmap(r, PT_SPAN));
	report(_metadata);
}

TEST_F_TIMEOUT(cve, zap_recheck_window, 300)
{
	char buf[128] = "";

	if (access(PT_WINDOW_DIR "/zap_window_ms", F_OK))
		SKIP(return, "needs CONFIG_PT_SHARE_DEBUG_WINDOWS (the debug kernel) and debugfs");
	if (pt_read_file(THP_SHMEM_KNOB, buf, sizeof(buf)))
		SKIP(return, "needs shmem THP (CONFIG_TRANSPARENT_HUGEPAGE)");
	if (strstr(buf, "[deny]"))
		SKIP(return, "shmem THP is set to deny: MADV_COLLAPSE cannot free P's table");
	recheck_run(_metadata, self, false);
	recheck_run(_metadata, self, true);
	pt_leak_expect(self->s0);
}

/* ---- the zap before the erase ------------------------------------------- */

/* P: the only sharer; its munmap frees the tables and sleeps in the window. */
static void erase_process(int fd)
{
	char *p = pt_map_aligned(fd, SIZE, PROT_READ | PROT_WRITE);
	unsigned long off;
	char ms[16];

	if (!p)
		_exit(1);
	for (off = 0; off < SIZE; off += PT_PAGE)
		pt_touch(p + off);
	snprintf(ms, sizeof(ms), "%d", WINDOW_MS);
	if (pt_write_file(PT_WINDOW_DIR "/put_window_ms", ms))
		_exit(2);
	munmap(p, SIZE);
	_exit(0);
}

TEST_F_TIMEOUT(cve, erase_window, 300)
{
	unsigned long w0 = pt_read_ulong(PT_WINDOW_DIR "/put_windows");
	long f0 = pt_read_vmstat("pt_share_table_free");
	pid_t pid;

	if (access(PT_WINDOW_DIR "/put_window_ms", F_OK))
		SKIP(return, "needs CONFIG_PT_SHARE_DEBUG_WINDOWS (the debug kernel) and debugfs");
	/* The last put must free the table, not keep it idle. */
	if (!access(PT_IDLE_KNOB, F_OK))
		ASSERT_EQ(0, pt_write_file(PT_IDLE_KNOB, "0"));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		erase_process(self->fd);
	while (pt_read_ulong(PT_WINDOW_DIR "/put_windows") == w0) {
		ASSERT_EQ(0, waitpid(pid, NULL, WNOHANG));
		usleep(1000);
	}
	/* Span 0's table is out of the cache and not yet freed: truncate. */
	ASSERT_EQ(0, ftruncate(self->fd, 0));
	ASSERT_EQ(0, ftruncate(self->fd, SIZE));
	ASSERT_EQ(0, wait_pid_ok(pid));
	TH_LOG("windows slept %lu, tables freed %ld",
	       pt_read_ulong(PT_WINDOW_DIR "/put_windows") - w0,
	       pt_read_vmstat("pt_share_table_free") - f0);
	EXPECT_EQ(w0 + 1, pt_read_ulong(PT_WINDOW_DIR "/put_windows"));
	EXPECT_EQ(NR_SPANS, pt_read_vmstat("pt_share_table_free") - f0);
	pt_leak_expect(self->s0);
}

TEST_HARNESS_MAIN
