/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the pt_share benchmark programs: /proc and
 * /sys readers, clocks, the backing files and how each contender maps them.
 *
 * Every program prints its measurements as one line per measurement:
 *
 *	RESULT <tag> key=value key=value ...
 *
 * where <tag> is the -t argument (the guest script passes the scenario,
 * contender and repetition there). Diagnostics go to stderr.
 */
#ifndef PTB_LIB_H
#define PTB_LIB_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PTB_PAGE	4096UL
#define PTB_SPAN	(2UL << 20)	/* one PTE table maps this much */
#define PTB_PUD		(1UL << 30)	/* one PMD table maps this much */

static const char *ptb_prog = "ptb";

static inline void __attribute__((noreturn, format(printf, 1, 2)))
ptb_die(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	fprintf(stderr, "%s: ", ptb_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

/* ---- clocks ------------------------------------------------------------ */

/* CLOCK_MONOTONIC in ns: the same clock in every process of the guest. */
static inline long long ptb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline double ptb_ms(long long ns)
{
	return ns / 1e6;
}

static inline long ptb_minflt(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return -1;
	return ru.ru_minflt;
}

/* ---- /proc and /sys ---------------------------------------------------- */

/* The "Key: value" number of a /proc file such as meminfo or status. */
static inline long ptb_proc_kb(const char *path, const char *key)
{
	char line[256];
	size_t k = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, k) && line[k] == ':')
			v = strtol(line + k + 1, NULL, 10);
	fclose(f);
	return v;
}

static inline long ptb_status_kb(pid_t pid, const char *key)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return ptb_proc_kb(path, key);
}

/* A /proc/vmstat counter; -1 if this kernel has no such counter. */
static inline long ptb_vmstat(const char *key)
{
	char name[128];
	long v, found = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%127s %ld", name, &v) == 2)
		if (!strcmp(name, key))
			found = v;
	fclose(f);
	return found;
}

/*
 * The interrupts of one /proc/interrupts row ("TLB", "CAL"), summed over
 * the CPUs; -1 if there is no such row.
 */
static inline long ptb_irqs(const char *row)
{
	char line[1024], *s, *end;
	size_t n = strlen(row);
	long sum = -1, v;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		for (s = line; *s == ' '; s++)
			;
		if (strncmp(s, row, n) || s[n] != ':')
			continue;
		sum = 0;
		for (s += n + 1;; s = end) {
			v = strtol(s, &end, 10);
			if (end == s)
				break;
			sum += v;
		}
	}
	fclose(f);
	return sum;
}

static inline int ptb_write_str(const char *path, const char *val)
{
	size_t len = strlen(val);
	int fd = open(path, O_WRONLY);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

static inline long ptb_read_long(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* PageTables in kB, exact: vm.stat_refresh folds the per-CPU deltas. */
static inline long ptb_pagetables_kb(void)
{
	ptb_write_str("/proc/sys/vm/stat_refresh", "1");
	return ptb_proc_kb("/proc/meminfo", "PageTables");
}

/*
 * Page tables are freed after an RCU grace period (and shared ones when
 * their last user detaches), so wait until the figure holds still.
 */
static inline long ptb_settled_pagetables_kb(void)
{
	long prev = ptb_pagetables_kb(), now;
	int i, same = 0;

	for (i = 0; i < 200 && same < 3; i++) {
		usleep(20000);
		now = ptb_pagetables_kb();
		same = now == prev ? same + 1 : 0;
		prev = now;
	}
	return prev;
}

struct ptb_counters {
	long pagetables_kb;
	long attach, detach, alloc, free;
	long pmd_attach, pmd_alloc;	/* the PMD level; -1 if none */
};

static inline void ptb_snap(struct ptb_counters *c, bool settle)
{
	c->pagetables_kb = settle ? ptb_settled_pagetables_kb() :
				    ptb_pagetables_kb();
	c->attach = ptb_vmstat("pt_share_attach");
	c->detach = ptb_vmstat("pt_share_detach");
	c->alloc = ptb_vmstat("pt_share_table_alloc");
	c->free = ptb_vmstat("pt_share_table_free");
	c->pmd_attach = ptb_vmstat("pt_share_pmd_attach");
	c->pmd_alloc = ptb_vmstat("pt_share_pmd_table_alloc");
}

/* Counter delta, or -1 when the kernel has no such counter. */
static inline long ptb_delta(long before, long after)
{
	return before < 0 || after < 0 ? -1 : after - before;
}

#define FAULT_AROUND "/sys/kernel/debug/fault_around_bytes"

/* ---- backings ----------------------------------------------------------- */

/*
 * How a contender maps the file:
 *   PTB_FILE     MAP_SHARED, NULL hint: the kernel picks the address (and
 *                aligns it itself when pt_share applies); tmpfs, huge tmpfs
 *   PTB_HUGETLB  MAP_SHARED at a 1 GiB-aligned address, so that hugetlb
 *                can share PMD tables (a VMA covering whole 1 GiB ranges)
 *   PTB_MISALIGN MAP_SHARED at a 2 MiB-aligned address with file offset
 *                4 KiB: address and offset disagree modulo 2 MiB, so no
 *                table can be shared
 *   PTB_PRIVATE  MAP_PRIVATE, NULL hint
 *   PTB_NONE     no mapping at all (baseline processes)
 */
enum ptb_kind { PTB_FILE, PTB_HUGETLB, PTB_MISALIGN, PTB_PRIVATE, PTB_NONE };

static inline enum ptb_kind ptb_parse_kind(const char *s)
{
	if (!strcmp(s, "file"))
		return PTB_FILE;
	if (!strcmp(s, "hugetlb"))
		return PTB_HUGETLB;
	if (!strcmp(s, "misalign"))
		return PTB_MISALIGN;
	if (!strcmp(s, "private"))
		return PTB_PRIVATE;
	if (!strcmp(s, "none"))
		return PTB_NONE;
	errno = 0;
	ptb_die("unknown mapping kind '%s' (file, hugetlb, misalign, private, none)",
		s);
}

/* The file offset a kind maps from (the file is that much longer). */
static inline off_t ptb_kind_offset(enum ptb_kind k)
{
	return k == PTB_MISALIGN ? (off_t)PTB_PAGE : 0;
}

/* A free address range of @size starting at a multiple of @align. */
static inline void *ptb_aligned_hole(size_t size, size_t align)
{
	char *p = mmap(NULL, size + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((unsigned long)p + align - 1) & ~(align - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + size, p + size + align - (a + size));
	munmap(a, size);
	return a;
}

/* Map @size bytes of @fd the way @k says; NULL on failure (errno set). */
static inline char *ptb_map(int fd, size_t size, enum ptb_kind k, int prot)
{
	char *hole, *p;

	switch (k) {
	case PTB_FILE:
		p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
		break;
	case PTB_PRIVATE:
		p = mmap(NULL, size, prot, MAP_PRIVATE, fd, 0);
		break;
	case PTB_HUGETLB:
	case PTB_MISALIGN:
		hole = ptb_aligned_hole(size,
					k == PTB_HUGETLB ? PTB_PUD : PTB_SPAN);
		if (!hole)
			return NULL;
		p = mmap(hole, size, prot, MAP_SHARED | MAP_FIXED, fd,
			 ptb_kind_offset(k));
		break;
	default:
		errno = EINVAL;
		return NULL;
	}
	return p == MAP_FAILED ? NULL : p;
}

/* The byte every page of a benchmark file starts with. */
static inline unsigned char ptb_pattern(size_t page)
{
	return (unsigned char)(page * 7 + 1);
}

/* What a full read of @size bytes from file offset @off sums to. */
static inline unsigned long ptb_expected_sum(size_t size, off_t off)
{
	unsigned long sum = 0;
	size_t i, first = off / PTB_PAGE;

	for (i = 0; i < size / PTB_PAGE; i++)
		sum += ptb_pattern(first + i);
	return sum;
}

/* Read the first byte of every page; the sum proves what was read. */
static inline unsigned long ptb_read_all(const char *p, size_t size)
{
	const volatile unsigned char *v = (const volatile unsigned char *)p;
	unsigned long sum = 0;
	size_t off;

	for (off = 0; off < size; off += PTB_PAGE)
		sum += v[off];
	return sum;
}

/* Write every page with the pattern it already holds (file offset @off). */
static inline void ptb_write_all(char *p, size_t size, off_t off)
{
	volatile unsigned char *v = (volatile unsigned char *)p;
	size_t i, first = off / PTB_PAGE;

	for (i = 0; i < size / PTB_PAGE; i++)
		v[i * PTB_PAGE] = ptb_pattern(first + i);
}

/* ---- output and layout ---------------------------------------------------- */

/* One "RESULT <tag> ..." line (see the top of this file). */
static inline void __attribute__((format(printf, 2, 3)))
ptb_result(const char *tag, const char *fmt, ...)
{
	va_list ap;

	printf("RESULT %s", tag);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/*
 * Page-table use depends on where the stack, the libraries and the mapping
 * fall relative to 2 MiB and 1 GiB boundaries. With address-space
 * randomization each run would get another layout, and its page tables a
 * few pages more or less per process than the baseline run's: re-exec
 * without it, so that every run has the same layout.
 */
static inline void ptb_no_aslr(char **argv)
{
	int pers = personality(0xffffffff);

	if (pers == -1 || (pers & ADDR_NO_RANDOMIZE))
		return;
	if (personality(pers | ADDR_NO_RANDOMIZE) == -1)
		return;
	execv("/proc/self/exe", argv);
	/* Still randomized, but the figures are only less comparable. */
	fprintf(stderr, "%s: cannot re-exec without ASLR: %s\n", ptb_prog,
		strerror(errno));
}

#endif /* PTB_LIB_H */
