// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share: page-table sharing for MAP_SHARED file mappings.
 *
 * A shmem address_space caches the PTE tables that map it, keyed by the
 * file index of the table's first page and by protection variant. An
 * eligible VMA that faults on a pmd_none() span attaches to the cached
 * table (allocating it if absent) instead of installing a private one, so
 * every process mapping the file shares the entries, as threads do.
 *
 * Rules (see Documentation/admin-guide/mm/pt_share.rst for the user view):
 *
 *  - Only one mm's own operations detach ("U"): munmap, exit,
 *    MADV_DONTNEED, mprotect, mremap, VMA boundary changes, mlock,
 *    userfaultfd registration, soft-dirty reset and mmu notifier
 *    registration clear this mm's pmd, flush this mm (paging-structure
 *    caches included) and only then drop the table's share count. So when
 *    the count reaches zero no mm can reach the table any more, in page
 *    tables or TLBs, and the last putter zaps the entries and frees the
 *    table after an RCU grace period (GUP-fast and lockless pte walkers).
 *  - Rmap-driven changes ("O": reclaim, migration) clear an entry once in
 *    the shared table and then flush every CPU, because the attached mms
 *    map the table at different addresses. Truncate and hole punch zap the
 *    cached tables directly, before the per-VMA walk. folio_mkclean() never
 *    reaches a shared table: shmem has no writeback, so it never cleans a
 *    shmem folio; regular files will need the same clear-once path there.
 *  - NUMA hinting never changes a shared table.
 *
 * Accounting: attaching adds one table to the mm's nr_ptes and the whole
 * span (PTRS_PER_PTE pages) to its MM_SHMEMPAGES; detaching undoes exactly
 * that. Entries set or cleared inside a shared table move no mm counter.
 *
 * Lock order: cache lock (xa_lock of pt_share_cache.tables) -> pmd lock ->
 * pte table lock. The cache lock is never taken under a pte table lock.
 */

#define pr_fmt(fmt) "pt_share: " fmt

#include <linux/init.h>
#include <linux/kstrtox.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/pgalloc.h>
#include <linux/pt_share.h>
#include <linux/rmap.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/sysctl.h>
#include <linux/userfaultfd_k.h>
#include <linux/xarray.h>
#include <asm/tlbflush.h>

#include "internal.h"

#include "pt_share_cache.h"

/* Smallest mapping that shares by default: small segments gain little. */
#define PT_SHARE_MIN_BYTES_DEFAULT	(16UL << 20)

DEFINE_STATIC_KEY_FALSE(pt_share_enabled_key);
/*
 * Set the first time vm.pt_share is switched on and never cleared: the
 * teardown hooks test it, and must keep working after sharing is off.
 */
DEFINE_STATIC_KEY_FALSE(pt_share_used_key);

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
	/*
	 * Turning sharing off only stops new attaches: existing attachments
	 * stay correct, because teardown tests pt_share_used_key.
	 */
	if (val && !sysctl_pt_share) {
		/* Before any attach can happen; never disabled again. */
		static_branch_enable(&pt_share_used_key);
		static_branch_enable(&pt_share_enabled_key);
	} else if (!val && sysctl_pt_share) {
		static_branch_disable(&pt_share_enabled_key);
	}
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

/* ---------------------------------------------------------------------- */
/* The per-address_space cache                                             */
/* ---------------------------------------------------------------------- */

/* Distinct protections per file that may share; more just don't share. */
#define PT_SHARE_MAX_VARIANTS	4

/* VMA flags that shape the PTEs a fault installs, beyond vm_page_prot. */
#define PT_SHARE_VARIANT_FLAGS	(VM_READ | VM_WRITE | VM_EXEC | VM_MAYWRITE)

struct pt_share_variant {
	pgprot_t prot;
	vm_flags_t flags;
};

/**
 * struct pt_share_cache - the shared PTE tables of one address_space
 * @tables: key (table number * PT_SHARE_MAX_VARIANTS + variant) -> ptdesc.
 *          Its xa_lock is the cache lock; it also protects @variants.
 * @variants: the protection variants seen so far, indexed by variant id.
 * @nr_variants: entries used in @variants.
 *
 * A table is in @tables exactly while its pt_share_count is non-zero.
 */
struct pt_share_cache {
	struct xarray tables;
	struct pt_share_variant variants[PT_SHARE_MAX_VARIANTS];
	unsigned int nr_variants;
};

static struct pt_share_cache *pt_share_cache_get(struct address_space *mapping)
{
	struct pt_share_cache *cache = READ_ONCE(mapping->pt_share);
	struct pt_share_cache *old;

	if (likely(cache))
		return cache;
	/* Fault-around calls us under rcu_read_lock(): do not sleep. */
	cache = kzalloc(sizeof(*cache), GFP_NOWAIT | __GFP_NOWARN);
	if (!cache)
		return NULL;
	xa_init(&cache->tables);
	old = cmpxchg(&mapping->pt_share, NULL, cache);
	if (old) {
		kfree(cache);
		return old;
	}
	return cache;
}

/* Called with the cache lock held. Returns the variant id or -1. */
static int pt_share_variant_id(struct pt_share_cache *cache,
			       struct vm_area_struct *vma)
{
	vm_flags_t flags = vma->vm_flags & PT_SHARE_VARIANT_FLAGS;
	pgprot_t prot = vma->vm_page_prot;
	unsigned int i;

	for (i = 0; i < cache->nr_variants; i++)
		if (pgprot_val(cache->variants[i].prot) == pgprot_val(prot) &&
		    cache->variants[i].flags == flags)
			return i;
	if (cache->nr_variants == PT_SHARE_MAX_VARIANTS)
		return -1;
	cache->variants[i].prot = prot;
	cache->variants[i].flags = flags;
	cache->nr_variants++;
	return i;
}

static inline unsigned long pt_share_key(unsigned long index, int variant)
{
	return (index / PTRS_PER_PTE) * PT_SHARE_MAX_VARIANTS + variant;
}

/*
 * The entries [*from, *to) of the table at @key that map file indices
 * [first, last]; the table's range must overlap it.
 */
static void pt_share_entry_range(unsigned long key, pgoff_t first,
				 pgoff_t last, unsigned int *from,
				 unsigned int *to)
{
	pgoff_t base = key / PT_SHARE_MAX_VARIANTS * PTRS_PER_PTE;

	*from = first > base ? first - base : 0;
	*to = last - base >= PTRS_PER_PTE ? PTRS_PER_PTE : last - base + 1;
}

static inline struct ptdesc *pt_share_pmd_table(pmd_t pmdval)
{
	return page_ptdesc(pmd_page(pmdval));
}

/* ---------------------------------------------------------------------- */
/* Eligibility                                                             */
/* ---------------------------------------------------------------------- */

static bool pt_share_vma_eligible(struct vm_area_struct *vma)
{
	vm_flags_t flags = vma->vm_flags;

	/*
	 * MAP_SHARED: VM_SHARED, or VM_MAYSHARE alone for a read-only file,
	 * which can never be written or COWed (not even with FOLL_FORCE).
	 */
	if (!vma->vm_file || !(flags & VM_MAYSHARE) || is_cow_mapping(flags))
		return false;
	if (flags & (VM_HUGETLB | VM_PFNMAP | VM_MIXEDMAP | VM_IO | VM_LOCKED |
		     VM_LOCKONFAULT | VM_NO_PT_SHARE))
		return false;
	/* First cut: shmem only (tmpfs, memfd, SysV shm, shared anon). */
	if (!shmem_mapping(vma->vm_file->f_mapping))
		return false;
	if (userfaultfd_armed(vma))
		return false;
	/* Soft-dirty tracking is per mm; it is on once VM_SOFTDIRTY is clear. */
	if (IS_ENABLED(CONFIG_MEM_SOFT_DIRTY) && !(flags & VM_SOFTDIRTY))
		return false;
	/* Secondary MMUs would miss invalidations made through other mms. */
	if (mm_has_notifiers(vma->vm_mm))
		return false;
	/* MADV_PT_SHARE overrides the length threshold. */
	if (!(flags & VM_PT_SHARE) &&
	    vma->vm_end - vma->vm_start < READ_ONCE(sysctl_pt_share_min_bytes))
		return false;
	return true;
}

/**
 * __pt_share_wants_aligned - would a shared mapping of @len be eligible?
 * @len: length of the mapping
 * @flags: its mmap flags
 *
 * Return: true for a MAP_SHARED mapping of at least vm.pt_share_min_bytes.
 */
bool __pt_share_wants_aligned(unsigned long len, unsigned long flags)
{
	unsigned long type = flags & MAP_TYPE;

	return (type == MAP_SHARED || type == MAP_SHARED_VALIDATE) &&
	       len >= READ_ONCE(sysctl_pt_share_min_bytes);
}

/* ---------------------------------------------------------------------- */
/* Zapping a table nobody can reach                                        */
/* ---------------------------------------------------------------------- */

/*
 * Clear the entries [from, to) of @table. @vma is any VMA of the file: the
 * rmap only looks at its VM_LOCKED, page_table_check at its mm. The caller
 * has made sure that no TLB can hold the entries any more, or flushes every
 * CPU before the folios can be freed (@flush_all).
 */
static void pt_share_zap_table(struct ptdesc *table, unsigned int from,
			       unsigned int to, struct vm_area_struct *vma,
			       bool flush_all)
{
	struct folio_batch fbatch;
	struct mm_struct *mm = vma->vm_mm;
	pte_t *base = ptdesc_address(table);
	spinlock_t *ptl = ptlock_ptr(table);
	unsigned int i;
	bool cleared = false;

	folio_batch_init(&fbatch);
	spin_lock(ptl);
	for (i = from; i < to; i++) {
		pte_t pte = ptep_get(base + i);
		struct folio *folio;
		struct page *page;

		if (pte_none(pte))
			continue;
		if (!pte_present(pte)) {
			/* Migration entries and markers hold no reference. */
			pte_clear(mm, 0, base + i);
			continue;
		}
		pte = ptep_get_and_clear(mm, 0, base + i);
		cleared = true;
		page = pte_page(pte);
		folio = page_folio(page);
		if (pte_dirty(pte))
			folio_mark_dirty(folio);
		if (pte_young(pte))
			folio_mark_accessed(folio);
		folio_remove_rmap_pte(folio, page, vma);
		if (!folio_batch_add(&fbatch, folio)) {
			if (flush_all)
				flush_tlb_all();
			folios_put(&fbatch);
			cleared = false;
		}
	}
	spin_unlock(ptl);
	if (flush_all && cleared)
		flush_tlb_all();
	folios_put(&fbatch);
}

static void pt_share_free_rcu(struct rcu_head *head)
{
	struct ptdesc *table = container_of(head, struct ptdesc, pt_rcu_head);

	pte_free(NULL, ptdesc_page(table));
}

/*
 * The share count of @table reached zero and it left the cache: no page
 * table and no TLB references it. Zap and free it; GUP-fast and lockless
 * pte walkers may still be looking, so the free waits for a grace period.
 */
static void pt_share_table_release(struct ptdesc *table,
				   struct vm_area_struct *vma)
{
	pt_share_zap_table(table, 0, PTRS_PER_PTE, vma, false);
	table->__page_mapping = 0;
	table->pt_share_key = 0;
	count_vm_event(PT_SHARE_TABLE_FREE);
	call_rcu(&table->pt_rcu_head, pt_share_free_rcu);
}

/* Drop one share of @table, which belongs to @vma's file. */
static void pt_share_put(struct ptdesc *table, struct vm_area_struct *vma)
{
	struct address_space *mapping = vma->vm_file->f_mapping;
	struct pt_share_cache *cache = mapping->pt_share;
	bool last;

	xa_lock(&cache->tables);
	last = atomic_dec_and_test(&table->pt_share_count);
	if (last)
		__xa_erase(&cache->tables, table->pt_share_key);
	xa_unlock(&cache->tables);
	if (last)
		pt_share_table_release(table, vma);
}

/* ---------------------------------------------------------------------- */
/* Attach                                                                  */
/* ---------------------------------------------------------------------- */

/**
 * __pt_share_attach - populate a none pmd with the shared table for it
 * @vmf: the fault; vmf->pmd is none and vmf->prealloc_pte is set
 *
 * If the faulting VMA may share the span, point vmf->pmd at the cached
 * table for it, using vmf->prealloc_pte as a new one when the cache has
 * none. Does not sleep: fault-around calls it under rcu_read_lock().
 *
 * Return: true if the pmd is populated (by us or by a racing thread), false
 * if the caller should install a private table.
 */
bool __pt_share_attach(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	struct pt_share_cache *cache;
	struct ptdesc *table;
	unsigned long index, key;
	spinlock_t *pml;	/* the pmd lock of vmf->pmd */
	bool installed = false;
	int variant;

	if (!pt_share_vma_eligible(vma) ||
	    !pt_share_range_eligible(vma->vm_start, vma->vm_end,
				     vma->vm_pgoff, vmf->address))
		return false;
	cache = pt_share_cache_get(vma->vm_file->f_mapping);
	if (!cache)
		return false;
	index = pt_share_table_index(vma->vm_start, vma->vm_pgoff,
				     vmf->address);

	xa_lock(&cache->tables);
	variant = pt_share_variant_id(cache, vma);
	if (variant < 0)
		goto fail_unlock;
	key = pt_share_key(index, variant);
	table = xa_load(&cache->tables, key);
	if (table) {
		atomic_inc(&table->pt_share_count);
	} else {
		table = page_ptdesc(vmf->prealloc_pte);
		table->pt_share_key = key;
		table->__page_mapping = (unsigned long)vma->vm_file->f_mapping;
		atomic_set(&table->pt_share_count, 1);
		if (xa_is_err(__xa_store(&cache->tables, key, table,
					 GFP_NOWAIT | __GFP_NOWARN))) {
			table->__page_mapping = 0;
			goto fail_unlock;
		}
		vmf->prealloc_pte = NULL;
		count_vm_event(PT_SHARE_TABLE_ALLOC);
	}
	xa_unlock(&cache->tables);

	pml = pmd_lock(mm, vmf->pmd);
	if (likely(pmd_none(*vmf->pmd))) {
		mm_inc_nr_ptes(mm);
		add_mm_counter(mm, MM_SHMEMPAGES, PTRS_PER_PTE);
		/* Entries and ptlock visible before the table is reachable. */
		smp_wmb();
		pmd_populate(mm, vmf->pmd, ptdesc_page(table));
		installed = true;
	}
	spin_unlock(pml);
	if (installed)
		count_vm_event(PT_SHARE_ATTACH);
	else
		pt_share_put(table, vma);
	return true;

fail_unlock:
	xa_unlock(&cache->tables);
	return false;
}

/* ---------------------------------------------------------------------- */
/* Detach                                                                  */
/* ---------------------------------------------------------------------- */

/*
 * pt_share_detach - detach @vma's mm from the shared table at @pmd, if any
 *
 * Clear the pmd, flush this mm's TLBs and paging-structure caches for the
 * span, undo the attach accounting, then drop the share. The caller holds
 * the mmap lock (read is enough) or the VMA lock.
 */
static bool pt_share_detach(struct vm_area_struct *vma, pmd_t *pmd,
			    unsigned long addr, enum vm_event_item cause)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long start = addr & PMD_MASK;
	struct ptdesc *table;
	spinlock_t *pml;	/* the pmd lock of @pmd */
	pmd_t pmdval;

	pml = pmd_lock(mm, pmd);
	pmdval = *pmd;
	if (!pt_share_pmd_shared(pmdval)) {
		spin_unlock(pml);
		return false;
	}
	table = pt_share_pmd_table(pmdval);
	/* A shared span lies in one VMA; its table maps that VMA's file. */
	if (WARN_ON_ONCE(table->__page_mapping !=
			 (unsigned long)vma->vm_file->f_mapping)) {
		spin_unlock(pml);
		return false;
	}
	pmd_clear(pmd);
	spin_unlock(pml);

	flush_tlb_mm_range(mm, start, start + PMD_SIZE, PAGE_SHIFT, true);
	mm_dec_nr_ptes(mm);
	add_mm_counter(mm, MM_SHMEMPAGES, -PTRS_PER_PTE);
	count_vm_event(PT_SHARE_DETACH);
	count_vm_event(cause);
	pt_share_put(table, vma);
	return true;
}

/**
 * __pt_share_zap_pmd - unmap: detach instead of zapping a shared table
 * @vma: the VMA being zapped
 * @pmd: the pmd of the span
 * @addr: an address in the span
 *
 * Zapping through a shared table would clear entries other mms installed,
 * move this mm's RSS for them and free pages after flushing this mm only.
 * munmap, exit and MADV_DONTNEED detach instead; the pages stay in the page
 * cache and the other sharers keep their view.
 *
 * Return: true if @pmd was a shared table (now detached).
 */
bool __pt_share_zap_pmd(struct vm_area_struct *vma, pmd_t *pmd,
			unsigned long addr)
{
	return pt_share_detach(vma, pmd, addr, PT_SHARE_DETACH_UNMAP);
}

/**
 * __pt_share_change_pmd - mprotect and NUMA hinting on a shared table
 * @vma: the VMA whose protection changes
 * @pmd: the pmd of the span
 * @addr: an address in the span
 * @cp_flags: MM_CP_* flags of change_protection()
 *
 * NUMA hinting must never change what other mms see, so it skips shared
 * tables. Any other protection change is this mm's alone: detach, and let
 * a refault attach the variant that matches the new protection.
 *
 * Return: true if @pmd was a shared table and the caller must skip it.
 */
bool __pt_share_change_pmd(struct vm_area_struct *vma, pmd_t *pmd,
			   unsigned long addr, unsigned long cp_flags)
{
	if (!pt_share_pmd_shared(pmdp_get_lockless(pmd)))
		return false;
	if (cp_flags & MM_CP_PROT_NUMA)
		return true;
	pt_share_detach(vma, pmd, addr, PT_SHARE_DETACH_MPROTECT);
	return true;
}

/**
 * __pt_share_collapse_pmd - a span is about to be mapped by a PMD
 * @vma: the VMA
 * @addr: the PMD-aligned start of the span
 * @install_pmd: MADV_COLLAPSE maps the span's huge folio by a PMD now
 *
 * Once the page cache holds a PMD-sized folio for a span, khugepaged frees
 * the span's PTE table so that the next fault maps the folio by a PMD. A
 * shared table is not one mm's to free, and it spares every sharer a table
 * of its own, so khugepaged leaves it attached. MADV_COLLAPSE is this mm
 * asking for the PMD mapping, and gets it as it would without sharing:
 * detach, so that the caller finds the pmd none and installs the huge
 * mapping. Nothing in this mm attaches the span again in between: a fault
 * attaches only with a folio of the span locked, the caller holds the lock
 * of the one folio there, and a fault that finds a PMD-sized folio maps it
 * by a PMD anyway.
 *
 * Return: true if the span is attached to a shared table, which the caller
 * must leave alone.
 */
bool __pt_share_collapse_pmd(struct vm_area_struct *vma, unsigned long addr,
			     bool install_pmd)
{
	pmd_t *pmd = mm_find_pmd(vma->vm_mm, addr);

	if (!pmd || !pt_share_pmd_shared(pmdp_get_lockless(pmd)))
		return false;
	if (!install_pmd)
		return true;
	pt_share_detach(vma, pmd, addr, PT_SHARE_DETACH_MADVISE);
	return false;
}

/**
 * __pt_share_unshare_range - detach @vma's mm from every shared table in a range
 * @vma: the VMA
 * @start: start of the range
 * @end: end of the range
 * @cause: the /proc/vmstat counter of the reason
 *
 * For operations that change one mm's view of a range: mremap, mlock,
 * userfaultfd registration, soft-dirty reset, opt-out by madvise. The
 * caller holds the mmap lock.
 */
void __pt_share_unshare_range(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, enum vm_event_item cause)
{
	unsigned long addr;
	pmd_t *pmd;

	for (addr = start & PMD_MASK; addr < end; addr += PMD_SIZE) {
		pmd = mm_find_pmd(vma->vm_mm, addr);
		if (pmd)
			pt_share_detach(vma, pmd, addr, cause);
		if (addr + PMD_SIZE < addr)
			break;
	}
}

/**
 * __pt_share_unshare_mm - detach every shared table of an mm
 * @mm: the mm, with its mmap lock held for write
 * @cause: the /proc/vmstat counter of the reason
 */
void __pt_share_unshare_mm(struct mm_struct *mm, enum vm_event_item cause)
{
	struct vm_area_struct *vma;

	VMA_ITERATOR(vmi, mm, 0);
	for_each_vma(vmi, vma)
		if (vma->vm_file && (vma->vm_flags & VM_MAYSHARE))
			__pt_share_unshare_range(vma, vma->vm_start,
						 vma->vm_end, cause);
}

/* Detach the table that straddles @addr, if @addr splits a span. */
static void pt_share_unshare_boundary(struct vm_area_struct *vma,
				      unsigned long addr)
{
	pmd_t *pmd;

	if (!(addr & ~PMD_MASK) || addr <= vma->vm_start ||
	    addr >= vma->vm_end)
		return;
	pmd = mm_find_pmd(vma->vm_mm, addr);
	if (pmd)
		pt_share_detach(vma, pmd, addr, PT_SHARE_DETACH_SPLIT);
}

/**
 * __pt_share_vma_adjust - VMA boundaries move: detach straddling tables
 * @vma: the VMA whose range becomes [@start, @end)
 * @start: new start
 * @end: new end
 * @adjust_next: how far the next VMA's start moves
 *
 * Called next to vma_adjust_trans_huge(), in the split or merge itself and
 * under the same locks, so that no table ever maps across a VMA boundary
 * (the lesson of CVE-2025-38084 for hugetlb).
 */
void __pt_share_vma_adjust(struct vm_area_struct *vma, unsigned long start,
			   unsigned long end, long adjust_next)
{
	struct vm_area_struct *next;

	if (!vma->vm_file || !(vma->vm_flags & VM_MAYSHARE))
		return;
	/* Boundaries of the old range that may end up inside a span. */
	pt_share_unshare_boundary(vma, start);
	pt_share_unshare_boundary(vma, end);
	if (adjust_next) {
		next = find_vma(vma->vm_mm, vma->vm_end);
		if (next && next->vm_file && (next->vm_flags & VM_MAYSHARE))
			pt_share_unshare_boundary(next,
						  next->vm_start + adjust_next);
	}
}

/* ---------------------------------------------------------------------- */
/* Rmap-driven changes and truncation: operate once, flush every CPU       */
/* ---------------------------------------------------------------------- */

/**
 * __pt_share_ptep_clear_flush - reclaim/migration clears a shared entry
 * @vma: the VMA the rmap walk came through
 * @addr: the entry's address in @vma
 * @ptep: the entry, in a shared table whose lock is held
 * @pteval: where to store the old entry
 *
 * The rmap walk reaches the entry once per attached mm; the first visit
 * clears it and the later ones find it none. The mms map the table at
 * different addresses, so flush every CPU before the folio can be freed or
 * copied. mms with mmu notifiers never share, so secondary MMUs need no
 * invalidation here.
 *
 * Return: true (the entry is cleared and flushed everywhere).
 */
bool __pt_share_ptep_clear_flush(struct vm_area_struct *vma,
				 unsigned long addr, pte_t *ptep,
				 pte_t *pteval)
{
	*pteval = ptep_get_and_clear(vma->vm_mm, addr, ptep);
	flush_tlb_all();
	return true;
}

/**
 * __pt_share_unmap_mapping - truncate and hole punch on cached tables
 * @mapping: the file; the caller holds its i_mmap_rwsem
 * @first: first file index to unmap
 * @last: last file index to unmap
 *
 * The per-VMA walk of unmap_mapping_range() detaches every mm from its
 * shared tables, but a process that attaches after its VMA was visited
 * would see the entries the table still holds. So zap the range in the
 * cached tables themselves first, flushing every CPU before the folios go.
 */
void __pt_share_unmap_mapping(struct address_space *mapping, pgoff_t first,
			      pgoff_t last)
{
	struct pt_share_cache *cache = READ_ONCE(mapping->pt_share);
	unsigned long key, first_key, last_key;
	struct vm_area_struct *vma;
	struct ptdesc *table;
	unsigned int from, to;

	if (!cache || xa_empty(&cache->tables))
		return;
	/* Any VMA of the file serves the rmap; one exists while tables do. */
	vma = vma_interval_tree_iter_first(&mapping->i_mmap, 0, ULONG_MAX);
	if (WARN_ON_ONCE(!vma))
		return;
	first_key = pt_share_key(first, 0);
	last_key = pt_share_key(last, PT_SHARE_MAX_VARIANTS - 1);
	if (last_key < first_key)
		last_key = ULONG_MAX;

	xa_lock(&cache->tables);
	xa_for_each_range(&cache->tables, key, table, first_key, last_key) {
		pt_share_entry_range(key, first, last, &from, &to);
		pt_share_zap_table(table, from, to, vma, true);
	}
	xa_unlock(&cache->tables);
}

/* ---------------------------------------------------------------------- */
/* How many mms map a page                                                 */
/* ---------------------------------------------------------------------- */

/**
 * __pt_share_folio_mapped_shared - is @folio mapped by a shared table?
 * @folio: a mapped page-cache folio
 *
 * An entry in a shared table adds one to the mapcount however many mms are
 * attached. folio_likely_mapped_shared() asks here, so that move_pages()
 * without MPOL_MF_MOVE_ALL, MADV_PAGEOUT, MADV_COLD and NUMA balancing
 * treat the page as the other mms' too, as they would without sharing.
 * Looks at the entry of the folio's first page only, as the mapcount
 * estimate does for large folios.
 *
 * The caller holds the folio mapped (a page table lock, or the rmap
 * walk's i_mmap lock), which keeps the inode and its cache alive; the
 * tables themselves are freed only after an RCU grace period.
 *
 * Return: true if a table with more than one sharer maps @folio.
 */
bool __pt_share_folio_mapped_shared(struct folio *folio)
{
	struct address_space *mapping = READ_ONCE(folio->mapping);
	unsigned long pfn = folio_pfn(folio);
	struct pt_share_cache *cache;
	struct ptdesc *table;
	bool shared = false;
	pte_t pte;
	int v;

	if (!mapping || ((unsigned long)mapping & PAGE_MAPPING_FLAGS))
		return false;
	cache = READ_ONCE(mapping->pt_share);
	if (!cache)
		return false;
	rcu_read_lock();
	for (v = 0; v < PT_SHARE_MAX_VARIANTS && !shared; v++) {
		table = xa_load(&cache->tables, pt_share_key(folio->index, v));
		if (!table || atomic_read(&table->pt_share_count) < 2)
			continue;
		pte = ptep_get((pte_t *)ptdesc_address(table) +
			       folio->index % PTRS_PER_PTE);
		shared = pte_present(pte) && pte_pfn(pte) == pfn;
	}
	rcu_read_unlock();
	return shared;
}

/**
 * pt_share_mapping_destroy - free the pt_share cache of an evicted inode
 * @mapping: the inode's address_space
 *
 * Tables live only while some mm is attached, and no mm maps an inode
 * that is being destroyed, so the cache is empty by now.
 */
void pt_share_mapping_destroy(struct address_space *mapping)
{
	struct pt_share_cache *cache = mapping->pt_share;

	if (!cache)
		return;
	WARN_ON_ONCE(!xa_empty(&cache->tables));
	xa_destroy(&cache->tables);
	kfree(cache);
	mapping->pt_share = NULL;
}

static int __init pt_share_init(void)
{
	register_sysctl_init("vm", pt_share_sysctls);
	return 0;
}
subsys_initcall(pt_share_init);

#include "pt_share-kunit.h"
