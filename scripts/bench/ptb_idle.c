// SPDX-License-Identifier: GPL-2.0
/*
 * ptb_idle: the idle-table scenarios of "make bench" (scenario 9): what a
 * process pays to map a populated file that nobody maps at that moment.
 *
 *   ptb_idle cold -f PATH -s MIB -k KIND [-r REPS]
 *	A process maps the file, reads every page and exits; then, REPS
 *	times, a fresh process maps it and reads every page, counting its
 *	minor faults and timing the map and the reads. With idle tables
 *	kept (vm.pt_share_idle = 1) the fresh process attaches the tables
 *	the first one left; otherwise it faults the file in again.
 *
 *   ptb_idle churn -f PATH -s MIB -k KIND -n PROCS [-p PERCENT]
 *	After the same first process, PROCS short-lived processes one after
 *	another: each forks, maps the file, reads PERCENT (default 10) of its
 *	pages at random, notes its VmPTE and exits. Reports processes per
 *	second, faults and VmPTE per process, and PageTables once all exited.
 *
 *   ptb_idle shrink -f PATH -s MIB -k KIND -c CGROUP
 *	A process in CGROUP maps and reads the whole file and exits, so that
 *	CGROUP pays for the idle tables it leaves; then one write of the
 *	tables' size to CGROUP/memory.reclaim is timed, and the tables the
 *	shrinker freed are counted. With no idle table it times what
 *	memory.reclaim costs when there is nothing of the kind to free.
 *
 * -t TAG is copied into every RESULT line. Every read is checked against
 * the pattern ptb_share mkfile wrote; a mismatch fails the run.
 */
#include <signal.h>

#include "ptb_lib.h"

struct opts {
	const char *mode, *path, *tag, *cg;
	size_t size;
	enum ptb_kind kind;
	int n, reps, percent;
};

/* What a child tells its parent, through a shared anonymous page. */
struct report {
	int err;		/* errno of what failed, or -1: wrong data */
	long minflt, vmpte_kb;
	long long map_ns, access_ns;
};

static struct report *shared_report(void)
{
	struct report *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (r == MAP_FAILED)
		ptb_die("mmap");
	return r;
}

/* xorshift64: a fixed sequence per process, so that runs compare. */
static inline unsigned long long next_rand(unsigned long long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * One process: map, read every page (@percent 100) or @percent of them at
 * random from @seed, check each against the pattern, report and exit.
 */
static void __attribute__((noreturn))
child(const struct opts *o, int percent, unsigned long long seed,
      const char *cg, struct report *r)
{
	const volatile unsigned char *v;
	size_t pages = o->size / PTB_PAGE, i, nr, pg;
	long long t0, t1;
	off_t first = ptb_kind_offset(o->kind) / PTB_PAGE;
	char path[256], pid[32];
	long f0;
	char *p;
	int fd;

	memset(r, 0, sizeof(*r));
	if (cg) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (ptb_write_str(path, pid)) {
			r->err = errno;
			_exit(2);
		}
	}
	fd = open(o->path, O_RDWR);
	if (fd < 0) {
		r->err = errno;
		_exit(2);
	}
	f0 = ptb_minflt();
	t0 = ptb_now_ns();
	p = ptb_map(fd, o->size, o->kind, PROT_READ | PROT_WRITE);
	if (!p) {
		r->err = errno;
		_exit(3);
	}
	t1 = ptb_now_ns();
	v = (const volatile unsigned char *)p;
	nr = percent >= 100 ? pages : pages * percent / 100;
	for (i = 0; i < nr; i++) {
		pg = percent >= 100 ? i : next_rand(&seed) % pages;
		if (v[pg * PTB_PAGE] != ptb_pattern(first + pg)) {
			r->err = -1;
			_exit(4);
		}
	}
	r->access_ns = ptb_now_ns() - t1;
	r->map_ns = t1 - t0;
	r->minflt = ptb_minflt() - f0;
	r->vmpte_kb = ptb_status_kb(getpid(), "VmPTE");
	_exit(0);
}

/* Run child() in a new process and wait for it; 0 if it read right. */
static int run_child(const struct opts *o, int percent,
		     unsigned long long seed, const char *cg, struct report *r)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		ptb_die("fork");
	if (!pid)
		child(o, percent, seed, cg, r);
	if (waitpid(pid, &status, 0) != pid)
		ptb_die("waitpid");
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	errno = r->err > 0 ? r->err : 0;
	fprintf(stderr, "%s: child ended with status %#x (%s)\n", ptb_prog,
		status, r->err < 0 ? "wrong data" : strerror(r->err));
	return -1;
}

/* The idle-table counters, -1 where the kernel has none. */
struct idle_snap {
	long pt_kb, idle, reuse, shrink, alloc, attach;
};

static void snap(struct idle_snap *s)
{
	s->pt_kb = ptb_settled_pagetables_kb();
	s->idle = ptb_vmstat("nr_pt_share_idle");
	s->reuse = ptb_vmstat("pt_share_table_reuse");
	s->shrink = ptb_vmstat("pt_share_table_shrink");
	s->alloc = ptb_vmstat("pt_share_table_alloc");
	s->attach = ptb_vmstat("pt_share_attach");
}

static int do_cold(const struct opts *o)
{
	struct report *r = shared_report();
	struct idle_snap s0, s1, s2;
	int rep;

	snap(&s0);
	/* The first mapper: after it, the file is populated and unmapped. */
	if (run_child(o, 100, 0, NULL, r))
		return 1;
	for (rep = 1; rep <= o->reps; rep++) {
		snap(&s1);
		if (run_child(o, 100, 0, NULL, r))
			return 1;
		snap(&s2);
		ptb_result(o->tag, " size_mb=%zu prep=%d minflt=%ld map_ms=%.3f"
		       " read_ms=%.3f total_ms=%.3f pt_idle_kb=%ld idle_tables=%ld"
		       " table_reuse=%ld table_alloc=%ld attach=%ld",
		       o->size >> 20, rep, r->minflt, ptb_ms(r->map_ns),
		       ptb_ms(r->access_ns), ptb_ms(r->map_ns + r->access_ns),
		       s1.pt_kb - s0.pt_kb, s1.idle,
		       ptb_delta(s1.reuse, s2.reuse),
		       ptb_delta(s1.alloc, s2.alloc),
		       ptb_delta(s1.attach, s2.attach));
	}
	return 0;
}

static int do_churn(const struct opts *o)
{
	struct report *r = shared_report();
	struct idle_snap s0, s1, s2;
	long long t0, elapsed;
	long minflt = 0, vmpte = 0;
	int i;

	snap(&s0);
	if (run_child(o, 100, 0, NULL, r))
		return 1;
	snap(&s1);
	t0 = ptb_now_ns();
	for (i = 0; i < o->n; i++) {
		if (run_child(o, o->percent, 0x9e3779b97f4a7c15ULL * (i + 1),
			      NULL, r))
			return 1;
		minflt += r->minflt;
		vmpte += r->vmpte_kb;
	}
	elapsed = ptb_now_ns() - t0;
	snap(&s2);
	ptb_result(o->tag, " size_mb=%zu procs=%d percent=%d elapsed_ms=%.1f"
	       " procs_per_s=%.3f minflt_per_proc=%ld vmpte_per_proc_kb=%ld"
	       " pt_before_kb=%ld pt_after_kb=%ld idle_tables=%ld"
	       " table_reuse=%ld table_alloc=%ld",
	       o->size >> 20, o->n, o->percent, ptb_ms(elapsed),
	       o->n / (elapsed / 1e9), minflt / o->n, vmpte / o->n, s0.pt_kb,
	       s2.pt_kb, s2.idle, ptb_delta(s1.reuse, s2.reuse),
	       ptb_delta(s1.alloc, s2.alloc));
	return 0;
}

static int do_shrink(const struct opts *o)
{
	struct report *r = shared_report();
	struct idle_snap s1, s2;
	char path[256], amount[32];
	long long t0, t;
	int fd, err = 0;
	ssize_t n;

	if (!o->cg)
		ptb_die("shrink needs -c CGROUP");
	if (run_child(o, 100, 0, o->cg, r))
		return 1;
	snap(&s1);
	/* One table per 2 MiB span: ask for exactly what they take. */
	snprintf(amount, sizeof(amount), "%zu",
		 o->size / PTB_SPAN * PTB_PAGE);
	snprintf(path, sizeof(path), "%s/memory.reclaim", o->cg);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		ptb_die("%s", path);
	t0 = ptb_now_ns();
	n = write(fd, amount, strlen(amount));
	t = ptb_now_ns() - t0;
	/* EAGAIN: less than asked was reclaimed (pages freed by RCU do not count). */
	if (n < 0)
		err = errno;
	close(fd);
	snap(&s2);
	ptb_result(o->tag, " size_mb=%zu reclaim_bytes=%s reclaim_ms=%.3f reclaim_err=%d"
	       " idle_before=%ld idle_after=%ld tables_shrunk=%ld"
	       " us_per_table=%.2f pt_before_kb=%ld pt_after_kb=%ld",
	       o->size >> 20, amount, ptb_ms(t), err, s1.idle, s2.idle,
	       ptb_delta(s1.shrink, s2.shrink),
	       s2.shrink > s1.shrink ? t / 1e3 / (s2.shrink - s1.shrink) : 0,
	       s1.pt_kb, s2.pt_kb);
	return 0;
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
		"usage: %s cold|churn|shrink -f PATH -s MIB [-k file|hugetlb]\n"
		"          [-r REPS] [-n PROCS] [-p PERCENT] [-c CGROUP] [-t TAG]\n",
		ptb_prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.tag = "", .kind = PTB_FILE, .n = 1, .reps = 1, .percent = 10,
	};
	int opt;

	ptb_prog = "ptb_idle";
	ptb_no_aslr(argv);
	if (argc < 2)
		usage();
	o.mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "f:s:k:n:r:p:c:t:")) != -1) {
		switch (opt) {
		case 'f':
			o.path = optarg;
			break;
		case 's':
			o.size = strtoul(optarg, NULL, 0) << 20;
			break;
		case 'k':
			o.kind = ptb_parse_kind(optarg);
			break;
		case 'n':
			o.n = atoi(optarg);
			break;
		case 'r':
			o.reps = atoi(optarg);
			break;
		case 'p':
			o.percent = atoi(optarg);
			break;
		case 'c':
			o.cg = optarg;
			break;
		case 't':
			o.tag = optarg;
			break;
		default:
			usage();
		}
	}
	if (!o.path || o.size < PTB_SPAN || o.n < 1 || o.reps < 1 ||
	    o.percent < 1 || o.percent > 100 ||
	    (o.kind != PTB_FILE && o.kind != PTB_HUGETLB))
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(o.mode, "cold"))
		return do_cold(&o);
	if (!strcmp(o.mode, "churn"))
		return do_churn(&o);
	if (!strcmp(o.mode, "shrink"))
		return do_shrink(&o);
	usage();
}
