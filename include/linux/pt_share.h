/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pt_share: page-table sharing for MAP_SHARED file mappings.
 *
 * Processes that map the same file range MAP_SHARED, with the same effective
 * protection, can use one set of PTE tables cached in the file's
 * address_space, the way threads of one process share theirs.
 * See Documentation/admin-guide/mm/pt_share.rst.
 *
 * The hooks the core mm calls are inline wrappers behind a static key (the
 * vm.pt_share sysctl), with empty stubs when CONFIG_PT_SHARE is off, so call
 * sites need no #ifdef.
 */
#ifndef _LINUX_PT_SHARE_H
#define _LINUX_PT_SHARE_H

#include <linux/jump_label.h>
#include <linux/types.h>

#ifdef CONFIG_PT_SHARE

DECLARE_STATIC_KEY_FALSE(pt_share_enabled_key);

/**
 * pt_share_enabled - is attaching to shared page tables switched on?
 *
 * Return: true while the vm.pt_share sysctl is 1. Costs a patched jump.
 */
static inline bool pt_share_enabled(void)
{
	return static_branch_unlikely(&pt_share_enabled_key);
}

#else /* !CONFIG_PT_SHARE */

static inline bool pt_share_enabled(void)
{
	return false;
}

#endif /* CONFIG_PT_SHARE */

#endif /* _LINUX_PT_SHARE_H */
