// SPDX-License-Identifier: GPL-2.0
/*
 * ptb_share: the page-table sharing scenarios of "make bench".
 *
 *   ptb_share mkfile -f PATH -s MIB [-k KIND]
 *	Create PATH (tmpfs, huge tmpfs or hugetlbfs) and write every page
 *	with a known pattern, so that the other modes only map and read.
 *
 *   ptb_share hold -f PATH -s MIB -k KIND -n N [-w WINDOW]
 *	Scenario 1. N processes are forked; each opens PATH, maps it itself
 *	(KIND none: maps nothing, the baseline), reads every page, reports
 *	and holds. The N-th starts only when the N-1 others hold. With all N
 *	holding, PageTables growth, the N-th process's VmPTE and faults and
 *	the pt_share counters are reported; then all exit (teardown timed).
 *
 *   ptb_share probe -f PATH -s MIB -k KIND -n N [-r REPS] [-a FA,FA...]
 *	Scenarios 2 and 3. N-1 holders as above; then, REPS times each,
 *	a new process maps and reads every page (and another writes every
 *	page) at each fault_around_bytes value, timing mmap and the access
 *	and counting its minor faults; then a process that holds the fully
 *	read mapping times its munmap, and another its exit.
 *
 *   ptb_share fork -f PATH -s MIB -k KIND [-r REPS]
 *	Scenario 4. A parent maps and reads every page; REPS times it forks
 *	a child that reads every page and exits.
 *
 * Options: -t TAG is copied into every RESULT line; -w is how many
 * holders may be starting at once (default 2, the guest's CPUs).
 * Every process checks what it read against the pattern: a mismatch is an
 * error, whatever the timing.
 */
#include <signal.h>

#include "ptb_lib.h"

struct opts {
	const char *mode, *path, *tag, *fa_list;
	size_t size;
	enum ptb_kind kind;
	int n, reps, window;
};

/* What a child tells its parent; smaller than PIPE_BUF, so writes are atomic. */
struct report {
	int idx, err;
	int did_read;		/* sum is the sum of a full read */
	pid_t pid;
	long minflt;
	long long map_ns, access_ns, unmap_ns, t_exit;
	unsigned long sum;
};

enum probe { P_HOLD, P_READ, P_WRITE, P_UNMAP, P_EXIT };

/* ---- children -------------------------------------------------------- */

static void send_report(int fd, struct report *r)
{
	if (write(fd, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		_exit(4);
}

/*
 * One process: map, access every page, report. P_HOLD then waits for
 * @hold_fd to reach EOF (the parent closes it to end the run); the other
 * probes unmap or exit as their name says.
 */
static void __attribute__((noreturn))
child_main(const struct opts *o, enum probe what, int idx, int rep_fd,
	   int hold_fd)
{
	struct report r = { .idx = idx, .pid = getpid() };
	long long t0, t1, t2;
	long f0;
	char *p = NULL;
	char c;
	int fd = -1;

	if (o->kind != PTB_NONE) {
		fd = open(o->path, O_RDWR);
		if (fd < 0) {
			r.err = errno;
			send_report(rep_fd, &r);
			_exit(2);
		}
	}
	f0 = ptb_minflt();
	t0 = ptb_now_ns();
	if (o->kind != PTB_NONE) {
		p = ptb_map(fd, o->size, o->kind, PROT_READ | PROT_WRITE);
		if (!p) {
			r.err = errno;
			send_report(rep_fd, &r);
			_exit(3);
		}
	}
	t1 = ptb_now_ns();
	if (p && what == P_WRITE) {
		ptb_write_all(p, o->size, ptb_kind_offset(o->kind));
	} else if (p) {
		r.sum = ptb_read_all(p, o->size);
		r.did_read = 1;
	}
	t2 = ptb_now_ns();
	r.minflt = ptb_minflt() - f0;
	r.map_ns = t1 - t0;
	r.access_ns = t2 - t1;
	if (what == P_UNMAP) {
		t0 = ptb_now_ns();
		if (munmap(p, o->size))
			r.err = errno;
		r.unmap_ns = ptb_now_ns() - t0;
	}
	if (what == P_EXIT) {
		/* The parent times from here to waitpid() returning. */
		r.t_exit = ptb_now_ns();
		send_report(rep_fd, &r);
		_exit(0);
	}
	send_report(rep_fd, &r);
	if (what == P_HOLD)
		while (read(hold_fd, &c, 1) > 0)
			;
	_exit(0);
}

/* ---- the parent's bookkeeping ------------------------------------------ */

static struct {
	pid_t *pids;
	int nr;
	int rep_r, rep_w, hold_r, hold_w;
} kids;

static void kill_all(void)
{
	int i;

	for (i = 0; i < kids.nr; i++)
		if (kids.pids[i] > 0)
			kill(kids.pids[i], SIGKILL);
	for (i = 0; i < kids.nr; i++)
		if (kids.pids[i] > 0)
			waitpid(kids.pids[i], NULL, 0);
	kids.nr = 0;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ptb_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	kill_all();
	exit(1);
}

static pid_t spawn(const struct opts *o, enum probe what, int idx)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork #%d: %s", idx, strerror(errno));
	if (!pid) {
		close(kids.rep_r);
		close(kids.hold_w);
		child_main(o, what, idx, kids.rep_w, kids.hold_r);
	}
	return pid;
}

static void get_report(const struct opts *o, struct report *r)
{
	ssize_t n;

	do {
		n = read(kids.rep_r, r, sizeof(*r));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*r))
		fail("a child died before reporting");
	if (r->err)
		fail("child #%d: %s", r->idx, strerror(r->err));
	if (r->did_read &&
	    r->sum != ptb_expected_sum(o->size, ptb_kind_offset(o->kind)))
		fail("child #%d read wrong data (sum %lu, expected %lu)",
		     r->idx, r->sum,
		     ptb_expected_sum(o->size, ptb_kind_offset(o->kind)));
}

/*
 * Start @nr holders, at most o->window of them still starting at a time.
 * Returns when all of them hold; @last gets the report of the last one.
 */
static void start_holders(const struct opts *o, int nr, struct report *last)
{
	struct report r;
	int started = 0, done = 0;

	while (done < nr) {
		while (started < nr && started - done < o->window) {
			kids.pids[kids.nr++] = spawn(o, P_HOLD, started);
			started++;
		}
		get_report(o, &r);
		done++;
		if (last)
			*last = r;
	}
}

/* End every holder: EOF on the hold pipe, then reap them all. */
static long long stop_holders(void)
{
	long long t0 = ptb_now_ns();
	int i, status;

	close(kids.hold_w);
	kids.hold_w = -1;
	for (i = 0; i < kids.nr; i++) {
		if (waitpid(kids.pids[i], &status, 0) != kids.pids[i])
			fail("waitpid: %s", strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail("holder %d ended with status %#x", i, status);
		kids.pids[i] = 0;
	}
	kids.nr = 0;
	return ptb_now_ns() - t0;
}

static void setup_pipes(int max_children)
{
	int rp[2], hp[2];

	kids.pids = calloc(max_children, sizeof(*kids.pids));
	if (!kids.pids)
		ptb_die("calloc");
	if (pipe(rp) || pipe(hp))
		ptb_die("pipe");
	kids.rep_r = rp[0];
	kids.rep_w = rp[1];
	kids.hold_r = hp[0];
	kids.hold_w = hp[1];
}

/* Run one probe process to its end; returns its report. */
static void run_probe(const struct opts *o, enum probe what,
		      struct report *r, long long *exit_ns)
{
	int status;
	pid_t pid = spawn(o, what, -1);

	kids.pids[kids.nr++] = pid;
	get_report(o, r);
	if (waitpid(pid, &status, 0) != pid)
		fail("waitpid: %s", strerror(errno));
	if (exit_ns)
		*exit_ns = ptb_now_ns() - r->t_exit;
	kids.pids[--kids.nr] = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("probe ended with status %#x", status);
}

/* ---- modes ------------------------------------------------------------- */

static int do_mkfile(const struct opts *o)
{
	off_t off = ptb_kind_offset(o->kind);
	size_t len = o->size + off, i;
	unsigned char *p;
	int fd = open(o->path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		ptb_die("%s", o->path);
	if (ftruncate(fd, len))
		ptb_die("ftruncate %s", o->path);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		ptb_die("mmap %s", o->path);
	for (i = 0; i < len / PTB_PAGE; i++)
		p[i * PTB_PAGE] = ptb_pattern(i);
	if (munmap(p, len) || close(fd))
		ptb_die("munmap/close %s", o->path);
	return 0;
}

static int do_hold(const struct opts *o)
{
	struct ptb_counters c0, c1, c2;
	struct report last = { 0 };
	long long t0, setup_ns, teardown_ns;
	long vmpte;

	setup_pipes(o->n);
	ptb_snap(&c0, true);
	t0 = ptb_now_ns();
	start_holders(o, o->n - 1, NULL);
	start_holders(o, 1, &last);
	setup_ns = ptb_now_ns() - t0;
	ptb_snap(&c1, true);
	vmpte = ptb_status_kb(last.pid, "VmPTE");
	teardown_ns = stop_holders();
	ptb_snap(&c2, true);
	ptb_result(o->tag, " n=%d size_mb=%zu pt_before_kb=%ld pt_hold_kb=%ld"
	       " pt_growth_kb=%ld pt_after_kb=%ld vmpte_kb=%ld attach=%ld"
	       " table_alloc=%ld table_free=%ld detach=%ld teardown_detach=%ld"
	       " teardown_free=%ld last_minflt=%ld last_map_ms=%.3f"
	       " last_read_ms=%.3f setup_ms=%.1f teardown_ms=%.1f"
	       " pmd_attach=%ld pmd_table_alloc=%ld",
	       o->n, o->size >> 20, c0.pagetables_kb, c1.pagetables_kb,
	       c1.pagetables_kb - c0.pagetables_kb, c2.pagetables_kb, vmpte,
	       ptb_delta(c0.attach, c1.attach),
	       ptb_delta(c0.alloc, c1.alloc), ptb_delta(c0.free, c1.free),
	       ptb_delta(c0.detach, c1.detach),
	       ptb_delta(c1.detach, c2.detach), ptb_delta(c1.free, c2.free),
	       last.minflt, ptb_ms(last.map_ns), ptb_ms(last.access_ns),
	       ptb_ms(setup_ns), ptb_ms(teardown_ns),
	       ptb_delta(c0.pmd_attach, c1.pmd_attach),
	       ptb_delta(c0.pmd_alloc, c1.pmd_alloc));
	return 0;
}

static const char *const probe_name[] = {
	[P_READ] = "read", [P_WRITE] = "write",
	[P_UNMAP] = "munmap", [P_EXIT] = "exit",
};

static void probe_result(const struct opts *o, enum probe what, long fa,
			 int rep, const struct report *r, long long exit_ns,
			 const struct ptb_counters *c0,
			 const struct ptb_counters *c1)
{
	ptb_result(o->tag, " n=%d size_mb=%zu probe=%s fault_around=%ld prep=%d"
	       " map_ms=%.3f access_ms=%.3f total_ms=%.3f minflt=%ld"
	       " unmap_ms=%.3f exit_ms=%.3f attach=%ld pmd_attach=%ld",
	       o->n, o->size >> 20, probe_name[what], fa, rep,
	       ptb_ms(r->map_ns), ptb_ms(r->access_ns),
	       ptb_ms(r->map_ns + r->access_ns), r->minflt,
	       ptb_ms(r->unmap_ns), ptb_ms(exit_ns),
	       ptb_delta(c0->attach, c1->attach),
	       ptb_delta(c0->pmd_attach, c1->pmd_attach));
}

static int do_probe(const struct opts *o)
{
	long fa_default = ptb_read_long(FAULT_AROUND), fa;
	struct ptb_counters c0, c1;
	struct report r;
	long long exit_ns;
	char *list, *tok, *save = NULL, buf[32];
	int rep;
	enum probe what;

	if (!o->fa_list)
		ptb_die("probe needs -a FAULT_AROUND_LIST");
	setup_pipes(o->n + 1);
	start_holders(o, o->n - 1, NULL);

	list = strdup(o->fa_list);
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		fa = strtol(tok, NULL, 10);
		snprintf(buf, sizeof(buf), "%ld", fa);
		if (fa_default < 0) {
			fprintf(stderr, "%s: no %s (debugfs), fault_around not set\n",
				ptb_prog, FAULT_AROUND);
		} else if (ptb_write_str(FAULT_AROUND, buf)) {
			fail("cannot write %s to %s", buf, FAULT_AROUND);
		}
		for (what = P_READ; what <= P_WRITE; what++) {
			for (rep = 1; rep <= o->reps; rep++) {
				ptb_snap(&c0, false);
				run_probe(o, what, &r, NULL);
				ptb_snap(&c1, false);
				probe_result(o, what, fa_default < 0 ? -1 : fa,
					     rep, &r, 0, &c0, &c1);
			}
		}
	}
	free(list);
	if (fa_default >= 0) {
		snprintf(buf, sizeof(buf), "%ld", fa_default);
		if (ptb_write_str(FAULT_AROUND, buf))
			fail("cannot restore %s", FAULT_AROUND);
	}
	for (what = P_UNMAP; what <= P_EXIT; what++) {
		for (rep = 1; rep <= o->reps; rep++) {
			ptb_snap(&c0, false);
			run_probe(o, what, &r, what == P_EXIT ? &exit_ns : NULL);
			ptb_snap(&c1, false);
			probe_result(o, what, fa_default, rep, &r,
				     what == P_EXIT ? exit_ns : 0, &c0, &c1);
		}
	}
	stop_holders();
	return 0;
}

static int do_fork(const struct opts *o)
{
	unsigned long expect = ptb_expected_sum(o->size,
						ptb_kind_offset(o->kind));
	struct ptb_counters c0, c1;
	struct report r;
	long long t0, t_fork, t_end;
	int fd, rep, status;
	char *p;
	pid_t pid;

	setup_pipes(1);
	fd = open(o->path, O_RDWR);
	if (fd < 0)
		ptb_die("%s", o->path);
	p = ptb_map(fd, o->size, o->kind, PROT_READ | PROT_WRITE);
	if (!p)
		ptb_die("mmap %s", o->path);
	if (ptb_read_all(p, o->size) != expect)
		fail("the parent read wrong data");
	for (rep = 1; rep <= o->reps; rep++) {
		ptb_snap(&c0, false);
		t0 = ptb_now_ns();
		pid = fork();
		if (pid < 0)
			fail("fork: %s", strerror(errno));
		if (!pid) {
			long long t1 = ptb_now_ns();
			long f0 = ptb_minflt();

			r = (struct report){ .pid = getpid(), .map_ns = t1 };
			r.sum = ptb_read_all(p, o->size);
			r.did_read = 1;
			r.access_ns = ptb_now_ns() - t1;
			r.minflt = ptb_minflt() - f0;
			send_report(kids.rep_w, &r);
			_exit(0);
		}
		t_fork = ptb_now_ns();
		kids.pids[kids.nr++] = pid;
		get_report(o, &r);
		if (waitpid(pid, &status, 0) != pid)
			fail("waitpid: %s", strerror(errno));
		t_end = ptb_now_ns();
		kids.pids[--kids.nr] = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail("child ended with status %#x", status);
		ptb_snap(&c1, false);
		/* r.map_ns holds the child's first timestamp after fork. */
		ptb_result(o->tag, " size_mb=%zu prep=%d fork_ms=%.3f child_start_ms=%.3f"
		       " child_read_ms=%.3f child_minflt=%ld total_ms=%.3f"
		       " attach=%ld",
		       o->size >> 20, rep, ptb_ms(t_fork - t0),
		       ptb_ms(r.map_ns - t0), ptb_ms(r.access_ns), r.minflt,
		       ptb_ms(t_end - t0), ptb_delta(c0.attach, c1.attach));
	}
	munmap(p, o->size);
	close(fd);
	return 0;
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
		"usage: %s mkfile|hold|probe|fork -f PATH -s MIB [-k file|hugetlb|misalign|private|none]\n"
		"          [-n PROCS] [-r REPS] [-w WINDOW] [-a FA,...] [-t TAG]\n",
		ptb_prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.tag = "", .kind = PTB_FILE, .n = 1, .reps = 1, .window = 2,
	};
	int opt;

	ptb_prog = "ptb_share";
	ptb_no_aslr(argv);
	if (argc < 2)
		usage();
	o.mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "f:s:k:n:r:w:a:t:")) != -1) {
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
		case 'w':
			o.window = atoi(optarg);
			break;
		case 'a':
			o.fa_list = optarg;
			break;
		case 't':
			o.tag = optarg;
			break;
		default:
			usage();
		}
	}
	if (!o.path && o.kind != PTB_NONE)
		usage();
	if (o.size < PTB_SPAN || o.n < 1 || o.reps < 1 || o.window < 1)
		usage();
	/* The parent must not die of a holder that went away early. */
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(o.mode, "mkfile"))
		return do_mkfile(&o);
	if (!strcmp(o.mode, "hold"))
		return do_hold(&o);
	if (!strcmp(o.mode, "probe"))
		return do_probe(&o);
	if (!strcmp(o.mode, "fork"))
		return do_fork(&o);
	usage();
}
