// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_debug: race windows the pt_share selftests widen on purpose.
 *
 * Rules:
 * - Only a kernel built for testing has this (CONFIG_PT_SHARE_DEBUG_WINDOWS);
 *   nothing depends on it.
 * - A window is armed for one thread, the writer, and closes after one
 *   sleep: no other task is slowed, and a forgotten window costs one sleep.
 * - The sleep is taken only where the caller may sleep; the one window
 *   whose caller cannot (GUP-fast, with IRQs off) spins instead, for at
 *   most PT_SHARE_WINDOW_SPIN_MAX_MS.
 *
 * In /sys/kernel/debug/pt_share/, for each window NAME: write N (1..10000)
 * to NAME_window_ms to sleep N ms in this thread's next pass through the
 * window; 0 disarms. Reading gives the N armed for the reader, or 0.
 * NAME_windows counts the sleeps taken. The windows:
 * - zap: a zap of a span whose table was private when zap_pmd_range()
 *   looked, before zap_pte_range() takes the table's lock;
 * - put: the last share of a table is dropped and the table has left its
 *   cache, before it is freed;
 * - unmap: try_to_unmap() or try_to_migrate() has walked a page-cache
 *   folio's mappings, before a migration copies it and restores or drops
 *   the migration entries the walk installed;
 * - gup: GUP-fast holds a reference to a page it reached through a shared
 *   PMD table, before it checks that the mm still maps that table.
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/init.h>
#include <linux/hardirq.h>
#include <linux/preempt.h>
#include <linux/pt_share.h>
#include <linux/sched.h>
#include <linux/spinlock.h>

#define PT_SHARE_WINDOW_MAX_MS	10000
/* A spin with IRQs off: well below the RCU stall and lockup timeouts. */
#define PT_SHARE_WINDOW_SPIN_MAX_MS	1000

struct pt_share_window {
	const char *name;
	spinlock_t lock;	/* protects @pid and @ms */
	/* pid 0 is "not armed". */
	pid_t pid;
	unsigned int ms;
	atomic_long_t taken;
};

enum {
	PT_SHARE_WINDOW_ZAP,
	PT_SHARE_WINDOW_PUT,
	PT_SHARE_WINDOW_UNMAP,
	PT_SHARE_WINDOW_GUP,
	PT_SHARE_NR_WINDOWS
};

static struct pt_share_window pt_share_windows[PT_SHARE_NR_WINDOWS] = {
	[PT_SHARE_WINDOW_ZAP] = {
		.name = "zap",
		.lock = __SPIN_LOCK_UNLOCKED(pt_share_windows[0].lock),
	},
	[PT_SHARE_WINDOW_PUT] = {
		.name = "put",
		.lock = __SPIN_LOCK_UNLOCKED(pt_share_windows[1].lock),
	},
	[PT_SHARE_WINDOW_UNMAP] = {
		.name = "unmap",
		.lock = __SPIN_LOCK_UNLOCKED(pt_share_windows[2].lock),
	},
	[PT_SHARE_WINDOW_GUP] = {
		.name = "gup",
		.lock = __SPIN_LOCK_UNLOCKED(pt_share_windows[3].lock),
	},
};

static void pt_share_window_pass(struct pt_share_window *w, bool spin)
{
	unsigned int ms = 0;

	/* The common case: nobody armed a window. */
	if (likely(!READ_ONCE(w->pid)))
		return;
	/* PREEMPT_COUNT (selected) counts spinlocks and RCU readers here. */
	if (!spin && (preempt_count() || irqs_disabled()))
		return;
	/* Never in an interrupt: w->lock is taken with IRQs on elsewhere. */
	if (in_interrupt())
		return;
	spin_lock(&w->lock);
	if (w->pid == current->pid) {
		ms = w->ms;
		WRITE_ONCE(w->pid, 0);
		w->ms = 0;
	}
	spin_unlock(&w->lock);
	if (!ms)
		return;
	atomic_long_inc(&w->taken);
	if (spin)
		mdelay(min_t(unsigned int, ms, PT_SHARE_WINDOW_SPIN_MAX_MS));
	else
		msleep(ms);
}

/**
 * pt_share_debug_zap_window - sleep in the zap window, if armed for us
 *
 * Called by zap_pmd_range() after it found a span's table private and
 * before zap_pte_range() takes the table's lock.
 */
void pt_share_debug_zap_window(void)
{
	pt_share_window_pass(&pt_share_windows[PT_SHARE_WINDOW_ZAP], false);
}

/**
 * pt_share_debug_put_window - sleep in the put window, if armed for us
 *
 * Called once the last share of a table is gone and the table has left its
 * cache, before it is freed.
 */
void pt_share_debug_put_window(void)
{
	pt_share_window_pass(&pt_share_windows[PT_SHARE_WINDOW_PUT], false);
}

/**
 * pt_share_debug_unmap_window - sleep in the unmap window, if armed for us
 *
 * Called by try_to_unmap() and try_to_migrate() once the rmap walk is
 * done. A migration's entries stay in place while we sleep, so that the
 * selftests can make the last sharer of a table leave in between.
 */
void pt_share_debug_unmap_window(void)
{
	pt_share_window_pass(&pt_share_windows[PT_SHARE_WINDOW_UNMAP], false);
}

/**
 * pt_share_debug_gup_window - spin in the GUP-fast window, if armed for us
 *
 * Called by GUP-fast, with IRQs off, once it holds a reference to a page
 * it reached through a shared PMD table and before it checks that the mm
 * still maps that table. It cannot sleep there, so it spins: a detach on
 * another CPU meanwhile clears the PUD entry, then waits in its flush.
 */
void pt_share_debug_gup_window(void)
{
	pt_share_window_pass(&pt_share_windows[PT_SHARE_WINDOW_GUP], true);
}

static int pt_share_window_get(void *data, u64 *val)
{
	struct pt_share_window *w = data;

	spin_lock(&w->lock);
	*val = w->pid == current->pid ? w->ms : 0;
	spin_unlock(&w->lock);
	return 0;
}

static int pt_share_window_set(void *data, u64 val)
{
	struct pt_share_window *w = data;

	if (val > PT_SHARE_WINDOW_MAX_MS)
		return -EINVAL;
	spin_lock(&w->lock);
	WRITE_ONCE(w->pid, val ? current->pid : 0);
	w->ms = val;
	spin_unlock(&w->lock);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(pt_share_window_fops, pt_share_window_get,
			 pt_share_window_set, "%llu\n");

static int pt_share_windows_taken_get(void *data, u64 *val)
{
	struct pt_share_window *w = data;

	*val = atomic_long_read(&w->taken);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(pt_share_windows_taken_fops,
			 pt_share_windows_taken_get, NULL, "%llu\n");

static int __init pt_share_debug_init(void)
{
	struct dentry *dir = debugfs_create_dir("pt_share", NULL);
	struct pt_share_window *w;
	char name[32];

	for (w = pt_share_windows; w < pt_share_windows + PT_SHARE_NR_WINDOWS;
	     w++) {
		snprintf(name, sizeof(name), "%s_window_ms", w->name);
		debugfs_create_file_unsafe(name, 0600, dir, w,
					   &pt_share_window_fops);
		snprintf(name, sizeof(name), "%s_windows", w->name);
		debugfs_create_file_unsafe(name, 0400, dir, w,
					   &pt_share_windows_taken_fops);
	}
	return 0;
}
late_initcall(pt_share_debug_init);
