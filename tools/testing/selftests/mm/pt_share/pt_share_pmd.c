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
 *            two span boundaries and merges it again.
 *   C detaches from the PMD table (pt_share_pmd_detach moves by one) but
 *   stays attached to the PTE tables of the other spans: PageTables grows
 *   by at most a PMD table and a few PTE tables, not 512. C and H then
 *   read every page they still map and find the data written before;
 *   a write by C after the change is seen by H. Nothing leaks.
 * dontneed_keeps_data: MADV_DONTNEED of one span in C; both read it back.
 *   (MADV_DONTNEED holds the mmap lock only for read, too little to detach
 *   a PMD table: the span stays attached, and its pages mapped.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "../../kselftest_harness.h"
#include "pt_share_util.h"

#define GIB		(1024UL * 1024 * 1024)
#define NR_SPANS	(GIB / PT_SPAN)
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

/*
 * A holder maps and reads the GiB, acks, then runs commands: 'c' checks
 * every page against the tag that follows, 'q' quits. Each ack byte is 0
 * on success.
 */
static void holder_main(int fd, int cmd, int ack)
{
	char *p = map_gib(fd);
	char c, tag, ok = p && !check(p, 0, GIB, 'a') ? 0 : 1;

	if (write(ack, &ok, 1) != 1)
		_exit(1);
	while (read(cmd, &c, 1) == 1 && c != 'q') {
		if (read(cmd, &tag, 1) != 1)
			break;
		ok = p && !check(p, 0, GIB, tag) ? 0 : 1;
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

static int holder_check(struct holder *h, char tag)
{
	char buf[2] = { 'c', tag }, ok;

	if (write(h->cmd, buf, 2) != 2 || read(h->ack, &ok, 1) != 1)
		return -1;
	return ok;
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

enum partial_op { OP_MPROTECT, OP_MUNMAP, OP_MREMAP, OP_SPLIT, OP_DONTNEED };

/* The span the child changes: the 100th of the GiB; a page inside it. */
#define OP_SPAN		(100 * PT_SPAN)
#define OP_PAGE		(OP_SPAN + 7 * PT_PAGE)

/*
 * The child: map and read, change the view, then check what it still maps
 * and write tag 'b' into the first page of the last span (which it still
 * maps). Exit status: 0, or the step that failed.
 */
static int partial_child(int fd, enum partial_op op, long *pte_growth)
{
	long before, after, pmd_detach;
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
		if (madvise(p + OP_SPAN, PT_SPAN, MADV_DONTNEED))
			return 11;
		break;
	}
	after = pt_settled_pagetables_kb();
	*pte_growth = after - before;
	/* MADV_DONTNEED may not detach a PMD table (mmap lock for read). */
	if (pt_read_vmstat("pt_share_pmd_detach") - pmd_detach !=
	    (op == OP_DONTNEED ? 0 : 1))
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

TEST_F_TIMEOUT(pmd, dontneed_keeps_data, 600)
{
	run_partial(_metadata, self, OP_DONTNEED);
}

TEST_HARNESS_MAIN
