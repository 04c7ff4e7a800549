// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_idle: shared PTE tables that outlive their last mapper
 * (vm.pt_share_idle = 1), checked from outside through /proc/vmstat
 * (nr_pt_share_idle, pt_share_table_reuse, pt_share_table_shrink),
 * PageTables, the memcg's memory.stat and the data itself.
 *
 * cold_attach: writers map 1 GiB, write a tag into every page and exit;
 *   a fresh reader then reads every page. Kept idle, the 512 tables come
 *   back in one fault per 2 MiB span, with no table allocated; without
 *   idle tables the reader faults every page in again. Both in one run.
 * truncate, punch: with only idle tables left, truncation frees the tables
 *   and the file reads as stock's (SIGBUS past EOF, zeroes in a hole).
 * migrate: move_pages(MPOL_MF_MOVE_ALL), from a private mapping, of pages
 *   that idle tables also map: every page moves, and the next attacher
 *   reads the moved pages.
 * migrate_window: the only sharer of a table unmaps it while a migration
 *   of one of its pages sleeps in the debug kernel's unmap window, with
 *   the migration entry in the table: the table goes idle, and the next
 *   attacher reads every page (no stale migration entry to wait on).
 * reclaim: under a memcg with zram swap, memory.reclaim frees the memcg's
 *   idle tables and swaps out the file nobody maps; a later attacher reads
 *   every page back.
 * memcg: a memcg pays for the idle tables its processes left, stops paying
 *   once another process attaches them, and pays again once one of its
 *   processes takes them back.
 * memcg_rmdir: removing the paying memcg moves the charge and the LRU
 *   entries of its idle tables to the parent, whose reclaim frees them,
 *   and leaves no dying memcg behind.
 * memcg_no_oom: an allocation in a full memcg that pays for idle tables
 *   gets their memory from the shrinker instead of an OOM kill.
 * invalidate: drop_caches 1 and 3 and POSIX_FADV_DONTNEED, with only idle
 *   tables left, keep the same pages as without them: the written (dirty)
 *   pages, and none of the clean pages read from holes, which an idle
 *   entry must not keep.
 * evict: closing the last fd of an unlinked file frees its idle tables.
 * knob: vm.pt_share_idle takes 0 or 1 and rejects anything else; with
 *   vm.pt_share = 0 a mapper attaches no idle table, and drop_caches 2
 *   still frees them all.
 *
 * Each ends with no idle table, attachment or page table left behind.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/falloc.h>
#include <linux/mempolicy.h>

#include "../../kselftest_harness.h"
#include "pt_share_util.h"

#define MIB(x)		((size_t)(x) << 20)
#define IDLE_CG		"/sys/fs/cgroup/pt_share_idle"

static inline uint64_t tag(unsigned long i, unsigned long salt)
{
	return (uint64_t)(i + 1) << 32 | salt;
}

/* A node statistic: fold the per-CPU deltas first. */
static long idle_tables(void)
{
	pt_write_file("/proc/sys/vm/stat_refresh", "1");
	return pt_read_vmstat("nr_pt_share_idle");
}

FIXTURE(idle) {
	struct pt_knobs knobs;
	char path[64];
	int fd;
	size_t size;
	struct pt_leak_snap s0;
};

FIXTURE_SETUP(idle)
{
	self->fd = -1;
	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "kernel without CONFIG_PT_SHARE");
	if (access(PT_IDLE_KNOB, F_OK))
		SKIP(return, "kernel without idle shared tables (vm.pt_share_idle)");
	if (getuid())
		SKIP(return, "needs root to set vm.pt_share");
	ASSERT_EQ(0, pt_knobs_save_and_enable(&self->knobs, true));
	ASSERT_EQ(0, pt_write_file(PT_IDLE_KNOB, "1"));
	snprintf(self->path, sizeof(self->path), "/dev/shm/pt_share_idle.%d",
		 getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, self->fd);
	self->size = MIB(64);
	ASSERT_EQ(0, ftruncate(self->fd, self->size));
	pt_fault_setup();
	/* Also frees the idle tables earlier tests left (drop_caches 3). */
	pt_leak_snap(&self->s0);
	ASSERT_EQ(0, idle_tables());
}

FIXTURE_TEARDOWN(idle)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->path[0])
		unlink(self->path);
	pt_knobs_restore(&self->knobs);
}

struct job {
	int fd;
	size_t size;
	unsigned long salt;
	const char *cg;		/* run in this memcg, or NULL */
	bool zero;		/* the pages were never written: read zeroes */
	long minflt;		/* out: minor faults of the reads */
	long bad;		/* out: first wrong page + 1, or 0 */
};

static struct job *shared_job(void)
{
	struct job *j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return j == MAP_FAILED ? NULL : j;
}

/*
 * In the job's memcg, map the file read-write at a table-aligned address:
 * writers and readers map it alike, so they attach the same tables. On
 * failure, NULL and *@err the child's exit status.
 */
static char *job_map(struct job *j, int *err)
{
	char *p;

	if (j->cg && pt_cg_enter(j->cg)) {
		*err = 10;
		return NULL;
	}
	p = pt_map_aligned(j->fd, j->size, PROT_READ | PROT_WRITE);
	if (!p)
		*err = 11;
	return p;
}

/* Map the file, write tag(i, salt) into every page i, exit. */
static int writer(void *arg)
{
	struct job *j = arg;
	unsigned long i;
	int err;
	char *p = job_map(j, &err);

	if (!p)
		return err;
	for (i = 0; i < j->size / PT_PAGE; i++)
		PT_STORE(*(uint64_t *)(p + i * PT_PAGE), tag(i, j->salt));
	return 0;
}

/* Map the file as the writers did, read every page (its tag, or zero); count faults. */
static int reader(void *arg)
{
	struct job *j = arg;
	struct rusage r0, r1;
	unsigned long i;
	uint64_t v;
	int err;
	char *p = job_map(j, &err);

	if (!p)
		return err;
	getrusage(RUSAGE_SELF, &r0);
	for (i = 0; i < j->size / PT_PAGE; i++) {
		v = PT_LOAD(*(uint64_t *)(p + i * PT_PAGE));
		if (v != (j->zero ? 0 : tag(i, j->salt)) && !j->bad)
			j->bad = i + 1;
	}
	getrusage(RUSAGE_SELF, &r1);
	j->minflt = r1.ru_minflt - r0.ru_minflt;
	return 0;
}

/* Fill the file from @nr writers, one after the other, which then exit. */
static void fill(struct __test_metadata *_metadata, struct job *j, int nr)
{
	int k;

	for (k = 0; k < nr; k++)
		ASSERT_EQ(0, pt_in_child(writer, j));
}

/* ---- cold attach --------------------------------------------------------- */

struct cold {
	long faults, allocs, reuses, idle, pt_kb;
};

static void cold_run(struct __test_metadata *_metadata,
		     struct _test_data_idle *self, bool idle, struct cold *c)
{
	struct job *j = shared_job();
	long a0, r0, pt0;

	ASSERT_NE(NULL, j);
	ASSERT_EQ(0, pt_write_file(PT_IDLE_KNOB, idle ? "1" : "0"));
	ASSERT_EQ(0, pt_write_file("/proc/sys/vm/drop_caches", "2"));
	pt0 = pt_settled_pagetables_kb();
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = idle };
	fill(_metadata, j, 2);
	c->idle = idle_tables();
	c->pt_kb = pt_settled_pagetables_kb() - pt0;
	a0 = pt_read_vmstat("pt_share_table_alloc");
	r0 = pt_read_vmstat("pt_share_table_reuse");
	ASSERT_EQ(0, pt_in_child(reader, j));
	EXPECT_EQ(0, j->bad) TH_LOG("page %ld read wrong", j->bad - 1);
	c->faults = j->minflt;
	c->allocs = pt_read_vmstat("pt_share_table_alloc") - a0;
	c->reuses = pt_read_vmstat("pt_share_table_reuse") - r0;
	TH_LOG("idle %s: %ld idle tables, PageTables +%ld kB with no mapper;",
	       idle ? "on " : "off", c->idle, c->pt_kb);
	TH_LOG("  reader: %ld faults, %ld tables allocated, %ld reused",
	       c->faults, c->allocs, c->reuses);
	munmap(j, sizeof(*j));
}

TEST_F_TIMEOUT(idle, cold_attach, 900)
{
	unsigned long spans;
	struct cold off, on;

	self->size = MIB(1024);
	spans = self->size / PT_SPAN;
	ASSERT_EQ(0, ftruncate(self->fd, self->size));
	cold_run(_metadata, self, false, &off);
	cold_run(_metadata, self, true, &on);

	/* Off: the tables went with the last mapper, and every page faults. */
	EXPECT_EQ(0, off.idle);
	EXPECT_EQ(spans, off.allocs);
	/* On: 512 idle tables, 2 MiB of page tables, one fault per span. */
	EXPECT_EQ(spans, on.idle);
	EXPECT_LE(spans * 4, on.pt_kb);
	EXPECT_LE(on.faults, spans);
	EXPECT_EQ(0, on.allocs);
	EXPECT_EQ(spans, on.reuses);
	EXPECT_LE(30 * on.faults, off.faults)
		TH_LOG("faults without idle tables %ld, with %ld", off.faults,
		       on.faults);
	pt_leak_expect(self->s0);
}

/* ---- truncation with only idle tables ------------------------------------ */

TEST_F(idle, truncate)
{
	struct job *j = shared_job();
	long f0, spans = self->size / PT_SPAN;
	uint64_t v = 0;
	char *p;

	ASSERT_NE(NULL, j);
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = 7 };
	fill(_metadata, j, 1);
	ASSERT_EQ(spans, idle_tables());
	f0 = pt_read_vmstat("pt_share_table_free");
	ASSERT_EQ(0, ftruncate(self->fd, 0));
	/* Wholly truncated: every idle table is freed at once. */
	EXPECT_EQ(0, idle_tables());
	EXPECT_EQ(spans, pt_read_vmstat("pt_share_table_free") - f0);
	/* Past EOF, as on stock: SIGBUS. */
	ASSERT_EQ(0, ftruncate(self->fd, self->size));
	ASSERT_EQ(0, ftruncate(self->fd, PT_SPAN));
	p = pt_map_aligned(self->fd, self->size, PROT_READ);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(SIGBUS, pt_access64((uint64_t *)(p + PT_SPAN), false, &v));
	EXPECT_EQ(0, pt_access64((uint64_t *)p, false, &v));
	EXPECT_EQ(0, v);
	munmap(p, self->size);
	munmap(j, sizeof(*j));
	pt_leak_expect(self->s0);
}

TEST_F(idle, punch)
{
	struct job *j = shared_job();
	long spans = self->size / PT_SPAN, f0;
	unsigned long i, holes = 0, wrong = 0;
	uint64_t v;
	char *p;

	ASSERT_NE(NULL, j);
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = 9 };
	fill(_metadata, j, 1);
	ASSERT_EQ(spans, idle_tables());
	f0 = pt_read_vmstat("pt_share_table_free");
	/* Span 1 whole, and four pages of span 3. */
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       PT_SPAN, PT_SPAN));
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       3 * PT_SPAN + 8 * PT_PAGE, 4 * PT_PAGE));
	EXPECT_EQ(spans - 1, idle_tables());
	EXPECT_EQ(1, pt_read_vmstat("pt_share_table_free") - f0);
	p = pt_map_aligned(self->fd, self->size, PROT_READ);
	ASSERT_NE(NULL, p);
	for (i = 0; i < self->size / PT_PAGE; i++) {
		bool hole = (i >= PT_SPAN / PT_PAGE && i < 2 * PT_SPAN / PT_PAGE) ||
			    (i >= 3 * PT_SPAN / PT_PAGE + 8 &&
			     i < 3 * PT_SPAN / PT_PAGE + 12);

		v = PT_LOAD(*(uint64_t *)(p + i * PT_PAGE));
		holes += hole && !v;
		wrong += hole ? !!v : v != tag(i, 9);
	}
	EXPECT_EQ(PT_SPAN / PT_PAGE + 4, holes);
	EXPECT_EQ(0, wrong);
	munmap(p, self->size);
	munmap(j, sizeof(*j));
	pt_leak_expect(self->s0);
}

/* ---- migration of pages only idle tables map ----------------------------- */

/*
 * Set @nodes to the node each of the @n @pages is not on: move_pages()
 * leaves a page already on its target alone, and where the pages start
 * depends on the CPU that wrote them. 0, or -1 if a page is not there.
 */
static int other_nodes(unsigned long n, void **pages, int *nodes)
{
	unsigned long i;

	if (syscall(__NR_move_pages, 0, n, pages, NULL, nodes, 0))
		return -1;
	for (i = 0; i < n; i++) {
		if (nodes[i] < 0)
			return -1;
		nodes[i] = !nodes[i];
	}
	return 0;
}

static int migrate_private(void *arg)
{
	struct job *j = arg;
	unsigned long i, n = j->size / PT_PAGE;
	int *nodes = calloc(n, sizeof(int)), *status = calloc(n, sizeof(int));
	void **pages = calloc(n, sizeof(void *));
	char *p;

	if (!nodes || !status || !pages)
		return 10;
	p = pt_map_aligned(j->fd, j->size, PROT_READ);
	if (!p || madvise(p, j->size, MADV_NO_PT_SHARE))
		return 11;
	for (i = 0; i < n; i++) {
		pt_touch(p + i * PT_PAGE);
		pages[i] = p + i * PT_PAGE;
	}
	if (other_nodes(n, pages, nodes))
		return 12;
	if (syscall(__NR_move_pages, 0, n, pages, nodes, status,
		    MPOL_MF_MOVE_ALL))
		return 13;
	for (i = 0; i < n; i++)
		if (status[i] != nodes[i] && !j->bad)
			j->bad = i + 1;
	return 0;
}

TEST_F(idle, migrate)
{
	struct job *j = shared_job();
	long spans = self->size / PT_SPAN;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "needs two NUMA nodes (numa=fake=2)");
	ASSERT_NE(NULL, j);
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = 3 };
	fill(_metadata, j, 1);
	ASSERT_EQ(spans, idle_tables());
	ASSERT_EQ(0, pt_in_child(migrate_private, j));
	/* Not one page left behind for the idle entries that mapped it. */
	EXPECT_EQ(0, j->bad) TH_LOG("page %ld did not move to the other node",
				    j->bad - 1);
	j->bad = 0;
	ASSERT_EQ(0, pt_in_child(reader, j));
	EXPECT_EQ(0, j->bad) TH_LOG("page %ld read wrong after migration",
				    j->bad - 1);
	munmap(j, sizeof(*j));
	pt_leak_expect(self->s0);
}

/* ---- a migration that outlives the last sharer ------------------------- */

struct leave {
	char *p;
	size_t size;
	unsigned long taken;	/* unmap_windows before the migration */
	int left;	/* the munmap has returned */
};

#define UNMAP_WINDOWS	PT_WINDOW_DIR "/unmap_windows"

/* The second thread: once the migration sleeps in the window, unmap. */
static void *leaver(void *arg)
{
	struct leave *l = arg;
	int i;

	for (i = 0; i < 5000 && pt_read_ulong(UNMAP_WINDOWS) == l->taken; i++)
		usleep(1000);
	munmap(l->p, l->size);
	PT_STORE(l->left, 1);
	return NULL;
}

/*
 * As the only sharer of the file's tables, move page 0 to the other node;
 * while the migration sleeps in the unmap window, with its migration entry
 * in the shared table, unmap the file from a second thread, so that the
 * table goes idle before the migration restores its entries through the
 * VMAs, which no longer lead to it.
 */
static int migrate_and_leave(void *arg)
{
	struct job *j = arg;
	struct leave l = { .size = j->size };
	int node, status, err, left;
	pthread_t t;
	void *page;

	l.p = job_map(j, &err);
	if (!l.p)
		return err;
	pt_touch(l.p);
	page = l.p;
	if (other_nodes(1, &page, &node))
		return 12;
	l.taken = pt_read_ulong(UNMAP_WINDOWS);
	if (l.taken == ~0UL ||
	    pt_write_file(PT_WINDOW_DIR "/unmap_window_ms", "500"))
		return 13;
	if (pthread_create(&t, NULL, leaver, &l))
		return 14;
	err = syscall(__NR_move_pages, 0, 1, &page, &node, &status,
		      MPOL_MF_MOVE_ALL);
	left = PT_LOAD(l.left);
	pthread_join(t, NULL);
	pt_write_file(PT_WINDOW_DIR "/unmap_window_ms", "0");
	if (err || status != node)
		return 15;
	/* The window was taken, and the unmap ended inside it. */
	if (pt_read_ulong(UNMAP_WINDOWS) != l.taken + 1 || !left)
		return 16;
	return 0;
}

TEST_F(idle, migrate_window)
{
	struct job *j = shared_job();
	long spans = self->size / PT_SPAN;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "needs two NUMA nodes (numa=fake=2)");
	if (access(PT_WINDOW_DIR "/unmap_window_ms", F_OK))
		SKIP(return, "needs CONFIG_PT_SHARE_DEBUG_WINDOWS and debugfs");
	ASSERT_NE(NULL, j);
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = 4 };
	fill(_metadata, j, 1);
	ASSERT_EQ(spans, idle_tables());
	/* 16: the unmap did not end inside the window (see the child). */
	ASSERT_EQ(0, pt_in_child(migrate_and_leave, j));
	EXPECT_EQ(spans, idle_tables());
	/* The idle table kept no migration entry for the reader to wait on. */
	ASSERT_EQ(0, pt_in_child(reader, j));
	EXPECT_EQ(0, j->bad) TH_LOG("page %ld read wrong after the migration",
				    j->bad - 1);
	munmap(j, sizeof(*j));
	pt_leak_expect(self->s0);
}

/* ---- memcg: who pays, and whose reclaim frees ----------------------------- */

/* The value of the "key value" line @key of @path, or -1. */
static long file_key(const char *path, const char *key)
{
	char buf[8192], *s;
	size_t len = strlen(key);
	int fd;
	ssize_t n;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (s = buf; s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
		if (!strncmp(s, key, len) && s[len] == ' ')
			return strtol(s + len + 1, NULL, 10);
	return -1;
}

static long cg_stat(const char *cg, const char *key)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	return file_key(path, key);
}

/*
 * @key of @cg's memory.stat, folded: memory.stat folds the per-CPU deltas
 * only once they add up to about MEMCG_CHARGE_BATCH pages per CPU, so a
 * child in @nudge (@cg or a memcg under it) makes that many updates of its
 * own (anon pages in and out) before each read, and reads until the figure
 * holds still. The child faults its buffer in before it joins @nudge, so
 * that the page table under it is charged where the test runs, not to
 * @nudge: where mmap() places the buffer decides whether it needs a new
 * table, and that varies from one call to the next.
 */
static long cg_stat_settled_by(const char *cg, const char *key,
			       const char *nudge)
{
	long *v = mmap(NULL, sizeof(*v), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long prev = -1, ret;
	int i, r, still = 0;
	size_t len = 16 * PT_PAGE;
	pid_t pid;
	char *buf;

	if (v == MAP_FAILED)
		return -1;
	*v = -1;
	fflush(NULL);
	pid = fork();
	if (!pid) {
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			_exit(2);
		memset(buf, 1, len);
		if (pt_cg_enter(nudge))
			_exit(1);
		for (i = 0; i < 100 && still < 3; i++) {
			for (r = 0; r < 8; r++) {
				memset(buf, 1, len);
				madvise(buf, len, MADV_DONTNEED);
			}
			prev = *v;
			*v = cg_stat(cg, key);
			still = *v == prev ? still + 1 : 0;
			usleep(50000);
		}
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	ret = *v;
	munmap(v, sizeof(*v));
	return ret;
}

static long cg_stat_settled(const char *cg, const char *key)
{
	return cg_stat_settled_by(cg, key, cg);
}

TEST_F_TIMEOUT(idle, reclaim, 600)
{
	struct job *j = shared_job();
	long spans = self->size / PT_SPAN, pt0, pt1, pt2, sh1, sh2, k0;

	if (!pt_swap_setup(IDLE_CG, NULL)) {
		pt_swap_teardown(IDLE_CG);
		SKIP(return, "needs zram, mkswap and the memory controller");
	}
	pt_leak_rebase(&self->s0);
	ASSERT_NE(NULL, j);
	pt0 = cg_stat(IDLE_CG, "pagetables");
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = 5,
			   .cg = IDLE_CG };
	/* The file's pages and its idle tables are the memcg's. */
	fill(_metadata, j, 1);
	EXPECT_EQ(spans, idle_tables());
	pt1 = cg_stat(IDLE_CG, "pagetables");
	sh1 = cg_stat(IDLE_CG, "shmem");
	k0 = pt_read_vmstat("pt_share_table_shrink");
	pt_write_file(IDLE_CG "/memory.reclaim", "64M");
	pt_write_file(IDLE_CG "/memory.reclaim", "64M");
	pt2 = cg_stat(IDLE_CG, "pagetables");
	sh2 = cg_stat(IDLE_CG, "shmem");
	TH_LOG("memcg pagetables %ld -> %ld -> %ld bytes, shmem %ld -> %ld, shrunk %ld tables",
	       pt0, pt1, pt2, sh1, sh2,
	       pt_read_vmstat("pt_share_table_shrink") - k0);
	/* It paid for every idle table, and its reclaim freed them. */
	EXPECT_LE(pt0 + spans * (long)PT_PAGE, pt1);
	EXPECT_EQ(0, idle_tables());
	EXPECT_EQ(spans, pt_read_vmstat("pt_share_table_shrink") - k0);
	EXPECT_GE(pt0, pt2);
	/* The file nobody maps went to swap, at least half of it. */
	EXPECT_LE(sh2, sh1 / 2);
	j->cg = NULL;
	ASSERT_EQ(0, pt_in_child(reader, j));
	EXPECT_EQ(0, j->bad) TH_LOG("page %ld read wrong after swap-in",
				    j->bad - 1);
	munmap(j, sizeof(*j));
	pt_swap_teardown(IDLE_CG);
	pt_leak_expect(self->s0);
}

TEST_F(idle, memcg)
{
	struct job *j = shared_job();
	long spans = self->size / PT_SPAN, pt0, pt1, pt2, pt3;

	if (access("/sys/fs/cgroup/cgroup.subtree_control", F_OK))
		SKIP(return, "needs the memory controller (cgroup2)");
	ASSERT_NE(NULL, j);
	pt_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	ASSERT_TRUE(!mkdir(IDLE_CG, 0755) || errno == EEXIST);
	pt_leak_rebase(&self->s0);
	pt0 = cg_stat_settled(IDLE_CG, "pagetables");
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = 1,
			   .cg = IDLE_CG };
	fill(_metadata, j, 1);
	pt1 = cg_stat_settled(IDLE_CG, "pagetables");
	/* A reader outside the memcg takes the tables: the memcg stops paying. */
	j->cg = NULL;
	ASSERT_EQ(0, pt_in_child(reader, j));
	EXPECT_EQ(0, j->bad);
	pt2 = cg_stat_settled(IDLE_CG, "pagetables");
	TH_LOG("memcg pagetables: %ld before, %ld with its idle tables, %ld once another took them",
	       pt0, pt1, pt2);
	EXPECT_LE(pt0 + spans * (long)PT_PAGE, pt1);
	EXPECT_GE(pt0 + 16 * (long)PT_PAGE, pt2);
	/* They are idle again, now the reader's (root: charged to none). */
	EXPECT_EQ(spans, idle_tables());
	/*
	 * The other way: a reader in the memcg takes tables nobody in it
	 * paid for, and the memcg pays for them from then on, idle or not:
	 * no process escapes its limit through tables others left.
	 */
	j->cg = IDLE_CG;
	ASSERT_EQ(0, pt_in_child(reader, j));
	EXPECT_EQ(0, j->bad);
	pt3 = cg_stat_settled(IDLE_CG, "pagetables");
	TH_LOG("memcg pagetables: %ld once its reader took them back", pt3);
	EXPECT_LE(pt0 + spans * (long)PT_PAGE, pt3);
	EXPECT_EQ(spans, idle_tables());
	munmap(j, sizeof(*j));
	EXPECT_EQ(0, rmdir(IDLE_CG));
	pt_leak_expect(self->s0);
}

static long cg_file(const char *cg, const char *file, const char *key)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return file_key(path, key);
}

/*
 * Populate the file from this process (the root memcg pays for its pages),
 * then drop the tables that leaves, so that a job in a memcg charges it
 * its tables and nothing else of the file.
 */
static void populate_outside(struct __test_metadata *_metadata,
			     struct job *j)
{
	const char *cg = j->cg;

	j->cg = NULL;
	fill(_metadata, j, 1);
	j->cg = cg;
	ASSERT_EQ(0, pt_write_file("/proc/sys/vm/drop_caches", "2"));
	ASSERT_EQ(0, idle_tables());
}

#define IDLE_CG_CHILD	IDLE_CG "/payer"
/* A process cannot be in a memcg whose children have the controller. */
#define IDLE_CG_NUDGE	IDLE_CG "/nudge"

TEST_F_TIMEOUT(idle, memcg_rmdir, 300)
{
	struct job *j = shared_job();
	long spans = self->size / PT_SPAN, pp0, pp1, pp2, k0, dying = -1;
	int i;

	if (access("/sys/fs/cgroup/cgroup.subtree_control", F_OK))
		SKIP(return, "needs the memory controller (cgroup2)");
	ASSERT_NE(NULL, j);
	pt_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	ASSERT_TRUE(!mkdir(IDLE_CG, 0755) || errno == EEXIST);
	ASSERT_EQ(0, pt_write_file(IDLE_CG "/cgroup.subtree_control", "+memory"));
	ASSERT_EQ(0, mkdir(IDLE_CG_CHILD, 0755));
	ASSERT_EQ(0, mkdir(IDLE_CG_NUDGE, 0755));
	pt_leak_rebase(&self->s0);
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = 6,
			   .cg = IDLE_CG_CHILD };
	populate_outside(_metadata, j);
	pp0 = cg_stat_settled_by(IDLE_CG, "pagetables", IDLE_CG_NUDGE);
	/* The child memcg pays for the idle tables its writer left. */
	fill(_metadata, j, 1);
	ASSERT_EQ(spans, idle_tables());
	EXPECT_LE(spans * (long)PT_PAGE,
		  cg_stat_settled(IDLE_CG_CHILD, "pagetables"));
	ASSERT_EQ(0, rmdir(IDLE_CG_CHILD));
	/*
	 * Removed, the child's charge and its LRU lists go to the parent; no
	 * idle table keeps the dead memcg alive.
	 */
	for (i = 0; i < 100; i++) {
		dying = cg_file(IDLE_CG, "cgroup.stat", "nr_dying_descendants");
		if (!dying)
			break;
		usleep(100000);
	}
	EXPECT_EQ(0, dying) TH_LOG("the removed memcg is still dying after 10 s");
	EXPECT_EQ(spans, idle_tables());
	pp1 = cg_stat_settled_by(IDLE_CG, "pagetables", IDLE_CG_NUDGE);
	EXPECT_LE(pp0 + spans * (long)PT_PAGE, pp1);
	/* The parent's reclaim now finds them on its own list. */
	k0 = pt_read_vmstat("pt_share_table_shrink");
	pt_write_file(IDLE_CG "/memory.reclaim", "64M");
	EXPECT_EQ(spans, pt_read_vmstat("pt_share_table_shrink") - k0);
	EXPECT_EQ(0, idle_tables());
	pp2 = cg_stat_settled_by(IDLE_CG, "pagetables", IDLE_CG_NUDGE);
	TH_LOG("parent pagetables: %ld, %ld after the child's rmdir, %ld after its reclaim",
	       pp0, pp1, pp2);
	EXPECT_GE(pp0, pp2);
	munmap(j, sizeof(*j));
	EXPECT_EQ(0, rmdir(IDLE_CG_NUDGE));
	EXPECT_EQ(0, rmdir(IDLE_CG));
	pt_leak_expect(self->s0);
}

/* Fault in @j->size bytes of anonymous memory in the job's memcg. */
static int hog(void *arg)
{
	struct job *j = arg;
	size_t i;
	char *p;

	if (pt_cg_enter(j->cg))
		return 10;
	p = mmap(NULL, j->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 11;
	for (i = 0; i < j->size; i += PT_PAGE)
		PT_STORE(p[i], 1);
	return 0;
}

TEST_F_TIMEOUT(idle, memcg_no_oom, 300)
{
	struct job *j = shared_job();
	long spans, k0, oom, cur;
	size_t max = MIB(16);
	char v[32];

	if (access("/sys/fs/cgroup/cgroup.subtree_control", F_OK))
		SKIP(return, "needs the memory controller (cgroup2)");
	ASSERT_NE(NULL, j);
	/* 2 MiB of tables: an eighth of the limit. */
	self->size = MIB(512);
	spans = self->size / PT_SPAN;
	ASSERT_EQ(0, ftruncate(self->fd, self->size));
	pt_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	ASSERT_TRUE(!mkdir(IDLE_CG, 0755) || errno == EEXIST);
	pt_leak_rebase(&self->s0);
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = 7,
			   .cg = IDLE_CG };
	populate_outside(_metadata, j);
	snprintf(v, sizeof(v), "%zu", max);
	ASSERT_EQ(0, pt_write_file(IDLE_CG "/memory.max", v));
	/* Only the idle tables can give: no swap for its anonymous memory. */
	pt_write_file(IDLE_CG "/memory.swap.max", "0");
	fill(_metadata, j, 1);
	ASSERT_EQ(spans, idle_tables());
	cur = pt_read_ulong(IDLE_CG "/memory.current");
	/*
	 * The memcg pays for the idle tables, nobody maps them: an allocation
	 * that fits only once they are gone must get their memory, not an
	 * OOM kill.
	 */
	k0 = pt_read_vmstat("pt_share_table_shrink");
	j->size = max - MIB(1);
	EXPECT_EQ(0, pt_in_child(hog, j));
	oom = cg_file(IDLE_CG, "memory.events", "oom_kill");
	TH_LOG("memory.current %ld kB with the idle tables; hog of %zu kB:",
	       cur >> 10, j->size >> 10);
	TH_LOG("  %ld tables shrunk, %ld OOM kills",
	       pt_read_vmstat("pt_share_table_shrink") - k0, oom);
	EXPECT_LE(max - MIB(1) + spans * PT_PAGE, cur + j->size);
	EXPECT_EQ(0, oom);
	EXPECT_LT(0, pt_read_vmstat("pt_share_table_shrink") - k0);
	munmap(j, sizeof(*j));
	EXPECT_EQ(0, rmdir(IDLE_CG));
	pt_leak_expect(self->s0);
}

/* Pages of @fd's first @size bytes in the page cache (mincore()). */
static long resident(int fd, size_t size)
{
	size_t i, n = size / PT_PAGE;
	unsigned char *vec = malloc(n);
	long count = -1;
	void *p;

	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (vec && p != MAP_FAILED && !mincore(p, size, vec))
		for (count = 0, i = 0; i < n; i++)
			count += vec[i] & 1;
	if (p != MAP_FAILED)
		munmap(p, size);
	free(vec);
	return count;
}

/*
 * Page-cache invalidation with only idle tables left: drop_caches 1,
 * POSIX_FADV_DONTNEED and drop_caches 3 keep the same pages of the file
 * as without idle tables, and the file reads back. Written pages are dirty
 * and stay; @clean: the pages were only read from holes, so they are
 * clean and invalidation drops them, which an idle entry must not stop.
 */
static void invalidate_run(struct __test_metadata *_metadata,
			   struct _test_data_idle *self, bool idle, bool clean,
			   long out[3])
{
	struct job *j = shared_job();

	ASSERT_NE(NULL, j);
	ASSERT_EQ(0, pt_write_file(PT_IDLE_KNOB, idle ? "1" : "0"));
	*j = (struct job){ .fd = self->fd, .size = self->size,
			   .salt = 8 + idle, .zero = clean };
	if (clean) {
		/* Holes again: a read fault adds a clean page of zeroes. */
		ASSERT_EQ(0, ftruncate(self->fd, 0));
		ASSERT_EQ(0, ftruncate(self->fd, self->size));
		ASSERT_EQ(0, pt_in_child(reader, j));
		ASSERT_EQ(0, j->bad);
	} else {
		fill(_metadata, j, 1);
	}
	ASSERT_EQ(idle ? (long)(self->size / PT_SPAN) : 0, idle_tables());
	ASSERT_EQ(0, pt_write_file("/proc/sys/vm/drop_caches", "1"));
	out[0] = resident(self->fd, self->size);
	ASSERT_EQ(0, posix_fadvise(self->fd, 0, self->size,
				   POSIX_FADV_DONTNEED));
	out[1] = resident(self->fd, self->size);
	ASSERT_EQ(0, pt_write_file("/proc/sys/vm/drop_caches", "3"));
	out[2] = resident(self->fd, self->size);
	EXPECT_EQ(0, idle_tables());
	ASSERT_EQ(0, pt_in_child(reader, j));
	EXPECT_EQ(0, j->bad) TH_LOG("page %ld read wrong", j->bad - 1);
	TH_LOG("%s pages, idle %s: resident after drop_caches 1 %ld,",
	       clean ? "clean" : "dirty", idle ? "on " : "off", out[0]);
	TH_LOG("  FADV_DONTNEED %ld, drop_caches 3 %ld", out[1], out[2]);
	munmap(j, sizeof(*j));
}

TEST_F_TIMEOUT(idle, invalidate, 300)
{
	long pages = self->size / PT_PAGE, off[3], on[3];
	int clean, i;

	for (clean = 0; clean <= 1; clean++) {
		invalidate_run(_metadata, self, false, clean, off);
		invalidate_run(_metadata, self, true, clean, on);
		for (i = 0; i < 3; i++)
			EXPECT_EQ(off[i], on[i]);
		/* Or the case shows nothing: stock keeps dirty, drops clean. */
		EXPECT_TRUE(clean ? off[0] < pages / 2 : off[0] == pages);
	}
	pt_leak_expect(self->s0);
}

TEST_F(idle, evict)
{
	struct job *j = shared_job();
	long spans = self->size / PT_SPAN, f0;

	ASSERT_NE(NULL, j);
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = 2 };
	fill(_metadata, j, 1);
	ASSERT_EQ(spans, idle_tables());
	f0 = pt_read_vmstat("pt_share_table_free");
	/* The last reference to the unlinked inode: eviction frees them. */
	ASSERT_EQ(0, unlink(self->path));
	self->path[0] = '\0';
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, idle_tables());
	EXPECT_EQ(spans, pt_read_vmstat("pt_share_table_free") - f0);
	munmap(j, sizeof(*j));
	pt_leak_expect(self->s0);
}

TEST_F_TIMEOUT(idle, knob, 120)
{
	static const char * const bad[] = {
		"2", "-1", "abc", "", "\n", "1 1", "0x1", " ",
	};
	long spans = self->size / PT_SPAN, r0, k0;
	struct job *j = shared_job();
	unsigned int i, old;

	for (old = 0; old <= 1; old++) {
		char v[2] = { '0' + old, 0 };

		ASSERT_EQ(0, pt_write_file(PT_IDLE_KNOB, v));
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			EXPECT_EQ(-EINVAL, pt_write_file(PT_IDLE_KNOB, bad[i]))
				TH_LOG("write \"%s\" with old value %u", bad[i],
				       old);
			EXPECT_EQ(old, pt_read_ulong(PT_IDLE_KNOB));
		}
	}

	/* vm.pt_share = 0 stops attaching idle tables, not freeing them. */
	ASSERT_NE(NULL, j);
	*j = (struct job){ .fd = self->fd, .size = self->size, .salt = 3 };
	fill(_metadata, j, 1);
	ASSERT_EQ(spans, idle_tables());
	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "0"));
	r0 = pt_read_vmstat("pt_share_table_reuse");
	ASSERT_EQ(0, pt_in_child(reader, j));
	EXPECT_EQ(0, j->bad) TH_LOG("page %ld read wrong", j->bad - 1);
	EXPECT_EQ(r0, pt_read_vmstat("pt_share_table_reuse"));
	EXPECT_EQ(spans, idle_tables());
	k0 = pt_read_vmstat("pt_share_table_shrink");
	ASSERT_EQ(0, pt_write_file("/proc/sys/vm/drop_caches", "2"));
	EXPECT_EQ(0, idle_tables());
	EXPECT_EQ(spans, pt_read_vmstat("pt_share_table_shrink") - k0);
	munmap(j, sizeof(*j));
	pt_leak_expect(self->s0);
}

TEST_HARNESS_MAIN
