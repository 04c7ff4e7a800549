// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_hostile: hostile input to pt_share, and what an unprivileged or
 * read-only user can reach through shared tables.
 *
 * - The sysctls reject what pt_share_knobs does not already try (values
 *   past 2^64 and 2^32, whitespace, hex, writes at an offset or in two
 *   pieces) with EINVAL and keep their value.
 * - madvise(MADV_PT_SHARE / MADV_NO_PT_SHARE) fails exactly as
 *   MADV_NORMAL and MADV_RANDOM do on the same bad ranges, and unknown
 *   advice values still fail with EINVAL.
 * - Shared tables give nobody access the file's permissions deny: another
 *   uid cannot open a 0600 file, nor reach a root process's mapping of it
 *   through /proc/PID/map_files, /proc/PID/mem or process_vm_readv, and
 *   its own mapping of another file at the same address never shows the
 *   secret; a read-only mapping (of an O_RDONLY fd, or of a world-readable
 *   file by another uid) cannot be written, mprotect()ed writable or
 *   written through /proc/self/mem while a writer attaches to the
 *   read-write tables of the same file; chmod after mapping behaves as
 *   without sharing. Every case that claims sharing checks that
 *   pt_share_attach moved.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "../../kselftest_harness.h"
#include "pt_share_util.h"

#define NR_SPANS	2
#define SIZE		(NR_SPANS * PT_SPAN)
#define NOBODY		65534
#define SECRET		0x5ec12e75ec12e7ULL

/* ---- sysctls ------------------------------------------------------------ */

/* Returns 0 or -errno of one pwrite(2) of @len bytes at @off. */
static int pwrite_knob(const char *path, const char *val, size_t len,
		       off_t off)
{
	int fd = open(path, O_WRONLY), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pwrite(fd, val, len, off);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

FIXTURE(knobs) {
	struct pt_knobs saved;
};

FIXTURE_SETUP(knobs)
{
	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "kernel without CONFIG_PT_SHARE");
	if (getuid())
		SKIP(return, "writing sysctls needs root");
	ASSERT_EQ(0, pt_knobs_save(&self->saved));
}

FIXTURE_TEARDOWN(knobs)
{
	pt_knobs_restore(&self->saved);
}

/* Not in pt_share_knobs: wrap-arounds, whitespace, hex, signs, doubles. */
static const char * const bad_enable[] = {
	"18446744073709551616", "18446744073709551617", "4294967296",
	"4294967297", "-0x1", " 1", "1 ", "\t1", "1\t", "1\n\n", "\n1",
	"0x0", "0x10", "1\n1", "1,", "1;", "10", "-4294967295", "1k",
};

TEST_F(knobs, enable_rejects_more_bad_values)
{
	int i, old;

	for (old = 0; old <= 1; old++) {
		ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, old ? "1" : "0"));
		for (i = 0; i < (int)ARRAY_SIZE(bad_enable); i++) {
			EXPECT_EQ(-EINVAL, pt_write_file(PT_SHARE_KNOB,
							 bad_enable[i]))
				TH_LOG("write \"%s\" with old value %d",
				       bad_enable[i], old);
			EXPECT_EQ(old, pt_read_ulong(PT_SHARE_KNOB))
				TH_LOG("value changed by \"%s\"", bad_enable[i]);
		}
	}
}

static const char * const bad_min_bytes[] = {
	"18446744073709551616", "36893488147419103232", "9223372036854775808",
	"9223372036854775807", " 2097152", "2097152 ", "0x200000",
	"2097152\n\n", "+-2097152", "2097152k", "2e6", "4194304\t",
	"-18446744073709551615",
};

TEST_F(knobs, min_bytes_rejects_more_bad_values)
{
	int i;

	ASSERT_EQ(0, pt_write_file(PT_MIN_KNOB, "8388608"));
	for (i = 0; i < (int)ARRAY_SIZE(bad_min_bytes); i++) {
		EXPECT_EQ(-EINVAL, pt_write_file(PT_MIN_KNOB, bad_min_bytes[i]))
			TH_LOG("write \"%s\"", bad_min_bytes[i]);
		EXPECT_EQ(8UL << 20, pt_read_ulong(PT_MIN_KNOB))
			TH_LOG("value changed by \"%s\"", bad_min_bytes[i]);
	}
}

/* A write must be one piece from offset 0: a tail alone is half a number. */
TEST_F(knobs, writes_at_an_offset_rejected)
{
	int fd;

	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "0"));
	EXPECT_EQ(-EINVAL, pwrite_knob(PT_SHARE_KNOB, "1", 1, 1));
	EXPECT_EQ(-EINVAL, pwrite_knob(PT_SHARE_KNOB, "1", 1, 4096));
	EXPECT_EQ(0, pt_read_ulong(PT_SHARE_KNOB));

	ASSERT_EQ(0, pt_write_file(PT_MIN_KNOB, "8388608"));
	EXPECT_EQ(-EINVAL, pwrite_knob(PT_MIN_KNOB, "4194304", 7, 1));
	EXPECT_EQ(8UL << 20, pt_read_ulong(PT_MIN_KNOB));

	/* "2097152" then "0" on one descriptor: the second piece fails. */
	fd = open(PT_MIN_KNOB, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(7, write(fd, "2097152", 7));
	EXPECT_EQ(-1, write(fd, "0", 1));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	/* The first piece alone was a complete, valid number. */
	EXPECT_EQ(2UL << 20, pt_read_ulong(PT_MIN_KNOB));
}

/* ---- madvise ranges ------------------------------------------------------- */

struct outcome {
	int ret, err;
};

static struct outcome advise(void *addr, size_t len, int advice)
{
	struct outcome o;

	errno = 0;
	o.ret = madvise(addr, len, advice);
	o.err = o.ret ? errno : 0;
	return o;
}

FIXTURE(madv) {
	char *p;		/* SIZE of a memfd, then an unmapped SPAN */
	int fd;
};

FIXTURE_SETUP(madv)
{
	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "kernel without CONFIG_PT_SHARE");
	self->fd = memfd_create("pt_share_hostile", 0);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, SIZE));
	self->p = pt_aligned_hole(SIZE + PT_SPAN);
	ASSERT_NE(NULL, self->p);
	ASSERT_EQ(self->p, mmap(self->p, SIZE, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_FIXED, self->fd, 0));
}

FIXTURE_TEARDOWN(madv)
{
	if (self->p)
		munmap(self->p, SIZE);
	close(self->fd);
}

/*
 * madvise() checks the range before it looks at the advice, so ours must
 * fail exactly as stock advice does: the reference outcomes come from
 * MADV_NORMAL and MADV_RANDOM on the same range.
 */
static void same_as_stock(struct __test_metadata *_metadata, void *addr,
			  size_t len, const char *what)
{
	static const int ours[] = { MADV_PT_SHARE, MADV_NO_PT_SHARE };
	struct outcome ref = advise(addr, len, MADV_NORMAL), o;
	struct outcome ref2 = advise(addr, len, MADV_RANDOM);
	int i;

	ASSERT_EQ(ref.ret, ref2.ret);
	ASSERT_EQ(ref.err, ref2.err);
	for (i = 0; i < 2; i++) {
		o = advise(addr, len, ours[i]);
		EXPECT_EQ(ref.ret, o.ret)
			TH_LOG("%s: advice %d returned %d, stock %d", what,
			       ours[i], o.ret, ref.ret);
		EXPECT_EQ(ref.err, o.err)
			TH_LOG("%s: advice %d: %s, stock: %s", what, ours[i],
			       strerror(o.err), strerror(ref.err));
	}
	advise(addr, len, MADV_NORMAL);
}

TEST_F(madv, bad_ranges_fail_as_stock)
{
	char *p = self->p;
	char *top = (char *)(~0UL & ~(PT_PAGE - 1));

	same_as_stock(_metadata, p, SIZE, "whole mapping");
	same_as_stock(_metadata, p + 1, PT_PAGE, "unaligned start");
	same_as_stock(_metadata, p + PT_PAGE - 1, 1, "unaligned start, len 1");
	same_as_stock(_metadata, p + 1, 0, "unaligned start, len 0");
	same_as_stock(_metadata, p, 0, "len 0");
	same_as_stock(_metadata, p + SIZE, 0, "len 0, unmapped");
	same_as_stock(_metadata, p, 1, "len 1");
	same_as_stock(_metadata, p, SIZE - 1, "len not a page multiple");
	same_as_stock(_metadata, p, -PT_PAGE, "start + len wraps");
	same_as_stock(_metadata, p, -(unsigned long)p, "start + len == 2^64");
	same_as_stock(_metadata, p, -(unsigned long)p + PT_PAGE,
		      "start + len wraps by a page");
	same_as_stock(_metadata, p, ~0UL, "len ~0");
	same_as_stock(_metadata, p, ~0UL - PT_PAGE + 2, "len rounds up to wrap");
	same_as_stock(_metadata, top, PT_PAGE, "last page of the space");
	same_as_stock(_metadata, top, 2 * PT_PAGE, "past the last page");
	same_as_stock(_metadata, (void *)(1UL << 47), PT_PAGE,
		      "beyond a 4-level user space");
	same_as_stock(_metadata, NULL, PT_PAGE, "page 0");
	same_as_stock(_metadata, p + SIZE, PT_SPAN, "unmapped");
	same_as_stock(_metadata, p + SIZE - PT_PAGE, 2 * PT_PAGE,
		      "mapped then unmapped");
	same_as_stock(_metadata, p - PT_PAGE, 2 * PT_PAGE,
		      "unmapped then mapped");
	same_as_stock(_metadata, p - PT_SPAN, SIZE + 2 * PT_SPAN,
		      "mapping inside unmapped space");
}

/* An unmapped range that madvise() still applied to the mapped part. */
TEST_F(madv, partial_range_still_advised)
{
	long d0;

	memset(self->p, 1, SIZE);
	d0 = pt_read_vmstat("pt_share_detach_madvise");
	/* Nothing shared here: the opt-out detaches nothing, data stays. */
	EXPECT_EQ(-1, madvise(self->p, SIZE + PT_PAGE, MADV_NO_PT_SHARE));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(d0, pt_read_vmstat("pt_share_detach_madvise"));
	EXPECT_EQ(1, self->p[SIZE - 1]);
}

TEST_F(madv, unknown_advice_still_invalid)
{
	static const int unknown[] = {
		28, 29, 30, 31, 63, 64, 99, 255, 1000, 65535, -1, -26, INT_MAX,
		INT_MIN,
	};
	struct outcome o;
	int i;

	for (i = 0; i < (int)ARRAY_SIZE(unknown); i++) {
		o = advise(self->p, SIZE, unknown[i]);
		EXPECT_EQ(-1, o.ret) TH_LOG("advice %d accepted", unknown[i]);
		EXPECT_EQ(EINVAL, o.err)
			TH_LOG("advice %d: %s", unknown[i], strerror(o.err));
	}
	/* And ours on an empty range are accepted like any known advice. */
	EXPECT_EQ(0, madvise(self->p, 0, MADV_PT_SHARE));
	EXPECT_EQ(0, madvise(self->p, 0, MADV_NO_PT_SHARE));
}

/* Any mapping takes the advice, as MADV_NORMAL: private, anonymous, none. */
TEST_F(madv, any_mapping_accepts)
{
	int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE };
	int flags[] = { MAP_PRIVATE | MAP_ANONYMOUS, MAP_SHARED | MAP_ANONYMOUS,
			MAP_PRIVATE };
	int i, j, fd = self->fd;
	char *q;

	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3; j++) {
			q = mmap(NULL, PT_SPAN, prots[i], flags[j],
				 flags[j] & MAP_ANONYMOUS ? -1 : fd, 0);
			ASSERT_NE(MAP_FAILED, q);
			same_as_stock(_metadata, q, PT_SPAN, "fresh mapping");
			EXPECT_EQ(0, madvise(q, PT_SPAN, MADV_PT_SHARE));
			EXPECT_EQ(0, madvise(q, PT_SPAN, MADV_NO_PT_SHARE));
			munmap(q, PT_SPAN);
		}
	}
}

/* ---- permissions ---------------------------------------------------------- */

/*
 * A holder maps @path with @prot (through an fd opened with @oflags),
 * touches every page, and reports ready; it exits when its pipe closes.
 */
struct holder {
	pid_t pid;
	int cmd, rep;
	char *addr;
};

static int holder_start(struct holder *h, const char *path, int oflags,
			int prot, uid_t uid)
{
	int cmd[2], rep[2], fd;
	unsigned long off;
	char c = 0, *p;

	if (pipe(cmd) || pipe(rep))
		return -1;
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (!h->pid) {
		close(cmd[1]);
		close(rep[0]);
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(2);
		fd = open(path, oflags);
		p = fd < 0 ? NULL : pt_map_aligned(fd, SIZE, prot);
		if (!p)
			_exit(3);
		for (off = 0; off < SIZE; off += PT_PAGE)
			pt_touch(p + off);
		if (write(rep[1], &p, sizeof(p)) != sizeof(p))
			_exit(4);
		/*
		 * Commands: 'w' writes the secret's complement to page 1, 'q'
		 * quits (other children may hold our pipe open).
		 */
		while (read(cmd[0], &c, 1) == 1 && c != 'q') {
			if (c == 'w')
				PT_STORE(*(uint64_t *)(p + PT_PAGE), ~SECRET);
			if (write(rep[1], &c, 1) != 1)
				_exit(5);
		}
		_exit(0);
	}
	close(cmd[0]);
	close(rep[1]);
	h->cmd = cmd[1];
	h->rep = rep[0];
	return read(h->rep, &h->addr, sizeof(h->addr)) == sizeof(h->addr) ?
	       0 : -1;
}

static int holder_cmd(struct holder *h, char c)
{
	char r;

	return write(h->cmd, &c, 1) == 1 && read(h->rep, &r, 1) == 1 &&
	       r == c ? 0 : -1;
}

static int holder_stop(struct holder *h)
{
	int status;
	char c = 'q';

	if (write(h->cmd, &c, 1) != 1)
		return -1;
	close(h->cmd);
	close(h->rep);
	if (waitpid(h->pid, &status, 0) != h->pid)
		return -1;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

/* Run @fn as @uid in a child; its exit status, or 128 + signal. */
static int as_user(uid_t uid, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
			_exit(100);
		/* Our own /proc/self files stay ours after the uid change. */
		if (prctl(PR_SET_DUMPABLE, 1))
			_exit(101);
		pt_fault_setup();
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) :
	       WEXITSTATUS(status);
}

FIXTURE(perm) {
	struct pt_knobs knobs;
	char path[64];
	int fd;
};

FIXTURE_SETUP(perm)
{
	uint64_t *p;
	unsigned long off;

	self->fd = -1;
	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "kernel without CONFIG_PT_SHARE");
	if (getuid())
		SKIP(return, "needs root to switch uids and set vm.pt_share");
	ASSERT_EQ(0, pt_knobs_save_and_enable(&self->knobs, true));
	snprintf(self->path, sizeof(self->path), "/dev/shm/pt_share_hostile.%d",
		 getpid());
	self->fd = open(self->path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, fchmod(self->fd, 0600));
	ASSERT_EQ(0, ftruncate(self->fd, SIZE));
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (off = 0; off < SIZE / 8; off++)
		p[off] = SECRET;
	munmap(p, SIZE);
	pt_fault_setup();
}

FIXTURE_TEARDOWN(perm)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->path[0])
		unlink(self->path);
	pt_knobs_restore(&self->knobs);
}

struct probe {
	const char *path;
	pid_t victim;
	char *addr;
};

/* Steps return their number on failure: the test log names the step. */
static int probe_secret(void *arg)
{
	struct probe *pr = arg;
	struct iovec local, remote;
	char buf[64], *q;
	uint64_t v = 0;
	DIR *d;
	int fd, mfd;
	unsigned long off;

	if (open(pr->path, O_RDONLY) >= 0 || errno != EACCES)
		return 1;
	snprintf(buf, sizeof(buf), "/proc/%d/map_files/%lx-%lx", pr->victim,
		 (unsigned long)pr->addr, (unsigned long)pr->addr + SIZE);
	if (open(buf, O_RDONLY) >= 0)
		return 2;
	snprintf(buf, sizeof(buf), "/proc/%d/map_files", pr->victim);
	d = opendir(buf);
	if (d)
		return 3;
	snprintf(buf, sizeof(buf), "/proc/%d/mem", pr->victim);
	fd = open(buf, O_RDONLY);
	if (fd >= 0 && pread(fd, &v, 8, (unsigned long)pr->addr) == 8)
		return 4;
	local.iov_base = &v;
	local.iov_len = 8;
	remote.iov_base = pr->addr;
	remote.iov_len = 8;
	/* A kernel without CONFIG_CROSS_MEMORY_ATTACH has none at all. */
	if (process_vm_readv(pr->victim, &local, 1, &remote, 1, 0) >= 0 ||
	    (errno != EPERM && pt_have_process_vm_readv())) {
		fprintf(stderr, "# process_vm_readv: %s\n", strerror(errno));
		return 5;
	}
	/*
	 * Our own file, mapped at the very address the victim maps the
	 * secret at, has its own tables: zeroes, never the secret.
	 */
	mfd = memfd_create("pt_share_probe", 0);
	if (mfd < 0 || ftruncate(mfd, SIZE))
		return 6;
	q = mmap(pr->addr, SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, mfd, 0);
	if (q != pr->addr)
		return 8;
	for (off = 0; off < SIZE; off += PT_PAGE)
		if (PT_LOAD(*(uint64_t *)(q + off)))
			return 9;
	return v == SECRET ? 10 : 0;
}

TEST_F(perm, other_uid_cannot_reach_tables)
{
	struct holder h[2];
	struct probe pr = { .path = self->path };
	long a0 = pt_read_vmstat("pt_share_attach");

	ASSERT_EQ(0, holder_start(&h[0], self->path, O_RDWR,
				  PROT_READ | PROT_WRITE, 0));
	ASSERT_EQ(0, holder_start(&h[1], self->path, O_RDWR,
				  PROT_READ | PROT_WRITE, 0));
	/* Both root mappings attached: the secret is in shared tables. */
	ASSERT_EQ(2 * NR_SPANS, pt_read_vmstat("pt_share_attach") - a0);
	pr.victim = h[0].pid;
	pr.addr = h[0].addr;
	EXPECT_EQ(0, as_user(NOBODY, probe_secret, &pr));
	ASSERT_EQ(0, holder_stop(&h[0]));
	ASSERT_EQ(0, holder_stop(&h[1]));
}

struct ro_args {
	const char *path;
	char *writer_addr;
	struct holder *writer;
	bool expect_attach;
};

/*
 * Map read-only through an O_RDONLY fd: reads see the writer's data,
 * writes fault, mprotect(PROT_WRITE) and /proc/self/mem writes fail.
 */
static int readonly_mapper(void *arg)
{
	struct ro_args *ra = arg;
	long a0 = pt_read_vmstat("pt_share_attach");
	uint64_t v = ~0ULL, w = 0x1234;
	unsigned long off;
	int fd = open(ra->path, O_RDONLY), mem;
	char *p;

	if (fd < 0)
		return 1;
	p = pt_map_aligned(fd, SIZE, PROT_READ);
	if (!p)
		return 2;
	for (off = 0; off < SIZE; off += PT_PAGE) {
		if (pt_access64((uint64_t *)(p + off), false, &v) || v != SECRET)
			return 3;
	}
	/* The read-only mapping attached (to its own tables). */
	if (ra->expect_attach && pt_read_vmstat("pt_share_attach") - a0 < 1)
		return 4;
	if (pt_access64((uint64_t *)(p + PT_PAGE), true, &w) != SIGSEGV)
		return 5;
	if (!mprotect(p, SIZE, PROT_READ | PROT_WRITE) || errno != EACCES)
		return 6;
	if (!mprotect(p + PT_SPAN, PT_PAGE, PROT_WRITE) || errno != EACCES)
		return 7;
	if (pt_access64((uint64_t *)(p + PT_SPAN), true, &w) != SIGSEGV)
		return 8;
	/* FOLL_FORCE cannot write a shared mapping without VM_MAYWRITE. */
	mem = open("/proc/self/mem", O_RDWR);
	if (mem < 0)
		return 9;
	if (pwrite(mem, &w, 8, (unsigned long)(p + 2 * PT_PAGE)) >= 0)
		return 10;
	close(mem);
	/* Sharing with the writer still works for reads. */
	if (ra->writer && holder_cmd(ra->writer, 'w'))
		return 11;
	if (pt_access64((uint64_t *)(p + PT_PAGE), false, &v) ||
	    v != (ra->writer ? ~SECRET : SECRET))
		return 12;
	if (pt_access64((uint64_t *)(p + 2 * PT_PAGE), false, &v) ||
	    v != SECRET)
		return 13;
	return 0;
}

TEST_F(perm, readonly_fd_never_writes)
{
	struct holder h;
	struct ro_args ra = { .path = self->path, .expect_attach = true };
	long a0 = pt_read_vmstat("pt_share_attach");
	int status;
	pid_t pid;

	ASSERT_EQ(0, holder_start(&h, self->path, O_RDWR,
				  PROT_READ | PROT_WRITE, 0));
	ASSERT_EQ(NR_SPANS, pt_read_vmstat("pt_share_attach") - a0);
	ra.writer = &h;
	/* Root, but an O_RDONLY file: the file's mode is not what stops it. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(readonly_mapper(&ra));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, holder_stop(&h));
}

static int probe_no_write(void *arg)
{
	return open(arg, O_RDWR) >= 0 || errno != EACCES ? 1 : 0;
}

TEST_F(perm, other_uid_readonly_never_writes)
{
	struct holder h[2];
	struct ro_args ra = { .path = self->path, .expect_attach = true };
	long a0 = pt_read_vmstat("pt_share_attach");

	ASSERT_EQ(0, fchmod(self->fd, 0644));
	ASSERT_EQ(0, holder_start(&h[0], self->path, O_RDWR,
				  PROT_READ | PROT_WRITE, 0));
	/* A second read-only mapper of the same uid shares its tables. */
	ASSERT_EQ(0, holder_start(&h[1], self->path, O_RDONLY, PROT_READ,
				  NOBODY));
	ASSERT_EQ(2 * NR_SPANS, pt_read_vmstat("pt_share_attach") - a0);
	ra.writer = &h[0];
	EXPECT_EQ(0, as_user(NOBODY, readonly_mapper, &ra));
	/* Nobody cannot open it for writing at all. */
	EXPECT_EQ(0, as_user(NOBODY, probe_no_write, self->path));
	ASSERT_EQ(0, holder_stop(&h[0]));
	ASSERT_EQ(0, holder_stop(&h[1]));
}

struct chmod_args {
	const char *path;
	int ready[2], go[2];
};

/*
 * Map before the chmod, then keep reading and writing after it; the
 * write is seen by the root holder attached to the same tables.
 */
static int mapped_before_chmod(void *arg)
{
	struct chmod_args *ca = arg;
	long a0 = pt_read_vmstat("pt_share_attach");
	int fd = open(ca->path, O_RDWR);
	uint64_t v, w = ~SECRET;
	char *p, c = 'r';

	if (fd < 0)
		return 1;
	p = pt_map_aligned(fd, SIZE, PROT_READ | PROT_WRITE);
	if (!p)
		return 2;
	close(fd);
	if (pt_access64((uint64_t *)p, false, &v) || v != SECRET)
		return 3;
	if (pt_access64((uint64_t *)(p + PT_SPAN), false, &v) || v != SECRET)
		return 4;
	if (pt_read_vmstat("pt_share_attach") - a0 != NR_SPANS)
		return 5;
	if (write(ca->ready[1], &c, 1) != 1 || read(ca->go[0], &c, 1) != 1)
		return 6;
	/* chmod 0000 done: an open now fails, the mapping keeps working. */
	if (open(ca->path, O_RDONLY) >= 0 || errno != EACCES)
		return 7;
	if (pt_access64((uint64_t *)(p + 3 * PT_PAGE), true, &w))
		return 8;
	if (pt_access64((uint64_t *)(p + 3 * PT_PAGE), false, &v) || v != w)
		return 9;
	return 0;
}

static int probe_no_open(void *arg)
{
	return open(arg, O_RDONLY) >= 0 || errno != EACCES ? 1 : 0;
}

TEST_F(perm, chmod_after_mapping_as_stock)
{
	struct chmod_args ca = { .path = self->path };
	struct holder h;
	uint64_t v = 0;
	int status;
	pid_t pid;
	char c;

	ASSERT_EQ(0, fchown(self->fd, NOBODY, NOBODY));
	ASSERT_EQ(0, holder_start(&h, self->path, O_RDWR,
				  PROT_READ | PROT_WRITE, 0));
	ASSERT_EQ(0, pipe(ca.ready));
	ASSERT_EQ(0, pipe(ca.go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(100);
		pt_fault_setup();
		_exit(mapped_before_chmod(&ca));
	}
	ASSERT_EQ(1, read(ca.ready[0], &c, 1));
	ASSERT_EQ(0, fchmod(self->fd, 0));
	EXPECT_EQ(0, as_user(NOBODY, probe_no_open, self->path));
	ASSERT_EQ(1, write(ca.go[1], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The write made after the chmod reached the file. */
	ASSERT_EQ(8, pread(self->fd, &v, 8, 3 * PT_PAGE));
	EXPECT_EQ(~SECRET, v);
	ASSERT_EQ(0, holder_stop(&h));
}

TEST_HARNESS_MAIN
