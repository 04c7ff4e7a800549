// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_isolate: what a sharer can and cannot see or do to another
 *
 * Every case runs its scenario twice in one run: with vm.pt_share=0, then
 * with vm.pt_share=1 (vm.pt_share_min_bytes=2097152 both times). It prints
 * the figures of both runs, checks that the second run really shared
 * (pt_share_attach moved; where processes map one range, one table was
 * allocated per span, not one per process) and that the result with
 * sharing is the result without it, or within the bound given below.
 * PT_SHARE_FULL=1 runs the timed loops ten times longer.
 *
 * prot_write_via_migration: B maps a memfd read-only and keeps trying
 *   8-byte writes; A, attached to the same table, flips its own mapping to
 *   read-write and back while M migrates every page between the nodes.
 *   No write of B's succeeds: no rmap walk puts A's protection in B's view.
 * prot_exec_via_migration: the same with O_RDONLY fds and pages that start
 *   with a `ret`: A flips to PROT_READ|PROT_EXEC and back, B calls into its
 *   PROT_READ pages. No call of B's succeeds.
 * pkey_via_migration: A flips its mapping to a protection key of its own
 *   and back; no read of B's through the default key faults.
 * madv_cold_spares_other_sharer: MADV_COLD from A leaves as many of B's
 *   pages PG_referenced (/proc/kpageflags) as without sharing.
 * madv_pageout_spares_other_sharer: MADV_PAGEOUT from A leaves as many of
 *   B's pages present (pagemap) as without sharing.
 * softdirty_after_merge: A's VMA attached to B's table merges with one
 *   whose soft-dirty tracking is on (either way round: the attached VMA
 *   merging into the one before it, or that one into the attached one);
 *   after A's next clear_refs, B's writes show no soft-dirty bit in A's
 *   pagemap, while A's own write does.
 * softdirty_clear_refs_basic: the same without a merge: after A's
 *   clear_refs "4", B's writes are not soft-dirty in A's pagemap, A's own
 *   write is.
 * accessed_bit_not_visible: after A's clear_refs "1", B's reads add
 *   nothing to A's smaps Referenced (A's own read of a page shows).
 * memcg_no_pay_for_others: V, in a cgroup with memory.max 1 MiB, maps and
 *   unmaps eight 64 MiB windows that an outsider in another cgroup keeps
 *   mapped. V is not charged for the tables the outsider keeps: not OOM-
 *   killed, and its cgroup's "kernel" memory ends within 64 KiB of the run
 *   without sharing.
 * memcg_no_escape: E maps 64 MiB whose tables an outsider already holds;
 *   E's cgroup's "kernel" memory grows by its page tables as it does
 *   without sharing (within 16 KiB), and returns when E unmaps.
 * variants_readonly_cannot_lock_out_writers: a reader with an O_RDONLY fd
 *   maps the file with every protection it can (and protection keys of
 *   its own); two writers still share one table per span, touching the
 *   PROT_NONE mapping through /proc/self/mem attaches nothing, and once the
 *   reader is gone each read-only protection attaches again.
 * rmap_zap_keeps_mlock_count: truncating a file that L has mlock()ed and
 *   A and B share tables of munlocks as many pages as without sharing.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/mempolicy.h>

#include "../../kselftest_harness.h"
#include "pt_share_util.h"

#define SPANS		2		/* most cases map a 4 MiB file */
#define SIZE		(SPANS * PT_SPAN)
#define NR_PAGES	(SIZE / PT_PAGE)
#define CASE_TIMEOUT	900
#define WAIT_S		120.0		/* a longer step is a hang */
#define NODE1		"/sys/devices/system/node/node1"
#define CG_ROOT		"/sys/fs/cgroup"
#define CLEAR_REFS	"/proc/self/clear_refs"

#define PM_PFN		((1UL << 55) - 1)
#define PM_SOFT_DIRTY	0x0080000000000000UL	/* bit 55 */
#define PM_PRESENT	0x8000000000000000UL	/* bit 63 */
#define KPF_REFERENCED	2

#ifndef SEGV_PKUERR
#define SEGV_PKUERR	4
#endif

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* ---- the children and their control block ------------------------------ */

#define MAX_KIDS	4
#define KID_STOPPED	3	/* gave up: another child failed */

/* Shared by the test and its children, zeroed before every run. */
struct ctl {
	long step[MAX_KIDS];	/* how far each child got */
	long go;		/* how far the test lets them go */
	long stop;		/* end the timed loops (or everything) */
	long n[MAX_KIDS][4];	/* the figures each child reports */
	char msg[MAX_KIDS][192];	/* why a child failed */
};

static struct ctl *ctl;

struct kid {
	pid_t pid;
	const char *name;
	int status;
	bool reaped, hung, reported;
};

static struct kid kids[MAX_KIDS];

typedef int (*kid_fn)(int k, const void *arg);

/* In child @k: record why it fails, and exit. */
static __printf(2, 3) __noreturn void kid_die(int k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->msg[k], sizeof(ctl->msg[k]), fmt, ap);
	va_end(ap);
	_exit(1);
}

/* In child @k: wait until *@v reaches @want, or exit if it never does. */
static void kid_wait(int k, long *v, long want, const char *what)
{
	double end = pt_now() + WAIT_S;

	while (LOAD(*v) < want) {
		if (LOAD(ctl->stop)) {
			snprintf(ctl->msg[k], sizeof(ctl->msg[k]),
				 "stopped while waiting for %s", what);
			_exit(KID_STOPPED);
		}
		if (pt_now() > end)
			kid_die(k, "timed out waiting for %s", what);
		usleep(200);
	}
}

/* Start child @k; it dies with the test's process, even if that aborts. */
static pid_t spawn(int k, const char *name, kid_fn fn, const void *arg)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (!pid) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(1);
		pt_fault_setup();
		_exit(fn(k, arg));
	}
	kids[k] = (struct kid){ .pid = pid, .name = name, .reaped = pid < 0 };
	return pid;
}

/* Reap the children that exited; true once any of them failed. */
static bool kids_poll(void)
{
	bool failed = false;
	struct kid *c;
	int k;

	for (k = 0; k < MAX_KIDS; k++) {
		c = &kids[k];
		if (c->pid > 0 && !c->reaped &&
		    waitpid(c->pid, &c->status, WNOHANG) == c->pid)
			c->reaped = true;
		if (c->pid > 0 && c->reaped &&
		    (!WIFEXITED(c->status) || WEXITSTATUS(c->status)))
			failed = true;
	}
	return failed;
}

static bool kids_alive(void)
{
	int k;

	for (k = 0; k < MAX_KIDS; k++)
		if (kids[k].pid > 0 && !kids[k].reaped)
			return true;
	return false;
}

static void kids_kill(void)
{
	int k;

	for (k = 0; k < MAX_KIDS; k++) {
		if (kids[k].pid <= 0 || kids[k].reaped)
			continue;
		kill(kids[k].pid, SIGKILL);
		waitpid(kids[k].pid, &kids[k].status, 0);
		kids[k].reaped = true;
	}
}

/*
 * Wait for every child to exit; once one fails, stop the others. Each
 * child that was killed by a signal, failed or hung fails the test.
 */
static void kids_reap(struct __test_metadata *_metadata)
{
	double end = pt_now() + WAIT_S;
	bool hung, signalled;
	struct kid *c;
	int k, st;

	while (kids_alive()) {
		if (kids_poll())
			STORE(ctl->stop, 1);
		if (pt_now() > end) {
			for (k = 0; k < MAX_KIDS; k++)
				kids[k].hung = kids[k].pid > 0 &&
					       !kids[k].reaped;
			kids_kill();
			break;
		}
		usleep(1000);
	}
	for (k = 0; k < MAX_KIDS; k++) {
		c = &kids[k];
		if (c->pid <= 0 || c->reported)
			continue;
		c->reported = true;
		st = c->status;
		hung = c->hung;
		signalled = WIFSIGNALED(st);
		if (hung) {
			EXPECT_FALSE(hung)
				TH_LOG("%s (pid %d) hung for %.0f s: killed",
				       c->name, c->pid, WAIT_S);
		} else if (signalled) {
			EXPECT_FALSE(signalled)
				TH_LOG("%s (pid %d) killed by signal %d (%s)",
				       c->name, c->pid, WTERMSIG(st),
				       strsignal(WTERMSIG(st)));
		} else if (WEXITSTATUS(st) == KID_STOPPED) {
			TH_LOG("%s %s", c->name, ctl->msg[k]);
		} else {
			EXPECT_EQ(0, WEXITSTATUS(st))
				TH_LOG("%s failed: %s", c->name, ctl->msg[k]);
		}
	}
}

/* In the test: wait until child @k reached @step; false if it never will. */
static bool await(struct __test_metadata *_metadata, int k, long step)
{
	double end = pt_now() + WAIT_S;

	for (;;) {
		if (LOAD(ctl->step[k]) >= step)
			return true;
		if (kids_poll() || kids[k].reaped || pt_now() > end)
			break;
		usleep(1000);
	}
	if (LOAD(ctl->step[k]) >= step)
		return true;
	TH_LOG("%s did not reach step %ld (got to %ld)", kids[k].name, step,
	       LOAD(ctl->step[k]));
	STORE(ctl->stop, 1);
	kids_reap(_metadata);
	return false;
}

#define AWAIT(k, step)	ASSERT_TRUE(await(_metadata, k, step))

/* Let the children run for @s seconds, or until one fails. */
static void run_for(double s)
{
	double end = pt_now() + s;

	while (pt_now() < end && !kids_poll())
		usleep(10000);
}

static double run_seconds(void)
{
	return pt_full_mode() ? 30.0 : 3.0;
}

/* ---- files, mappings and accesses --------------------------------------- */

FIXTURE(isolate) {
	struct pt_knobs knobs;
	char shm[64];		/* a file in /dev/shm to unlink */
	char ro[64];		/* where to open the shared file O_RDONLY */
	char cg[64];		/* a cgroup to remove */
	bool cg_enabled;	/* we enabled the memory controller */
};

static unsigned long word_tag(unsigned long w)
{
	return 0x15a7e00000000000UL | w;
}

/*
 * Write every page of the file: @byte at the start of each, or, with
 * @byte < 0, every 8-byte word its own tag.
 */
static int populate(int fd, size_t size, int byte)
{
	unsigned long buf[PT_PAGE / 8], pg, w;
	char c = byte;

	for (pg = 0; pg < size / PT_PAGE; pg++) {
		if (byte >= 0) {
			if (pwrite(fd, &c, 1, pg * PT_PAGE) != 1)
				return -1;
			continue;
		}
		for (w = 0; w < PT_PAGE / 8; w++)
			buf[w] = word_tag(pg * (PT_PAGE / 8) + w);
		if (pwrite(fd, buf, PT_PAGE, pg * PT_PAGE) != PT_PAGE)
			return -1;
	}
	return 0;
}

static int new_memfd(size_t size)
{
	int fd = memfd_create("pt_share_isolate", 0);

	if (fd < 0 || ftruncate(fd, size))
		return -1;
	return fd;
}

/* Map @len bytes of @fd from @off at a table-aligned address. */
static char *map_at(int fd, size_t len, int prot, off_t off)
{
	char *hole = pt_aligned_hole(len), *p;

	if (!hole)
		return NULL;
	p = mmap(hole, len, prot, MAP_SHARED | MAP_FIXED, fd, off);
	return p == MAP_FAILED ? NULL : p;
}

static void touch_all(char *p, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += PT_PAGE)
		pt_touch(p + off);
}

/* In child @k: fault pages in through /proc/self/mem (FOLL_FORCE). */
static void touch_mem(int k, char *p, size_t len)
{
	int fd = open("/proc/self/mem", O_RDONLY);
	char buf[PT_PAGE];
	size_t off;

	if (fd < 0)
		kid_die(k, "/proc/self/mem: %s", strerror(errno));
	for (off = 0; off < len; off += PT_PAGE)
		if (pread(fd, buf, PT_PAGE, (unsigned long)p + off) != PT_PAGE)
			kid_die(k, "/proc/self/mem at %p: %s", p + off,
				strerror(errno));
	close(fd);
}

/*
 * Fault pages in by reading them, or through /proc/self/mem where a read
 * faults: PROT_EXEC alone is execute-only when protection keys work.
 */
static void touch_any(int k, char *p, size_t len)
{
	unsigned long v;

	if (pt_access64((unsigned long *)p, false, &v))
		touch_mem(k, p, len);
	else
		touch_all(p, len);
}

/* Call the code at @code; 0, or the signal the call raised. */
static int call_guarded(void *code)
{
	void (*fn)(void) = (void (*)(void))code;

	PT_STORE(pt_fault_sig, 0);
	if (!sigsetjmp(pt_fault_jmp, 0)) {
		PT_STORE(pt_fault_armed, 1);
		fn();
		PT_STORE(pt_fault_armed, 0);
	}
	return PT_LOAD(pt_fault_sig);
}

/* The si_code of the last fault pt_on_fault() caught. */
static int last_si_code;

static void on_fault_info(int sig, siginfo_t *si, void *uc)
{
	PT_STORE(last_si_code, si->si_code);
	pt_on_fault(sig);
}

/*
 * A file of @size in /dev/shm (mode 0644), or a memfd where /dev/shm is
 * missing or noexec; self->ro names it for open(O_RDONLY). Returns the
 * O_RDWR fd, which the test keeps open for the run.
 */
static int shm_file(struct _test_data_isolate *self, size_t size)
{
	struct statvfs sv;
	int fd;

	if (!statvfs("/dev/shm", &sv) && !(sv.f_flag & ST_NOEXEC)) {
		snprintf(self->shm, sizeof(self->shm),
			 "/dev/shm/pt_share_isolate.%d", getpid());
		unlink(self->shm);
		fd = open(self->shm, O_RDWR | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || fchmod(fd, 0644))
			return -1;
		snprintf(self->ro, sizeof(self->ro), "%s", self->shm);
	} else {
		fd = memfd_create("pt_share_isolate", 0);
		snprintf(self->ro, sizeof(self->ro), "/proc/%d/fd/%d",
			 getpid(), fd);
	}
	if (fd < 0 || ftruncate(fd, size))
		return -1;
	return fd;
}

static void shm_done(struct _test_data_isolate *self, int fd)
{
	close(fd);
	if (self->shm[0])
		unlink(self->shm);
	self->shm[0] = '\0';
}

/* ---- what /proc says about a mapping ------------------------------------ */

static int pagemap_get(const void *p, unsigned long n, unsigned long *pm)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	ssize_t want = n * sizeof(*pm), got;

	if (fd < 0)
		return -1;
	got = pread(fd, pm, want, (unsigned long)p / PT_PAGE * sizeof(*pm));
	close(fd);
	return got == want ? 0 : -1;
}

/* In child @k: how many of @n pages at @p have all of @mask in pagemap. */
static long count_pm(int k, const void *p, unsigned long n, unsigned long mask)
{
	unsigned long *pm = calloc(n, sizeof(*pm)), i;
	long c = 0;

	if (!pm || pagemap_get(p, n, pm))
		kid_die(k, "pagemap: %s", strerror(errno));
	for (i = 0; i < n; i++)
		c += (pm[i] & mask) == mask;
	free(pm);
	return c;
}

/* In child @k: how many of @n pages at @p are present with flag @bit. */
static long count_kpf(int k, const void *p, unsigned long n, int bit)
{
	unsigned long *pm = calloc(n, sizeof(*pm)), flags, pfn, i;
	int fd = open("/proc/kpageflags", O_RDONLY);
	long c = 0;

	if (!pm || fd < 0 || pagemap_get(p, n, pm))
		kid_die(k, "pagemap or kpageflags: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		if (!(pm[i] & PM_PRESENT))
			continue;
		pfn = pm[i] & PM_PFN;
		if (!pfn)
			kid_die(k, "pagemap shows no PFN");
		if (pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) !=
		    sizeof(flags))
			kid_die(k, "kpageflags: %s", strerror(errno));
		c += flags >> bit & 1;
	}
	close(fd);
	free(pm);
	return c;
}

/* Field @name (kB) of the VMA that starts at @p in /proc/self/smaps. */
static long smaps_kb(const char *p, const char *name)
{
	unsigned long start, end;
	size_t n = strlen(name);
	char line[512];
	bool in = false;
	long v = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start == (unsigned long)p;
			continue;
		}
		if (in && !strncmp(line, name, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* The end of the VMA that starts at @p, or 0. */
static unsigned long vma_end(const char *p)
{
	unsigned long start, end, found = 0;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 &&
		    start == (unsigned long)p) {
			found = end;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Run @fn in a child of its own: its exit status, or -1. */
static int in_child(int (*fn)(void))
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (!pid)
		_exit(fn());
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* ---- migration and LRU batches ------------------------------------------ */

/* In child @k: move_pages() all @n pages at @p to node 1, 0, 1, ... */
static void migrate_until_stop(int k, char *p, unsigned long n)
{
	void **pages = calloc(n, sizeof(*pages));
	int *nodes = calloc(n, sizeof(*nodes));
	int *status = calloc(n, sizeof(*status));
	long calls = 0, moved = 0;
	unsigned long i;
	int node;

	if (!pages || !nodes || !status)
		kid_die(k, "out of memory");
	for (i = 0; i < n; i++)
		pages[i] = p + i * PT_PAGE;
	for (node = 1; !LOAD(ctl->stop); node = !node) {
		for (i = 0; i < n; i++)
			nodes[i] = node;
		if (syscall(__NR_move_pages, 0, n, pages, nodes, status,
			    MPOL_MF_MOVE_ALL) < 0)
			kid_die(k, "move_pages: %s", strerror(errno));
		for (i = 0; i < n; i++)
			moved += status[i] == node;
		calls++;
	}
	ctl->n[k][0] = calls;
	ctl->n[k][1] = moved;
}

/*
 * munlock() drains the LRU and mlock batches of its CPU (lru_add_drain()),
 * where munlocked pages wait to be counted: do it on every CPU we may run
 * on. The range is locked on fault and never touched, so counts nothing.
 */
static void drain_lru_everywhere(void)
{
	char *p = mmap(NULL, PT_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	cpu_set_t all, one;
	int cpu;

	if (p == MAP_FAILED)
		return;
	if (!sched_getaffinity(0, sizeof(all), &all)) {
		for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
			if (!CPU_ISSET(cpu, &all))
				continue;
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			if (sched_setaffinity(0, sizeof(one), &one))
				continue;
			if (!mlock2(p, PT_PAGE, MLOCK_ONFAULT))
				munlock(p, PT_PAGE);
		}
		sched_setaffinity(0, sizeof(all), &all);
	}
	munmap(p, PT_PAGE);
}

/* ---- memory cgroups ------------------------------------------------------ */

static int cg_write(const char *cg, const char *file, const char *val)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return pt_write_file(path, val);
}

/* The value of @key in a "key value" file of cgroup @cg; -1 if absent. */
static long cg_key(const char *cg, const char *file, const char *key)
{
	char path[160], name[64];
	long v, found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", name, &v) == 2) {
		if (!strcmp(name, key)) {
			found = v;
			break;
		}
	}
	fclose(f);
	return found;
}

static int cg_join(const char *cg)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", getpid());
	return cg_write(cg, "cgroup.procs", pid);
}

/* Why the memory controller cannot be used, or NULL once it is enabled. */
static const char *cg_memory_setup(struct _test_data_isolate *self)
{
	char buf[512];

	if (pt_read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)))
		return "no cgroup2 mounted at " CG_ROOT;
	if (!strstr(buf, "memory"))
		return "no memory controller in " CG_ROOT "/cgroup.controllers";
	if (!pt_read_file(CG_ROOT "/cgroup.subtree_control", buf,
			  sizeof(buf)) && strstr(buf, "memory"))
		return NULL;
	if (pt_write_file(CG_ROOT "/cgroup.subtree_control", "+memory"))
		return "cannot enable +memory in the root cgroup";
	self->cg_enabled = true;
	return NULL;
}

/* Create cgroup @name (self->cg), with memory.max @max unless NULL. */
static int cg_create(struct _test_data_isolate *self, const char *name,
		     const char *max)
{
	char path[160];

	snprintf(self->cg, sizeof(self->cg), CG_ROOT "/%s", name);
	rmdir(self->cg);	/* left behind by a run that was killed */
	if (mkdir(self->cg, 0755))
		return -errno;
	if (!max)
		return 0;
	if (cg_write(self->cg, "memory.max", max))
		return -1;
	snprintf(path, sizeof(path), "%s/memory.swap.max", self->cg);
	if (!access(path, F_OK) && pt_write_file(path, "0"))
		return -1;
	return 0;
}

/* After its processes exited: a dying cgroup may be busy for a moment. */
static void cg_remove(struct _test_data_isolate *self)
{
	int i;

	if (!self->cg[0])
		return;
	for (i = 0; i < 100 && rmdir(self->cg) && errno == EBUSY; i++)
		usleep(20000);
	self->cg[0] = '\0';
}

/*
 * memory.stat folds the per-CPU deltas only once they add up to about
 * MEMCG_CHARGE_BATCH pages per CPU, or from a deferrable worker every 2 s.
 * A child of the cgroup makes that many updates of its own (anon pages in
 * and out) before each read, and reads until the figure holds still.
 */
#define NUDGE_PAGES	16

static char *nudge_buf;

/* In child @k, once in its cgroup: the buffer's table is in the baseline. */
static void nudge_prepare(int k)
{
	nudge_buf = mmap(NULL, NUDGE_PAGES * PT_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (nudge_buf == MAP_FAILED)
		kid_die(k, "mmap: %s", strerror(errno));
	memset(nudge_buf, 1, NUDGE_PAGES * PT_PAGE);
}

/* In child @k: "kernel" of @cg's memory.stat, in bytes, settled. */
static long cg_kernel(int k, const char *cg)
{
	long v = -1, prev;
	int i, r, still = 0;

	for (i = 0; i < 100 && still < 3; i++) {
		for (r = 0; r < 8; r++) {
			memset(nudge_buf, 1, NUDGE_PAGES * PT_PAGE);
			madvise(nudge_buf, NUDGE_PAGES * PT_PAGE,
				MADV_DONTNEED);
		}
		prev = v;
		v = cg_key(cg, "memory.stat", "kernel");
		if (v < 0)
			kid_die(k, "no \"kernel\" in %s/memory.stat", cg);
		still = v == prev ? still + 1 : 0;
		usleep(50000);
	}
	return v;
}

/* ---- the fixture, and every case's off-then-on shape --------------------- */

FIXTURE_SETUP(isolate)
{
	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "kernel without CONFIG_PT_SHARE (no %s)",
		     PT_SHARE_KNOB);
	if (getuid())
		SKIP(return, "needs root (sysctls, kpageflags, cgroups)");
	ASSERT_EQ(0, pt_knobs_save_and_enable(&self->knobs, false));
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ctl);
	pt_fault_setup();
}

/*
 * In the parent: with this harness a failed ASSERT skips a teardown in the
 * test's own process. Everything to undo is in self, which is shared.
 */
FIXTURE_TEARDOWN_PARENT(isolate)
{
	kids_kill();
	if (self->shm[0])
		unlink(self->shm);
	cg_remove(self);
	if (self->cg_enabled)
		pt_write_file(CG_ROOT "/cgroup.subtree_control", "-memory");
	pt_knobs_restore(&self->knobs);
}

/* What one run of a scenario found. */
struct run {
	long fig[8];		/* the figures the case compares */
	long attach, alloc;	/* pt_share deltas over its sharing phase */
};

typedef void (*scenario_fn)(struct __test_metadata *_metadata,
			    struct _test_data_isolate *self, const void *arg,
			    struct run *r);

static const char * const onoff[] = { "off", "on" };

static void share_begin(struct run *r)
{
	r->attach = -pt_read_vmstat("pt_share_attach");
	r->alloc = -pt_read_vmstat("pt_share_table_alloc");
}

static void share_end(struct run *r)
{
	r->attach += pt_read_vmstat("pt_share_attach");
	r->alloc += pt_read_vmstat("pt_share_table_alloc");
}

/*
 * Run @fn with vm.pt_share=0, then =1. In the second run something must
 * attach, and with @spans the sharers must have allocated one table per
 * span between share_begin() and share_end().
 */
static void off_then_on(struct __test_metadata *_metadata,
			struct _test_data_isolate *self, scenario_fn fn,
			const void *arg, long spans, struct run r[2])
{
	int on;

	for (on = 0; on <= 1; on++) {
		ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, on ? "1" : "0"));
		memset(ctl, 0, sizeof(*ctl));
		memset(kids, 0, sizeof(kids));
		memset(&r[on], 0, sizeof(r[on]));
		fn(_metadata, self, arg, &r[on]);
		kids_reap(_metadata);
	}
	TH_LOG("sharing: attach off +%ld, on +%ld; tables off +%ld, on +%ld",
	       r[0].attach, r[1].attach, r[0].alloc, r[1].alloc);
	EXPECT_EQ(0, r[0].attach) TH_LOG("attached with vm.pt_share=0");
	EXPECT_LT(0, r[1].attach)
		TH_LOG("nothing attached with vm.pt_share=1: nothing shown");
	if (spans)
		EXPECT_EQ(spans, r[1].alloc)
			TH_LOG("the sharers did not share one table per span");
}

/* ---- 1-3: protections that migration could copy between sharers --------- */

enum trio_kind { TRIO_WRITE, TRIO_EXEC, TRIO_PKEY };

struct trio_arg {
	enum trio_kind kind;
	int fd;
};

enum { T_B, T_A, T_M };

/*
 * The race: mprotect_fixup() sets A's new vm_page_prot before
 * change_protection() detaches A's spans one after another, and a
 * migration that restores an entry through A's VMA in between builds it
 * from A's new protection. A maps 1 GiB, one page per span but the last,
 * so that the window of the last span, where B tries and M migrates, is
 * as long as 511 detaches. Once an entry is writable, later migrations
 * keep it so.
 */
#define TRIO_SPANS	512
#define TRIO_SIZE	(TRIO_SPANS * PT_SPAN)
#define PTRS_PER_SPAN	(PT_SPAN / PT_PAGE)
#define TRIO_HOT	((TRIO_SPANS - 1) * PTRS_PER_SPAN)	/* first page */

/* One page in each span: enough to attach it. */
static void touch_spans(char *p, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += PT_SPAN)
		pt_touch(p + off);
}

/* The hot span written as populate() would, a page in every other one. */
static int trio_populate(int fd, int byte)
{
	unsigned long buf[PT_PAGE / 8], pg, w;
	char c = byte < 0 ? 1 : byte;

	for (pg = 0; pg < TRIO_HOT; pg += PTRS_PER_SPAN)
		if (pwrite(fd, &c, 1, pg * PT_PAGE) != 1)
			return -1;
	for (pg = TRIO_HOT; pg < TRIO_HOT + PTRS_PER_SPAN; pg++) {
		if (byte >= 0) {
			if (pwrite(fd, &c, 1, pg * PT_PAGE) != 1)
				return -1;
			continue;
		}
		for (w = 0; w < PT_PAGE / 8; w++)
			buf[w] = word_tag(pg * (PT_PAGE / 8) + w);
		if (pwrite(fd, buf, PT_PAGE, pg * PT_PAGE) != PT_PAGE)
			return -1;
	}
	return 0;
}

/* B: read-only, tries what its protection forbids until told to stop. */
static int trio_b(int k, const void *arg)
{
	const struct trio_arg *ta = arg;
	struct sigaction sa = { .sa_sigaction = on_fault_info,
				.sa_flags = SA_SIGINFO | SA_NODEFER };
	char *p = pt_map_aligned(ta->fd, TRIO_SIZE, PROT_READ);
	long hits = 0, tries = 0, pkuerr = 0, first = -1;
	unsigned long i, pg, v, *q;
	int sig, key;
	bool hit;

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	if (ta->kind == TRIO_PKEY) {
		/* Only the default key is B's, whatever PKRU it inherited. */
		for (key = 1; key < 16; key++)
			pkey_set(key, PKEY_DISABLE_ACCESS);
		sigaction(SIGSEGV, &sa, NULL);
	}
	touch_spans(p, TRIO_SIZE);
	touch_all(p + TRIO_HOT * PT_PAGE, PT_SPAN);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 1, "the start");
	for (i = 0; !LOAD(ctl->stop); i++) {
		pg = TRIO_HOT + i % PTRS_PER_SPAN;
		q = (unsigned long *)(p + pg * PT_PAGE);
		switch (ta->kind) {
		case TRIO_WRITE:
			/* Its own tag: a write that lands is harmless. */
			v = word_tag(pg * (PT_PAGE / 8));
			sig = pt_access64(q, true, &v);
			hit = !sig;
			break;
		case TRIO_EXEC:
			sig = call_guarded(q);
			hit = !sig;
			break;
		default:
			PT_STORE(last_si_code, 0);
			sig = pt_access64(q, false, &v);
			hit = sig;
			pkuerr += sig && PT_LOAD(last_si_code) == SEGV_PKUERR;
			break;
		}
		if (sig && sig != SIGSEGV)
			kid_die(k, "page %lu: %s", pg, strsignal(sig));
		if (hit && first < 0)
			first = pg;
		hits += hit;
		tries++;
	}
	ctl->n[k][0] = hits;
	ctl->n[k][1] = tries;
	ctl->n[k][2] = pkuerr;
	ctl->n[k][3] = first;
	return 0;
}

static int trio_flip(const struct trio_arg *ta, char *p, int pkey)
{
	switch (ta->kind) {
	case TRIO_WRITE:
		return mprotect(p, TRIO_SIZE, PROT_READ | PROT_WRITE) ||
		       mprotect(p, TRIO_SIZE, PROT_READ);
	case TRIO_EXEC:
		return mprotect(p, TRIO_SIZE, PROT_READ | PROT_EXEC) ||
		       mprotect(p, TRIO_SIZE, PROT_READ);
	default:
		return pkey_mprotect(p, TRIO_SIZE, PROT_READ, pkey) ||
		       pkey_mprotect(p, TRIO_SIZE, PROT_READ, 0);
	}
}

/* A: attached next to B, flips its own view away and back, re-reads. */
static int trio_a(int k, const void *arg)
{
	const struct trio_arg *ta = arg;
	char *p = pt_map_aligned(ta->fd, TRIO_SIZE, PROT_READ);
	int pkey = 0;
	long flips;

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	if (ta->kind == TRIO_PKEY) {
		/* Access and write allowed: A may use its key. */
		pkey = pkey_alloc(0, 0);
		if (pkey < 0)
			kid_die(k, "pkey_alloc: %s", strerror(errno));
	}
	touch_spans(p, TRIO_SIZE);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 1, "the start");
	for (flips = 0; !LOAD(ctl->stop); flips++) {
		if (trio_flip(ta, p, pkey))
			kid_die(k, "flip %ld: %s", flips, strerror(errno));
		/* Attach again to the table B is on. */
		touch_spans(p, TRIO_SIZE);
	}
	ctl->n[k][0] = flips;
	return 0;
}

/* M: a private table over the hot span, migrates its pages to and fro. */
static int trio_m(int k, const void *arg)
{
	const struct trio_arg *ta = arg;
	char *p = map_at(ta->fd, PT_SPAN, PROT_READ, TRIO_HOT * PT_PAGE);

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	if (madvise(p, PT_SPAN, MADV_NO_PT_SHARE))
		kid_die(k, "MADV_NO_PT_SHARE: %s", strerror(errno));
	touch_all(p, PT_SPAN);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 1, "the start");
	migrate_until_stop(k, p, PTRS_PER_SPAN);
	return 0;
}

/*
 * fig: 0 B's hits (writes or calls that worked, reads that faulted),
 * 1 B's tries, 2 of the faults SEGV_PKUERR, 3 first page hit, 4 pages
 * migrated, 5 move_pages() calls, 6 A's flips.
 */
static void trio(struct __test_metadata *_metadata,
		 struct _test_data_isolate *self, const void *arg,
		 struct run *r)
{
	struct trio_arg ta = *(const struct trio_arg *)arg;
	long m0;
	int rw;

	if (ta.kind == TRIO_EXEC) {
		/* Every page starts with a ret; the children open O_RDONLY. */
		rw = shm_file(self, TRIO_SIZE);
		ASSERT_LE(0, rw);
		ASSERT_EQ(0, trio_populate(rw, 0xc3));
		ta.fd = open(self->ro, O_RDONLY);
	} else {
		rw = new_memfd(TRIO_SIZE);
		ASSERT_LE(0, rw);
		ASSERT_EQ(0, trio_populate(rw, -1));
		ta.fd = rw;
	}
	ASSERT_LE(0, ta.fd);
	/*
	 * A maps first: its VMA then comes first in the file's i_mmap tree,
	 * and the rmap walk that restores a migrated page's entry reaches
	 * the shared table through A's VMA, as it would for any VMA that an
	 * mm changes.
	 */
	share_begin(r);
	ASSERT_LT(0, spawn(T_A, "A", trio_a, &ta));
	AWAIT(T_A, 1);
	ASSERT_LT(0, spawn(T_B, "B", trio_b, &ta));
	AWAIT(T_B, 1);
	share_end(r);
	ASSERT_LT(0, spawn(T_M, "M", trio_m, &ta));
	AWAIT(T_M, 1);
	m0 = pt_read_vmstat("pgmigrate_success");
	STORE(ctl->go, 1);
	run_for(run_seconds());
	STORE(ctl->stop, 1);
	kids_reap(_metadata);
	r->fig[0] = ctl->n[T_B][0];
	r->fig[1] = ctl->n[T_B][1];
	r->fig[2] = ctl->n[T_B][2];
	r->fig[3] = ctl->n[T_B][3];
	r->fig[4] = pt_read_vmstat("pgmigrate_success") - m0;
	r->fig[5] = ctl->n[T_M][0];
	r->fig[6] = ctl->n[T_A][0];
	if (ta.fd != rw)
		close(ta.fd);
	shm_done(self, rw);
}

static void trio_check(struct __test_metadata *_metadata, struct run *r,
		       const char *what)
{
	int on;

	TH_LOG("B's %s: off %ld of %ld, on %ld of %ld", what, r[0].fig[0],
	       r[0].fig[1], r[1].fig[0], r[1].fig[1]);
	TH_LOG("pages migrated: off %ld in %ld move_pages(), on %ld in %ld",
	       r[0].fig[4], r[0].fig[5], r[1].fig[4], r[1].fig[5]);
	TH_LOG("A's flips: off %ld, on %ld", r[0].fig[6], r[1].fig[6]);
	for (on = 0; on <= 1; on++) {
		EXPECT_EQ(0, r[on].fig[0])
			TH_LOG("%s: %ld of B's %s, the first at page %ld",
			       onoff[on], r[on].fig[0], what, r[on].fig[3]);
		EXPECT_LT(0, r[on].fig[4])
			TH_LOG("%s: no page migrated", onoff[on]);
	}
}

static bool have_node1(void)
{
	return !access(NODE1, F_OK);
}

TEST_F_TIMEOUT(isolate, prot_write_via_migration, CASE_TIMEOUT)
{
	static const struct trio_arg ta = { .kind = TRIO_WRITE };
	struct run r[2];

	if (!have_node1())
		SKIP(return, "needs a second NUMA node (no %s)", NODE1);
	off_then_on(_metadata, self, trio, &ta, TRIO_SPANS, r);
	trio_check(_metadata, r, "writes that succeeded");
}

TEST_F_TIMEOUT(isolate, prot_exec_via_migration, CASE_TIMEOUT)
{
	static const struct trio_arg ta = { .kind = TRIO_EXEC };
	struct run r[2];

	if (!have_node1())
		SKIP(return, "needs a second NUMA node (no %s)", NODE1);
	off_then_on(_metadata, self, trio, &ta, TRIO_SPANS, r);
	if (r[0].fig[0])
		TH_LOG("off: B executed PROT_READ pages: a CPU without NX?");
	trio_check(_metadata, r, "calls that returned");
}

static int pkey_probe(void)
{
	return pkey_alloc(0, 0) < 0 ? errno : 0;
}

TEST_F_TIMEOUT(isolate, pkey_via_migration, CASE_TIMEOUT)
{
	static const struct trio_arg ta = { .kind = TRIO_PKEY };
	struct run r[2];
	int err;

	if (!have_node1())
		SKIP(return, "needs a second NUMA node (no %s)", NODE1);
	/* In a child: a key allocated here would be allowed in B's PKRU. */
	err = in_child(pkey_probe);
	if (err)
		SKIP(return, "no protection keys: pkey_alloc: %s",
		     err > 0 ? strerror(err) : "probe died");
	off_then_on(_metadata, self, trio, &ta, TRIO_SPANS, r);
	TH_LOG("of B's faulting reads SEGV_PKUERR: off %ld, on %ld",
	       r[0].fig[2], r[1].fig[2]);
	trio_check(_metadata, r, "reads that faulted");
}

/* ---- 4-5: reclaim advice from one sharer --------------------------------- */

enum { MV_B, MV_A };

struct madv_arg {
	int advice;
	int fd;
};

static int madv_b(int k, const void *arg)
{
	const struct madv_arg *ma = arg;
	char *p = pt_map_aligned(ma->fd, SIZE, PROT_READ | PROT_WRITE);

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	touch_all(p, SIZE);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->step[MV_A], 2, "A's madvise()");
	ctl->n[k][0] = count_pm(k, p, NR_PAGES, PM_PRESENT);
	ctl->n[k][1] = count_kpf(k, p, NR_PAGES, KPF_REFERENCED);
	STORE(ctl->step[k], 2);
	return 0;
}

static int madv_a(int k, const void *arg)
{
	const struct madv_arg *ma = arg;
	char *p = pt_map_aligned(ma->fd, SIZE, PROT_READ | PROT_WRITE);

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	touch_all(p, SIZE);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 1, "B's attach");
	if (madvise(p, SIZE, ma->advice))
		kid_die(k, "madvise(%d): %s", ma->advice, strerror(errno));
	STORE(ctl->step[k], 2);
	/* Mapped until B counted: an unmap could mark pages accessed. */
	kid_wait(k, &ctl->step[MV_B], 2, "B's count");
	return 0;
}

/* fig: 0 B's pages present, 1 of them PG_referenced. */
static void madv(struct __test_metadata *_metadata,
		 struct _test_data_isolate *self, const void *arg,
		 struct run *r)
{
	struct madv_arg ma = *(const struct madv_arg *)arg;
	int i;

	ma.fd = new_memfd(SIZE);
	ASSERT_LE(0, ma.fd);
	/*
	 * Every folio active and referenced: written once it is referenced,
	 * twice active but no longer referenced, three times both.
	 */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, populate(ma.fd, SIZE, -1));
	share_begin(r);
	ASSERT_LT(0, spawn(MV_B, "B", madv_b, &ma));
	AWAIT(MV_B, 1);
	ASSERT_LT(0, spawn(MV_A, "A", madv_a, &ma));
	AWAIT(MV_A, 1);
	share_end(r);
	STORE(ctl->go, 1);
	kids_reap(_metadata);
	r->fig[0] = ctl->n[MV_B][0];
	r->fig[1] = ctl->n[MV_B][1];
	close(ma.fd);
}

TEST_F_TIMEOUT(isolate, madv_cold_spares_other_sharer, CASE_TIMEOUT)
{
	static const struct madv_arg ma = { .advice = MADV_COLD };
	struct run r[2];

	off_then_on(_metadata, self, madv, &ma, SPANS, r);
	TH_LOG("B's pages referenced after MADV_COLD: off %ld, on %ld of %lu",
	       r[0].fig[1], r[1].fig[1], NR_PAGES);
	TH_LOG("B's pages present: off %ld, on %ld", r[0].fig[0], r[1].fig[0]);
	EXPECT_EQ(r[0].fig[1], r[1].fig[1]);
}

TEST_F_TIMEOUT(isolate, madv_pageout_spares_other_sharer, CASE_TIMEOUT)
{
	static const struct madv_arg ma = { .advice = MADV_PAGEOUT };
	struct run r[2];

	off_then_on(_metadata, self, madv, &ma, SPANS, r);
	TH_LOG("B's pages present after MADV_PAGEOUT: off %ld, on %ld of %lu",
	       r[0].fig[0], r[1].fig[0], NR_PAGES);
	EXPECT_EQ(r[0].fig[0], r[1].fig[0]);
}

/* ---- 6-7: soft-dirty bits are per process -------------------------------- */

#define SD_PAGES	16	/* B writes its pages 0..15 */
#define SD_OWN		100	/* A writes this page of its own */

enum sd_how { SD_PLAIN, SD_MERGE_PREV, SD_MERGE_NEXT };

static const char * const sd_name[] = {
	[SD_PLAIN] = "no merge",
	[SD_MERGE_PREV] = "attached VMA merged into the one before it",
	[SD_MERGE_NEXT] = "the VMA before merged into the attached one",
};

struct sd_arg {
	enum sd_how how;
	int fd;
};

enum { SD_A, SD_B };

/*
 * Map the 8 MiB file at a table-aligned address in two VMAs: the first
 * half with VM_SOFTDIRTY cleared (and VM_DONTDUMP, which keeps the halves
 * apart), the second half mapped again after that, so with VM_SOFTDIRTY
 * and free to attach. Returns the start of the first half.
 */
static char *sd_split_map(int k, int fd)
{
	char *p = pt_aligned_hole(2 * SIZE);

	if (!p || mmap(p, 2 * SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, fd, 0) != p)
		kid_die(k, "mmap: %s", strerror(errno));
	if (madvise(p, SIZE, MADV_DONTDUMP))
		kid_die(k, "MADV_DONTDUMP: %s", strerror(errno));
	if (pt_write_file(CLEAR_REFS, "4"))
		kid_die(k, "clear_refs 4: %s", strerror(errno));
	if (munmap(p + SIZE, SIZE) ||
	    mmap(p + SIZE, SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, SIZE) != p + SIZE)
		kid_die(k, "remap of the second half: %s", strerror(errno));
	return p;
}

/* A: its view of B's range is @half; counts soft-dirty bits there. */
static int sd_a(int k, const void *arg)
{
	const struct sd_arg *sa = arg;
	char *p, *half;

	if (sa->how == SD_PLAIN) {
		p = pt_map_aligned(sa->fd, SIZE, PROT_READ | PROT_WRITE);
		if (!p)
			kid_die(k, "mmap: %s", strerror(errno));
		half = p;
	} else {
		p = sd_split_map(k, sa->fd);
		half = p + SIZE;
	}
	touch_all(half, SIZE);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 1, "B's attach");
	if (sa->how == SD_MERGE_PREV && madvise(half, SIZE, MADV_DONTDUMP))
		kid_die(k, "MADV_DONTDUMP: %s", strerror(errno));
	if (sa->how == SD_MERGE_NEXT && madvise(p, SIZE, MADV_DODUMP))
		kid_die(k, "MADV_DODUMP: %s", strerror(errno));
	if (sa->how != SD_PLAIN &&
	    vma_end(p) != (unsigned long)p + 2 * SIZE)
		kid_die(k, "the halves did not merge into one VMA");
	if (pt_write_file(CLEAR_REFS, "4"))
		kid_die(k, "clear_refs 4: %s", strerror(errno));
	STORE(ctl->step[k], 2);
	kid_wait(k, &ctl->step[SD_B], 2, "B's writes");
	ctl->n[k][0] = count_pm(k, half, SD_PAGES, PM_SOFT_DIRTY);
	PT_STORE(*(unsigned long *)(half + SD_OWN * PT_PAGE), 1UL);
	ctl->n[k][1] = count_pm(k, half + SD_OWN * PT_PAGE, 1, PM_SOFT_DIRTY);
	STORE(ctl->step[k], 3);
	return 0;
}

static int sd_b(int k, const void *arg)
{
	const struct sd_arg *sa = arg;
	char *p = map_at(sa->fd, SIZE, PROT_READ | PROT_WRITE,
			 sa->how == SD_PLAIN ? 0 : SIZE);
	unsigned long i;

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	touch_all(p, SIZE);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->step[SD_A], 2, "A's clear_refs");
	for (i = 0; i < SD_PAGES; i++)
		PT_STORE(*(unsigned long *)(p + i * PT_PAGE), i + 1);
	STORE(ctl->step[k], 2);
	kid_wait(k, &ctl->step[SD_A], 3, "A's pagemap");
	return 0;
}

/* fig: 0 B's pages soft-dirty in A's pagemap, 1 A's own page soft-dirty. */
static void softdirty(struct __test_metadata *_metadata,
		      struct _test_data_isolate *self, const void *arg,
		      struct run *r)
{
	struct sd_arg sa = *(const struct sd_arg *)arg;
	size_t size = sa.how == SD_PLAIN ? SIZE : 2 * SIZE;

	sa.fd = new_memfd(size);
	ASSERT_LE(0, sa.fd);
	ASSERT_EQ(0, populate(sa.fd, size, -1));
	share_begin(r);
	ASSERT_LT(0, spawn(SD_A, "A", sd_a, &sa));
	AWAIT(SD_A, 1);
	ASSERT_LT(0, spawn(SD_B, "B", sd_b, &sa));
	AWAIT(SD_B, 1);
	share_end(r);
	STORE(ctl->go, 1);
	kids_reap(_metadata);
	r->fig[0] = ctl->n[SD_A][0];
	r->fig[1] = ctl->n[SD_A][1];
	close(sa.fd);
}

static void sd_check(struct __test_metadata *_metadata, struct run *r,
		     enum sd_how how)
{
	int on;

	TH_LOG("%s: of %d pages B wrote, soft-dirty in A: off %ld, on %ld",
	       sd_name[how], SD_PAGES, r[0].fig[0], r[1].fig[0]);
	TH_LOG("%s: A's own write soft-dirty: off %ld, on %ld", sd_name[how],
	       r[0].fig[1], r[1].fig[1]);
	for (on = 0; on <= 1; on++) {
		EXPECT_EQ(0, r[on].fig[0])
			TH_LOG("%s, %s: B's writes soft-dirty in A",
			       sd_name[how], onoff[on]);
		EXPECT_EQ(1, r[on].fig[1])
			TH_LOG("%s, %s: A's own write not soft-dirty",
			       sd_name[how], onoff[on]);
	}
}

/* 0, or why soft-dirty tracking cannot be tested. */
static int softdirty_probe(void)
{
	char *p = mmap(NULL, PT_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long pm;

	if (p == MAP_FAILED)
		return 1;
	PT_STORE(*p, 1);
	if (pt_write_file(CLEAR_REFS, "4"))
		return 2;
	if (pagemap_get(p, 1, &pm) || (pm & PM_SOFT_DIRTY))
		return 3;
	PT_STORE(*p, 2);
	if (pagemap_get(p, 1, &pm) || !(pm & PM_SOFT_DIRTY))
		return 3;
	return 0;
}

static const char *softdirty_unusable(void)
{
	switch (in_child(softdirty_probe)) {
	case 0:
		return NULL;
	case 2:
		return CLEAR_REFS " does not take \"4\"";
	case 3:
		return "pagemap has no soft-dirty bit (CONFIG_MEM_SOFT_DIRTY)";
	default:
		return "the soft-dirty probe failed";
	}
}

TEST_F_TIMEOUT(isolate, softdirty_after_merge, CASE_TIMEOUT)
{
	static const struct sd_arg merges[] = {
		{ .how = SD_MERGE_PREV }, { .how = SD_MERGE_NEXT },
	};
	const char *why = softdirty_unusable();
	struct run r[2];
	int i;

	if (why)
		SKIP(return, "%s", why);
	for (i = 0; i < (int)ARRAY_SIZE(merges); i++) {
		off_then_on(_metadata, self, softdirty, &merges[i], SPANS, r);
		sd_check(_metadata, r, merges[i].how);
	}
}

TEST_F_TIMEOUT(isolate, softdirty_clear_refs_basic, CASE_TIMEOUT)
{
	static const struct sd_arg sa = { .how = SD_PLAIN };
	const char *why = softdirty_unusable();
	struct run r[2];

	if (why)
		SKIP(return, "%s", why);
	off_then_on(_metadata, self, softdirty, &sa, SPANS, r);
	sd_check(_metadata, r, SD_PLAIN);
}

/* ---- 8: accessed bits ---------------------------------------------------- */

enum { AC_A, AC_B };

static int acc_a(int k, const void *arg)
{
	char *p = pt_map_aligned(*(const int *)arg, SIZE, PROT_READ);

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	touch_all(p, SIZE);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 1, "B's attach");
	if (pt_write_file(CLEAR_REFS, "1"))
		kid_die(k, "clear_refs 1: %s", strerror(errno));
	pt_touch(p);
	STORE(ctl->step[k], 2);
	kid_wait(k, &ctl->step[AC_B], 2, "B's reads");
	ctl->n[k][0] = smaps_kb(p, "Referenced");
	if (ctl->n[k][0] < 0)
		kid_die(k, "no Referenced in smaps for %p", p);
	STORE(ctl->step[k], 3);
	return 0;
}

static int acc_b(int k, const void *arg)
{
	char *p = pt_map_aligned(*(const int *)arg, SIZE, PROT_READ);
	unsigned long i;

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	/*
	 * One page per span attaches B. Pages 100..199 stay untouched, so
	 * that B's reads of them below are first touches, which set the
	 * Accessed bit in whatever table B reads through.
	 */
	for (i = 0; i < SIZE; i += PT_SPAN)
		pt_touch(p + i);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->step[AC_A], 2, "A's clear_refs");
	for (i = 100; i < 200; i++)
		pt_touch(p + i * PT_PAGE);
	STORE(ctl->step[k], 2);
	kid_wait(k, &ctl->step[AC_A], 3, "A's smaps");
	return 0;
}

/* fig: 0 A's smaps Referenced, kB. */
static void accessed(struct __test_metadata *_metadata,
		     struct _test_data_isolate *self, const void *arg,
		     struct run *r)
{
	int fd = new_memfd(SIZE);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, populate(fd, SIZE, -1));
	share_begin(r);
	ASSERT_LT(0, spawn(AC_A, "A", acc_a, &fd));
	AWAIT(AC_A, 1);
	ASSERT_LT(0, spawn(AC_B, "B", acc_b, &fd));
	AWAIT(AC_B, 1);
	share_end(r);
	STORE(ctl->go, 1);
	kids_reap(_metadata);
	r->fig[0] = ctl->n[AC_A][0];
	close(fd);
}

TEST_F_TIMEOUT(isolate, accessed_bit_not_visible, CASE_TIMEOUT)
{
	struct run r[2];

	off_then_on(_metadata, self, accessed, NULL, SPANS, r);
	TH_LOG("after A's clear_refs 1, A read 1 page and B 100 pages");
	TH_LOG("A's smaps Referenced: off %ld kB, on %ld kB", r[0].fig[0],
	       r[1].fig[0]);
	EXPECT_LE(r[1].fig[0], r[0].fig[0]);
}

/* ---- 9-10: memory cgroups ------------------------------------------------ */

#define WIN		(64UL << 20)
#define NR_WIN		8

struct cg_arg {
	int fd;
	char cg[64];
};

enum { MP_O, MP_V };

/* O: maps each window after V did, and keeps them all. */
static int pay_o(int k, const void *arg)
{
	const struct cg_arg *ca = arg;
	char *p;
	int i;

	for (i = 0; i < NR_WIN; i++) {
		kid_wait(k, &ctl->step[MP_V], i + 1, "V's window");
		p = map_at(ca->fd, WIN, PROT_READ, i * WIN);
		if (!p)
			kid_die(k, "mmap of window %d: %s", i, strerror(errno));
		touch_all(p, WIN);
		STORE(ctl->step[k], i + 1);
	}
	kid_wait(k, &ctl->step[MP_V], NR_WIN + 1, "V's report");
	return 0;
}

/* V: in the small cgroup, maps each window first and unmaps it. */
static int pay_v(int k, const void *arg)
{
	const struct cg_arg *ca = arg;
	char *p;
	int i;

	if (cg_join(ca->cg))
		kid_die(k, "cannot join %s: %s", ca->cg, strerror(errno));
	nudge_prepare(k);
	for (i = 0; i < NR_WIN; i++) {
		p = map_at(ca->fd, WIN, PROT_READ, i * WIN);
		if (!p)
			kid_die(k, "mmap of window %d: %s", i, strerror(errno));
		touch_all(p, WIN);
		STORE(ctl->step[k], i + 1);
		kid_wait(k, &ctl->step[MP_O], i + 1, "O's window");
		if (munmap(p, WIN))
			kid_die(k, "munmap: %s", strerror(errno));
	}
	ctl->n[k][0] = cg_kernel(k, ca->cg);
	STORE(ctl->step[k], NR_WIN + 1);
	return 0;
}

/*
 * fig: 0 V's cgroup "kernel" after its last munmap (-1: not reported),
 * 1 oom_kill, 2 max events, 3 windows V mapped.
 */
static void memcg_pay(struct __test_metadata *_metadata,
		      struct _test_data_isolate *self, const void *arg,
		      struct run *r)
{
	struct cg_arg ca = { .fd = *(const int *)arg };

	ASSERT_EQ(0, cg_create(self, "pt_isolate_v", "1048576"))
		TH_LOG("cannot create the cgroup: %s", strerror(errno));
	snprintf(ca.cg, sizeof(ca.cg), "%s", self->cg);
	share_begin(r);
	/* O first: it stays in our cgroup, V moves itself out. */
	ASSERT_LT(0, spawn(MP_O, "O", pay_o, &ca));
	ASSERT_LT(0, spawn(MP_V, "V", pay_v, &ca));
	kids_reap(_metadata);
	share_end(r);
	r->fig[0] = ctl->step[MP_V] > NR_WIN ? ctl->n[MP_V][0] : -1;
	r->fig[1] = cg_key(self->cg, "memory.events", "oom_kill");
	r->fig[2] = cg_key(self->cg, "memory.events", "max");
	r->fig[3] = ctl->step[MP_V] < NR_WIN ? ctl->step[MP_V] : NR_WIN;
	cg_remove(self);
}

TEST_F_TIMEOUT(isolate, memcg_no_pay_for_others, CASE_TIMEOUT)
{
	const char *why = cg_memory_setup(self);
	size_t size = NR_WIN * WIN;
	struct run r[2];
	int fd, on;

	if (why)
		SKIP(return, "%s", why);
	/* Written from our cgroup: the page cache is not V's to pay for. */
	fd = new_memfd(size);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, populate(fd, size, 1));
	off_then_on(_metadata, self, memcg_pay, &fd, size / PT_SPAN, r);
	TH_LOG("V's cgroup kernel memory after its munmaps: off %ld, on %ld",
	       r[0].fig[0], r[1].fig[0]);
	TH_LOG("oom_kill: off %ld, on %ld; max: off %ld, on %ld", r[0].fig[1],
	       r[1].fig[1], r[0].fig[2], r[1].fig[2]);
	TH_LOG("windows V mapped: off %ld, on %ld of %d", r[0].fig[3],
	       r[1].fig[3], NR_WIN);
	for (on = 0; on <= 1; on++) {
		EXPECT_EQ(0, r[on].fig[1])
			TH_LOG("%s: OOM kill in V's cgroup", onoff[on]);
		EXPECT_LE(0, r[on].fig[0])
			TH_LOG("%s: V did not report its kernel memory",
			       onoff[on]);
	}
	EXPECT_LE(r[1].fig[0], r[0].fig[0] + 64 * 1024);
	close(fd);
}

#define ESC_SIZE	(64UL << 20)

enum { ME_O, ME_E };

/* O: holds the tables of the whole file before E comes. */
static int esc_o(int k, const void *arg)
{
	const struct cg_arg *ca = arg;
	char *p = pt_map_aligned(ca->fd, ESC_SIZE, PROT_READ);

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	touch_all(p, ESC_SIZE);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->step[ME_E], 2, "E's figures");
	return 0;
}

static int esc_e(int k, const void *arg)
{
	const struct cg_arg *ca = arg;
	char *p;

	if (cg_join(ca->cg))
		kid_die(k, "cannot join %s: %s", ca->cg, strerror(errno));
	nudge_prepare(k);
	ctl->n[k][0] = cg_kernel(k, ca->cg);
	p = pt_map_aligned(ca->fd, ESC_SIZE, PROT_READ);
	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	touch_all(p, ESC_SIZE);
	ctl->n[k][1] = cg_kernel(k, ca->cg);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 1, "the counters");
	if (munmap(p, ESC_SIZE))
		kid_die(k, "munmap: %s", strerror(errno));
	ctl->n[k][2] = cg_kernel(k, ca->cg);
	STORE(ctl->step[k], 2);
	return 0;
}

/* fig: E's cgroup "kernel": 0 before mapping, 1 mapped, 2 unmapped. */
static void memcg_escape(struct __test_metadata *_metadata,
			 struct _test_data_isolate *self, const void *arg,
			 struct run *r)
{
	struct cg_arg ca;

	ca.fd = new_memfd(ESC_SIZE);
	ASSERT_LE(0, ca.fd);
	ASSERT_EQ(0, populate(ca.fd, ESC_SIZE, 1));
	ASSERT_EQ(0, cg_create(self, "pt_isolate_e", NULL))
		TH_LOG("cannot create the cgroup: %s", strerror(errno));
	snprintf(ca.cg, sizeof(ca.cg), "%s", self->cg);
	share_begin(r);
	ASSERT_LT(0, spawn(ME_O, "O", esc_o, &ca));
	AWAIT(ME_O, 1);
	ASSERT_LT(0, spawn(ME_E, "E", esc_e, &ca));
	AWAIT(ME_E, 1);
	share_end(r);
	STORE(ctl->go, 1);
	kids_reap(_metadata);
	r->fig[0] = ctl->n[ME_E][0];
	r->fig[1] = ctl->n[ME_E][1];
	r->fig[2] = ctl->n[ME_E][2];
	cg_remove(self);
	close(ca.fd);
}

TEST_F_TIMEOUT(isolate, memcg_no_escape, CASE_TIMEOUT)
{
	const char *why = cg_memory_setup(self);
	long growth[2], back[2];
	struct run r[2];
	int on;

	if (why)
		SKIP(return, "%s", why);
	off_then_on(_metadata, self, memcg_escape, NULL, ESC_SIZE / PT_SPAN,
		    r);
	for (on = 0; on <= 1; on++) {
		growth[on] = r[on].fig[1] - r[on].fig[0];
		back[on] = r[on].fig[2] - r[on].fig[0];
		TH_LOG("%s: E's cgroup kernel %ld, mapped %ld, unmapped %ld",
		       onoff[on], r[on].fig[0], r[on].fig[1], r[on].fig[2]);
		TH_LOG("%s: growth while mapped %ld, after munmap %+ld",
		       onoff[on], growth[on], back[on]);
		EXPECT_LE(labs(back[on]), 16 * 1024)
			TH_LOG("%s: not back within 16 KiB after munmap",
			       onoff[on]);
	}
	EXPECT_GE(growth[0], 96 * 1024)
		TH_LOG("off: E's 32 page tables were not charged to it");
	EXPECT_GE(growth[1], growth[0] - 16 * 1024)
		TH_LOG("on: E's cgroup paid for less than its page tables");
}

/* ---- 11: protection variants --------------------------------------------- */

#define NR_PKEY_MAPS	3

static const int x_prots[] = {
	PROT_READ, PROT_READ | PROT_EXEC, PROT_EXEC, PROT_NONE,
};

static const int r_prots[] = { PROT_READ, PROT_READ | PROT_EXEC, PROT_EXEC };

enum { VA_X, VA_W1, VA_W2, VA_R };

/* X: read-only fd, every protection it can map with, all kept mapped. */
static int var_x(int k, const void *arg)
{
	char *m[ARRAY_SIZE(x_prots) + NR_PKEY_MAPS];
	int fd = open(arg, O_RDONLY), i, key, n = 0;
	long a0;

	if (fd < 0)
		kid_die(k, "open O_RDONLY: %s", strerror(errno));
	for (i = 0; i < (int)ARRAY_SIZE(x_prots); i++, n++) {
		m[n] = pt_map_aligned(fd, SIZE, x_prots[i]);
		if (!m[n])
			kid_die(k, "mmap(prot %#x): %s", x_prots[i],
				strerror(errno));
		if (x_prots[i] != PROT_NONE) {
			touch_any(k, m[n], SIZE);
			continue;
		}
		a0 = pt_read_vmstat("pt_share_attach");
		touch_mem(k, m[n], SIZE);
		ctl->n[k][0] = pt_read_vmstat("pt_share_attach") - a0;
	}
	/* Keys of its own, allowed in its PKRU: more variants, if any. */
	for (i = 0; i < NR_PKEY_MAPS; i++, n++) {
		key = pkey_alloc(0, 0);
		if (key < 0)
			break;
		m[n] = pt_map_aligned(fd, SIZE, PROT_READ);
		if (!m[n] || pkey_mprotect(m[n], SIZE, PROT_READ, key))
			kid_die(k, "pkey mapping: %s", strerror(errno));
		touch_all(m[n], SIZE);
	}
	ctl->n[k][1] = i;
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 2, "the writers");
	for (i = 0; i < n; i++)
		if (munmap(m[i], SIZE))
			kid_die(k, "munmap: %s", strerror(errno));
	STORE(ctl->step[k], 2);
	return 0;
}

static int var_w(int k, const void *arg)
{
	int fd = open(arg, O_RDWR);
	char *p;

	if (fd < 0)
		kid_die(k, "open O_RDWR: %s", strerror(errno));
	p = pt_map_aligned(fd, SIZE, PROT_READ | PROT_WRITE);
	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	touch_all(p, SIZE);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 3, "the end");
	return 0;
}

/* R: after X is gone, each read-only protection must attach again. */
static int var_r(int k, const void *arg)
{
	int fd = open(arg, O_RDONLY), i;
	long a0;
	char *p;

	if (fd < 0)
		kid_die(k, "open O_RDONLY: %s", strerror(errno));
	for (i = 0; i < (int)ARRAY_SIZE(r_prots); i++) {
		a0 = pt_read_vmstat("pt_share_attach");
		p = pt_map_aligned(fd, SIZE, r_prots[i]);
		if (!p)
			kid_die(k, "mmap(prot %#x): %s", r_prots[i],
				strerror(errno));
		touch_any(k, p, SIZE);
		ctl->n[k][i] = pt_read_vmstat("pt_share_attach") - a0;
	}
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 3, "the end");
	return 0;
}

/*
 * The sharing phase is the writers'. fig: 0 pt_share_attach moved by X's
 * PROT_NONE touch, 1 X's pkey mappings, 2-4 R's attaches per protection.
 */
static void variants(struct __test_metadata *_metadata,
		     struct _test_data_isolate *self, const void *arg,
		     struct run *r)
{
	int rw = shm_file(self, SIZE), i;

	ASSERT_LE(0, rw);
	ASSERT_EQ(0, populate(rw, SIZE, -1));
	ASSERT_LT(0, spawn(VA_X, "X", var_x, self->ro));
	AWAIT(VA_X, 1);
	share_begin(r);
	ASSERT_LT(0, spawn(VA_W1, "W1", var_w, self->ro));
	AWAIT(VA_W1, 1);
	ASSERT_LT(0, spawn(VA_W2, "W2", var_w, self->ro));
	AWAIT(VA_W2, 1);
	share_end(r);
	STORE(ctl->go, 2);
	AWAIT(VA_X, 2);
	ASSERT_LT(0, spawn(VA_R, "R", var_r, self->ro));
	AWAIT(VA_R, 1);
	STORE(ctl->go, 3);
	kids_reap(_metadata);
	r->fig[0] = ctl->n[VA_X][0];
	r->fig[1] = ctl->n[VA_X][1];
	for (i = 0; i < (int)ARRAY_SIZE(r_prots); i++)
		r->fig[2 + i] = ctl->n[VA_R][i];
	shm_done(self, rw);
}

TEST_F_TIMEOUT(isolate, variants_readonly_cannot_lock_out_writers,
	       CASE_TIMEOUT)
{
	static const char * const rname[] = {
		"PROT_READ", "PROT_READ|PROT_EXEC", "PROT_EXEC",
	};
	struct run r[2];
	int i;

	off_then_on(_metadata, self, variants, NULL, SPANS, r);
	TH_LOG("X's mappings with a pkey of their own: %ld", r[1].fig[1]);
	TH_LOG("X's PROT_NONE touch (/proc/self/mem) attached: off %ld, on %ld",
	       r[0].fig[0], r[1].fig[0]);
	EXPECT_LE(2 * SPANS, r[1].attach)
		TH_LOG("on: the writers attached %ld times, not %d",
		       r[1].attach, 2 * SPANS);
	EXPECT_EQ(0, r[1].fig[0]);
	for (i = 0; i < (int)ARRAY_SIZE(r_prots); i++) {
		TH_LOG("R's %s mapping attached: off %ld, on %ld (of %d spans)",
		       rname[i], r[0].fig[2 + i], r[1].fig[2 + i], SPANS);
		EXPECT_EQ(0, r[0].fig[2 + i]);
		EXPECT_EQ(SPANS, r[1].fig[2 + i])
			TH_LOG("on: R's %s mapping did not attach", rname[i]);
	}
}

/* ---- 12: mlock counts ---------------------------------------------------- */

#define ML_SIZE		(2 * SIZE)		/* 8 MiB */
#define ML_SHARED	(ML_SIZE - PT_SPAN)	/* A and B map from 2 MiB */

enum { ML_L, ML_A, ML_B };

static int ml_l(int k, const void *arg)
{
	char *p = pt_map_aligned(*(const int *)arg, ML_SIZE,
				 PROT_READ | PROT_WRITE);

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	if (mlock(p, ML_SIZE))
		kid_die(k, "mlock: %s", strerror(errno));
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 1, "the truncation");
	return 0;
}

static int ml_ab(int k, const void *arg)
{
	char *p = map_at(*(const int *)arg, ML_SHARED, PROT_READ | PROT_WRITE,
			 PT_SPAN);

	if (!p)
		kid_die(k, "mmap: %s", strerror(errno));
	touch_all(p, ML_SHARED);
	STORE(ctl->step[k], 1);
	kid_wait(k, &ctl->go, 1, "the truncation");
	return 0;
}

/* fig: 0 unevictable_pgs_munlocked, 1 _stranded moved by the truncation. */
static void mlock_zap(struct __test_metadata *_metadata,
		      struct _test_data_isolate *self, const void *arg,
		      struct run *r)
{
	int fd = new_memfd(ML_SIZE);
	long u0, s0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, populate(fd, ML_SIZE, -1));
	ASSERT_LT(0, spawn(ML_L, "L", ml_l, &fd));
	AWAIT(ML_L, 1);
	share_begin(r);
	ASSERT_LT(0, spawn(ML_A, "A", ml_ab, &fd));
	AWAIT(ML_A, 1);
	ASSERT_LT(0, spawn(ML_B, "B", ml_ab, &fd));
	AWAIT(ML_B, 1);
	share_end(r);
	drain_lru_everywhere();
	u0 = pt_read_vmstat("unevictable_pgs_munlocked");
	s0 = pt_read_vmstat("unevictable_pgs_stranded");
	ASSERT_EQ(0, ftruncate(fd, SIZE));
	drain_lru_everywhere();
	r->fig[0] = pt_read_vmstat("unevictable_pgs_munlocked") - u0;
	r->fig[1] = pt_read_vmstat("unevictable_pgs_stranded") - s0;
	STORE(ctl->go, 1);
	kids_reap(_metadata);
	close(fd);
}

TEST_F_TIMEOUT(isolate, rmap_zap_keeps_mlock_count, CASE_TIMEOUT)
{
	struct run r[2];

	off_then_on(_metadata, self, mlock_zap, NULL, ML_SHARED / PT_SPAN, r);
	TH_LOG("pages munlocked by truncating 8 MiB to 4 MiB: off %ld, on %ld",
	       r[0].fig[0], r[1].fig[0]);
	TH_LOG("pages stranded: off %ld, on %ld", r[0].fig[1], r[1].fig[1]);
	EXPECT_LT(0, r[0].fig[0])
		TH_LOG("off: the truncation munlocked nothing of L's");
	EXPECT_EQ(r[0].fig[0], r[1].fig[0]);
}

TEST_HARNESS_MAIN
