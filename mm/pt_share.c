// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share: page-table sharing for MAP_SHARED file mappings.
 *
 * This file holds the mechanism's switches: the vm.pt_share and
 * vm.pt_share_min_bytes sysctls and the static key that keeps the hooks in
 * the core mm free when sharing is off. The /proc/vmstat counters
 * (pt_share_*) are declared in include/linux/vm_event_item.h.
 *
 * See Documentation/admin-guide/mm/pt_share.rst.
 */

#define pr_fmt(fmt) "pt_share: " fmt

#include <linux/init.h>
#include <linux/kstrtox.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pt_share.h>
#include <linux/sysctl.h>

#include "pt_share_cache.h"

/* Smallest mapping that shares by default: small segments gain little. */
#define PT_SHARE_MIN_BYTES_DEFAULT	(16UL << 20)

DEFINE_STATIC_KEY_FALSE(pt_share_enabled_key);

/* vm.pt_share: 0 (default) or 1. Mirrors pt_share_enabled_key. */
static unsigned int sysctl_pt_share;
/* vm.pt_share_min_bytes: mappings shorter than this never share. */
static unsigned long sysctl_pt_share_min_bytes = PT_SHARE_MIN_BYTES_DEFAULT;

/* Serialises sysctl writes so the static key and its mirror agree. */
static DEFINE_MUTEX(pt_share_sysctl_mutex);

/*
 * pt_share_parse_ulong - parse one sysctl write of a number in [min, max].
 *
 * The generic proc_doulongvec_minmax() quietly ignores a negative number and
 * accepts an empty write; these knobs instead reject every malformed write
 * with -EINVAL and leave the value as it was.
 */
static int pt_share_parse_ulong(const char *buffer, size_t len,
				unsigned long min, unsigned long max,
				unsigned long *val)
{
	char buf[32];

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, buffer, len);
	buf[len] = '\0';
	/* kstrtoul() takes one trailing newline, as echo writes it. */
	if (kstrtoul(buf, 10, val))
		return -EINVAL;
	if (*val < min || *val > max)
		return -EINVAL;
	return 0;
}

static int pt_share_sysctl_write(void *buffer, size_t *lenp, loff_t *ppos,
				 unsigned long min, unsigned long max,
				 unsigned long *val)
{
	int ret;

	/* A write continued at an offset would parse half a number. */
	if (*ppos)
		return -EINVAL;
	ret = pt_share_parse_ulong(buffer, *lenp, min, max, val);
	if (!ret)
		*ppos += *lenp;
	return ret;
}

static int pt_share_sysctl_handler(const struct ctl_table *table, int write,
				   void *buffer, size_t *lenp, loff_t *ppos)
{
	unsigned long val;
	int ret;

	if (!write)
		return proc_douintvec(table, write, buffer, lenp, ppos);

	ret = pt_share_sysctl_write(buffer, lenp, ppos, 0, 1, &val);
	if (ret)
		return ret;

	mutex_lock(&pt_share_sysctl_mutex);
	if (val && !sysctl_pt_share)
		static_branch_enable(&pt_share_enabled_key);
	else if (!val && sysctl_pt_share)
		static_branch_disable(&pt_share_enabled_key);
	WRITE_ONCE(sysctl_pt_share, val);
	mutex_unlock(&pt_share_sysctl_mutex);
	return 0;
}

static int pt_share_min_bytes_handler(const struct ctl_table *table, int write,
				      void *buffer, size_t *lenp, loff_t *ppos)
{
	unsigned long val;
	int ret;

	if (!write)
		return proc_doulongvec_minmax(table, write, buffer, lenp, ppos);

	/*
	 * One shared table spans PMD_SIZE, so nothing shorter can share; and
	 * no mapping is longer than the user address space.
	 */
	ret = pt_share_sysctl_write(buffer, lenp, ppos, PMD_SIZE, TASK_SIZE_MAX,
				    &val);
	if (ret)
		return ret;
	WRITE_ONCE(sysctl_pt_share_min_bytes, val);
	return 0;
}

static struct ctl_table pt_share_sysctls[] = {
	{
		.procname	= "pt_share",
		.data		= &sysctl_pt_share,
		.maxlen		= sizeof(sysctl_pt_share),
		.mode		= 0644,
		.proc_handler	= pt_share_sysctl_handler,
	},
	{
		.procname	= "pt_share_min_bytes",
		.data		= &sysctl_pt_share_min_bytes,
		.maxlen		= sizeof(sysctl_pt_share_min_bytes),
		.mode		= 0644,
		.proc_handler	= pt_share_min_bytes_handler,
	},
};

static int __init pt_share_init(void)
{
	register_sysctl_init("vm", pt_share_sysctls);
	return 0;
}
subsys_initcall(pt_share_init);

#include "pt_share-kunit.h"
