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
 * reclaim: under a memcg with zram swap, memory.reclaim frees the memcg's
 *   idle tables and swaps out the file nobody maps; a later attacher reads
 *   every page back.
 * memcg: a memcg pays for the idle tables its processes left, and stops
 *   paying once another process attaches them.
 * evict: closing the last fd of an unlinked file frees its idle tables.
 * knob: vm.pt_share_idle takes 0 or 1 and rejects anything else.
 *
 * Each ends with no idle table, attachment or page table left behind.
 */
#define _GNU_SOURCE
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

/* Nothing left once every process is gone and the idle tables dropped. */
static void no_leak(struct __test_metadata *_metadata,
		    struct _test_data_idle *self)
{
	struct pt_leak_snap s1;

	pt_leak_snap(&s1);
	EXPECT_EQ(0, idle_tables());
	EXPECT_EQ(self->s0.live_tables, s1.live_tables);
	EXPECT_EQ(self->s0.attached, s1.attached);
	EXPECT_EQ(self->s0.pagetables_kb - self->s0.self_pte_kb,
		  s1.pagetables_kb - s1.self_pte_kb)
		TH_LOG("PageTables %ld -> %ld kB, own VmPTE %ld -> %ld kB",
		       self->s0.pagetables_kb, s1.pagetables_kb,
		       self->s0.self_pte_kb, s1.self_pte_kb);
}

struct job {
	int fd;
	size_t size;
	unsigned long salt;
	const char *cg;		/* run in this memcg, or NULL */
	long minflt;		/* out: minor faults of the reads */
	long bad;		/* out: first wrong page + 1, or 0 */
};

static struct job *shared_job(void)
{
	struct job *j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return j == MAP_FAILED ? NULL : j;
}

/* Map the file, write tag(i, salt) into every page i, exit. */
static int writer(void *arg)
{
	struct job *j = arg;
	unsigned long i;
	char *p;

	if (j->cg && pt_cg_enter(j->cg))
		return 10;
	p = pt_map_aligned(j->fd, j->size, PROT_READ | PROT_WRITE);
	if (!p)
		return 11;
	for (i = 0; i < j->size / PT_PAGE; i++)
		PT_STORE(*(uint64_t *)(p + i * PT_PAGE), tag(i, j->salt));
	return 0;
}

/*
 * Map the file as the writers did (the same protection: the same tables)
 * and read every page; count the faults.
 */
static int reader(void *arg)
{
	struct job *j = arg;
	struct rusage r0, r1;
	unsigned long i;
	uint64_t v;
	char *p;

	if (j->cg && pt_cg_enter(j->cg))
		return 10;
	p = pt_map_aligned(j->fd, j->size, PROT_READ | PROT_WRITE);
	if (!p)
		return 11;
	getrusage(RUSAGE_SELF, &r0);
	for (i = 0; i < j->size / PT_PAGE; i++) {
		v = PT_LOAD(*(uint64_t *)(p + i * PT_PAGE));
		if (v != tag(i, j->salt) && !j->bad)
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
	no_leak(_metadata, self);
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
	no_leak(_metadata, self);
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
	no_leak(_metadata, self);
}

/* ---- migration of pages only idle tables map ----------------------------- */

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
		nodes[i] = 1;
	}
	if (syscall(__NR_move_pages, 0, n, pages, nodes, status,
		    MPOL_MF_MOVE_ALL))
		return 12;
	for (i = 0; i < n; i++)
		if (status[i] != 1 && !j->bad)
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
	EXPECT_EQ(0, j->bad) TH_LOG("page %ld did not move (status != 1)",
				    j->bad - 1);
	j->bad = 0;
	ASSERT_EQ(0, pt_in_child(reader, j));
	EXPECT_EQ(0, j->bad) TH_LOG("page %ld read wrong after migration",
				    j->bad - 1);
	munmap(j, sizeof(*j));
	no_leak(_metadata, self);
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
 * child in @cg makes that many updates of its own (anon pages in and out)
 * before each read, and reads until the figure holds still. The child's
 * own page tables are in every figure alike.
 */
static long cg_stat_settled(const char *cg, const char *key)
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
		if (pt_cg_enter(cg))
			_exit(1);
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			_exit(2);
		memset(buf, 1, len);
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

TEST_F_TIMEOUT(idle, reclaim, 600)
{
	struct job *j = shared_job();
	long spans = self->size / PT_SPAN, pt0, pt1, pt2, sh1, sh2, k0;

	if (!pt_swap_setup(IDLE_CG, NULL)) {
		pt_swap_teardown(IDLE_CG);
		SKIP(return, "needs zram, mkswap and the memory controller");
	}
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
	no_leak(_metadata, self);
}

TEST_F(idle, memcg)
{
	struct job *j = shared_job();
	long spans = self->size / PT_SPAN, pt0, pt1, pt2;

	if (access("/sys/fs/cgroup/cgroup.subtree_control", F_OK))
		SKIP(return, "needs the memory controller (cgroup2)");
	ASSERT_NE(NULL, j);
	pt_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	ASSERT_TRUE(!mkdir(IDLE_CG, 0755) || errno == EEXIST);
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
	munmap(j, sizeof(*j));
	EXPECT_EQ(0, rmdir(IDLE_CG));
	no_leak(_metadata, self);
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
	no_leak(_metadata, self);
}

TEST_F(idle, knob)
{
	static const char * const bad[] = {
		"2", "-1", "abc", "", "\n", "1 1", "0x1", " ",
	};
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
}

TEST_HARNESS_MAIN
