/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pt_share internals: the geometry of a shared PTE table.
 *
 * A shared PTE table maps PTRS_PER_PTE consecutive pages of one file. It is
 * cached in the file's address_space under the file index of its first page,
 * which is always a multiple of PTRS_PER_PTE, so every mapper of that range
 * finds the same table whatever address it mapped the file at.
 */
#ifndef _MM_PT_SHARE_CACHE_H
#define _MM_PT_SHARE_CACHE_H

#include <linux/mm.h>

/*
 * pt_share_range_eligible - may [vm_start, vm_end) at @vm_pgoff use a shared
 * table for the PMD_SIZE span that contains @addr?
 *
 * The VMA must cover the whole span, or a table entry would map a page this
 * VMA does not; and the span must start at a file index that is a multiple
 * of PTRS_PER_PTE, i.e. the address agrees with the file offset modulo
 * PMD_SIZE, or two mappers of the same file pages would need different
 * tables.
 */
static inline bool pt_share_range_eligible(unsigned long vm_start,
					   unsigned long vm_end,
					   unsigned long vm_pgoff,
					   unsigned long addr)
{
	unsigned long start = addr & PMD_MASK;

	if (addr < vm_start || addr >= vm_end)
		return false;
	/* Written as a difference so that a span at the top cannot wrap. */
	if (start < vm_start || vm_end - start < PMD_SIZE)
		return false;
	return !(((vm_start >> PAGE_SHIFT) - vm_pgoff) & (PTRS_PER_PTE - 1));
}

/*
 * pt_share_table_index - file index of the first page mapped by the table
 * that covers @addr; the cache key. A multiple of PTRS_PER_PTE whenever
 * pt_share_range_eligible() holds.
 */
static inline unsigned long pt_share_table_index(unsigned long vm_start,
						 unsigned long vm_pgoff,
						 unsigned long addr)
{
	return vm_pgoff + (((addr & PMD_MASK) - vm_start) >> PAGE_SHIFT);
}

/*
 * pt_share_align_offset - the offset within PMD_SIZE that the address of a
 * mapping starting at file index @pgoff needs to be able to share tables.
 */
static inline unsigned long pt_share_align_offset(unsigned long pgoff)
{
	return (pgoff << PAGE_SHIFT) & (PMD_SIZE - 1);
}

#endif /* _MM_PT_SHARE_CACHE_H */
