// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_debug: race windows the pt_share selftests widen on purpose.
 *
 * Rules:
 * - Only a kernel built for testing has this (CONFIG_PT_SHARE_DEBUG_WINDOWS);
 *   nothing depends on it.
 * - A window is armed for one thread, the writer, and closes after one
 *   sleep: no other task is slowed, and a forgotten window costs one sleep.
 * - The sleep is taken only where the caller may sleep: zap_pmd_range()
 *   calls cond_resched() between pmds and holds no spinlock there.
 *
 * /sys/kernel/debug/pt_share/zap_window_ms: write N (1..10000) to sleep N
 * ms in this thread's next zap of a span whose table was private when
 * zap_pmd_range() looked; 0 disarms. Reading gives the N armed for the
 * reader, or 0.
 * /sys/kernel/debug/pt_share/zap_windows: how many such sleeps were taken.
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/init.h>
#include <linux/pt_share.h>
#include <linux/sched.h>
#include <linux/spinlock.h>

#define PT_SHARE_WINDOW_MAX_MS	10000

static DEFINE_SPINLOCK(pt_share_window_lock);
/* Both under pt_share_window_lock; pid 0 is "not armed". */
static pid_t pt_share_window_pid;
static unsigned int pt_share_window_ms;
static atomic_long_t pt_share_windows_taken;

/**
 * pt_share_debug_zap_window - sleep in the zap window, if armed for us
 *
 * Called by zap_pmd_range() after it found a span's table private and
 * before zap_pte_range() takes the table's lock.
 */
void pt_share_debug_zap_window(void)
{
	unsigned int ms = 0;

	/* The common case: nobody armed a window. */
	if (likely(!READ_ONCE(pt_share_window_pid)))
		return;
	spin_lock(&pt_share_window_lock);
	if (pt_share_window_pid == current->pid) {
		ms = pt_share_window_ms;
		pt_share_window_pid = 0;
		pt_share_window_ms = 0;
	}
	spin_unlock(&pt_share_window_lock);
	if (!ms)
		return;
	atomic_long_inc(&pt_share_windows_taken);
	msleep(ms);
}

static int pt_share_window_get(void *data, u64 *val)
{
	spin_lock(&pt_share_window_lock);
	*val = pt_share_window_pid == current->pid ? pt_share_window_ms : 0;
	spin_unlock(&pt_share_window_lock);
	return 0;
}

static int pt_share_window_set(void *data, u64 val)
{
	if (val > PT_SHARE_WINDOW_MAX_MS)
		return -EINVAL;
	spin_lock(&pt_share_window_lock);
	WRITE_ONCE(pt_share_window_pid, val ? current->pid : 0);
	pt_share_window_ms = val;
	spin_unlock(&pt_share_window_lock);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(pt_share_window_fops, pt_share_window_get,
			 pt_share_window_set, "%llu\n");

static int pt_share_windows_taken_get(void *data, u64 *val)
{
	*val = atomic_long_read(&pt_share_windows_taken);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(pt_share_windows_taken_fops,
			 pt_share_windows_taken_get, NULL, "%llu\n");

static int __init pt_share_debug_init(void)
{
	struct dentry *dir = debugfs_create_dir("pt_share", NULL);

	debugfs_create_file_unsafe("zap_window_ms", 0600, dir, NULL,
				   &pt_share_window_fops);
	debugfs_create_file_unsafe("zap_windows", 0400, dir, NULL,
				   &pt_share_windows_taken_fops);
	return 0;
}
late_initcall(pt_share_debug_init);
