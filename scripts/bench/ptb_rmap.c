// SPDX-License-Identifier: GPL-2.0
/*
 * ptb_rmap: the cost of rmap-driven changes to pages that N processes map.
 *
 * An entry of a shared PTE table is cleared once and then every CPU is
 * flushed, because each attached process maps the table at an address of
 * its own (mm/pt_share.c). Without sharing, the rmap walk clears one entry
 * per process and flushes the CPUs of each process in turn. This program
 * times the three operations that take that path, on one shmem file that
 * N holder processes have mapped and fully read:
 *
 *	migrate		move_pages(MPOL_MF_MOVE_ALL) of every page to node 1
 *	truncate	ftruncate() to 0
 *	reclaim		memory.reclaim of the file's pages (needs swap)
 *
 * Usage: ptb_rmap -o OP -n N -s SIZE_MB [-t TAG] [-c CGROUP_DIR]
 * Prints "RESULT TAG op=OP n=N size_mb=S ms=T pages=P ...". The caller
 * sets vm.pt_share; it runs the same work with sharing on and off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/mempolicy.h>

#define PAGE	4096UL

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long vmstat(const char *name)
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

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static void read_all(const char *p, size_t size)
{
	size_t off;

	for (off = 0; off < size; off += PAGE)
		asm volatile("" : : "r" (p[off]));
}

int main(int argc, char **argv)
{
	const char *op = NULL, *tag = "rmap", *cg = NULL;
	long n = 8, size_mb = 256, i, a0, out0, npages;
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
	npages = size / PAGE;

	/* Charge the pages to the cgroup that memory.reclaim will shrink. */
	if (cg) {
		char path[512], pid[16];

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		snprintf(pid, sizeof(pid), "%d", getpid());
		if (write_str(path, pid))
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
	for (off = 0; off < size; off += PAGE)
		p[off] = (char)(off / PAGE);

	a0 = vmstat("pt_share_attach");
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
			read_all(q, size);
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
	read_all(p, size);

	pages = calloc(npages, sizeof(*pages));
	nodes = calloc(npages, sizeof(*nodes));
	status = calloc(npages, sizeof(*status));
	if (!pages || !nodes || !status)
		die("calloc");
	for (i = 0; i < npages; i++) {
		pages[i] = p + i * PAGE;
		nodes[i] = 1;
	}
	out0 = vmstat("pswpout");

	t0 = now_ns();
	if (!strcmp(op, "migrate")) {
		if (syscall(__NR_move_pages, 0, npages, pages, nodes, status,
			    MPOL_MF_MOVE_ALL))
			die("move_pages");
	} else if (!strcmp(op, "truncate")) {
		if (ftruncate(fd, 0))
			die("ftruncate");
	} else {
		char path[512], amount[32];

		snprintf(path, sizeof(path), "%s/memory.reclaim", cg);
		snprintf(amount, sizeof(amount), "%zu", size);
		/* EAGAIN: less than asked could be reclaimed; count below. */
		if (write_str(path, amount) && errno != EAGAIN)
			die("memory.reclaim");
	}
	t1 = now_ns();

	printf("RESULT %s op=%s n=%ld size_mb=%ld ms=%.3f attaches=%ld",
	       tag, op, n, size_mb, (t1 - t0) / 1e6,
	       vmstat("pt_share_attach") - a0);
	if (!strcmp(op, "migrate")) {
		long moved = 0;

		for (i = 0; i < npages; i++)
			moved += status[i] == 1;
		printf(" pages=%ld", moved);
	} else if (!strcmp(op, "reclaim")) {
		printf(" pages=%ld", vmstat("pswpout") - out0);
	} else {
		printf(" pages=%ld", npages);
	}
	printf("\n");
	fflush(stdout);

	for (i = 1; i < n; i++)
		if (write(go[1], "q", 1) != 1)
			die("quit");
	while (wait(NULL) > 0)
		;
	return 0;
}
