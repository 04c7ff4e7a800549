// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_sharing: shared PTE tables seen from user space.
 *
 * Every case runs on every backing (tmpfs file, memfd, MAP_SHARED|
 * MAP_ANONYMOUS inherited over fork, SysV shm). A case that claims sharing
 * also checks that it happened: the pt_share_* counters in /proc/vmstat
 * moved and PageTables grew by about one table set, not one per process.
 * Cases that change one process's view check that the others did not see
 * it. The fixture saves vm.pt_share and vm.pt_share_min_bytes and restores
 * them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>

#include "../../kselftest_harness.h"
#include "pt_share_util.h"

#define SPAN		PT_SPAN
#define NR_SPANS	8
#define SIZE		(NR_SPANS * SPAN)
#define PAGE		PT_PAGE

enum backing { TMPFS, MEMFD, SHARED_ANON, SYSV_SHM };

/* ---- the counters a sharing case checks ------------------------------ */

struct counters {
	long attach, detach, alloc, free, pagetables_kb;
};

static void snap(struct counters *c)
{
	c->attach = pt_read_vmstat("pt_share_attach");
	c->detach = pt_read_vmstat("pt_share_detach");
	c->alloc = pt_read_vmstat("pt_share_table_alloc");
	c->free = pt_read_vmstat("pt_share_table_free");
	c->pagetables_kb = pt_settled_pagetables_kb();
}

/* ---- mapping the backings at table-aligned addresses ------------------ */

struct backing_obj {
	enum backing kind;
	int fd;			/* TMPFS, MEMFD */
	int shmid;		/* SYSV_SHM */
	char *anon;		/* SHARED_ANON: mapped before fork */
	char path[64];
};

static int backing_create(struct backing_obj *b, enum backing kind)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->fd = -1;
	b->shmid = -1;
	switch (kind) {
	case TMPFS:
		snprintf(b->path, sizeof(b->path), "/dev/shm/pt_share_test.%d",
			 getpid());
		b->fd = open(b->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (b->fd < 0 || ftruncate(b->fd, SIZE))
			return -1;
		return 0;
	case MEMFD:
		b->fd = memfd_create("pt_share_test", 0);
		if (b->fd < 0 || ftruncate(b->fd, SIZE))
			return -1;
		return 0;
	case SHARED_ANON:
		b->anon = pt_aligned_hole(SIZE);
		if (!b->anon)
			return -1;
		b->anon = mmap(b->anon, SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		return b->anon == MAP_FAILED ? -1 : 0;
	case SYSV_SHM:
		b->shmid = shmget(IPC_PRIVATE, SIZE, IPC_CREAT | 0600);
		return b->shmid < 0 ? -1 : 0;
	}
	return -1;
}

static void backing_destroy(struct backing_obj *b)
{
	if (b->fd >= 0)
		close(b->fd);
	if (b->path[0])
		unlink(b->path);
	if (b->shmid >= 0)
		shmctl(b->shmid, IPC_RMID, NULL);
	if (b->anon && b->anon != MAP_FAILED)
		munmap(b->anon, SIZE);
}

/* Map the backing in this process, read-write or read-only. */
static char *backing_map(struct backing_obj *b, bool writable)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	char *hole, *p;

	if (b->kind == SHARED_ANON)
		return b->anon;
	if (b->kind != SYSV_SHM)
		return pt_map_aligned(b->fd, SIZE, prot);
	hole = pt_aligned_hole(SIZE);
	if (!hole)
		return NULL;
	p = shmat(b->shmid, hole, writable ? 0 : SHM_RDONLY);
	return p == (void *)-1 ? NULL : p;
}

static void backing_unmap(struct backing_obj *b, char *p)
{
	if (b->kind == SHARED_ANON)
		munmap(p, SIZE);
	else if (b->kind == SYSV_SHM)
		shmdt(p);
	else
		munmap(p, SIZE);
}

/* Keep the compiler from dropping a read whose value is not used. */
static inline void use(char v)
{
	asm volatile("" : : "r" (v));
}

static void touch_all(char *p)
{
	unsigned long off;

	for (off = 0; off < SIZE; off += PAGE)
		use(p[off]);
}

static bool check_all(char *p, char tag)
{
	unsigned long off;

	for (off = 0; off < SIZE; off += PAGE)
		if (p[off] != (char)(tag + off / PAGE))
			return false;
	return true;
}

static void write_all(char *p, char tag)
{
	unsigned long off;

	for (off = 0; off < SIZE; off += PAGE)
		p[off] = (char)(tag + off / PAGE);
}

/* ---- processes ------------------------------------------------------- */

/*
 * A holder maps the backing, touches every page, reports, and then obeys
 * one-byte commands: 'c' + tag: check every page holds the tag pattern;
 * 'q': unmap and exit. Each command is answered with '0' (ok) or '1'.
 */
struct holder {
	pid_t pid;
	int cmd, rep;
};

static bool check_zero(char *p, unsigned long from, unsigned long to)
{
	unsigned long off;

	for (off = from; off < to; off += PAGE)
		if (p[off])
			return false;
	return true;
}

static bool check_range(char *p, char tag, unsigned long from,
			unsigned long to)
{
	unsigned long off;

	for (off = from; off < to; off += PAGE)
		if (p[off] != (char)(tag + off / PAGE))
			return false;
	return true;
}

/* The span zeroed by the hole-punch case. */
#define HOLE_START	(2 * SPAN)
#define HOLE_END	(3 * SPAN)

static void holder_main(struct backing_obj *b, bool writable, int cmd, int rep)
{
	char *p = backing_map(b, writable);
	char c[2], ok;
	bool good;

	if (!p)
		_exit(2);
	touch_all(p);
	ok = '0';
	if (write(rep, &ok, 1) != 1)
		_exit(3);
	while (read(cmd, c, 2) == 2) {
		switch (c[0]) {
		case 'c':	/* every page holds the pattern */
			good = check_all(p, c[1]);
			break;
		case 'w':	/* write the pattern */
			write_all(p, c[1]);
			good = true;
			break;
		case 'h':	/* truncated and regrown: second half zero */
			good = check_range(p, c[1], 0, SIZE / 2) &&
			       check_zero(p, SIZE / 2, SIZE);
			break;
		case 'p':	/* hole punched in [HOLE_START, HOLE_END) */
			good = check_range(p, c[1], 0, HOLE_START) &&
			       check_zero(p, HOLE_START, HOLE_END) &&
			       check_range(p, c[1], HOLE_END, SIZE);
			break;
		default:	/* 'q' */
			goto out;
		}
		ok = good ? '0' : '1';
		if (write(rep, &ok, 1) != 1)
			_exit(3);
	}
out:
	backing_unmap(b, p);
	_exit(0);
}

static int holder_start(struct holder *h, struct backing_obj *b, bool writable)
{
	int cmd[2], rep[2];
	char ok;

	if (pipe(cmd) || pipe(rep))
		return -1;
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (!h->pid) {
		close(cmd[1]);
		close(rep[0]);
		holder_main(b, writable, cmd[0], rep[1]);
	}
	close(cmd[0]);
	close(rep[1]);
	h->cmd = cmd[1];
	h->rep = rep[0];
	return read(h->rep, &ok, 1) == 1 && ok == '0' ? 0 : -1;
}

static int holder_cmd(struct holder *h, char cmd, char tag)
{
	char c[2] = { cmd, tag }, ok;

	if (write(h->cmd, c, 2) != 2 || read(h->rep, &ok, 1) != 1)
		return -1;
	return ok == '0' ? 0 : -1;
}

static int holder_stop(struct holder *h)
{
	char c[2] = { 'q', 0 };
	int status;

	if (write(h->cmd, c, 2) != 2)
		return -1;
	close(h->cmd);
	close(h->rep);
	if (waitpid(h->pid, &status, 0) != h->pid)
		return -1;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

/* Run @fn in a child; return its exit status, or 128 + signal. */
static int in_child(int (*fn)(void *), const void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fn((void *)arg));
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* ---- the fixture ----------------------------------------------------- */

FIXTURE(sharing) {
	struct pt_knobs knobs;
	struct backing_obj b;
};

FIXTURE_VARIANT(sharing) {
	enum backing kind;
};

FIXTURE_VARIANT_ADD(sharing, tmpfs) { .kind = TMPFS };
FIXTURE_VARIANT_ADD(sharing, memfd) { .kind = MEMFD };
FIXTURE_VARIANT_ADD(sharing, shared_anon) { .kind = SHARED_ANON };
FIXTURE_VARIANT_ADD(sharing, sysv_shm) { .kind = SYSV_SHM };

FIXTURE_SETUP(sharing)
{
	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "kernel without CONFIG_PT_SHARE");
	if (getuid())
		SKIP(return, "needs root to set vm.pt_share");
	ASSERT_EQ(0, pt_knobs_save_and_enable(&self->knobs, true));
	ASSERT_EQ(0, backing_create(&self->b, variant->kind));
}

FIXTURE_TEARDOWN(sharing)
{
	backing_destroy(&self->b);
	pt_knobs_restore(&self->knobs);
}

/*
 * Write the tag pattern from the parent, leaving the parent attached to
 * nothing: other backings are unmapped again; shared anonymous memory must
 * stay mapped to be inherited, so the parent drops its tables instead.
 */
static void fill(struct __test_metadata *_metadata,
		 struct _test_data_sharing *self, char tag)
{
	char *p = backing_map(&self->b, true);

	ASSERT_NE(NULL, p);
	write_all(p, tag);
	if (self->b.kind != SHARED_ANON) {
		backing_unmap(&self->b, p);
		return;
	}
	ASSERT_EQ(0, madvise(p, SIZE, MADV_DONTNEED));
}

/* Start @n holders, returning how much PageTables grew meanwhile. */
static long start_holders(struct __test_metadata *_metadata,
			  struct _test_data_sharing *self, struct holder *h,
			  int n)
{
	long kb = pt_settled_pagetables_kb();
	int i;

	for (i = 0; i < n; i++)
		if (holder_start(&h[i], &self->b, true))
			return -1;
	return pt_settled_pagetables_kb() - kb;
}

/*
 * N holders map and touch everything, first with sharing off, then on.
 * With sharing, one table per span is allocated, every holder attaches to
 * all of them, PageTables grows by (N - 1) table sets less than without,
 * and every table is freed when the holders are gone.
 */
static void run_shares(struct __test_metadata *_metadata,
		       struct _test_data_sharing *self, int n)
{
	struct holder *h = calloc(n, sizeof(*h));
	struct counters c0, c1, c2;
	long grow_off, grow_on;
	int i;

	ASSERT_NE(NULL, h);
	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "0"));
	fill(_metadata, self, 'a');
	grow_off = start_holders(_metadata, self, h, n);
	ASSERT_GE(grow_off, 0);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, holder_stop(&h[i]));

	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "1"));
	snap(&c0);
	grow_on = start_holders(_metadata, self, h, n);
	ASSERT_GE(grow_on, 0);
	snap(&c1);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, holder_cmd(&h[i], 'c', 'a'));
	/* A write by one holder is seen by all. */
	ASSERT_EQ(0, holder_cmd(&h[n - 1], 'w', 'b'));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, holder_cmd(&h[i], 'c', 'b'));

	EXPECT_EQ(NR_SPANS, c1.alloc - c0.alloc);
	EXPECT_EQ((long)n * NR_SPANS, c1.attach - c0.attach);
	/* Saved: the private tables of n - 1 holders (4 kB per span each). */
	TH_LOG("PageTables growth for %d holders: %ld kB unshared, %ld kB shared",
	       n, grow_off, grow_on);
	EXPECT_GE(grow_off - grow_on, (long)(n - 1) * NR_SPANS * 4 * 9 / 10);

	for (i = 0; i < n; i++)
		ASSERT_EQ(0, holder_stop(&h[i]));
	snap(&c2);
	EXPECT_EQ(c1.attach - c0.attach, c2.detach - c1.detach);
	EXPECT_EQ(c1.alloc - c0.alloc, c2.free - c1.free);
	/* Everything gone again: no leaked table. */
	EXPECT_LT(labs(c2.pagetables_kb - c0.pagetables_kb), 64);
	free(h);
}

TEST_F(sharing, shares_2)
{
	run_shares(_metadata, self, 2);
}

TEST_F(sharing, shares_8)
{
	run_shares(_metadata, self, 8);
}

/*
 * 64 processes, and 16 MiB swapped out and in: the harness's 30 s default
 * is too short for them under TCG on a loaded host. What they check does
 * not depend on time.
 */
#define SLOW_TEST_TIMEOUT	300

TEST_F_TIMEOUT(sharing, shares_64, SLOW_TEST_TIMEOUT)
{
	run_shares(_metadata, self, 64);
}

/* ---- one process changes its own view; the others must not see it ----- */

static struct backing_obj *child_b;
static sigjmp_buf fault_jmp;
static int fault_sig;

static void on_fault(int sig)
{
	fault_sig = sig;
	siglongjmp(fault_jmp, 1);
}

/* 0 if the access faulted with @sig, 1 if it did not fault. */
static int access_faults(char *addr, bool do_write, int sig)
{
	struct sigaction sa = { .sa_handler = on_fault };

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	fault_sig = 0;
	if (!sigsetjmp(fault_jmp, 1)) {
		if (do_write)
			*addr = 1;
		else
			use(*addr);
		asm volatile("" : : : "memory");
	}
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	return fault_sig == sig ? 0 : 1;
}

/* Map read-only through a read-only open where the backing has one. */
static char *map_readonly(struct backing_obj *b)
{
	char path[64], *p;
	int fd;

	if (b->kind == SYSV_SHM || b->kind == SHARED_ANON) {
		p = backing_map(b, false);
		if (p && b->kind == SHARED_ANON &&
		    mprotect(p, SIZE, PROT_READ))
			return NULL;
		return p;
	}
	if (b->kind == TMPFS)
		snprintf(path, sizeof(path), "%s", b->path);
	else
		snprintf(path, sizeof(path), "/proc/self/fd/%d", b->fd);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	p = pt_map_aligned(fd, SIZE, PROT_READ);
	close(fd);
	return p;
}

/*
 * Fill the backing, start a holder that maps it read-write, run @fn in a
 * child (which expects 0), then check that the holder still sees the data.
 */
static void beside_holder(struct __test_metadata *_metadata,
			  struct _test_data_sharing *self, int (*fn)(void *),
			  void *arg)
{
	struct holder h;

	fill(_metadata, self, 'a');
	ASSERT_EQ(0, holder_start(&h, &self->b, true));
	child_b = &self->b;
	EXPECT_EQ(0, in_child(fn, arg));
	ASSERT_EQ(0, holder_cmd(&h, 'c', 'a'));
	ASSERT_EQ(0, holder_stop(&h));
}

static int readonly_child(void *arg)
{
	long alloc0 = pt_read_vmstat("pt_share_table_alloc");
	char *p = map_readonly(child_b);

	if (!p)
		return 10;
	if (!check_all(p, 'a'))
		return 11;
	/* A read-only mapper never reaches the writer's tables. */
	if (pt_read_vmstat("pt_share_table_alloc") - alloc0 != NR_SPANS) {
		fprintf(stderr, "# read-only mapper allocated %ld tables, not %d\n",
			pt_read_vmstat("pt_share_table_alloc") - alloc0, NR_SPANS);
		return 12;
	}
	return access_faults(p + 5 * PAGE, true, SIGSEGV) ? 13 : 0;
}

TEST_F(sharing, readonly_mapper_gets_sigsegv)
{
	beside_holder(_metadata, self, readonly_child, NULL);
}

static int mprotect_child(void *arg)
{
	long d0 = pt_read_vmstat("pt_share_detach_mprotect");
	char *p = backing_map(child_b, true);

	if (!p)
		return 10;
	touch_all(p);
	if (mprotect(p, SIZE, PROT_READ))
		return 11;
	if (pt_read_vmstat("pt_share_detach_mprotect") - d0 != NR_SPANS)
		return 12;
	if (access_faults(p + 3 * SPAN, true, SIGSEGV))
		return 13;
	return check_all(p, 'a') ? 0 : 14;
}

TEST_F(sharing, mprotect_stays_private)
{
	struct holder h;

	fill(_metadata, self, 'a');
	ASSERT_EQ(0, holder_start(&h, &self->b, true));
	child_b = &self->b;
	EXPECT_EQ(0, in_child(mprotect_child, NULL));
	/* The holder can still write, and sees its own writes. */
	ASSERT_EQ(0, holder_cmd(&h, 'w', 'c'));
	ASSERT_EQ(0, holder_cmd(&h, 'c', 'c'));
	ASSERT_EQ(0, holder_stop(&h));
}

/*
 * A protection key lives in every entry of a table. A mapping with a key
 * of its own must get tables of its own, or the key would protect nothing
 * (and the holder's accesses would be checked against it).
 */
static int pkey_child(void *arg)
{
	long alloc0 = pt_read_vmstat("pt_share_table_alloc");
	int pkey = *(int *)arg;
	char *p = backing_map(child_b, true);

	if (!p)
		return 10;
	if (pkey_mprotect(p, SIZE, PROT_READ | PROT_WRITE, pkey))
		return 11;
	if (!check_all(p, 'a'))
		return 12;
	if (pt_read_vmstat("pt_share_table_alloc") - alloc0 != NR_SPANS) {
		fprintf(stderr, "# mapping with pkey %d allocated %ld tables, not %d\n",
			pkey, pt_read_vmstat("pt_share_table_alloc") - alloc0,
			NR_SPANS);
		return 13;
	}
	/* Access through the key denied: every entry must say so. */
	if (pkey_set(pkey, PKEY_DISABLE_ACCESS))
		return 14;
	if (access_faults(p + 3 * SPAN + 5 * PAGE, false, SIGSEGV))
		return 15;
	return pkey_set(pkey, 0) ? 16 : 0;
}

TEST_F(sharing, pkey_mapping_gets_own_tables)
{
	int pkey = pkey_alloc(0, 0);

	if (pkey < 0)
		SKIP(return, "no protection keys (pkey_alloc: %s)",
		     strerror(errno));
	beside_holder(_metadata, self, pkey_child, &pkey);
	pkey_free(pkey);
}

static int munmap_child(void *arg)
{
	long d0 = pt_read_vmstat("pt_share_detach");
	char *p = backing_map(child_b, true);
	char *hole;

	if (!p)
		return 10;
	touch_all(p);
	hole = p + 3 * SPAN + 7 * PAGE;
	if (munmap(hole, PAGE))
		return 11;
	/* The span with the hole left its shared table. */
	if (pt_read_vmstat("pt_share_detach") - d0 < 1)
		return 12;
	if (access_faults(hole, false, SIGSEGV))
		return 13;
	if (!check_range(p, 'a', 0, 3 * SPAN + 7 * PAGE) ||
	    !check_range(p, 'a', 3 * SPAN + 8 * PAGE, SIZE))
		return 14;
	return 0;
}

TEST_F(sharing, munmap_part_of_a_table)
{
	beside_holder(_metadata, self, munmap_child, NULL);
}

static int dontneed_child(void *arg)
{
	long d0 = pt_read_vmstat("pt_share_detach_unmap");
	long a0;
	char *p = backing_map(child_b, true);

	if (!p)
		return 10;
	touch_all(p);
	if (madvise(p, SIZE, MADV_DONTNEED))
		return 11;
	if (pt_read_vmstat("pt_share_detach_unmap") - d0 != NR_SPANS)
		return 12;
	a0 = pt_read_vmstat("pt_share_attach");
	/* Shared file pages survive MADV_DONTNEED; a refault re-attaches. */
	if (!check_all(p, 'a'))
		return 13;
	return pt_read_vmstat("pt_share_attach") - a0 == NR_SPANS ? 0 : 14;
}

TEST_F(sharing, dontneed_detaches)
{
	beside_holder(_metadata, self, dontneed_child, NULL);
}

static int mremap_child(void *arg)
{
	long d0 = pt_read_vmstat("pt_share_detach_mremap");
	char *p = backing_map(child_b, true);
	char *dst = pt_aligned_hole(SIZE), *q;

	if (!p || !dst)
		return 10;
	touch_all(p);
	q = mremap(p, SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (q != dst)
		return 11;
	if (pt_read_vmstat("pt_share_detach_mremap") - d0 != NR_SPANS)
		return 12;
	return check_all(q, 'a') ? 0 : 13;
}

TEST_F(sharing, mremap_moves_own_view)
{
	beside_holder(_metadata, self, mremap_child, NULL);
}

static int mlock_child(void *arg)
{
	long d0 = pt_read_vmstat("pt_share_detach_mlock");
	char *p = backing_map(child_b, true);

	if (!p)
		return 10;
	touch_all(p);
	if (mlock(p, SIZE))
		return 11;
	if (pt_read_vmstat("pt_share_detach_mlock") - d0 != NR_SPANS)
		return 12;
	return check_all(p, 'a') ? 0 : 13;
}

TEST_F(sharing, mlock_detaches)
{
	beside_holder(_metadata, self, mlock_child, NULL);
}

/*
 * MADV_COLLAPSE maps the span with a PMD, as without sharing: the caller
 * detaches from the span's shared table; the data stays, in one huge page.
 */
static int collapse_child(void *arg)
{
	long d0 = pt_read_vmstat("pt_share_detach_madvise");
	char *p = backing_map(child_b, true);
	int tries = 0, ret;

	if (!p)
		return 10;
	touch_all(p);
	/* EAGAIN: a page of the span was busy for a moment (locked, off LRU). */
	do
		ret = madvise(p + SPAN, SPAN, MADV_COLLAPSE);
	while (ret && errno == EAGAIN && ++tries < 10);
	if (ret) {
		fprintf(stderr, "# MADV_COLLAPSE: %s\n", strerror(errno));
		return 11;
	}
	if (pt_read_vmstat("pt_share_detach_madvise") - d0 != 1)
		return 12;
	if (pt_proc_kb("/proc/self/smaps_rollup", "ShmemPmdMapped") != SPAN >> 10)
		return 13;
	return check_all(p, 'a') ? 0 : 14;
}

TEST_F(sharing, collapse_maps_huge)
{
	char buf[128] = "";

	if (pt_read_file(THP_SHMEM_KNOB, buf, sizeof(buf)))
		SKIP(return, "needs shmem THP (CONFIG_TRANSPARENT_HUGEPAGE)");
	if (strstr(buf, "[deny]"))
		SKIP(return, "shmem THP is set to deny in " THP_SHMEM_KNOB);
	beside_holder(_metadata, self, collapse_child, NULL);
}

static int uffd_child(void *arg)
{
	long d0 = pt_read_vmstat("pt_share_detach_uffd");
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	char *p = backing_map(child_b, true);
	int uffd;

	if (!p)
		return 10;
	touch_all(p);
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return 11;
	if (ioctl(uffd, UFFDIO_API, &api))
		return 12;
	reg.range.start = (unsigned long)p;
	reg.range.len = SIZE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return 13;
	/* Registration leaves the shared tables: faults must reach us. */
	if (pt_read_vmstat("pt_share_detach_uffd") - d0 != NR_SPANS)
		return 14;
	/* Pages in the page cache map without a userfault. */
	return check_all(p, 'a') ? 0 : 15;
}

TEST_F(sharing, uffd_register_detaches)
{
	if (variant->kind == SYSV_SHM)
		SKIP(return, "userfaultfd does not register SysV shm, with or without sharing");
	beside_holder(_metadata, self, uffd_child, NULL);
}

static int softdirty_child(void *arg)
{
	long d0 = pt_read_vmstat("pt_share_detach_clear_refs");
	char *p = backing_map(child_b, true);
	long a0;

	if (!p)
		return 10;
	touch_all(p);
	if (pt_write_file("/proc/self/clear_refs", "4"))
		return 11;
	if (pt_read_vmstat("pt_share_detach_clear_refs") - d0 != NR_SPANS)
		return 12;
	/* While soft-dirty tracking runs, faults do not attach. */
	a0 = pt_read_vmstat("pt_share_attach");
	if (!check_all(p, 'a'))
		return 13;
	return pt_read_vmstat("pt_share_attach") == a0 ? 0 : 14;
}

TEST_F(sharing, softdirty_reset_detaches)
{
	beside_holder(_metadata, self, softdirty_child, NULL);
}

#define NR_MOVE		64

/*
 * Move pages of a shared table to the other node while another process is
 * attached: both still read the right data afterwards.
 */
static int migrate_child(void *arg)
{
	void *pages[NR_MOVE];
	int nodes[NR_MOVE], status[NR_MOVE], i, node;
	char *p = backing_map(child_b, true);

	if (!p)
		return 10;
	touch_all(p);
	for (node = 0; node <= 1; node++) {
		for (i = 0; i < NR_MOVE; i++) {
			pages[i] = p + SPAN + i * PAGE;
			nodes[i] = node;
			status[i] = -1;
		}
		if (syscall(__NR_move_pages, 0, NR_MOVE, pages, nodes, status,
			    MPOL_MF_MOVE_ALL))
			return 11;
		for (i = 0; i < NR_MOVE; i++)
			if (status[i] != node)
				return 12;
		if (!check_all(p, 'a'))
			return 13;
	}
	return 0;
}

TEST_F(sharing, migrate_pages_keeps_data)
{
	struct holder h;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "needs a second NUMA node");
	fill(_metadata, self, 'a');
	ASSERT_EQ(0, holder_start(&h, &self->b, true));
	child_b = &self->b;
	EXPECT_EQ(0, in_child(migrate_child, NULL));
	ASSERT_EQ(0, holder_cmd(&h, 'c', 'a'));
	ASSERT_EQ(0, holder_stop(&h));
}

/* ---- a page in a shared table is mapped by every sharer --------------- */

#define PM_MMAP_EXCLUSIVE	0x0100000000000000ULL	/* bit 56 */
#define PM_PRESENT		0x8000000000000000ULL	/* bit 63 */

/* Rss and Pss of the VMA that starts at @p, from /proc/self/smaps, in kB. */
static int smaps_rss_pss(char *p, long *rss, long *pss)
{
	unsigned long start, end;
	bool in = false;
	char line[256];
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	*rss = *pss = -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start == (unsigned long)p;
			continue;
		}
		if (in && !strncmp(line, "Rss:", 4))
			*rss = strtol(line + 4, NULL, 10);
		if (in && !strncmp(line, "Pss:", 4))
			*pss = strtol(line + 4, NULL, 10);
	}
	fclose(f);
	return *rss < 0 || *pss < 0 ? -1 : 0;
}

/* How many of the pages of [p, p + SIZE) pagemap calls exclusive; -1: error. */
static long pagemap_exclusive(char *p)
{
	unsigned long i, n = SIZE / PAGE;
	uint64_t *pm = calloc(n, sizeof(*pm));
	long excl = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0 || !pm ||
	    pread(fd, pm, n * sizeof(*pm), (unsigned long)p / PAGE * 8) !=
	    (ssize_t)(n * sizeof(*pm)))
		excl = -1;
	for (i = 0; excl >= 0 && i < n; i++) {
		if (!(pm[i] & PM_PRESENT)) {
			excl = -1;
			break;
		}
		excl += !!(pm[i] & PM_MMAP_EXCLUSIVE);
	}
	if (fd >= 0)
		close(fd);
	free(pm);
	return excl;
}

/*
 * Map and touch the backing through shared tables that @sharers processes
 * (this one included) reach, then check what the kernel says about the
 * pages: smaps Pss is Rss divided by the sharers, pagemap calls them
 * exclusive only when alone, and move_pages() without MPOL_MF_MOVE_ALL
 * moves them only when alone (-EACCES otherwise), all as without sharing.
 */
static int sharers_child(void *arg)
{
	long sharers = (long)arg, a0 = pt_read_vmstat("pt_share_attach");
	int nodes[NR_MOVE], status[NR_MOVE], i, to, want;
	void *pages[NR_MOVE];
	long rss, pss, excl;
	char *p = backing_map(child_b, true);

	if (!p)
		return 10;
	touch_all(p);
	if (pt_read_vmstat("pt_share_attach") - a0 != NR_SPANS)
		return 11;
	if (smaps_rss_pss(p, &rss, &pss))
		return 12;
	if (rss != SIZE / 1024 || pss != rss / sharers) {
		fprintf(stderr, "# %ld sharers: Rss %ld kB, Pss %ld kB\n",
			sharers, rss, pss);
		return 13;
	}
	excl = pagemap_exclusive(p);
	if (excl != (sharers == 1 ? (long)(SIZE / PAGE) : 0)) {
		fprintf(stderr, "# %ld sharers: %ld pages exclusive\n",
			sharers, excl);
		return 14;
	}
	if (access("/sys/devices/system/node/node1", F_OK))
		return 0;
	for (i = 0; i < NR_MOVE; i++)
		pages[i] = p + SPAN + i * PAGE;
	if (syscall(__NR_move_pages, 0, NR_MOVE, pages, NULL, status, 0))
		return 15;
	to = !status[0];
	for (i = 0; i < NR_MOVE; i++) {
		nodes[i] = to;
		status[i] = INT_MIN;
	}
	if (syscall(__NR_move_pages, 0, NR_MOVE, pages, nodes, status, 0))
		return 16;
	want = sharers == 1 ? to : -EACCES;
	for (i = 0; i < NR_MOVE; i++)
		if (status[i] != want) {
			fprintf(stderr, "# %ld sharers: page %d status %d, not %d\n",
				sharers, i, status[i], want);
			return 17;
		}
	return check_all(p, 'a') ? 0 : 18;
}

TEST_F(sharing, alone_pages_are_exclusive)
{
	fill(_metadata, self, 'a');
	child_b = &self->b;
	EXPECT_EQ(0, in_child(sharers_child, (void *)1L));
}

TEST_F(sharing, attached_pages_are_shared)
{
	beside_holder(_metadata, self, sharers_child, (void *)2L);
}

/* The ABI of lib/test_hmm_uapi.h, an mmu notifier user the guest has. */
struct hmm_dmirror_cmd {
	uint64_t addr, ptr, npages, cpages, faults;
};

#define HMM_DMIRROR_READ	_IOWR('H', 0x00, struct hmm_dmirror_cmd)

/*
 * Registering an mmu notifier (opening the HMM test device does) detaches
 * the mm from its shared tables, and it attaches no more; the device still
 * reads the data through the mm's own tables.
 */
static int notifier_child(void *arg)
{
	long a0 = pt_read_vmstat("pt_share_attach"), a1, n0;
	struct hmm_dmirror_cmd cmd = { 0 };
	char *p = backing_map(child_b, true), *buf = malloc(SIZE);
	unsigned long off;
	int fd;

	if (!p || !buf)
		return 10;
	touch_all(p);
	if (pt_read_vmstat("pt_share_attach") - a0 != NR_SPANS)
		return 11;
	n0 = pt_read_vmstat("pt_share_detach_notifier");
	fd = open("/dev/hmm_dmirror0", O_RDWR);
	if (fd < 0)
		return 12;
	if (pt_read_vmstat("pt_share_detach_notifier") - n0 != NR_SPANS)
		return 13;
	a1 = pt_read_vmstat("pt_share_attach");
	if (!check_all(p, 'a') || pt_read_vmstat("pt_share_attach") != a1)
		return 14;
	cmd.addr = (unsigned long)p;
	cmd.ptr = (unsigned long)buf;
	cmd.npages = SIZE / PAGE;
	if (ioctl(fd, HMM_DMIRROR_READ, &cmd) || cmd.cpages != SIZE / PAGE)
		return 15;
	for (off = 0; off < SIZE; off += PAGE)
		if (buf[off] != p[off])
			return 16;
	close(fd);
	free(buf);
	return 0;
}

TEST_F(sharing, mmu_notifier_detaches)
{
	if (access("/dev/hmm_dmirror0", F_OK))
		SKIP(return, "needs /dev/hmm_dmirror0 (CONFIG_TEST_HMM), an mmu notifier user");
	beside_holder(_metadata, self, notifier_child, NULL);
}

/* ---- changes to the file, seen by every mapper ------------------------- */

static int truncate_child(void *arg)
{
	char *p = backing_map(child_b, true);

	if (!p)
		return 10;
	touch_all(p);
	if (ftruncate(child_b->fd, SIZE / 2))
		return 11;
	/* Beyond EOF: SIGBUS, as without sharing; before it: the data. */
	if (access_faults(p + SIZE / 2 + 5 * PAGE, false, SIGBUS))
		return 12;
	if (!check_range(p, 'a', 0, SIZE / 2))
		return 13;
	if (ftruncate(child_b->fd, SIZE))
		return 14;
	return check_zero(p, SIZE / 2, SIZE) ? 0 : 15;
}

TEST_F(sharing, truncate_seen_by_all)
{
	struct holder h[2];

	if (variant->kind == SHARED_ANON || variant->kind == SYSV_SHM)
		SKIP(return, "backing cannot be truncated");
	fill(_metadata, self, 'a');
	ASSERT_EQ(0, holder_start(&h[0], &self->b, true));
	ASSERT_EQ(0, holder_start(&h[1], &self->b, true));
	child_b = &self->b;
	EXPECT_EQ(0, in_child(truncate_child, NULL));
	ASSERT_EQ(0, holder_cmd(&h[0], 'h', 'a'));
	ASSERT_EQ(0, holder_cmd(&h[1], 'h', 'a'));
	ASSERT_EQ(0, holder_stop(&h[0]));
	ASSERT_EQ(0, holder_stop(&h[1]));
}

TEST_F(sharing, punch_hole_seen_by_all)
{
	struct holder h[2];

	if (variant->kind == SHARED_ANON || variant->kind == SYSV_SHM)
		SKIP(return, "no file descriptor to punch a hole through");
	fill(_metadata, self, 'a');
	ASSERT_EQ(0, holder_start(&h[0], &self->b, true));
	ASSERT_EQ(0, holder_start(&h[1], &self->b, true));
	ASSERT_EQ(0, fallocate(self->b.fd,
			       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       HOLE_START, HOLE_END - HOLE_START));
	ASSERT_EQ(0, holder_cmd(&h[0], 'p', 'a'));
	ASSERT_EQ(0, holder_cmd(&h[1], 'p', 'a'));
	ASSERT_EQ(0, holder_stop(&h[0]));
	ASSERT_EQ(0, holder_stop(&h[1]));
}

/* ---- mappings that must never share ------------------------------------ */

static int private_child(void *arg)
{
	long a0 = pt_read_vmstat("pt_share_attach");
	char *hole = pt_aligned_hole(SIZE);
	char *p;

	p = mmap(hole, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
		 child_b->fd, 0);
	if (p == MAP_FAILED)
		return 10;
	if (!check_all(p, 'a'))
		return 11;
	write_all(p, 'x');
	return pt_read_vmstat("pt_share_attach") == a0 ? 0 : 12;
}

TEST_F(sharing, private_never_shares)
{
	struct holder h;

	if (variant->kind == SHARED_ANON || variant->kind == SYSV_SHM)
		SKIP(return, "no MAP_PRIVATE mapping of this backing");
	fill(_metadata, self, 'a');
	ASSERT_EQ(0, holder_start(&h, &self->b, true));
	child_b = &self->b;
	EXPECT_EQ(0, in_child(private_child, NULL));
	/* The private writes stayed private. */
	ASSERT_EQ(0, holder_cmd(&h, 'c', 'a'));
	ASSERT_EQ(0, holder_stop(&h));
}

static int unaligned_child(void *arg)
{
	long a0 = pt_read_vmstat("pt_share_attach");
	char *hole = pt_aligned_hole(SIZE + SPAN);
	int flags = MAP_SHARED | MAP_FIXED;
	char *p;

	/* Offset 0 at an address one page past a table boundary. */
	switch (child_b->kind) {
	case SYSV_SHM:
		p = shmat(child_b->shmid, hole + PAGE, 0);
		if (p == (void *)-1)
			return 10;
		break;
	case SHARED_ANON:
		/* A new object: the inherited one is mapped aligned. */
		p = mmap(hole + PAGE, SIZE, PROT_READ | PROT_WRITE,
			 flags | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 10;
		write_all(p, 'a');
		break;
	default:
		p = mmap(hole + PAGE, SIZE, PROT_READ | PROT_WRITE, flags,
			 child_b->fd, 0);
		if (p == MAP_FAILED)
			return 10;
	}
	if (!check_all(p, 'a'))
		return 11;
	return pt_read_vmstat("pt_share_attach") == a0 ? 0 : 12;
}

TEST_F(sharing, unaligned_never_shares)
{
	fill(_metadata, self, 'a');
	child_b = &self->b;
	EXPECT_EQ(0, in_child(unaligned_child, NULL));
}

/* ---- where the kernel puts a mapping it chooses the address of -------- */

#define GIB	(512 * SPAN)

/*
 * Each mapping asks for a file offset (none for shared anonymous memory)
 * and is never touched, so that a 3 GiB one costs no memory. With sharing
 * on, the address must agree with the offset modulo @align: 1 GiB when the
 * mapping holds a whole aligned GiB of the file, else 2 MiB.
 */
static const struct placement {
	const char *name;
	enum backing kind;
	unsigned long len, off, align;
} placements[] = {
	{ "memfd 16 MiB at 0",		MEMFD,	     16UL << 20, 0,	     SPAN },
	{ "memfd 16 MiB at 1 MiB",	MEMFD,	     16UL << 20, 1UL << 20,  SPAN },
	{ "memfd 1 GiB at 0",		MEMFD,	     GIB,	 0,	     GIB },
	{ "memfd 1 GiB at 2 MiB",	MEMFD,	     GIB,	 SPAN,	     SPAN },
	{ "memfd 2 GiB at 2 MiB",	MEMFD,	     2 * GIB,	 SPAN,	     GIB },
	{ "memfd 3 GiB at 4 KiB",	MEMFD,	     3 * GIB,	 PAGE,	     GIB },
	{ "tmpfs 1 GiB at 0",		TMPFS,	     GIB,	 0,	     GIB },
	{ "shared anon 1 GiB",		SHARED_ANON, GIB,	 0,	     GIB },
	{ "SysV shm 1 GiB",		SYSV_SHM,    GIB,	 0,	     GIB },
};

/* Map @pl where the kernel chooses; return the address, or NULL. */
static char *place(const struct placement *pl, int *fd, int *shmid)
{
	char path[64];
	char *p;

	*fd = -1;
	*shmid = -1;
	switch (pl->kind) {
	case SHARED_ANON:
		p = mmap(NULL, pl->len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	case SYSV_SHM:
		*shmid = shmget(IPC_PRIVATE, pl->len, IPC_CREAT | 0600);
		if (*shmid < 0)
			return NULL;
		p = shmat(*shmid, NULL, 0);
		return p == (void *)-1 ? NULL : p;
	case TMPFS:
		snprintf(path, sizeof(path), "/dev/shm/pt_share_place.%d",
			 getpid());
		*fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		unlink(path);
		break;
	default:
		*fd = memfd_create("pt_share_place", 0);
	}
	if (*fd < 0 || ftruncate(*fd, pl->off + pl->len))
		return NULL;
	p = mmap(NULL, pl->len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd,
		 pl->off);
	return p == MAP_FAILED ? NULL : p;
}

static void unplace(const struct placement *pl, char *p, int fd, int shmid)
{
	if (p && pl->kind == SYSV_SHM)
		shmdt(p);
	else if (p)
		munmap(p, pl->len);
	if (fd >= 0)
		close(fd);
	if (shmid >= 0)
		shmctl(shmid, IPC_RMID, NULL);
}

/*
 * Unmodified programs share only if the kernel places their mappings
 * well. Each placement runs with sharing off (logged: THP's rules then)
 * and on (checked).
 */
TEST(kernel_chosen_address)
{
	struct pt_knobs knobs;
	unsigned int i, on;

	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "kernel without CONFIG_PT_SHARE");
	if (getuid())
		SKIP(return, "needs root to set vm.pt_share");
	ASSERT_EQ(0, pt_knobs_save_and_enable(&knobs, false));
	for (on = 0; on < 2; on++) {
		ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, on ? "1" : "0"));
		for (i = 0; i < ARRAY_SIZE(placements); i++) {
			const struct placement *pl = &placements[i];
			unsigned long addr, mis;
			int fd, shmid;
			char *p = place(pl, &fd, &shmid);

			EXPECT_NE(NULL, p) TH_LOG("%s: %s", pl->name, strerror(errno));
			addr = (unsigned long)p;
			mis = (addr - pl->off) & (pl->align - 1);
			TH_LOG("sharing %s, %s: at %#lx, %#lx past a %lu MiB boundary",
			       on ? "on" : "off", pl->name, addr, mis,
			       pl->align >> 20);
			/* Off, THP's rules decide: nothing to check. */
			EXPECT_EQ(0, on && p ? mis : 0)
				TH_LOG("%s: not congruent", pl->name);
			unplace(pl, p, fd, shmid);
		}
	}
	pt_knobs_restore(&knobs);
}

/* Map and read; the tag is *@arg, or 'a'. Must not attach. */
static int plain_child(void *arg)
{
	long a0 = pt_read_vmstat("pt_share_attach");
	char *p = backing_map(child_b, true);

	if (!p)
		return 10;
	if (!check_all(p, arg ? *(char *)arg : 'a'))
		return 11;
	return pt_read_vmstat("pt_share_attach") == a0 ? 0 : 12;
}

TEST_F(sharing, sysctl_off_never_attaches)
{
	fill(_metadata, self, 'a');
	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "0"));
	child_b = &self->b;
	EXPECT_EQ(0, in_child(plain_child, NULL));
}

/*
 * Switching sharing off stops new attaches only: holders attached before
 * keep a coherent view, and detach and free their tables as usual.
 */
TEST_F(sharing, sysctl_off_keeps_attached_correct)
{
	struct counters c0, c1;
	struct holder h[2];

	fill(_metadata, self, 'a');
	snap(&c0);
	ASSERT_EQ(0, holder_start(&h[0], &self->b, true));
	ASSERT_EQ(0, holder_start(&h[1], &self->b, true));
	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "0"));
	ASSERT_EQ(0, holder_cmd(&h[0], 'w', 'd'));
	ASSERT_EQ(0, holder_cmd(&h[1], 'c', 'd'));
	child_b = &self->b;
	EXPECT_EQ(0, in_child(plain_child, "d"));
	ASSERT_EQ(0, holder_stop(&h[0]));
	ASSERT_EQ(0, holder_stop(&h[1]));
	snap(&c1);
	EXPECT_EQ(2 * NR_SPANS, c1.attach - c0.attach);
	EXPECT_EQ(c1.attach - c0.attach, c1.detach - c0.detach);
	EXPECT_EQ(NR_SPANS, c1.free - c0.free);
	EXPECT_EQ(c0.pagetables_kb, c1.pagetables_kb);
}

/* ---- madvise: opting ranges in and out -------------------------------- */

static int opt_out_child(void *arg)
{
	long d0 = pt_read_vmstat("pt_share_detach_madvise");
	char *p = backing_map(child_b, true);
	long a0;

	if (!p)
		return 10;
	touch_all(p);
	if (madvise(p, SIZE, MADV_NO_PT_SHARE))
		return 11;
	/* Opting out detaches at once, and later faults do not attach. */
	if (pt_read_vmstat("pt_share_detach_madvise") - d0 != NR_SPANS)
		return 12;
	a0 = pt_read_vmstat("pt_share_attach");
	if (!check_all(p, 'a'))
		return 13;
	return pt_read_vmstat("pt_share_attach") == a0 ? 0 : 14;
}

TEST_F(sharing, madvise_opt_out_detaches)
{
	beside_holder(_metadata, self, opt_out_child, NULL);
}

static int opt_in_child(void *arg)
{
	char *p = backing_map(child_b, true), *q;
	bool anon = child_b->kind == SHARED_ANON;
	long a0;

	if (!p)
		return 10;
	/* Shorter than vm.pt_share_min_bytes: private tables. */
	a0 = pt_read_vmstat("pt_share_attach");
	touch_all(p);
	if (pt_read_vmstat("pt_share_attach") != a0)
		return 11;
	/*
	 * A second mapping, opted in before its first access, shares. For
	 * shared anonymous memory that is a new object in place of the first.
	 */
	if (anon)
		q = mmap(p, SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	else
		q = backing_map(child_b, true);
	if (!q || q == MAP_FAILED || madvise(q, SIZE, MADV_PT_SHARE))
		return 12;
	a0 = pt_read_vmstat("pt_share_attach");
	if (anon)
		write_all(q, 'a');
	if (!check_all(q, 'a'))
		return 13;
	return pt_read_vmstat("pt_share_attach") - a0 == NR_SPANS ? 0 : 14;
}

TEST_F(sharing, madvise_opt_in_overrides_min_bytes)
{
	struct holder h;

	fill(_metadata, self, 'a');
	ASSERT_EQ(0, holder_start(&h, &self->b, true));
	ASSERT_EQ(0, pt_write_file(PT_MIN_KNOB, "1073741824"));
	child_b = &self->b;
	EXPECT_EQ(0, in_child(opt_in_child, NULL));
	ASSERT_EQ(0, holder_cmd(&h, 'c', 'a'));
	ASSERT_EQ(0, holder_stop(&h));
}

TEST_F(sharing, madvise_bad_ranges)
{
	char *p = backing_map(&self->b, true);

	ASSERT_NE(NULL, p);
	/* The errors of every madvise(): unaligned start, unmapped range. */
	EXPECT_EQ(-1, madvise(p + 1, PAGE, MADV_PT_SHARE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, madvise(p + SIZE, SPAN, MADV_NO_PT_SHARE));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(-1, madvise(p, -PAGE, MADV_PT_SHARE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, madvise(p, SIZE, MADV_PT_SHARE));
	EXPECT_EQ(0, madvise(p, SIZE, MADV_NO_PT_SHARE));
	if (self->b.kind != SHARED_ANON)
		backing_unmap(&self->b, p);
}

/* ---- processes come and go: nothing leaks ----------------------------- */

#define STORM_ROUNDS	64
#define STORM_WIDTH	8

static int storm_child(void *arg)
{
	char *p = backing_map(child_b, true);

	if (!p)
		return 10;
	return check_all(p, 'a') ? 0 : 11;
}

/*
 * Waves of processes attach and exit while a holder stays attached; at the
 * end every table is freed and PageTables is back where it started.
 */
TEST_F(sharing, fork_storm_leaves_nothing)
{
	struct counters c0, c1;
	pid_t pids[STORM_WIDTH];
	struct holder h;
	int r, i, status;

	fill(_metadata, self, 'a');
	child_b = &self->b;
	snap(&c0);
	ASSERT_EQ(0, holder_start(&h, &self->b, true));
	for (r = 0; r < STORM_ROUNDS; r++) {
		for (i = 0; i < STORM_WIDTH; i++) {
			pids[i] = fork();
			ASSERT_GE(pids[i], 0);
			if (!pids[i])
				_exit(storm_child(NULL));
		}
		for (i = 0; i < STORM_WIDTH; i++) {
			ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
			ASSERT_TRUE(WIFEXITED(status));
			ASSERT_EQ(0, WEXITSTATUS(status));
		}
	}
	ASSERT_EQ(0, holder_cmd(&h, 'c', 'a'));
	ASSERT_EQ(0, holder_stop(&h));
	snap(&c1);
	EXPECT_GE(c1.attach - c0.attach,
		  (long)(STORM_ROUNDS * STORM_WIDTH + 1) * NR_SPANS);
	EXPECT_EQ(c1.attach - c0.attach, c1.detach - c0.detach);
	EXPECT_EQ(c1.alloc - c0.alloc, c1.free - c0.free);
	EXPECT_EQ(c0.pagetables_kb, c1.pagetables_kb);
}

/* ---- reclaim: swap out and in through shared tables ------------------- */

#define CG	"/sys/fs/cgroup/pt_share_test"

static int swap_child(void *arg)
{
	long a0 = pt_read_vmstat("pt_share_attach");
	char *p;
	int i;

	if (pt_cg_enter(CG))
		return 10;
	/*
	 * Free the pages and write them again, so that they are charged here:
	 * 16 MiB of shmem under an 8 MiB limit, reclaim must swap.
	 */
	p = backing_map(child_b, true);
	if (!p || madvise(p, SIZE, MADV_REMOVE))
		return 11;
	for (i = 0; i < 3; i++) {
		write_all(p, 'k' + i);
		if (!check_all(p, 'k' + i))
			return 12;
	}
	/* The pages went out and came back through shared tables. */
	return pt_read_vmstat("pt_share_attach") - a0 >= NR_SPANS ? 0 : 13;
}

/*
 * Pages in shared tables are swapped out under a memcg limit while another
 * process is attached, then swapped in again: both read the right data.
 */
TEST_F_TIMEOUT(sharing, swap_out_and_in, SLOW_TEST_TIMEOUT)
{
	long out0, in0;
	struct holder h;

	if (!pt_swap_setup(CG, "8M")) {
		pt_swap_teardown(CG);
		SKIP(return, "needs zram, mkswap and the memory controller");
	}
	out0 = pt_read_vmstat("pswpout");
	in0 = pt_read_vmstat("pswpin");
	fill(_metadata, self, 'a');
	ASSERT_EQ(0, holder_start(&h, &self->b, true));
	child_b = &self->b;
	EXPECT_EQ(0, in_child(swap_child, NULL));
	ASSERT_EQ(0, holder_cmd(&h, 'c', 'k' + 2));
	ASSERT_EQ(0, holder_stop(&h));
	TH_LOG("pswpout +%ld, pswpin +%ld", pt_read_vmstat("pswpout") - out0,
	       pt_read_vmstat("pswpin") - in0);
	EXPECT_GT(pt_read_vmstat("pswpout") - out0, 0);
	EXPECT_GT(pt_read_vmstat("pswpin") - in0, 0);
	pt_swap_teardown(CG);
}

TEST_HARNESS_MAIN
