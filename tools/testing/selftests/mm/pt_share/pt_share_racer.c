// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_racer: many processes race every operation that changes a view
 * of a shared file mapping, and every read is checked.
 *
 * NR_WORKERS processes map one tmpfs file or memfd and, at random, read and
 * verify pages, write new tags, mprotect, munmap and remap, mremap, drop
 * pages with MADV_DONTNEED and MADV_PAGEOUT, mlock, fork verifying children
 * and migrate pages between NUMA nodes. A coordinator (the test process)
 * meanwhile shrinks and regrows the file, punches holes, has the shrinker
 * free idle tables (drop_caches 2, and memory.reclaim of the workers'
 * memcg), moves the workers to a new memcg and removes the old one, and,
 * in the sharing cases, switches vm.pt_share on and off. Every other
 * checkpoint, all workers unmap the file at once and map it again, with
 * the shrinker let loose on the tables in between half of the time. The
 * tmpfs_idle case keeps idle tables (vm.pt_share_idle = 1), so that spans
 * every worker left stay mapped by a table no process is attached to
 * while the file changes under it. The memcg operations run only when the
 * test starts in the root cgroup (not in the soak's memcg), where it can
 * make memcgs of its own.
 *
 * Each page holds an 8-byte tag at its start and at its end: the page index
 * and a generation, or zero for a page truncated or punched away. Every
 * change of a page is made under the lock of its 64-page range, inside a
 * sequence count, and published in a shared anonymous control area. A
 * reader whose access fell in a stable sequence window must read exactly
 * the published tag (so a write by one process is seen by every later
 * reader, and nothing stale is read after truncate or punch), or SIGBUS
 * beyond EOF; otherwise a tag of that index or zero. A write through a
 * read-only view must fault. At checkpoints all processes stop, verify and
 * hash their whole view, and the hashes must agree.
 *
 * At the end every process has exited, and the live shared tables, the
 * attachments and PageTables are where they were before. Those figures are
 * global: PT_SHARE_RACER_LEAK_CHECK=0 leaves them to a caller that runs
 * other work at the same time (the soak), and checks them itself once all
 * of it has exited. Each exiting mm's own RSS counters and nr_ptes are
 * checked by the kernel (check_mm(): "Bad rss-counter state", "non-zero
 * pgtables_bytes"), which the harness's console scan fails on. The run is
 * replayable from its printed seed: PT_SHARE_SEED=<seed>. Its length is
 * PT_SHARE_RACER_SECONDS per case, or longer with PT_SHARE_FULL=1.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdarg.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/falloc.h>
#include <linux/mempolicy.h>

#include "../../kselftest_harness.h"
#include "pt_share_util.h"

#define NR_WORKERS	16
#define FILE_SIZE	(4 * PT_SPAN)
#define NR_PAGES	(FILE_SIZE / PT_PAGE)
#define RANGE_PAGES	64
#define RANGE_BYTES	(RANGE_PAGES * PT_PAGE)
#define NR_RANGES	(NR_PAGES / RANGE_PAGES)
#define MIN_SIZE	(FILE_SIZE / 2)	/* the file never shrinks below */
#define MAX_MSGS	20

enum op {
	OP_READ, OP_WRITE, OP_RO_WRITE, OP_MPROTECT, OP_REMAP, OP_MREMAP,
	OP_DONTNEED, OP_MLOCK, OP_FORK, OP_PAGEOUT, OP_MIGRATE,
	/* the coordinator's */
	OP_SHRINK, OP_GROW, OP_PUNCH, OP_TOGGLE, OP_DROP, OP_RECLAIM,
	OP_MEMCG_MOVE, OP_CHECKPOINT, OP_REATTACH,
	NR_OPS
};

static const char * const op_name[NR_OPS] = {
	"read", "write", "ro_write_faults", "mprotect", "munmap_remap",
	"mremap", "dontneed", "mlock", "fork", "pageout", "migrate",
	"shrink", "grow", "punch", "toggle_pt_share", "drop_idle_tables",
	"memcg_reclaim", "memcg_move_rmdir", "checkpoint", "all_reattach",
};

/* How often a worker picks each operation. */
static const int op_weight[OP_SHRINK] = {
	[OP_READ] = 30, [OP_WRITE] = 25, [OP_RO_WRITE] = 5,
	[OP_MPROTECT] = 6, [OP_REMAP] = 4, [OP_MREMAP] = 2,
	[OP_DONTNEED] = 5, [OP_MLOCK] = 3, [OP_FORK] = 2, [OP_PAGEOUT] = 3,
	[OP_MIGRATE] = 5,
};

/* The control area, MAP_SHARED|MAP_ANONYMOUS, smaller than a table span. */
struct ctl {
	uint32_t lock[NR_RANGES];
	uint32_t seq[NR_RANGES];	/* odd while the range changes */
	uint64_t expect[NR_PAGES];	/* the published tag of each page */
	uint64_t size;			/* the file size */
	uint64_t gen;
	uint32_t bar_count, bar_gen;
	uint32_t ckpt_req, final, release;
	uint32_t reattach;		/* this checkpoint: all unmap, remap */
	long idle_seen;			/* most idle tables with no mapper */
	uint32_t abort;
	uint32_t msgs;
	uint64_t hash[NR_WORKERS];
	long ops[NR_WORKERS + 1][NR_OPS];
	long pages_verified[NR_WORKERS + 1];
	long pages_migrated[NR_WORKERS + 1];
	long fails[NR_WORKERS + 1];
};

static struct ctl *ctl;
static int file_fd;
static bool numa;

/*
 * The workers' memcgs: RACER_CG/w0 or RACER_CG/w1, the one they are in
 * now being cg_cur; none (cg_on false) unless the test starts in the root
 * cgroup with the memory controller there.
 */
#define RACER_CG	"/sys/fs/cgroup/pt_share_racer"
static bool cg_on;
static int cg_cur;

static void cg_path(char *buf, size_t len, int k, const char *file)
{
	snprintf(buf, len, RACER_CG "/w%d%s%s", k, file ? "/" : "", file ? file : "");
}

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define INC(x)		__atomic_add_fetch(&(x), 1, __ATOMIC_ACQ_REL)

static inline void barrier_mem(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline uint64_t tag_of(unsigned long i, uint64_t gen)
{
	return (uint64_t)(i + 1) << 40 | gen;
}

static inline bool tag_is_of(uint64_t v, unsigned long i)
{
	return !v || v >> 40 == i + 1;
}

/* Count a failure of process @id; print the first MAX_MSGS of the run. */
static void fail(int id, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	__atomic_add_fetch(&ctl->fails[id], 1, __ATOMIC_RELAXED);
	if (INC(ctl->msgs) > MAX_MSGS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One write per line: the processes print concurrently. */
	fprintf(stderr, "# [%d] %s\n", id, msg);
}

/* ---- locks and the barrier, all giving way to an abort ----------------- */

static bool is_coordinator;
static bool poll_dead(void);

/* Workers die on an abort; the coordinator gets -1 and cleans up. */
static int range_lock(int r)
{
	uint32_t z;

	for (;;) {
		z = 0;
		if (__atomic_compare_exchange_n(&ctl->lock[r], &z, 1, false,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			break;
		if (is_coordinator && poll_dead())
			return -1;
		if (LOAD(ctl->abort)) {
			if (is_coordinator)
				return -1;
			_exit(70);
		}
		sched_yield();
	}
	/* Readers see an odd count for as long as the range may change. */
	STORE(ctl->seq[r], ctl->seq[r] + 1);
	barrier_mem();
	return 0;
}

static void range_unlock(int r)
{
	STORE(ctl->seq[r], ctl->seq[r] + 1);
	STORE(ctl->lock[r], 0);
}

/* Wait for NR_WORKERS + 1 parties; -1 on abort. */
static int bar_wait(bool (*poll)(void))
{
	uint32_t gen = LOAD(ctl->bar_gen);

	if (INC(ctl->bar_count) == NR_WORKERS + 1) {
		STORE(ctl->bar_count, 0);
		STORE(ctl->bar_gen, gen + 1);
		return 0;
	}
	while (LOAD(ctl->bar_gen) == gen) {
		if (LOAD(ctl->abort) || (poll && poll()))
			return -1;
		usleep(200);
	}
	return 0;
}

/* ---- a worker's view ---------------------------------------------------- */

struct view {
	int id;
	char *p;
	unsigned char ro[NR_PAGES];
	uint64_t rnd;
};

static inline uint64_t *head(char *p, unsigned long i)
{
	return (uint64_t *)(p + i * PT_PAGE);
}

static inline uint64_t *tail(char *p, unsigned long i)
{
	return (uint64_t *)(p + (i + 1) * PT_PAGE - 8);
}

/*
 * Read page @i through @p and check it. @strict: the caller knows nothing
 * changes (a checkpoint), so the window must be stable. Returns the value
 * for the view hash: the tag, or ~0 for SIGBUS.
 */
static uint64_t verify_page(int id, char *p, unsigned long i, bool strict)
{
	int r = i / RANGE_PAGES, sig, sig2 = 0;
	uint64_t v = 0, v2 = 0, exp, size;
	uint32_t s1, s2;

	s1 = LOAD(ctl->seq[r]);
	size = LOAD(ctl->size);
	exp = LOAD(ctl->expect[i]);
	barrier_mem();
	sig = pt_access64(head(p, i), false, &v);
	if (!sig)
		sig2 = pt_access64(tail(p, i), false, &v2);
	barrier_mem();
	s2 = LOAD(ctl->seq[r]);

	if (s1 == s2 && !(s1 & 1)) {
		if (i * PT_PAGE >= size) {
			if (sig != SIGBUS)
				fail(id, "page %lu beyond EOF %lu: %s, read %#lx",
				     i, (unsigned long)size,
				     sig ? strsignal(sig) : "no fault",
				     (unsigned long)v);
			return ~0ULL;
		}
		if (sig || sig2)
			fail(id, "page %lu below EOF: %s", i,
			     strsignal(sig ? sig : sig2));
		else if (v != exp || v2 != exp)
			fail(id, "page %lu: read %#lx/%#lx, published %#lx",
			     i, (unsigned long)v, (unsigned long)v2,
			     (unsigned long)exp);
		ctl->pages_verified[id]++;
		return v;
	}
	if (strict)
		fail(id, "page %lu: range changed during a checkpoint", i);
	/* The range is being truncated: SIGBUS is allowed. */
	if (sig == SIGBUS || sig2 == SIGBUS)
		return ~0ULL;
	if (sig || sig2)
		fail(id, "page %lu: %s", i, strsignal(sig ? sig : sig2));
	else if (!tag_is_of(v, i) || !tag_is_of(v2, i))
		fail(id, "page %lu (range changing): read %#lx/%#lx", i,
		     (unsigned long)v, (unsigned long)v2);
	else
		ctl->pages_verified[id]++;
	return v;
}

static uint64_t hash_add(uint64_t h, uint64_t v)
{
	int b;

	for (b = 0; b < 64; b += 8) {
		h ^= (v >> b) & 0xff;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void pick_range(struct view *w, unsigned long max_len,
		       unsigned long *a, unsigned long *n)
{
	*a = pt_rand(&w->rnd) % NR_PAGES;
	*n = 1 + pt_rand(&w->rnd) % max_len;
	if (*a + *n > NR_PAGES)
		*n = NR_PAGES - *a;
}

static void op_read(struct view *w)
{
	unsigned long a, n, i;

	pick_range(w, 128, &a, &n);
	for (i = a; i < a + n; i++)
		verify_page(w->id, w->p, i, false);
}

static void op_write(struct view *w)
{
	int r = pt_rand(&w->rnd) % NR_RANGES, k, sig;
	unsigned long i;
	uint64_t t;

	range_lock(r);
	if ((unsigned long)r * RANGE_BYTES < LOAD(ctl->size)) {
		for (k = 0; k < 8; k++) {
			i = r * RANGE_PAGES + pt_rand(&w->rnd) % RANGE_PAGES;
			if (w->ro[i])
				continue;
			t = tag_of(i, INC(ctl->gen));
			sig = pt_access64(head(w->p, i), true, &t);
			if (!sig)
				sig = pt_access64(tail(w->p, i), true, &t);
			if (sig) {
				fail(w->id, "write to page %lu: %s", i,
				     strsignal(sig));
				continue;
			}
			STORE(ctl->expect[i], t);
		}
	}
	range_unlock(r);
}

/* A write through a read-only view must fault and change nothing. */
static void op_ro_write(struct view *w)
{
	unsigned long s = pt_rand(&w->rnd) % NR_PAGES, k, i;
	uint64_t t = 0xbadbadbadULL;

	for (k = 0; k < NR_PAGES; k++) {
		i = (s + k) % NR_PAGES;
		if (!w->ro[i])
			continue;
		if (pt_access64(head(w->p, i), true, &t) != SIGSEGV)
			fail(w->id, "write to read-only page %lu did not fault",
			     i);
		return;
	}
}

static void op_mprotect(struct view *w)
{
	bool ro = pt_rand(&w->rnd) & 1;
	unsigned long a, n;

	pick_range(w, 700, &a, &n);
	if (mprotect(w->p + a * PT_PAGE, n * PT_PAGE,
		     ro ? PROT_READ : PROT_READ | PROT_WRITE)) {
		fail(w->id, "mprotect: %s", strerror(errno));
		return;
	}
	memset(w->ro + a, ro, n);
}

/* Unmap a sub-range, check it is gone, map it again at the same offset. */
static void op_remap(struct view *w)
{
	bool ro = pt_rand(&w->rnd) & 1;
	unsigned long a, n;
	uint64_t v;
	char *q;

	pick_range(w, 700, &a, &n);
	if (munmap(w->p + a * PT_PAGE, n * PT_PAGE)) {
		fail(w->id, "munmap: %s", strerror(errno));
		return;
	}
	if (pt_access64(head(w->p, a + n / 2), false, &v) != SIGSEGV)
		fail(w->id, "page %lu readable after munmap", a + n / 2);
	q = mmap(w->p + a * PT_PAGE, n * PT_PAGE,
		 ro ? PROT_READ : PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, file_fd, a * PT_PAGE);
	if (q == MAP_FAILED) {
		fail(w->id, "remap: %s", strerror(errno));
		ctl->abort = 1;
		_exit(71);
	}
	memset(w->ro + a, ro, n);
}

/* Map the whole file afresh (one VMA), then move it to another hole. */
static void op_mremap(struct view *w)
{
	char *q = mmap(w->p, FILE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, file_fd, 0);
	char *dst;

	if (q != w->p) {
		fail(w->id, "mmap over the view: %s", strerror(errno));
		ctl->abort = 1;
		_exit(71);
	}
	memset(w->ro, 0, sizeof(w->ro));
	op_read(w);
	dst = pt_aligned_hole(FILE_SIZE);
	if (!dst) {
		fail(w->id, "no hole to mremap to");
		return;
	}
	q = mremap(w->p, FILE_SIZE, FILE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
		   dst);
	if (q != dst) {
		fail(w->id, "mremap: %s", strerror(errno));
		ctl->abort = 1;
		_exit(71);
	}
	w->p = q;
}

static void op_madvise(struct view *w, int advice)
{
	unsigned long a, n, i;

	pick_range(w, 1024, &a, &n);
	if (madvise(w->p + a * PT_PAGE, n * PT_PAGE, advice))
		fail(w->id, "madvise(%d): %s", advice, strerror(errno));
	for (i = a; i < a + n; i += 37)
		verify_page(w->id, w->p, i, false);
}

/* Only below MIN_SIZE: populating pages beyond EOF would fail mlock. */
static void op_mlock(struct view *w)
{
	unsigned long a = pt_rand(&w->rnd) % (MIN_SIZE / PT_PAGE);
	unsigned long n = 1 + pt_rand(&w->rnd) % 256, i;

	if (a + n > MIN_SIZE / PT_PAGE)
		n = MIN_SIZE / PT_PAGE - a;
	if (mlock(w->p + a * PT_PAGE, n * PT_PAGE)) {
		fail(w->id, "mlock: %s", strerror(errno));
		return;
	}
	for (i = a; i < a + n; i++)
		verify_page(w->id, w->p, i, false);
	if (munlock(w->p + a * PT_PAGE, n * PT_PAGE))
		fail(w->id, "munlock: %s", strerror(errno));
}

/* A child inherits the view, verifies all of it and exits. */
static void op_fork(struct view *w)
{
	unsigned long i;
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		fail(w->id, "fork: %s", strerror(errno));
		return;
	}
	if (!pid) {
		long f0 = LOAD(ctl->fails[w->id]);

		for (i = 0; i < NR_PAGES; i++)
			verify_page(w->id, w->p, i, false);
		_exit(LOAD(ctl->fails[w->id]) != f0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		fail(w->id, "forked child failed (status %#x)", status);
}

#define NR_MOVE 16

static void op_migrate(struct view *w)
{
	int nodes[NR_MOVE], status[NR_MOVE], k, node;
	void *pages[NR_MOVE];
	unsigned long a, i;
	long ret;

	if (!numa)
		return;
	node = pt_rand(&w->rnd) & 1;
	a = pt_rand(&w->rnd) % (NR_PAGES - NR_MOVE);
	for (k = 0; k < NR_MOVE; k++) {
		pages[k] = w->p + (a + k) * PT_PAGE;
		nodes[k] = node;
		status[k] = -1;
	}
	ret = syscall(__NR_move_pages, 0, NR_MOVE, pages, nodes, status,
		      MPOL_MF_MOVE_ALL);
	if (ret < 0) {
		fail(w->id, "move_pages: %s", strerror(errno));
		return;
	}
	for (k = 0; k < NR_MOVE; k++)
		ctl->pages_migrated[w->id] += status[k] == node;
	for (i = a; i < a + NR_MOVE; i++)
		verify_page(w->id, w->p, i, false);
}

static void checkpoint(struct view *w)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned long i;
	bool reattach;

	if (bar_wait(NULL))
		_exit(72);
	/*
	 * Read between the barriers, where it cannot change: past the second
	 * one the coordinator may already set it for the next checkpoint.
	 */
	reattach = LOAD(ctl->reattach);
	for (i = 0; i < NR_PAGES; i++)
		h = hash_add(h, verify_page(w->id, w->p, i, true));
	ctl->hash[w->id] = h;
	if (bar_wait(NULL))
		_exit(72);
	if (!reattach)
		return;
	/* Nobody maps the file until the coordinator lets us map it again. */
	if (munmap(w->p, FILE_SIZE))
		_exit(76);
	memset(w->ro, 0, sizeof(w->ro));
	if (bar_wait(NULL) || bar_wait(NULL))
		_exit(72);
	w->p = pt_map_aligned(file_fd, FILE_SIZE, PROT_READ | PROT_WRITE);
	if (!w->p)
		_exit(74);
}

static int pick_op(struct view *w)
{
	int total = 0, k, x;

	for (k = 0; k < OP_SHRINK; k++)
		total += op_weight[k];
	x = pt_rand(&w->rnd) % total;
	for (k = 0; x >= op_weight[k]; k++)
		x -= op_weight[k];
	return k;
}

static void worker(int id, uint64_t seed)
{
	struct view *w = calloc(1, sizeof(*w));
	uint32_t seen = 0;
	int op;

	if (!w)
		_exit(73);
	w->id = id;
	w->rnd = seed * 0x9e3779b97f4a7c15ULL + id * 2 + 1;
	if (cg_on) {
		char path[64];

		cg_path(path, sizeof(path), cg_cur, NULL);
		if (pt_cg_enter(path))
			_exit(77);
	}
	pt_fault_setup();
	w->p = pt_map_aligned(file_fd, FILE_SIZE, PROT_READ | PROT_WRITE);
	if (!w->p)
		_exit(74);
	for (;;) {
		if (LOAD(ctl->ckpt_req) != seen) {
			seen = LOAD(ctl->ckpt_req);
			checkpoint(w);
			if (LOAD(ctl->final) != seen)
				continue;
			/* Exiting before the coordinator knows would look like a crash. */
			while (!LOAD(ctl->release) && !LOAD(ctl->abort))
				usleep(1000);
			break;
			continue;
		}
		if (LOAD(ctl->abort))
			_exit(75);
		op = pick_op(w);
		switch (op) {
		case OP_READ:
			op_read(w);
			break;
		case OP_WRITE:
			op_write(w);
			break;
		case OP_RO_WRITE:
			op_ro_write(w);
			break;
		case OP_MPROTECT:
			op_mprotect(w);
			break;
		case OP_REMAP:
			op_remap(w);
			break;
		case OP_MREMAP:
			op_mremap(w);
			break;
		case OP_DONTNEED:
			op_madvise(w, MADV_DONTNEED);
			break;
		case OP_PAGEOUT:
			op_madvise(w, MADV_PAGEOUT);
			break;
		case OP_MLOCK:
			op_mlock(w);
			break;
		case OP_FORK:
			op_fork(w);
			break;
		case OP_MIGRATE:
			if (!numa)
				continue;
			op_migrate(w);
			break;
		}
		ctl->ops[id][op]++;
	}
	munmap(w->p, FILE_SIZE);
	_exit(LOAD(ctl->fails[id]) ? 1 : 0);
}

/* ---- the coordinator ---------------------------------------------------- */

static pid_t pids[NR_WORKERS];
static int wstatus[NR_WORKERS];
static bool reaped[NR_WORKERS];

/* True once a worker has died before its time: abort the run. */
static bool poll_dead(void)
{
	int i, st;

	for (i = 0; i < NR_WORKERS; i++) {
		if (reaped[i] || waitpid(pids[i], &st, WNOHANG) != pids[i])
			continue;
		reaped[i] = true;
		wstatus[i] = st;
		fail(NR_WORKERS, "worker %d died early (status %#x)", i, st);
		STORE(ctl->abort, 1);
		return true;
	}
	return false;
}

static int set_size(uint64_t new)
{
	uint64_t old = ctl->size, lo = old < new ? old : new;
	uint64_t hi = old < new ? new : old;
	int r, r0 = lo / RANGE_BYTES, r1 = hi / RANGE_BYTES;
	unsigned long i;

	for (r = r0; r < r1; r++)
		if (range_lock(r))
			return -1;
	if (ftruncate(file_fd, new))
		fail(NR_WORKERS, "ftruncate(%lu): %s", (unsigned long)new,
		     strerror(errno));
	/* Truncated pages read back as zeroes if the file grows again. */
	for (i = lo / PT_PAGE; i < hi / PT_PAGE; i++)
		STORE(ctl->expect[i], 0);
	STORE(ctl->size, new);
	for (r = r0; r < r1; r++)
		range_unlock(r);
	return 0;
}

static int punch(uint64_t *rnd)
{
	int r = pt_rand(rnd) % (ctl->size / RANGE_BYTES);
	unsigned long a = pt_rand(rnd) % RANGE_PAGES, n, i;

	n = 1 + pt_rand(rnd) % (RANGE_PAGES - a);
	a += r * RANGE_PAGES;
	if (range_lock(r))
		return -1;
	if (fallocate(file_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      a * PT_PAGE, n * PT_PAGE))
		fail(NR_WORKERS, "fallocate(PUNCH_HOLE): %s", strerror(errno));
	for (i = a; i < a + n; i++)
		STORE(ctl->expect[i], 0);
	range_unlock(r);
	return 0;
}

/* Ask every worker to verify and hash its view; -1 if the run aborts. */
static int coord_checkpoint(void)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned long i;
	int k;

	INC(ctl->ckpt_req);
	if (bar_wait(poll_dead))
		return -1;
	/* Between the barriers nothing changes; after them workers write. */
	for (i = 0; i < NR_PAGES; i++)
		h = hash_add(h, i * PT_PAGE < ctl->size ? ctl->expect[i] :
			     ~0ULL);
	if (bar_wait(poll_dead))
		return -1;
	for (k = 0; k < NR_WORKERS; k++)
		if (ctl->hash[k] != h)
			fail(NR_WORKERS, "worker %d's view hash %#lx, not %#lx",
			     k, (unsigned long)ctl->hash[k], (unsigned long)h);
	ctl->ops[NR_WORKERS][OP_CHECKPOINT]++;
	return 0;
}

/* Free idle tables: the workers' memcg's reclaim, or drop_caches 2. */
static void shrink_idle(uint64_t *rnd, bool memcg)
{
	if (memcg) {
		/* EAGAIN: less than asked; only the idle tables can give. */
		pt_write_file(RACER_CG "/memory.reclaim",
			      pt_rand(rnd) % 2 ? "1M" : "64M");
	} else if (pt_write_file("/proc/sys/vm/drop_caches", "2")) {
		fail(NR_WORKERS, "cannot write drop_caches");
	}
}

/*
 * Move every worker to the other memcg and remove the one they were in,
 * with whatever idle tables it pays for. A worker's forked child may
 * still be in it: then it is removed at the next move or at the end.
 */
static void memcg_move(void)
{
	char path[128], pid[16];
	int k, next = !cg_cur;

	cg_path(path, sizeof(path), next, NULL);
	if (mkdir(path, 0755) && errno != EEXIST) {
		fail(NR_WORKERS, "mkdir %s: %s", path, strerror(errno));
		return;
	}
	cg_path(path, sizeof(path), next, "cgroup.procs");
	for (k = 0; k < NR_WORKERS; k++) {
		snprintf(pid, sizeof(pid), "%d", pids[k]);
		if (!reaped[k] && pt_write_file(path, pid))
			fail(NR_WORKERS, "cannot move worker %d", k);
	}
	cg_path(path, sizeof(path), cg_cur, NULL);
	rmdir(path);
	cg_cur = next;
}

/*
 * A checkpoint after which every worker unmaps the file and maps it again:
 * in between no process maps it, and with idle tables its spans stay
 * mapped by tables nobody is attached to, which the shrinker may free.
 */
static int coord_reattach(uint64_t *rnd, bool idle)
{
	long n;

	STORE(ctl->reattach, 1);
	if (coord_checkpoint())
		return -1;
	if (bar_wait(poll_dead))
		return -1;
	if (idle) {
		pt_write_file("/proc/sys/vm/stat_refresh", "1");
		n = pt_read_vmstat("nr_pt_share_idle");
		if (n > ctl->idle_seen)
			ctl->idle_seen = n;
	}
	if (pt_rand(rnd) % 2)
		shrink_idle(rnd, cg_on && pt_rand(rnd) % 2);
	STORE(ctl->reattach, 0);
	if (bar_wait(poll_dead))
		return -1;
	ctl->ops[NR_WORKERS][OP_REATTACH]++;
	return 0;
}

static int coordinate(double seconds, bool toggle, bool idle, uint64_t rnd)
{
	/*
	 * At least four checkpoints, every other one a reattach, and one
	 * every 5 s in long runs.
	 */
	double every = seconds / 5 < 5 ? seconds / 5 : 5;
	double t0 = pt_now(), next_ckpt = t0 + every;
	bool on = true;
	int op, ret = 0, nckpt = 0;

	while (pt_now() < t0 + seconds) {
		usleep(5000 + pt_rand(&rnd) % 30000);
		if (poll_dead())
			return -1;
		if (pt_now() >= next_ckpt) {
			/* Sharing on, so that the tables go idle. */
			if (!(nckpt % 2) && toggle && !on) {
				on = true;
				if (pt_write_file(PT_SHARE_KNOB, "1"))
					fail(NR_WORKERS, "cannot write vm.pt_share");
			}
			if (nckpt++ % 2 ? coord_checkpoint() :
			    coord_reattach(&rnd, idle))
				return -1;
			/* On a fixed grid, however long the checkpoints take. */
			next_ckpt += every;
			continue;
		}
		op = OP_SHRINK + pt_rand(&rnd) % (OP_MEMCG_MOVE - OP_SHRINK + 1);
		switch (op) {
		case OP_SHRINK:
			if (ctl->size == MIN_SIZE) {
				op = OP_GROW;
				ret = set_size(MIN_SIZE + RANGE_BYTES *
					(1 + pt_rand(&rnd) %
					 ((FILE_SIZE - MIN_SIZE) / RANGE_BYTES)));
				break;
			}
			ret = set_size(MIN_SIZE + RANGE_BYTES * (pt_rand(&rnd) %
				       ((ctl->size - MIN_SIZE) / RANGE_BYTES)));
			break;
		case OP_GROW:
			if (ctl->size == FILE_SIZE)
				continue;
			ret = set_size(FILE_SIZE);
			break;
		case OP_PUNCH:
			ret = punch(&rnd);
			break;
		case OP_TOGGLE:
			if (!toggle)
				continue;
			on = !on;
			if (pt_write_file(PT_SHARE_KNOB, on ? "1" : "0"))
				fail(NR_WORKERS, "cannot write vm.pt_share");
			break;
		case OP_DROP:
			/* The shrinker frees idle tables under the workers. */
			shrink_idle(&rnd, false);
			break;
		case OP_RECLAIM:
			if (!cg_on)
				continue;
			shrink_idle(&rnd, true);
			break;
		case OP_MEMCG_MOVE:
			if (!cg_on)
				continue;
			memcg_move();
			break;
		}
		if (ret)
			return -1;
		ctl->ops[NR_WORKERS][op]++;
	}
	/* Sharing back on: the final checkpoint's faults may attach again. */
	if (toggle && pt_write_file(PT_SHARE_KNOB, "1"))
		fail(NR_WORKERS, "cannot write vm.pt_share");
	/* Two reattaches at least, however slow the guest. */
	while (ctl->ops[NR_WORKERS][OP_REATTACH] < 2)
		if (coord_reattach(&rnd, idle))
			return -1;
	/* The number of the last checkpoint request: workers exit after it. */
	STORE(ctl->final, ctl->ckpt_req + 1);
	ret = coord_checkpoint();
	STORE(ctl->release, 1);
	return ret;
}

/* ---- the test ------------------------------------------------------------ */

enum backing { TMPFS, MEMFD };

FIXTURE(racer) {
	struct pt_knobs knobs;
	char path[64];
};

FIXTURE_VARIANT(racer) {
	enum backing kind;
	bool share;
	int seconds;		/* fast mode */
	bool idle;		/* vm.pt_share_idle = 1 */
};

FIXTURE_VARIANT_ADD(racer, tmpfs_shared) { TMPFS, true, 15, false };
FIXTURE_VARIANT_ADD(racer, memfd_shared) { MEMFD, true, 15, false };
FIXTURE_VARIANT_ADD(racer, tmpfs_idle) { TMPFS, true, 15, true };
FIXTURE_VARIANT_ADD(racer, tmpfs_unshared) { TMPFS, false, 6, false };
FIXTURE_VARIANT_ADD(racer, memfd_unshared) { MEMFD, false, 6, false };

FIXTURE_SETUP(racer)
{
	file_fd = -1;
	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "kernel without CONFIG_PT_SHARE");
	if (getuid())
		SKIP(return, "needs root for the sysctls and MPOL_MF_MOVE_ALL");
	ASSERT_EQ(0, pt_knobs_save_and_enable(&self->knobs, variant->share));
	if (variant->idle && access(PT_IDLE_KNOB, F_OK))
		SKIP(return, "kernel without idle shared tables (vm.pt_share_idle)");
	if (variant->idle)
		ASSERT_EQ(0, pt_write_file(PT_IDLE_KNOB, "1"));
	if (variant->kind == TMPFS) {
		snprintf(self->path, sizeof(self->path),
			 "/dev/shm/pt_share_racer.%d", getpid());
		file_fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	} else {
		file_fd = memfd_create("pt_share_racer", 0);
	}
	ASSERT_LE(0, file_fd);
	ASSERT_EQ(0, ftruncate(file_fd, FILE_SIZE));
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ctl);
	ctl->size = FILE_SIZE;
	numa = !access("/sys/devices/system/node/node1", F_OK);
}

FIXTURE_TEARDOWN(racer)
{
	if (file_fd >= 0)
		close(file_fd);
	if (self->path[0])
		unlink(self->path);
	pt_knobs_restore(&self->knobs);
}

/* The workers' first memcg, if this process is in the root cgroup. */
static bool cg_setup(void)
{
	char path[128], line[64] = "";
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	if (strcmp(line, "0::/\n") ||
	    pt_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory"))
		return false;
	cg_cur = 0;
	cg_path(path, sizeof(path), 0, NULL);
	if ((mkdir(RACER_CG, 0755) && errno != EEXIST) ||
	    pt_write_file(RACER_CG "/cgroup.subtree_control", "+memory") ||
	    (mkdir(path, 0755) && errno != EEXIST))
		return false;
	return true;
}

/* Once every worker is gone: remove the memcgs. */
static void cg_teardown(void)
{
	char path[128];
	int k;

	if (!cg_on)
		return;
	for (k = 0; k < 2; k++) {
		cg_path(path, sizeof(path), k, NULL);
		rmdir(path);
	}
	rmdir(RACER_CG);
}

static double run_seconds(int fast)
{
	const char *env = getenv("PT_SHARE_RACER_SECONDS");

	if (env && *env)
		return atof(env);
	return pt_full_mode() ? 120 : fast;
}

/* The end-of-run leak check, unless the caller does it (see the top). */
static bool leak_check(void)
{
	const char *env = getenv("PT_SHARE_RACER_LEAK_CHECK");

	return !env || strcmp(env, "0");
}

TEST_F_TIMEOUT(racer, verify, 1800)
{
	uint64_t seed = pt_seed(), rnd = seed | 1;
	struct pt_leak_snap s0;
	double seconds = run_seconds(variant->seconds), t0;
	long attach0, total = 0, sum, fails = 0, verified = 0, migrated = 0;
	long reuse0, shrink0;
	int i, k, st;

	TH_LOG("seed %#lx (replay: PT_SHARE_SEED=%#lx), %d workers, %.0f s, sharing %s, %s",
	       (unsigned long)seed, (unsigned long)seed, NR_WORKERS, seconds,
	       variant->share ? "on (toggled)" : "off",
	       numa ? "2 nodes" : "1 node: no migration");
	is_coordinator = true;
	cg_on = cg_setup();
	TH_LOG("memcg operations %s", cg_on ? "on" :
	       "off: not started in the root cgroup, or no memory controller");
	/* After the memcgs: their per-CPU memory can add kernel page tables. */
	pt_leak_snap(&s0);
	attach0 = pt_read_vmstat("pt_share_attach");
	reuse0 = pt_read_vmstat("pt_share_table_reuse");
	shrink0 = pt_read_vmstat("pt_share_table_shrink");
	t0 = pt_now();

	for (i = 0; i < NR_WORKERS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i]) {
			is_coordinator = false;
			worker(i, seed);
		}
	}
	if (coordinate(seconds, variant->share, variant->idle, rnd)) {
		for (i = 0; i < NR_WORKERS; i++)
			if (!reaped[i])
				kill(pids[i], SIGKILL);
	}
	for (i = 0; i < NR_WORKERS; i++) {
		if (!reaped[i]) {
			ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
			wstatus[i] = st;
			reaped[i] = true;
		}
		EXPECT_TRUE(WIFEXITED(wstatus[i]) && !WEXITSTATUS(wstatus[i]))
			TH_LOG("worker %d status %#x", i, wstatus[i]);
	}
	TH_LOG("ran %.1f s", pt_now() - t0);

	for (k = 0; k < NR_OPS; k++) {
		for (i = sum = 0; i <= NR_WORKERS; i++)
			sum += ctl->ops[i][k];
		total += sum;
		TH_LOG("ops %-16s %ld", op_name[k], sum);
	}
	for (i = 0; i <= NR_WORKERS; i++) {
		fails += ctl->fails[i];
		verified += ctl->pages_verified[i];
		migrated += ctl->pages_migrated[i];
	}
	TH_LOG("ops total %ld; pages verified %ld, pages migrated %ld, pt_share_attach +%ld",
	       total, verified, migrated,
	       pt_read_vmstat("pt_share_attach") - attach0);
	TH_LOG("idle tables reused %ld, freed by the shrinker %ld",
	       pt_read_vmstat("pt_share_table_reuse") - reuse0,
	       pt_read_vmstat("pt_share_table_shrink") - shrink0);
	TH_LOG("most idle tables while no worker mapped the file: %ld",
	       ctl->idle_seen);
	cg_teardown();
	EXPECT_LE(2, ctl->ops[NR_WORKERS][OP_REATTACH]);
	/* Kept idle: the spans every worker left stayed, and came back. */
	if (variant->idle) {
		EXPECT_LT(0, ctl->idle_seen);
		EXPECT_LT(0, pt_read_vmstat("pt_share_table_reuse") - reuse0);
	}
	EXPECT_EQ(0, (int)ctl->abort);
	EXPECT_EQ(0, fails);
	EXPECT_LT(0, verified);
	/* Attached if and only if sharing was on. */
	EXPECT_EQ(variant->share,
		  pt_read_vmstat("pt_share_attach") - attach0 > 0);

	if (!leak_check()) {
		TH_LOG("leak check left to the caller (PT_SHARE_RACER_LEAK_CHECK=0)");
		munmap(ctl, sizeof(*ctl));
		return;
	}
	/* Nothing left behind by the processes that are gone. */
	pt_leak_expect(s0);
	munmap(ctl, sizeof(*ctl));
}

TEST_HARNESS_MAIN
