// SPDX-License-Identifier: GPL-2.0
/*
 * ptb_pf: the regression guard loops of "make bench" (scenario 5), after
 * will-it-scale's page_fault2 and page_fault3.
 *
 *   ptb_pf -m MODE [-s MIB] [-p TASKS] [-d SECONDS] [-D DIR] [-t TAG]
 *
 * TASKS processes each create their own file of MIB (default 128) in DIR
 * (default /dev/shm), then, all starting together, repeat for SECONDS:
 * map the file, write the first byte of every page, unmap. One operation
 * is one page written (one fault). MODE says how the file is mapped:
 *
 *   shared    MAP_SHARED, NULL hint (page_fault3): eligible for pt_share
 *             when big enough, but no other process maps the same file,
 *             so every table is private to its one user
 *   misalign  MAP_SHARED at a 2 MiB-aligned address with file offset
 *             4 KiB: never shares (address and offset disagree)
 *   private   MAP_PRIVATE, NULL hint (page_fault2): never shares, every
 *             write copies the page
 *
 * One untimed round fills the page cache first. The result is the sum over
 * the tasks of their operations per second.
 */
#include <signal.h>

#include "ptb_lib.h"

struct task_report {
	long long ops, ns;
	long minflt;
	int err;
};

/* One task; @fds: the read end of the start pipe, the report pipe. */
static void __attribute__((noreturn))
task(enum ptb_kind kind, size_t size, const char *dir, int secs, int fds[2])
{
	int go_fd = fds[0], rep_fd = fds[1];
	struct task_report r = { 0 };
	off_t off = ptb_kind_offset(kind);
	long long t0 = 0, deadline = 0;
	char path[256], c;
	long f0 = 0;
	char *p;
	int fd, round;

	snprintf(path, sizeof(path), "%s/ptb_pf.%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || unlink(path) || ftruncate(fd, size + off)) {
		r.err = errno;
		goto out;
	}
	/* Round 0 fills the file; it is not timed. */
	for (round = 0; ; round++) {
		if (round == 1) {
			/* Wait until every task is ready: EOF on go_fd. */
			while (read(go_fd, &c, 1) > 0)
				;
			t0 = ptb_now_ns();
			deadline = t0 + secs * 1000000000LL;
			f0 = ptb_minflt();
		}
		p = ptb_map(fd, size, kind, PROT_READ | PROT_WRITE);
		if (!p) {
			r.err = errno;
			goto out;
		}
		ptb_write_all(p, size, off);
		if (munmap(p, size)) {
			r.err = errno;
			goto out;
		}
		if (round == 0) {
			if (write(rep_fd, &r, sizeof(r)) != sizeof(r))
				_exit(4);
			continue;
		}
		r.ops += size / PTB_PAGE;
		r.ns = ptb_now_ns() - t0;
		if (t0 + r.ns >= deadline)
			break;
	}
	r.minflt = ptb_minflt() - f0;
out:
	if (write(rep_fd, &r, sizeof(r)) != sizeof(r))
		_exit(4);
	_exit(r.err ? 1 : 0);
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
		"usage: %s -m shared|misalign|private [-s MIB] [-p TASKS] [-d SECONDS] [-D DIR] [-t TAG]\n",
		ptb_prog);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *dir = "/dev/shm", *tag = "";
	size_t size = 128UL << 20;
	int tasks = 2, secs = 10, opt, i, go[2], rep[2], fds[2], status;
	int failed = 0;
	struct task_report r;
	long long ops = 0, max_ns = 0;
	long minflt = 0, attach0, attach1, alloc0, alloc1;
	double rate = 0;
	enum ptb_kind kind;
	pid_t *pids;

	ptb_prog = "ptb_pf";
	while ((opt = getopt(argc, argv, "m:s:p:d:D:t:")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 's':
			size = strtoul(optarg, NULL, 0) << 20;
			break;
		case 'p':
			tasks = atoi(optarg);
			break;
		case 'd':
			secs = atoi(optarg);
			break;
		case 'D':
			dir = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		default:
			usage();
		}
	}
	if (!mode || tasks < 1 || secs < 1 || size < PTB_SPAN)
		usage();
	if (!strcmp(mode, "shared"))
		kind = PTB_FILE;
	else
		kind = ptb_parse_kind(mode);
	if (kind != PTB_FILE && kind != PTB_MISALIGN && kind != PTB_PRIVATE)
		usage();

	pids = calloc(tasks, sizeof(*pids));
	if (!pids || pipe(go) || pipe(rep))
		ptb_die("setup");
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < tasks; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			ptb_die("fork");
		if (!pids[i]) {
			close(go[1]);
			close(rep[0]);
			fds[0] = go[0];
			fds[1] = rep[1];
			task(kind, size, dir, secs, fds);
		}
	}
	close(go[0]);
	close(rep[1]);
	/* Every task has filled its file: start them all at once. */
	for (i = 0; i < tasks; i++)
		if (read(rep[0], &r, sizeof(r)) != sizeof(r) || r.err)
			failed = 1;
	attach0 = ptb_vmstat("pt_share_attach");
	alloc0 = ptb_vmstat("pt_share_table_alloc");
	close(go[1]);
	for (i = 0; i < tasks; i++) {
		if (read(rep[0], &r, sizeof(r)) != sizeof(r) || r.err) {
			failed = 1;
			continue;
		}
		ops += r.ops;
		minflt += r.minflt;
		if (r.ns > max_ns)
			max_ns = r.ns;
		if (r.ns > 0)
			rate += r.ops * 1e9 / r.ns;
	}
	attach1 = ptb_vmstat("pt_share_attach");
	alloc1 = ptb_vmstat("pt_share_table_alloc");
	for (i = 0; i < tasks; i++) {
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	}
	if (failed) {
		errno = 0;
		ptb_die("a task failed (%s mode, %s)", mode, dir);
	}
	printf("RESULT %s mode=%s size_mb=%zu tasks=%d secs=%d ops=%lld"
	       " ops_per_s=%.1f minflt_per_op=%.3f wall_ms=%.1f attach=%ld"
	       " table_alloc=%ld\n",
	       tag, mode, size >> 20, tasks, secs, ops, rate,
	       ops ? (double)minflt / ops : 0.0, ptb_ms(max_ns),
	       ptb_delta(attach0, attach1), ptb_delta(alloc0, alloc1));
	return 0;
}
