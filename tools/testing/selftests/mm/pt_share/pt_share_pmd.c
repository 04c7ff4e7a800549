// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_pmd: shared PMD tables, one per GiB of a file
 *
 * Every case maps a 1 GiB memfd at a 1 GiB-aligned address in forked
 * processes, each of which reads every page; the results are for the PMD
 * level (the 2 MiB level is pt_share_sharing's).
 *
 * attach_and_exit: N = 4 holders, first with vm.pt_share=0, then with 1.
 *   With sharing, one PMD table and 512 PTE tables are allocated for all
 *   of them (pt_share_pmd_table_alloc, pt_share_table_alloc), each holder
 *   attaches once at the PUD level (pt_share_pmd_attach), and PageTables
 *   grows by at least (N - 1) x 2,052 kB x 0.9 less than without. A fifth
 *   process then reads the whole GiB in at most 4 faults. When all exit,
 *   every counter and PageTables are back at their start.
 * partial_*: a holder H keeps the GiB mapped and read; a child C maps it,
 *   reads it, and changes its own view of part of it:
 *     mprotect: one page read-only, so C's write there faults;
 *     munmap: one 2 MiB span, which C can no longer read;
 *     mremap: one 2 MiB span moved elsewhere, where C reads it;
 *     split: one 2 MiB span PROT_READ and back, which splits the VMA at
 *            two span boundaries and merges it again;
 *     dontneed: MADV_DONTNEED of one span, after which C's RssShmem is
 *            2 MiB lower (the span's pages are no longer mapped in C);
 *     uffd: userfaultfd registration (missing mode) of one span.
 *   C detaches from the PMD table (pt_share_pmd_detach moves by one) but
 *   stays attached to the PTE tables of the other spans: PageTables grows
 *   by at most a PMD table and a few PTE tables, not 512. C and H then
 *   read every page they still map and find the data written before;
 *   a write by C after the change is seen by H. Nothing leaks.
 * gup_fast_vs_pud_detach, gup_fast_vs_pud_free (the CVE-2025-38085 class
 *   at the PUD level): a thread of C on CPU 0 vmsplice()s a page of the
 *   GiB, and GUP-fast, which takes a page reference through the shared
 *   PMD table, spins with IRQs off before its recheck (a debugfs window of
 *   the debug kernel). Meanwhile C's other thread, on CPU 1, unmaps the
 *   GiB: the PUD entry is cleared, and the detach waits in its flush. The
 *   recheck must then see that C no longer maps the PMD table and back
 *   off: the vmsplice() fails with EFAULT instead of pinning a page C no
 *   longer maps. With a holder H the table stays; without, it is freed
 *   (after RCU, which the spinning CPU holds back). Nothing leaks.
 * rmap_punch_truncate, rmap_move_pages, rmap_swap: two holders H and C
 *   keep the GiB attached through the shared PMD table while the file's
 *   rmap side changes entries under it, once for both:
 *     punch_truncate: a span punched reads zeroes in both, then the file
 *            truncated to half raises SIGBUS past its end in both;
 *     move_pages: a third process moves one span's pages to the other
 *            node (MPOL_MF_MOVE_ALL): every entry cleared is flushed from
 *            the three processes, and the pages end up there;
 *     swap: the file's pages are charged to a memcg whose memory.max is
 *            then set 24 MiB below its usage, which swaps them out to
 *            zram; with the limit lifted, both read every page back.
 *   Neither holder detaches from the PMD table; the data is verified in
 *   both.
 * fork_storm: a process holding the GiB forks 16 children at once, each
 *   of which forks a grandchild; each reads the whole GiB in a few faults
 *   (fork copies no shared PMD table: each attaches it on its first
 *   fault) and exits. Every counter and PageTables end where they began.
 * split_race (the CVE-2025-38084 class at the PUD level): in C, one
 *   thread makes a page of the GiB read-only and writable again, which
 *   splits its VMA inside the GiB and merges it, over and over, while a
 *   second thread keeps faulting the GiB and tries to write the page each
 *   time it is read-only; a process B maps, reads and unmaps the GiB in a
 *   loop, so that the shared PMD table is attached, released and created
 *   again meanwhile. No write to the read-only page may succeed, every
 *   read is right, and nothing leaks.
 * stale_tlb_after_pud_detach, stale_tlb_after_last_pud_detach (the
 *   CVE-2021-4002 class at the PUD level): a reader thread of C on CPU 0
 *   keeps reading 8 pages of the GiB, which C maps and unmaps whole on
 *   CPU 1, over and over; after each munmap() the parent punches those
 *   pages and writes them again, so that their pages are reused. Only the
 *   PUD detach's flush clears the reader's TLB (the munmap zaps nothing
 *   and frees no table): a read that succeeds after munmap() returned is
 *   a stale entry. With a holder H, and with C the last to detach.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "../../kselftest_harness.h"
#include "pt_share_util.h"

#define GIB		(1024UL * 1024 * 1024)
#define NR_SPANS	(GIB / PT_SPAN)
/* Flags between the threads and processes of a test. */
#define LD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define ST(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* The span a test changes: the 100th of the GiB; a page inside it. */
#define OP_SPAN		(100 * PT_SPAN)
#define OP_PAGE		(OP_SPAN + 7 * PT_PAGE)
/* One PMD table and the PTE tables of a GiB, in kB. */
#define GIB_TABLES_KB	((1 + NR_SPANS) * 4)

struct counters {
	long pmd_attach, pmd_detach, pmd_alloc, pmd_free;
	long attach, alloc, free, pagetables_kb;
};

static void snap(struct counters *c)
{
	c->pmd_attach = pt_read_vmstat("pt_share_pmd_attach");
	c->pmd_detach = pt_read_vmstat("pt_share_pmd_detach");
	c->pmd_alloc = pt_read_vmstat("pt_share_pmd_table_alloc");
	c->pmd_free = pt_read_vmstat("pt_share_pmd_table_free");
	c->attach = pt_read_vmstat("pt_share_attach");
	c->alloc = pt_read_vmstat("pt_share_table_alloc");
	c->free = pt_read_vmstat("pt_share_table_free");
	c->pagetables_kb = pt_settled_pagetables_kb();
}

/* Map the GiB of @fd at a 1 GiB-aligned address. */
static char *map_gib(int fd)
{
	return pt_map_aligned_to(fd, GIB, PROT_READ | PROT_WRITE, GIB);
}

/* The tag of page @i: its first byte, as written by fill(). */
static char tag_of(unsigned long i, char tag)
{
	return (char)(tag + i % 61);
}

static int fill(int fd, char tag)
{
	static char buf[PT_SPAN];
	unsigned long i, j;

	for (i = 0; i < NR_SPANS; i++) {
		for (j = 0; j < PT_SPAN / PT_PAGE; j++)
			buf[j * PT_PAGE] = tag_of(i * (PT_SPAN / PT_PAGE) + j, tag);
		if (pwrite(fd, buf, PT_SPAN, i * PT_SPAN) != PT_SPAN)
			return -1;
	}
	return 0;
}

/* Read every page of [from, to) of the GiB at @p: the number of bad ones. */
static unsigned long check(char *p, unsigned long from, unsigned long to,
			   char tag)
{
	unsigned long i, bad = 0;

	for (i = from / PT_PAGE; i < to / PT_PAGE; i++)
		bad += PT_LOAD(p[i * PT_PAGE]) != tag_of(i, tag);
	return bad;
}

/* ---- holders: processes that keep the GiB mapped ----------------------- */

struct holder {
	pid_t pid;
	int cmd, ack;
};

/* What a holder expects to read: the whole GiB, or after a punch or a truncation. */
static int check_view(char *p, char view, char tag)
{
	uint64_t v;
	unsigned long i;

	switch (view) {
	case 'c':
		return check(p, 0, GIB, tag) ? 1 : 0;
	case 'z':	/* the span at OP_SPAN punched: it reads zeroes */
		for (i = OP_SPAN / PT_PAGE; i < (OP_SPAN + PT_SPAN) / PT_PAGE; i++)
			if (PT_LOAD(p[i * PT_PAGE]))
				return 2;
		return check(p, 0, OP_SPAN, tag) ||
		       check(p, OP_SPAN + PT_SPAN, GIB, tag) ? 1 : 0;
	case 't':	/* then truncated to half: past it is past EOF */
		if (pt_access64((uint64_t *)(p + GIB / 2), false, &v) != SIGBUS ||
		    pt_access64((uint64_t *)(p + GIB - 8), false, &v) != SIGBUS)
			return 3;
		for (i = OP_SPAN / PT_PAGE; i < (OP_SPAN + PT_SPAN) / PT_PAGE; i++)
			if (PT_LOAD(p[i * PT_PAGE]))
				return 2;
		return check(p, 0, OP_SPAN, tag) ||
		       check(p, OP_SPAN + PT_SPAN, GIB / 2, tag) ? 1 : 0;
	}
	return 4;
}

/*
 * A holder maps and reads the GiB, acks, then runs commands: a view
 * ('c' all, 'z' punched span, 't' truncated) and a tag check what it
 * maps, 'q' quits. Each ack byte is 0 on success.
 */
static void holder_main(int fd, int cmd, int ack)
{
	char *p = map_gib(fd);
	char c, tag, ok = p && !check(p, 0, GIB, 'a') ? 0 : 1;

	pt_fault_setup();
	if (write(ack, &ok, 1) != 1)
		_exit(1);
	while (read(cmd, &c, 1) == 1 && c != 'q') {
		if (read(cmd, &tag, 1) != 1)
			break;
		ok = p ? check_view(p, c, tag) : 1;
		if (write(ack, &ok, 1) != 1)
			break;
	}
	_exit(0);
}

static int holder_start(struct holder *h, int fd)
{
	int c[2], a[2];
	char ok;

	if (pipe(c) || pipe(a))
		return -1;
	fflush(NULL);
	h->pid = fork();
	if (!h->pid) {
		close(c[1]);
		close(a[0]);
		holder_main(fd, c[0], a[1]);
	}
	close(c[0]);
	close(a[1]);
	h->cmd = c[1];
	h->ack = a[0];
	if (h->pid < 0 || read(h->ack, &ok, 1) != 1)
		return -1;
	return ok;
}

static int holder_view(struct holder *h, char view, char tag)
{
	char buf[2] = { view, tag }, ok;

	if (write(h->cmd, buf, 2) != 2 || read(h->ack, &ok, 1) != 1)
		return -1;
	return ok;
}

static int holder_check(struct holder *h, char tag)
{
	return holder_view(h, 'c', tag);
}

static int holder_stop(struct holder *h)
{
	int st;

	if (write(h->cmd, "q", 1) != 1 || waitpid(h->pid, &st, 0) != h->pid)
		return -1;
	close(h->cmd);
	close(h->ack);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Minor faults of a fresh process that maps the GiB and reads all of it. */
static long late_reader_faults(int fd)
{
	int pfd[2];
	long faults = -1;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	fflush(NULL);
	pid = fork();
	if (!pid) {
		struct rusage r0, r1;
		char *p;

		getrusage(RUSAGE_SELF, &r0);
		p = map_gib(fd);
		if (p && !check(p, 0, GIB, 'a')) {
			getrusage(RUSAGE_SELF, &r1);
			faults = r1.ru_minflt - r0.ru_minflt;
		}
		if (write(pfd[1], &faults, sizeof(faults)) != sizeof(faults))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &faults, sizeof(faults)) != sizeof(faults))
		faults = -1;
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	return faults;
}

FIXTURE(pmd) {
	struct pt_knobs knobs;
	struct pt_leak_snap s0;
	int fd;
};

FIXTURE_SETUP(pmd)
{
	ASSERT_EQ(0, pt_knobs_save_and_enable(&self->knobs, true))
		TH_LOG("cannot set the pt_share sysctls: not a pt_share kernel, or not root");
	if (pt_read_vmstat("pt_share_pmd_attach") < 0)
		SKIP(return, "no pt_share_pmd_attach in /proc/vmstat: PMD tables not shared");
	self->fd = memfd_create("pt_share_pmd", 0);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, GIB));
	ASSERT_EQ(0, fill(self->fd, 'a'));
	pt_leak_snap(&self->s0);
}

FIXTURE_TEARDOWN(pmd)
{
	if (self->fd >= 0)
		close(self->fd);
	pt_knobs_restore(&self->knobs);
}

#define NR_HOLDERS	4

TEST_F_TIMEOUT(pmd, attach_and_exit, 600)
{
	struct holder h[NR_HOLDERS];
	struct counters c0, c1, c2;
	long grow_off, grow_on, faults;
	int i;

	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "0"));
	snap(&c0);
	for (i = 0; i < NR_HOLDERS; i++)
		ASSERT_EQ(0, holder_start(&h[i], self->fd));
	snap(&c1);
	grow_off = c1.pagetables_kb - c0.pagetables_kb;
	for (i = 0; i < NR_HOLDERS; i++)
		ASSERT_EQ(0, holder_stop(&h[i]));

	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "1"));
	snap(&c0);
	for (i = 0; i < NR_HOLDERS; i++)
		ASSERT_EQ(0, holder_start(&h[i], self->fd));
	snap(&c1);
	grow_on = c1.pagetables_kb - c0.pagetables_kb;
	TH_LOG("PageTables growth for %d holders of 1 GiB: %ld kB unshared, %ld kB shared",
	       NR_HOLDERS, grow_off, grow_on);
	EXPECT_EQ(NR_HOLDERS, c1.pmd_attach - c0.pmd_attach);
	EXPECT_EQ(1, c1.pmd_alloc - c0.pmd_alloc);
	EXPECT_EQ(NR_SPANS, c1.alloc - c0.alloc);
	/* Each PTE table is attached once, into the PMD table. */
	EXPECT_EQ(NR_SPANS, c1.attach - c0.attach);
	EXPECT_GE(grow_off - grow_on, (long)(NR_HOLDERS - 1) * GIB_TABLES_KB * 9 / 10);

	faults = late_reader_faults(self->fd);
	TH_LOG("a fifth process read 1 GiB in %ld faults", faults);
	EXPECT_LE(0, faults);
	EXPECT_GE(4, faults);

	for (i = 0; i < NR_HOLDERS; i++)
		ASSERT_EQ(0, holder_stop(&h[i]));
	snap(&c2);
	EXPECT_EQ(c2.pmd_attach - c0.pmd_attach, c2.pmd_detach - c0.pmd_detach);
	EXPECT_EQ(c2.pmd_alloc - c0.pmd_alloc, c2.pmd_free - c0.pmd_free);
	pt_leak_expect(self->s0);
}

/* ---- partial changes of one mm's view ---------------------------------- */

enum partial_op {
	OP_MPROTECT, OP_MUNMAP, OP_MREMAP, OP_SPLIT, OP_DONTNEED, OP_UFFD
};

/* partial_child()'s exit status when the kernel has no userfaultfd. */
#define NO_UFFD		20

/* Register [@p, @p + @len) with a new userfaultfd, in missing mode. */
static int uffd_register(char *p, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg))
		return -EIO;
	return fd;	/* kept open: closing it would unregister */
}

/*
 * The child: map and read, change the view, then check what it still maps
 * and write tag 'b' into the first page of the last span (which it still
 * maps). Exit status: 0, or the step that failed.
 */
static int partial_child(int fd, enum partial_op op, long *pte_growth)
{
	long before, after, pmd_detach, rss = 0;
	int uffd;
	uint64_t v = 0;
	char *p = map_gib(fd), *q;

	if (!p || check(p, 0, GIB, 'a'))
		return 10;
	pmd_detach = pt_read_vmstat("pt_share_pmd_detach");
	before = pt_settled_pagetables_kb();
	switch (op) {
	case OP_MPROTECT:
		if (mprotect(p + OP_PAGE, PT_PAGE, PROT_READ))
			return 11;
		v = 'x';
		if (pt_access64((uint64_t *)(p + OP_PAGE), true, &v) != SIGSEGV)
			return 12;
		break;
	case OP_MUNMAP:
		if (munmap(p + OP_SPAN, PT_SPAN))
			return 11;
		if (pt_access64((uint64_t *)(p + OP_SPAN), false, &v) != SIGSEGV)
			return 12;
		break;
	case OP_MREMAP:
		q = mmap(NULL, 2 * PT_SPAN, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q == MAP_FAILED)
			return 11;
		q = mremap(p + OP_SPAN, PT_SPAN, PT_SPAN,
			   MREMAP_MAYMOVE | MREMAP_FIXED, q);
		if (q == MAP_FAILED)
			return 11;
		if (check(q - OP_SPAN, OP_SPAN, OP_SPAN + PT_SPAN, 'a'))
			return 13;
		if (pt_access64((uint64_t *)(p + OP_SPAN), false, &v) != SIGSEGV)
			return 12;
		break;
	case OP_SPLIT:
		if (mprotect(p + OP_SPAN, PT_SPAN, PROT_READ) ||
		    mprotect(p + OP_SPAN, PT_SPAN, PROT_READ | PROT_WRITE))
			return 11;
		break;
	case OP_DONTNEED:
		rss = pt_proc_kb("/proc/self/status", "RssShmem");
		if (madvise(p + OP_SPAN, PT_SPAN, MADV_DONTNEED))
			return 11;
		/* Zapped in C only: H still maps the span. */
		if (rss - pt_proc_kb("/proc/self/status", "RssShmem") !=
		    (long)(PT_SPAN / 1024))
			return 16;
		break;
	case OP_UFFD:
		/* The sysctl exists exactly when userfaultfd(2) does. */
		if (access("/proc/sys/vm/unprivileged_userfaultfd", F_OK))
			return NO_UFFD;
		uffd = uffd_register(p + OP_SPAN, PT_SPAN);
		if (uffd < 0)
			return 11;
		break;
	}
	after = pt_settled_pagetables_kb();
	*pte_growth = after - before;
	if (pt_read_vmstat("pt_share_pmd_detach") - pmd_detach != 1)
		return 14;
	/* Every page still mapped where it was reads as before. */
	if (op == OP_MUNMAP || op == OP_MREMAP) {
		if (check(p, 0, OP_SPAN, 'a') ||
		    check(p, OP_SPAN + PT_SPAN, GIB, 'a'))
			return 15;
	} else if (check(p, 0, GIB, 'a')) {
		return 15;
	}
	/* A write into a span still shared is everyone's. */
	p[GIB - PT_SPAN] = tag_of((GIB - PT_SPAN) / PT_PAGE, 'b');
	return 0;
}

static void run_partial(struct __test_metadata *_metadata,
			struct _test_data_pmd *self, enum partial_op op)
{
	struct holder h;
	long growth = -1;
	int pfd[2], st;
	pid_t pid;

	ASSERT_EQ(0, holder_start(&h, self->fd));
	ASSERT_EQ(0, pipe(pfd));
	fflush(NULL);
	pid = fork();
	if (!pid) {
		pt_fault_setup();
		st = partial_child(self->fd, op, &growth);
		if (write(pfd[1], &growth, sizeof(growth)) != sizeof(growth))
			_exit(1);
		_exit(st);
	}
	close(pfd[1]);
	ASSERT_EQ(sizeof(growth), read(pfd[0], &growth, sizeof(growth)));
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	if (WEXITSTATUS(st) == NO_UFFD) {
		ASSERT_EQ(0, holder_stop(&h));
		SKIP(return, "userfaultfd(2) is not built in (CONFIG_USERFAULTFD)");
	}
	EXPECT_EQ(0, WEXITSTATUS(st))
		TH_LOG("the child failed at step %d", WEXITSTATUS(st));
	TH_LOG("PageTables grew by %ld kB as the child changed its view", growth);
	/* Its own PMD table and a few tables more, not 512. */
	EXPECT_GE(6 * 4, growth);
	/* H still reads the GiB; the last page of it now has the child's tag. */
	EXPECT_EQ(1, holder_check(&h, 'a'));
	EXPECT_EQ(0, fill(self->fd, 'a'));
	EXPECT_EQ(0, holder_check(&h, 'a'));
	ASSERT_EQ(0, holder_stop(&h));
	pt_leak_expect(self->s0);
}

TEST_F_TIMEOUT(pmd, partial_mprotect, 600)
{
	run_partial(_metadata, self, OP_MPROTECT);
}

TEST_F_TIMEOUT(pmd, partial_munmap, 600)
{
	run_partial(_metadata, self, OP_MUNMAP);
}

TEST_F_TIMEOUT(pmd, partial_mremap, 600)
{
	run_partial(_metadata, self, OP_MREMAP);
}

TEST_F_TIMEOUT(pmd, partial_split, 600)
{
	run_partial(_metadata, self, OP_SPLIT);
}

TEST_F_TIMEOUT(pmd, partial_dontneed, 600)
{
	run_partial(_metadata, self, OP_DONTNEED);
}

TEST_F_TIMEOUT(pmd, partial_uffd, 600)
{
	run_partial(_metadata, self, OP_UFFD);
}

/* ---- rmap-driven changes under a shared PMD table ---------------------- */

#define PMD_CG		"/sys/fs/cgroup/pt_share_pmd"

TEST_F_TIMEOUT(pmd, rmap_punch_truncate, 600)
{
	long detach0 = pt_read_vmstat("pt_share_pmd_detach");
	struct holder h, c;

	ASSERT_EQ(0, holder_start(&h, self->fd));
	ASSERT_EQ(0, holder_start(&c, self->fd));
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       OP_SPAN, PT_SPAN));
	EXPECT_EQ(0, holder_view(&h, 'z', 'a'));
	EXPECT_EQ(0, holder_view(&c, 'z', 'a'));
	ASSERT_EQ(0, ftruncate(self->fd, GIB / 2));
	EXPECT_EQ(0, holder_view(&h, 't', 'a'));
	EXPECT_EQ(0, holder_view(&c, 't', 'a'));
	/* The rmap side changed the entries, not the holders' PUD entries. */
	EXPECT_EQ(detach0, pt_read_vmstat("pt_share_pmd_detach"));
	ASSERT_EQ(0, holder_stop(&h));
	ASSERT_EQ(0, holder_stop(&c));
	pt_leak_expect(self->s0);
}

/* A third process moves the span at OP_SPAN to the other node. */
static int move_span(void *arg)
{
	unsigned long i, n = PT_SPAN / PT_PAGE;
	int *fd = arg, nodes[PT_SPAN / PT_PAGE], status[PT_SPAN / PT_PAGE];
	void *pages[PT_SPAN / PT_PAGE];
	char *p = map_gib(*fd);

	if (!p)
		return 10;
	for (i = 0; i < n; i++)
		pages[i] = p + OP_SPAN + i * PT_PAGE;
	if (check(p, OP_SPAN, OP_SPAN + PT_SPAN, 'a') ||
	    syscall(__NR_move_pages, 0, n, pages, NULL, nodes, 0))
		return 11;
	for (i = 0; i < n; i++) {
		if (nodes[i] < 0)
			return 12;
		nodes[i] = !nodes[i];
	}
	if (syscall(__NR_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE_ALL))
		return 13;
	for (i = 0; i < n; i++)
		if (status[i] != nodes[i])
			return 14;
	return check(p, 0, GIB, 'a') ? 15 : 0;
}

TEST_F_TIMEOUT(pmd, rmap_move_pages, 600)
{
	long detach0 = pt_read_vmstat("pt_share_pmd_detach");
	long f0, b0, m0, entries, mms;
	struct holder h, c;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "needs two NUMA nodes (numa=fake=2)");
	ASSERT_EQ(0, holder_start(&h, self->fd));
	ASSERT_EQ(0, holder_start(&c, self->fd));
	f0 = pt_read_vmstat("pt_share_flush");
	b0 = pt_read_vmstat("pt_share_flush_batched");
	m0 = pt_read_vmstat("pt_share_flush_mms");
	EXPECT_EQ(0, pt_in_child(move_span, &self->fd));
	entries = pt_read_vmstat("pt_share_flush") - f0 +
		  pt_read_vmstat("pt_share_flush_batched") - b0;
	mms = pt_read_vmstat("pt_share_flush_mms") - m0;
	TH_LOG("%ld shared entries cleared and flushed, reaching %ld mms", entries, mms);
	/* Each entry of the span, flushed from H, C and the mover. */
	EXPECT_LE((long)(PT_SPAN / PT_PAGE), entries);
	EXPECT_LE(3 * entries, mms);
	EXPECT_EQ(0, holder_check(&h, 'a'));
	EXPECT_EQ(0, holder_check(&c, 'a'));
	/* The mover's exit detached; H and C did not. */
	EXPECT_EQ(detach0 + 1, pt_read_vmstat("pt_share_pmd_detach"));
	ASSERT_EQ(0, holder_stop(&h));
	ASSERT_EQ(0, holder_stop(&c));
	pt_leak_expect(self->s0);
}

/* Write the file again from inside @arg's memcg, which is charged for it. */
static int fill_in_cg(void *arg)
{
	int *fd = arg;

	if (pt_cg_enter(PMD_CG))
		return 10;
	return fill(*fd, 'a') ? 11 : 0;
}

static long swap_used_kb(void)
{
	return pt_proc_kb("/proc/meminfo", "SwapTotal") -
	       pt_proc_kb("/proc/meminfo", "SwapFree");
}

TEST_F_TIMEOUT(pmd, rmap_swap, 900)
{
	long detach0 = pt_read_vmstat("pt_share_pmd_detach"), cur, sw0, sw1;
	struct holder h, c;
	char max[32];

	if (!pt_swap_setup(PMD_CG, NULL)) {
		pt_swap_teardown(PMD_CG);
		SKIP(return, "needs zram, mkswap and the memory controller");
	}
	/* The pages are charged to the memcg that allocates them. */
	ASSERT_EQ(0, ftruncate(self->fd, 0));
	ASSERT_EQ(0, ftruncate(self->fd, GIB));
	ASSERT_EQ(0, pt_in_child(fill_in_cg, &self->fd));
	ASSERT_EQ(0, holder_start(&h, self->fd));
	ASSERT_EQ(0, holder_start(&c, self->fd));
	cur = pt_read_ulong(PMD_CG "/memory.current");
	sw0 = swap_used_kb();
	snprintf(max, sizeof(max), "%ld", cur - 24L * 1024 * 1024);
	/* Reclaims down to the limit, through H's and C's shared tables. */
	EXPECT_EQ(0, pt_write_file(PMD_CG "/memory.max", max));
	sw1 = swap_used_kb();
	TH_LOG("memcg %ld kB -> %lu kB, swap used %ld -> %ld kB", cur / 1024,
	       pt_read_ulong(PMD_CG "/memory.current") / 1024, sw0, sw1);
	EXPECT_LE(16 * 1024, sw1 - sw0);
	EXPECT_EQ(0, pt_write_file(PMD_CG "/memory.max", "max"));
	/* Swapped in through the shared tables, in both. */
	EXPECT_EQ(0, holder_check(&h, 'a'));
	EXPECT_EQ(0, holder_check(&c, 'a'));
	EXPECT_EQ(detach0, pt_read_vmstat("pt_share_pmd_detach"));
	ASSERT_EQ(0, holder_stop(&h));
	ASSERT_EQ(0, holder_stop(&c));
	close(self->fd);
	self->fd = -1;
	pt_swap_teardown(PMD_CG);
	pt_leak_expect(self->s0);
}

/* ---- fork storms -------------------------------------------------------- */

#define STORM_CHILDREN	16

/* Read the GiB: exit 0 if right and in a few faults (the PMD table). */
static int storm_read(char *p)
{
	struct rusage r0, r1;

	getrusage(RUSAGE_SELF, &r0);
	if (check(p, 0, GIB, 'a'))
		return 1;
	getrusage(RUSAGE_SELF, &r1);
	return r1.ru_minflt - r0.ru_minflt > 8 ? 2 : 0;
}

static int storm(void *arg)
{
	pid_t pids[STORM_CHILDREN], gc;
	int *fd = arg, i, st, gst, bad = 0;
	char *p = map_gib(*fd);

	if (!p || check(p, 0, GIB, 'a'))
		return 10;
	fflush(NULL);
	for (i = 0; i < STORM_CHILDREN; i++) {
		pids[i] = fork();
		if (!pids[i]) {
			gc = fork();
			if (!gc)
				_exit(storm_read(p));
			st = storm_read(p);
			if (gc < 0 || waitpid(gc, &gst, 0) != gc || !WIFEXITED(gst))
				_exit(3);
			_exit(st ? 4 : WEXITSTATUS(gst));
		}
	}
	for (i = 0; i < STORM_CHILDREN; i++) {
		if (pids[i] < 0 || waitpid(pids[i], &st, 0) != pids[i] ||
		    !WIFEXITED(st) || WEXITSTATUS(st))
			bad = 20 + i;
	}
	return bad;
}

TEST_F_TIMEOUT(pmd, fork_storm, 900)
{
	long a0 = pt_read_vmstat("pt_share_pmd_attach");
	long d0 = pt_read_vmstat("pt_share_pmd_detach");
	long a1, d1;

	EXPECT_EQ(0, pt_in_child(storm, &self->fd));
	a1 = pt_read_vmstat("pt_share_pmd_attach") - a0;
	d1 = pt_read_vmstat("pt_share_pmd_detach") - d0;
	TH_LOG("%ld PUD attaches, %ld detaches", a1, d1);
	/* The holder, each child and each grandchild attached once. */
	EXPECT_LE(1 + 2 * STORM_CHILDREN, a1);
	EXPECT_EQ(a1, d1);
	pt_leak_expect(self->s0);
}

/* ---- GUP-fast against a PUD detach (the CVE-2025-38085 class) ---------- */

#define GUP_WINDOW	PT_WINDOW_DIR "/gup_window_ms"
#define GUP_WINDOWS	PT_WINDOW_DIR "/gup_windows"
#define GUP_SPIN_MS	400
#define GUP_PAGE	(200 * PT_SPAN + 3 * PT_PAGE)
/* gup_child()'s exit status when the unmap missed the window. */
#define GUP_MISSED	30

struct gup_race {
	char *p;
	int go;
	long ret;
	int err;
	double t_end;
	char byte;
};

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* On CPU 0: arm the window for this thread, then vmsplice() one page. */
static void *gup_thread(void *arg)
{
	struct gup_race *g = arg;
	struct iovec iov = { g->p + GUP_PAGE, PT_PAGE };
	char ms[16];
	int pfd[2];

	snprintf(ms, sizeof(ms), "%d", GUP_SPIN_MS);
	g->ret = -2;
	if (pin_cpu(0) || pipe(pfd) || pt_write_file(GUP_WINDOW, ms)) {
		__atomic_store_n(&g->go, -1, __ATOMIC_RELEASE);
		return NULL;
	}
	__atomic_store_n(&g->go, 1, __ATOMIC_RELEASE);
	g->ret = vmsplice(pfd[1], &iov, 1, 0);
	g->err = errno;
	g->t_end = pt_now();
	if (g->ret == PT_PAGE && read(pfd[0], &g->byte, 1) != 1)
		g->ret = -3;
	pt_write_file(GUP_WINDOW, "0");
	close(pfd[0]);
	close(pfd[1]);
	return NULL;
}

/* C: map and read the GiB, then race its unmap against the vmsplice(). */
static int gup_child(int fd)
{
	struct gup_race g = { .p = map_gib(fd) };
	unsigned long w0 = pt_read_ulong(GUP_WINDOWS);
	double t_unmap;
	pthread_t t;
	int go;

	if (!g.p || check(g.p, 0, GIB, 'a'))
		return 10;
	if (pin_cpu(1) || pthread_create(&t, NULL, gup_thread, &g))
		return 11;
	while (!(go = __atomic_load_n(&g.go, __ATOMIC_ACQUIRE)))
		;
	if (go < 0)
		return 12;
	/* Well inside the spin: GUP-fast holds its reference by now. */
	usleep(GUP_SPIN_MS * 1000 / 8);
	t_unmap = pt_now();
	if (munmap(g.p, GIB))
		return 13;
	pthread_join(t, NULL);
	if (g.ret < -1)
		return 14;
	if (pt_read_ulong(GUP_WINDOWS) != w0 + 1)
		return 15;	/* GUP-fast did not go through a PMD table */
	if (g.t_end < t_unmap + GUP_SPIN_MS / 4000.0)
		return GUP_MISSED;
	/* Pinned through a PMD table that C no longer mapped. */
	if (g.ret != -1 || g.err != EFAULT)
		return 16;
	return 0;
}

static void run_gup_race(struct __test_metadata *_metadata,
			 struct _test_data_pmd *self, bool holder)
{
	long detach0 = pt_read_vmstat("pt_share_pmd_detach");
	struct holder h;
	int st = GUP_MISSED, round;
	pid_t pid;

	if (access(GUP_WINDOW, F_OK))
		SKIP(return, "needs CONFIG_PT_SHARE_DEBUG_WINDOWS (the debug kernel) and debugfs");
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs: the unmap must run while GUP-fast spins");
	if (holder)
		ASSERT_EQ(0, holder_start(&h, self->fd));
	/* A round whose unmap came after the spin proves nothing: retry. */
	for (round = 0; round < 3 && st == GUP_MISSED; round++) {
		fflush(NULL);
		pid = fork();
		if (!pid)
			_exit(gup_child(self->fd));
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		ASSERT_TRUE(WIFEXITED(st));
		st = WEXITSTATUS(st);
	}
	EXPECT_EQ(0, st) TH_LOG("the child failed at step %d%s", st,
				st == GUP_MISSED ? " (the unmap never came inside the window)" :
				st == 16 ? " (GUP-fast pinned a page after the PUD detach)" : "");
	EXPECT_LE(round, pt_read_vmstat("pt_share_pmd_detach") - detach0);
	if (holder) {
		EXPECT_EQ(0, holder_check(&h, 'a'));
		ASSERT_EQ(0, holder_stop(&h));
	}
	pt_leak_expect(self->s0);
}

TEST_F_TIMEOUT(pmd, gup_fast_vs_pud_detach, 600)
{
	run_gup_race(_metadata, self, true);
}

TEST_F_TIMEOUT(pmd, gup_fast_vs_pud_free, 600)
{
	run_gup_race(_metadata, self, false);
}

/* ---- a split inside the GiB racing attaches (the CVE-2025-38084 class) - */

#define SPLIT_ROUNDS	100

struct split_race {
	int ro, tried, stop;
	long bad_writes, bad_reads, rounds;
	char *p;
};

static struct split_race *sr;

/* C's faulting thread, on CPU 0: read spans, write the page when told. */
static void *split_faulter(void *arg)
{
	unsigned long span = 0;
	uint64_t v, w;

	pin_cpu(0);
	while (!LD(sr->stop)) {
		span = (span + 37) % NR_SPANS;
		if (check(sr->p, span * PT_SPAN, span * PT_SPAN + 16 * PT_PAGE, 'a'))
			__atomic_add_fetch(&sr->bad_reads, 1, __ATOMIC_RELAXED);
		if (LD(sr->ro) && !LD(sr->tried)) {
			v = PT_LOAD(*(uint64_t *)(sr->p + OP_PAGE));
			w = v;
			if (pt_access64((uint64_t *)(sr->p + OP_PAGE), true, &w) != SIGSEGV)
				__atomic_add_fetch(&sr->bad_writes, 1, __ATOMIC_RELAXED);
			ST(sr->tried, 1);
		}
	}
	return NULL;
}

/* C: split and merge its VMA inside the GiB, SPLIT_ROUNDS times. */
static int split_child(int fd)
{
	pthread_t t;
	int r;

	sr->p = map_gib(fd);
	if (!sr->p || check(sr->p, 0, GIB, 'a'))
		return 10;
	pt_fault_setup();
	if (pin_cpu(1) || pthread_create(&t, NULL, split_faulter, NULL))
		return 11;
	for (r = 0; r < SPLIT_ROUNDS; r++) {
		if (mprotect(sr->p + OP_PAGE, PT_PAGE, PROT_READ))
			return 12;
		ST(sr->tried, 0);
		ST(sr->ro, 1);
		while (!LD(sr->tried))
			sched_yield();
		ST(sr->ro, 0);
		if (mprotect(sr->p + OP_PAGE, PT_PAGE, PROT_READ | PROT_WRITE))
			return 13;
		sr->rounds++;
	}
	ST(sr->stop, 1);
	pthread_join(t, NULL);
	return 0;
}

/* B: attach, read and detach the GiB until C is done. */
static int split_attacher(int fd)
{
	unsigned long span = 1;
	char *p;

	while (!LD(sr->stop)) {
		p = map_gib(fd);
		if (!p)
			return 20;
		span = (span + 11) % NR_SPANS;
		if (check(p, span * PT_SPAN, span * PT_SPAN + 16 * PT_PAGE, 'a') ||
		    check(p, OP_SPAN, OP_SPAN + PT_SPAN, 'a'))
			__atomic_add_fetch(&sr->bad_reads, 1, __ATOMIC_RELAXED);
		munmap(p, GIB);
	}
	return 0;
}

TEST_F_TIMEOUT(pmd, split_race, 900)
{
	long a0 = pt_read_vmstat("pt_share_pmd_attach");
	pid_t b, c;
	int st;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs: the split and the faults in parallel");
	sr = mmap(NULL, sizeof(*sr), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sr);
	memset(sr, 0, sizeof(*sr));
	fflush(NULL);
	c = fork();
	if (!c)
		_exit(split_child(self->fd));
	b = fork();
	if (!b)
		_exit(split_attacher(self->fd));
	ASSERT_EQ(c, waitpid(c, &st, 0));
	ST(sr->stop, 1);
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st))
		TH_LOG("C failed at step %d", WEXITSTATUS(st));
	ASSERT_EQ(b, waitpid(b, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	TH_LOG("%ld rounds, %ld PUD attaches, %ld writes to the read-only page, %ld bad reads",
	       sr->rounds, pt_read_vmstat("pt_share_pmd_attach") - a0, sr->bad_writes,
	       sr->bad_reads);
	EXPECT_EQ(SPLIT_ROUNDS, sr->rounds);
	EXPECT_EQ(0, sr->bad_writes);
	EXPECT_EQ(0, sr->bad_reads);
	/* B attached the PMD table again and again meanwhile. */
	EXPECT_LT(2, pt_read_vmstat("pt_share_pmd_attach") - a0);
	munmap(sr, sizeof(*sr));
	pt_leak_expect(self->s0);
}

/* ---- a stale TLB after a PUD detach (the CVE-2021-4002 class) ---------- */

#define HOT_PAGES	8
#define HOT_PAGE(k)	((k) * (GIB / HOT_PAGES / PT_PAGE) + 5)
/* Where in a hot page its tag goes: past the byte fill() wrote. */
#define HOT_OFF(k)	(HOT_PAGE(k) * PT_PAGE + 64)
#define STALE_ITERS	20
#define READS_AFTER	2000

/* What C and the parent share; the reader is a thread of C. */
struct stale {
	long ready, iter, mapped, unmapped, refilled, done;
	long reads_ok, faults, fails;
	char *p;
};

static struct stale *st;

static uint64_t hot_tag(int k, long salt)
{
	return (uint64_t)(k + 1) << 32 | (uint64_t)salt;
}

static int write_hot(int fd, long salt)
{
	uint64_t v;
	int k;

	for (k = 0; k < HOT_PAGES; k++) {
		v = hot_tag(k, salt);
		if (pwrite(fd, &v, sizeof(v), HOT_OFF(k)) != sizeof(v))
			return -1;
	}
	return 0;
}

/* CPU 0: read the hot pages while mapped, and after, until told to stop. */
static void *stale_reader(void *arg)
{
	long it, after, unmapped;
	uint64_t v;
	int k = 0, sig;

	if (pin_cpu(0))
		__atomic_add_fetch(&st->fails, 1, __ATOMIC_RELAXED);
	while ((it = LD(st->iter)) != -1) {
		if (it < 0 || LD(st->mapped) != it) {
			sched_yield();
			continue;
		}
		for (after = 0; after < READS_AFTER && LD(st->iter) == it;) {
			k = (k + 1) % HOT_PAGES;
			unmapped = LD(st->unmapped);
			sig = pt_access64((uint64_t *)(st->p + HOT_OFF(k)), false, &v);
			if (!sig && (unmapped == it || v != hot_tag(k, 2 * it)))
				__atomic_add_fetch(&st->fails, 1, __ATOMIC_RELAXED);
			else if (!sig)
				__atomic_add_fetch(&st->reads_ok, 1, __ATOMIC_RELAXED);
			else
				__atomic_add_fetch(&st->faults, 1, __ATOMIC_RELAXED);
			if (LD(st->refilled) == it)
				after++;
		}
		ST(st->done, it + 1);
		while (LD(st->iter) == it)
			sched_yield();
	}
	return NULL;
}

/* C on CPU 1: map the GiB, touch the hot pages, unmap it; STALE_ITERS times. */
static int stale_child(int fd)
{
	char *hole = pt_aligned_hole_to(GIB, GIB), *p;
	pthread_t t;
	long it;
	int k;

	if (!hole || pin_cpu(1))
		return 10;
	/* Hold the range before the reader's stack can land in it. */
	if (mmap(hole, GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_FIXED | MAP_NORESERVE, -1, 0) != hole)
		return 10;
	st->p = hole;
	pt_fault_setup();
	if (pthread_create(&t, NULL, stale_reader, NULL))
		return 11;
	for (it = 0; it < STALE_ITERS; it++) {
		while (LD(st->ready) != it)
			sched_yield();
		p = mmap(hole, GIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 fd, 0);
		if (p != hole)
			return 12;
		for (k = 0; k < HOT_PAGES; k++)
			if (PT_LOAD(*(uint64_t *)(p + HOT_OFF(k))) !=
			    hot_tag(k, 2 * it))
				return 13;
		ST(st->iter, it);
		ST(st->mapped, it);
		usleep(1000 + it * 100);
		if (munmap(p, GIB))
			return 14;
		ST(st->unmapped, it);
		/* Keep the range ours: nothing else may be mapped there. */
		if (mmap(hole, GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_FIXED | MAP_NORESERVE, -1, 0) != hole)
			return 15;
		while (LD(st->done) != it + 1)
			sched_yield();
	}
	ST(st->iter, -1);
	pthread_join(t, NULL);
	return 0;
}

static void run_stale(struct __test_metadata *_metadata,
		      struct _test_data_pmd *self, bool holder)
{
	long detach0 = pt_read_vmstat("pt_share_pmd_detach");
	struct holder h;
	int status;
	pid_t pid;
	long it;
	int k;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs: a reader on one, the unmap on the other");
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, st);
	memset(st, 0, sizeof(*st));
	st->iter = -2;
	st->mapped = -2;
	st->unmapped = -2;
	st->refilled = -2;
	ASSERT_EQ(0, write_hot(self->fd, 0));
	if (holder)
		ASSERT_EQ(0, holder_start(&h, self->fd));
	ASSERT_EQ(0, pin_cpu(1));
	fflush(NULL);
	pid = fork();
	if (!pid)
		_exit(stale_child(self->fd));
	for (it = 0; it < STALE_ITERS; it++) {
		while (LD(st->unmapped) != it) {
			ASSERT_NE(pid, waitpid(pid, &status, WNOHANG))
				TH_LOG("C died in iteration %ld", it);
			sched_yield();
		}
		/* C is detached: free the hot pages, reuse them, then refill. */
		for (k = 0; k < HOT_PAGES; k++)
			ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE |
					       FALLOC_FL_KEEP_SIZE,
					       HOT_PAGE(k) * PT_PAGE, PT_PAGE));
		ASSERT_EQ(0, write_hot(self->fd, 2 * it + 1));
		ST(st->refilled, it);
		while (LD(st->done) != it + 1) {
			ASSERT_NE(pid, waitpid(pid, &status, WNOHANG))
				TH_LOG("C died in iteration %ld", it);
			sched_yield();
		}
		/* The next iteration's data, before C maps the file again. */
		ASSERT_EQ(0, write_hot(self->fd, 2 * (it + 1)));
		ST(st->ready, it + 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("C failed at step %d", WEXITSTATUS(status));
	TH_LOG("%ld good reads, %ld faults after detach, %ld bad reads", st->reads_ok,
	       st->faults, st->fails);
	EXPECT_EQ(0, st->fails) TH_LOG("a read through a detached GiB succeeded");
	EXPECT_LT(0, st->faults);
	EXPECT_LT(0, st->reads_ok);
	EXPECT_EQ(STALE_ITERS, pt_read_vmstat("pt_share_pmd_detach") - detach0);
	if (holder)
		ASSERT_EQ(0, holder_stop(&h));
	munmap(st, sizeof(*st));
	pt_leak_expect(self->s0);
}

TEST_F_TIMEOUT(pmd, stale_tlb_after_pud_detach, 600)
{
	run_stale(_metadata, self, true);
}

TEST_F_TIMEOUT(pmd, stale_tlb_after_last_pud_detach, 600)
{
	run_stale(_metadata, self, false);
}

TEST_HARNESS_MAIN
