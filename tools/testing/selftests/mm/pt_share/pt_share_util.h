/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the pt_share selftests: /proc and sysctl access, the
 * leak accounting, aligned address holes and faulting accesses caught with
 * sigsetjmp.
 */
#ifndef PT_SHARE_UTIL_H
#define PT_SHARE_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef MADV_PT_SHARE
#define MADV_PT_SHARE		26
#define MADV_NO_PT_SHARE	27
#endif

#define PT_SPAN		(2UL << 20)	/* one PTE table maps this much */
#define PT_PAGE		4096UL

#define PT_SHARE_KNOB	"/proc/sys/vm/pt_share"
#define PT_MIN_KNOB	"/proc/sys/vm/pt_share_min_bytes"
#define PT_IDLE_KNOB	"/proc/sys/vm/pt_share_idle"
#define THP_SHMEM_KNOB	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

static inline long pt_read_vmstat(const char *name)
{
	char key[128];
	long v, found = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%127s %ld", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

/* A "Name: value" line of a /proc file such as meminfo or status. */
static inline long pt_proc_kb(const char *path, const char *name)
{
	char line[256];
	size_t n = strlen(name);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* 0, or -errno of the single write(2). */
static inline int pt_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	else if ((size_t)n != strlen(val))
		err = -EIO;
	close(fd);
	return err;
}

static inline int pt_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* The debug kernel's race windows (CONFIG_PT_SHARE_DEBUG_WINDOWS). */
#define PT_WINDOW_DIR	"/sys/kernel/debug/pt_share"

/* The number in @path, or ~0UL if it cannot be read. */
static inline unsigned long pt_read_ulong(const char *path)
{
	char buf[64];

	if (pt_read_file(path, buf, sizeof(buf)))
		return ~0UL;
	return strtoul(buf, NULL, 10);
}

/*
 * PageTables is summed from per-CPU deltas that /proc/meminfo does not
 * fold; vm.stat_refresh folds them. Shared tables are freed after an RCU
 * grace period, so wait until the figure holds still.
 */
static inline long pt_exact_pagetables_kb(void)
{
	pt_write_file("/proc/sys/vm/stat_refresh", "1");
	return pt_proc_kb("/proc/meminfo", "PageTables");
}

static inline long pt_settled_pagetables_kb(void)
{
	long prev = pt_exact_pagetables_kb(), now;
	int i, still = 0;

	for (i = 0; i < 200 && still < 3; i++) {
		usleep(20000);
		now = pt_exact_pagetables_kb();
		still = now == prev ? still + 1 : 0;
		prev = now;
	}
	return prev;
}

/*
 * What a leak shows up in: the live shared tables, the attachments, and
 * PageTables less this process's own page tables (VmPTE), which its own
 * heap and stack may grow meanwhile.
 */
struct pt_leak_snap {
	long live_tables, attached, idle_tables, pagetables_kb, self_pte_kb;
	long live_pmd_tables, pmd_attached;
};

/* drop_caches 3 also frees every idle table (its 2 runs the shrinkers). */
static inline void pt_leak_snap(struct pt_leak_snap *s)
{
	pt_write_file("/proc/sys/vm/drop_caches", "3");
	/* Settling folds the per-CPU deltas of nr_pt_share_idle too. */
	s->pagetables_kb = pt_settled_pagetables_kb();
	s->self_pte_kb = pt_proc_kb("/proc/self/status", "VmPTE");
	s->live_tables = pt_read_vmstat("pt_share_table_alloc") -
			 pt_read_vmstat("pt_share_table_free");
	s->attached = pt_read_vmstat("pt_share_attach") -
		      pt_read_vmstat("pt_share_detach");
	s->idle_tables = pt_read_vmstat("nr_pt_share_idle");
	/* Kernels without shared PMD tables read -1 - -1. */
	s->live_pmd_tables = pt_read_vmstat("pt_share_pmd_table_alloc") -
			     pt_read_vmstat("pt_share_pmd_table_free");
	s->pmd_attached = pt_read_vmstat("pt_share_pmd_attach") -
			  pt_read_vmstat("pt_share_pmd_detach");
}

static inline bool pt_leak_same(const struct pt_leak_snap *a,
				const struct pt_leak_snap *b)
{
	return a->live_tables == b->live_tables &&
	       a->attached == b->attached &&
	       a->live_pmd_tables == b->live_pmd_tables &&
	       a->pmd_attached == b->pmd_attached &&
	       a->idle_tables == b->idle_tables &&
	       a->pagetables_kb - a->self_pte_kb ==
	       b->pagetables_kb - b->self_pte_kb;
}

/*
 * Snapshot into @s1 until it matches @s0, for at most 10 s: shared tables
 * are freed after an RCU grace period, and on a slow (KASAN, TCG) guest
 * the callbacks can come later than PageTables holding still for 60 ms.
 * A leak still shows after the 10 s.
 */
static inline void pt_leak_settle(const struct pt_leak_snap *s0,
				  struct pt_leak_snap *s1)
{
	int i;

	for (i = 0; i < 100; i++) {
		pt_leak_snap(s1);
		if (pt_leak_same(s0, s1))
			return;
		usleep(100000);
	}
}

/*
 * Take the leak baseline @s0 again after making something the kernel keeps
 * per-CPU memory for (a memcg, a mounted filesystem). The per-CPU allocator
 * may then map a new chunk in fresh vmalloc space, and x86 never frees the
 * kernel PMD tables that maps: they stay in PageTables for good, 4 kB per
 * GiB, and are no table of ours. Measured with ptdump: the first memcgs of
 * a boot add 8 kB on the debug kernel, the first ext4 mount of a KASAN boot
 * adds two such tables (pcpu_create_chunk()).
 */
static inline void pt_leak_rebase(struct pt_leak_snap *s0)
{
	pt_leak_snap(s0);
}

/*
 * Inside a kselftest_harness TEST: nothing is left since the snapshot @s0
 * (a struct pt_leak_snap) once every other process is gone. A macro, for
 * the harness's EXPECT_*() and _metadata.
 */
#define pt_leak_expect(s0) do {						\
	struct pt_leak_snap __s0 = (s0), __s1;				\
									\
	pt_leak_settle(&__s0, &__s1);					\
	EXPECT_EQ(__s0.live_tables, __s1.live_tables);			\
	EXPECT_EQ(__s0.attached, __s1.attached);			\
	EXPECT_EQ(__s0.live_pmd_tables, __s1.live_pmd_tables);		\
	EXPECT_EQ(__s0.pmd_attached, __s1.pmd_attached);		\
	EXPECT_EQ(__s0.idle_tables, __s1.idle_tables);			\
	EXPECT_EQ(__s0.pagetables_kb - __s0.self_pte_kb,		\
		  __s1.pagetables_kb - __s1.self_pte_kb)		\
		TH_LOG("PageTables %ld -> %ld kB, own VmPTE %ld -> %ld kB", \
		       __s0.pagetables_kb, __s1.pagetables_kb,		\
		       __s0.self_pte_kb, __s1.self_pte_kb);		\
} while (0)

/* An address range of @size, unmapped, whose start is @align aligned. */
static inline void *pt_aligned_hole_to(size_t size, size_t align)
{
	char *p = mmap(NULL, size + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((unsigned long)p + align - 1) & ~(align - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + size, p + size + align - a - size);
	munmap(a, size);
	return a;
}

/* An address range of @size whose start is PT_SPAN aligned. */
static inline void *pt_aligned_hole(size_t size)
{
	return pt_aligned_hole_to(size, PT_SPAN);
}

/* Map @len bytes of @fd from offset 0 at an @align-aligned address. */
static inline char *pt_map_aligned_to(int fd, size_t len, int prot,
				      size_t align)
{
	char *hole = pt_aligned_hole_to(len, align), *p;

	if (!hole)
		return NULL;
	p = mmap(hole, len, prot, MAP_SHARED | MAP_FIXED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Map @len bytes of @fd from offset 0 at a table-aligned address. */
static inline char *pt_map_aligned(int fd, size_t len, int prot)
{
	return pt_map_aligned_to(fd, len, prot, PT_SPAN);
}

/* Run @fn(@arg) in a child process: its exit status, or -1. */
static inline int pt_in_child(int (*fn)(void *), void *arg)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (!pid)
		_exit(fn(arg));
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* ---- shell commands and swap on zram ----------------------------------- */

/* The exit status of sh -c @cmd, or -1. */
static inline int pt_sh(const char *cmd)
{
	int ret = system(cmd);

	return WIFEXITED(ret) ? WEXITSTATUS(ret) : -1;
}

/* Undo pt_swap_setup(): no swap, zram0 reset, @cg removed. */
static inline void pt_swap_teardown(const char *cg)
{
	char path[128];

	/* Lift the limit first: swapoff brings the pages back into it. */
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	pt_write_file(path, "max");
	pt_sh("swapoff /dev/zram0 2>/dev/null");
	pt_write_file("/sys/block/zram0/reset", "1");
	rmdir(cg);
}

/*
 * Swap on a 64 MiB zram0 and a memory cgroup @cg limited to @max (or not
 * limited, for NULL). False if the kernel or the tools lack any of it.
 */
static inline bool pt_swap_setup(const char *cg, const char *max)
{
	char path[128];

	if (access("/sys/block/zram0/disksize", F_OK) ||
	    access("/sys/fs/cgroup/cgroup.subtree_control", F_OK))
		return false;
	/* A run killed by its timeout leaves zram0 as swap: start over. */
	pt_swap_teardown(cg);
	if (pt_write_file("/sys/block/zram0/disksize", "64M") ||
	    pt_sh("mkswap /dev/zram0 >/dev/null") ||
	    pt_sh("swapon /dev/zram0"))
		return false;
	pt_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	if (mkdir(cg, 0755) && errno != EEXIST)
		return false;
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	return !max || !pt_write_file(path, max);
}

/* Move the calling process into @cg. */
static inline int pt_cg_enter(const char *cg)
{
	char path[128], pid[16];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return pt_write_file(path, pid);
}

/* ---- the sysctls: switch sharing on, restore at the end ---------------- */

struct pt_knobs {
	char enabled[32], min_bytes[32], idle[32];
};

static inline int pt_knobs_save(struct pt_knobs *k)
{
	if (pt_read_file(PT_SHARE_KNOB, k->enabled, sizeof(k->enabled)) ||
	    pt_read_file(PT_MIN_KNOB, k->min_bytes, sizeof(k->min_bytes)))
		return -1;
	/* Kernels before idle tables lack it. */
	if (pt_read_file(PT_IDLE_KNOB, k->idle, sizeof(k->idle)))
		k->idle[0] = '\0';
	return 0;
}

/*
 * Save the knobs, then set them as a test expects them: sharing @on, the
 * smallest minimum, and no idle tables (the default), whatever a test
 * killed before its teardown (a timeout) left behind.
 */
static inline int pt_knobs_save_and_enable(struct pt_knobs *k, bool on)
{
	if (pt_knobs_save(k))
		return -1;
	if (pt_write_file(PT_MIN_KNOB, "2097152"))
		return -1;
	if (k->idle[0] && pt_write_file(PT_IDLE_KNOB, "0"))
		return -1;
	return pt_write_file(PT_SHARE_KNOB, on ? "1" : "0") ? -1 : 0;
}

static inline void pt_knobs_restore(struct pt_knobs *k)
{
	if (k->enabled[0])
		pt_write_file(PT_SHARE_KNOB, k->enabled);
	if (k->min_bytes[0])
		pt_write_file(PT_MIN_KNOB, k->min_bytes);
	if (k->idle[0])
		pt_write_file(PT_IDLE_KNOB, k->idle);
}

/* ---- accesses that may fault ----------------------------------------- */

/* Loads and stores the compiler must emit exactly once, as written. */
#define PT_LOAD(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define PT_STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* Fault in the page at @p by reading a byte of it. */
static inline void pt_touch(char *p)
{
	char c = PT_LOAD(*p);

	asm volatile("" : : "r" (c));
}

/* Per thread: a reader thread may fault while another thread works. */
static __thread sigjmp_buf pt_fault_jmp;
static __thread int pt_fault_armed;
static __thread int pt_fault_sig;

static void pt_on_fault(int sig)
{
	if (!PT_LOAD(pt_fault_armed)) {
		/* A fault nobody expected: die of it, with the default action. */
		signal(sig, SIG_DFL);
		return;
	}
	PT_STORE(pt_fault_sig, sig);
	PT_STORE(pt_fault_armed, 0);
	siglongjmp(pt_fault_jmp, 1);
}

/*
 * Install once per process. SA_NODEFER lets the handler jump out without
 * restoring the signal mask, so an access costs no system call.
 */
static inline void pt_fault_setup(void)
{
	struct sigaction sa = { .sa_handler = pt_on_fault,
				.sa_flags = SA_NODEFER };

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/*
 * Read or write 8 bytes at @addr. Returns 0, or the signal the access
 * raised; the value read is stored in *@val.
 */
static inline int pt_access64(uint64_t *addr, bool do_write, uint64_t *val)
{
	PT_STORE(pt_fault_sig, 0);
	if (!sigsetjmp(pt_fault_jmp, 0)) {
		PT_STORE(pt_fault_armed, 1);
		if (do_write)
			PT_STORE(*addr, *val);
		else
			*val = PT_LOAD(*addr);
		PT_STORE(pt_fault_armed, 0);
	}
	return PT_LOAD(pt_fault_sig);
}

/* process_vm_readv() exists (CONFIG_CROSS_MEMORY_ATTACH) if we can read us. */
static inline bool pt_have_process_vm_readv(void)
{
	char src = 1, dst = 0;
	struct iovec l = { &dst, 1 }, r = { &src, 1 };

	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == 1 && dst == 1;
}

/* A small fast generator: every run prints its seed to be replayed. */
static inline uint64_t pt_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static inline uint64_t pt_seed(void)
{
	const char *env = getenv("PT_SHARE_SEED");
	struct timespec ts;

	if (env && *env)
		return strtoull(env, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * 2654435761ULL ^ getpid() ^
	       (uint64_t)ts.tv_sec << 32;
}

static inline bool pt_full_mode(void)
{
	const char *env = getenv("PT_SHARE_FULL");

	return env && *env && strcmp(env, "0");
}

static inline double pt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* PT_SHARE_UTIL_H */
