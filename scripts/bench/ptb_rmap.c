// SPDX-License-Identifier: GPL-2.0
/*
 * ptb_rmap: the cost of rmap-driven changes to pages that N processes map.
 *
 * An entry of a shared PTE table is cleared once and flushed from the
 * processes attached to the table, each at the address it maps the table
 * at (mm/pt_share_rmap.c); reclaim batches those flushes. Without sharing, the
 * rmap walk clears one entry per process and flushes the CPUs of each
 * process in turn. This program times the three operations that take that
 * path, on one shmem file that N holder processes have mapped and fully
 * read, and counts the TLB-shootdown and function-call IPIs they cost
 * (/proc/interrupts "TLB" and "CAL", summed over the CPUs) and pt_share's
 * flush counters:
 *
 *	migrate		move_pages(MPOL_MF_MOVE_ALL) of every page to node 1
 *	truncate	ftruncate() to 0
 *	reclaim		memory.reclaim of the file's pages (needs swap)
 *
 * Usage: ptb_rmap -o OP -n N -s SIZE_MB [-t TAG] [-c CGROUP_DIR]
 * Prints "RESULT TAG op=OP n=N size_mb=S ms=T ... pages=P tlb_ipis=I
 * cal_ipis=C flushes=F batched=B flush_mms=M". The caller
 * sets vm.pt_share; it runs the same work with sharing on and off.
 */
#include "ptb_lib.h"

#include <sys/syscall.h>
#include <linux/mempolicy.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *op = NULL, *tag = "rmap", *cg = NULL;
	long n = 8, size_mb = 256, i, a0, out0, npages;
	long tlb0, cal0, fl0, ba0, mm0;
	int opt, fd, rdy[2], go[2], *nodes, *status;
	size_t size, off;
	long long t0, t1;
	void **pages;
	char *p, c;

	while ((opt = getopt(argc, argv, "o:n:s:t:c:")) != -1) {
		switch (opt) {
		case 'o': op = optarg; break;
		case 'n': n = atol(optarg); break;
		case 's': size_mb = atol(optarg); break;
		case 't': tag = optarg; break;
		case 'c': cg = optarg; break;
		default: return 2;
		}
	}
	if (!op || n < 1 || size_mb < 2 ||
	    (strcmp(op, "migrate") && strcmp(op, "truncate") &&
	     strcmp(op, "reclaim")) || (!strcmp(op, "reclaim") && !cg)) {
		fprintf(stderr, "usage: ptb_rmap -o migrate|truncate|reclaim -n N -s MB [-t TAG] [-c CGROUP]\n");
		return 2;
	}
	size = size_mb << 20;
	npages = size / PTB_PAGE;

	/* Charge the pages to the cgroup that memory.reclaim will shrink. */
	if (cg) {
		char path[512], pid[16];

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		snprintf(pid, sizeof(pid), "%d", getpid());
		if (ptb_write_str(path, pid))
			die("cgroup.procs");
	}
	/* Start on node 0, so that migration has somewhere to go. */
	if (!strcmp(op, "migrate")) {
		unsigned long mask = 1;

		if (syscall(__NR_set_mempolicy, MPOL_BIND, &mask, 2))
			die("set_mempolicy");
	}
	fd = memfd_create("ptb_rmap", 0);
	if (fd < 0 || ftruncate(fd, size))
		die("memfd");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	for (off = 0; off < size; off += PTB_PAGE)
		p[off] = (char)(off / PTB_PAGE);

	a0 = ptb_vmstat("pt_share_attach");
	if (pipe(rdy) || pipe(go))
		die("pipe");
	for (i = 1; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid) {
			char *q = mmap(NULL, size, PROT_READ, MAP_SHARED,
				       fd, 0);

			if (q == MAP_FAILED)
				_exit(1);
			ptb_read_all(q, size);
			if (write(rdy[1], "r", 1) != 1 ||
			    read(go[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
		if (read(rdy[0], &c, 1) != 1)
			die("holder");
	}
	/* The parent is the N-th mapper; drop its private writer tables. */
	munmap(p, size);
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	ptb_read_all(p, size);

	pages = calloc(npages, sizeof(*pages));
	nodes = calloc(npages, sizeof(*nodes));
	status = calloc(npages, sizeof(*status));
	if (!pages || !nodes || !status)
		die("calloc");
	for (i = 0; i < npages; i++) {
		pages[i] = p + i * PTB_PAGE;
		nodes[i] = 1;
	}
	out0 = ptb_vmstat("pswpout");
	fl0 = ptb_vmstat("pt_share_flush");
	ba0 = ptb_vmstat("pt_share_flush_batched");
	mm0 = ptb_vmstat("pt_share_flush_mms");
	tlb0 = ptb_irqs("TLB");
	cal0 = ptb_irqs("CAL");

	t0 = ptb_now_ns();
	if (!strcmp(op, "migrate")) {
		if (syscall(__NR_move_pages, 0, npages, pages, nodes, status,
			    MPOL_MF_MOVE_ALL))
			die("move_pages");
	} else if (!strcmp(op, "truncate")) {
		if (ftruncate(fd, 0))
			die("ftruncate");
	} else {
		char path[512], amount[32], stat[512], buf[4096];
		int round, sfd;

		snprintf(path, sizeof(path), "%s/memory.reclaim", cg);
		snprintf(amount, sizeof(amount), "%zu", size);
		snprintf(stat, sizeof(stat), "%s/memory.stat", cg);
		/*
		 * The first passes find the pages referenced (every holder has
		 * read them) and only activate them: ask again until nearly
		 * all of the file is out, at most 16 times. Reading memory.stat
		 * first flushes the memcg's LRU statistics: inactive_is_low()
		 * reads them, and without a flush it goes on seeing the
		 * inactive list as it was before the first pass, so nothing is
		 * deactivated and a fast first pass leaves the rest in memory.
		 * EAGAIN: less than asked could be reclaimed; the pages are
		 * counted below.
		 */
		for (round = 0; round < 16 &&
		     ptb_vmstat("pswpout") - out0 < npages * 95 / 100; round++) {
			sfd = open(stat, O_RDONLY);
			if (sfd >= 0) {
				while (read(sfd, buf, sizeof(buf)) > 0)
					;
				close(sfd);
			}
			if (ptb_write_str(path, amount) && errno != EAGAIN)
				die("memory.reclaim");
		}
	}
	t1 = ptb_now_ns();
	tlb0 = ptb_irqs("TLB") - tlb0;
	cal0 = ptb_irqs("CAL") - cal0;
	fl0 = ptb_vmstat("pt_share_flush") - fl0;
	ba0 = ptb_vmstat("pt_share_flush_batched") - ba0;
	mm0 = ptb_vmstat("pt_share_flush_mms") - mm0;

	printf("RESULT %s op=%s n=%ld size_mb=%ld ms=%.3f attaches=%ld",
	       tag, op, n, size_mb, (t1 - t0) / 1e6,
	       ptb_vmstat("pt_share_attach") - a0);
	if (!strcmp(op, "migrate")) {
		long moved = 0;

		for (i = 0; i < npages; i++)
			moved += status[i] == 1;
		printf(" pages=%ld", moved);
	} else if (!strcmp(op, "reclaim")) {
		printf(" pages=%ld", ptb_vmstat("pswpout") - out0);
	} else {
		printf(" pages=%ld", npages);
	}
	printf(" tlb_ipis=%ld cal_ipis=%ld flushes=%ld batched=%ld flush_mms=%ld\n",
	       tlb0, cal0, fl0, ba0, mm0);
	fflush(stdout);

	for (i = 1; i < n; i++)
		if (write(go[1], "q", 1) != 1)
			die("quit");
	while (wait(NULL) > 0)
		;
	return 0;
}
