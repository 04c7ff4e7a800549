// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share attach and detach: which VMAs may share, the fault that attaches
 * a span to its cached table, and the detach that every change of one
 * mm's own view of a range makes first.
 *
 * Rules this file keeps:
 *
 *  - Only one mm's own operations detach it: munmap, exit, MADV_DONTNEED,
 *    mprotect, mremap, VMA boundary changes, mlock, userfaultfd
 *    registration, clear_refs and mmu notifier registration clear this
 *    mm's pmd, wait for rmap walkers holding the table's lock, flush this
 *    mm (paging-structure caches included) and only then drop the table's
 *    share count.
 *  - An attached VMA's flags and protection are its table's variant's:
 *    every change of them (vma_modify(), a merge across VM_SOFTDIRTY,
 *    clear_refs) detaches first, with the VMA write-locked.
 *  - No per-mm walker writes into a shared table: it detaches (clear_refs)
 *    or skips tables other mms share (MADV_COLD/PAGEOUT, NUMA hinting).
 *    The per-mm zap and mprotect paths check again under the table lock,
 *    since khugepaged may free a private table and a fault attach a shared
 *    one after they looked.
 *  - The attach sets the pmd and the detach clears it, each under the
 *    table's lock (see pt_share_rmap.c for why).
 *
 * Lock order: see pt_share.c.
 */

#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/pgalloc.h>
#include <linux/pkeys.h>
#include <linux/pt_share.h>
#include <linux/shmem_fs.h>
#include <linux/userfaultfd_k.h>
#include <linux/xarray.h>
#include <asm/tlbflush.h>

#include "internal.h"

#include "pt_share_cache.h"

/* ---------------------------------------------------------------------- */
/* Eligibility                                                             */
/* ---------------------------------------------------------------------- */

/**
 * pt_share_vma_eligible - may @vma share page tables at all?
 * @vma: the VMA
 *
 * Return: true if @vma's flags, file and mm allow sharing, at either level.
 */
bool pt_share_vma_eligible(struct vm_area_struct *vma)
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
	/*
	 * PROT_NONE maps nothing anybody can use (only FOLL_FORCE faults it):
	 * sharing would gain nothing and only take a variant slot.
	 */
	if (!(flags & (VM_READ | VM_WRITE | VM_EXEC)))
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
 * __pt_share_align_size - the alignment a new shared mapping should get
 * @len: length of the mapping
 * @pgoff: file offset of its start, in pages
 * @flags: its mmap flags
 *
 * A table is shared only where the address agrees with the file offset
 * modulo the span the table maps, so when the kernel picks the address it
 * picks one that does. A PMD table maps PUD_SIZE: ask for that when the
 * mapping holds at least one whole aligned PUD_SIZE of the file, that is
 * when @len covers the part before the first file boundary (@skip) plus
 * PUD_SIZE. Smaller mappings keep PMD_SIZE, for their PTE tables.
 *
 * Return: PUD_SIZE or PMD_SIZE for a MAP_SHARED mapping of at least
 * vm.pt_share_min_bytes, 0 for any other.
 */
unsigned long __pt_share_align_size(unsigned long len, unsigned long pgoff,
				    unsigned long flags)
{
	unsigned long type = flags & MAP_TYPE;
	unsigned long skip = -(pgoff << PAGE_SHIFT) & (PUD_SIZE - 1);

	if ((type != MAP_SHARED && type != MAP_SHARED_VALIDATE) ||
	    len < READ_ONCE(sysctl_pt_share_min_bytes))
		return 0;
	if (len >= PUD_SIZE && len - PUD_SIZE >= skip)
		return PUD_SIZE;
	return PMD_SIZE;
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
 * Under a shared PMD table (vmf->pmd lies in one), the table is attached
 * into it for every mm that shares it, with no mm's accounting: the PMD
 * table's attachment stands for all of its spans. Nothing private may go
 * there, so the caller never installs one: if the table cannot be cached,
 * the pmd stays none and the fault is retried.
 *
 * Return: true if the pmd is populated (by us or by a racing thread) or
 * lies in a shared PMD table, false if the caller should install a private
 * table.
 */
bool __pt_share_attach(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	struct pt_share_cache *cache;
	struct ptdesc *table;
	unsigned long index, key;
	spinlock_t *pml;	/* the pmd lock of vmf->pmd */
	struct page *prealloc = vmf->prealloc_pte;
	bool installed = false, created = false;
	bool in_pmd_table = pt_share_pmd_in_shared(vmf->pmd);
	int variant;

	/* A shared PMD table is attached only where all of this holds. */
	if (!in_pmd_table &&
	    (!pt_share_enabled() || !pt_share_vma_eligible(vma) ||
	     !pt_share_range_eligible(vma->vm_start, vma->vm_end,
				      vma->vm_pgoff, vmf->address)))
		return false;
	cache = pt_share_cache_get(vma->vm_file->f_mapping);
	if (!cache)
		return in_pmd_table;
	index = pt_share_table_index(vma->vm_start, vma->vm_pgoff,
				     vmf->address);
	if (index > PT_SHARE_MAX_INDEX)
		return in_pmd_table;

	xa_lock(&cache->tables);
	variant = pt_share_variant_id(cache, vma);
	if (variant < 0)
		goto fail_unlock;
	key = pt_share_key(index, variant);
	table = xa_load(&cache->tables, key);
	if (table) {
		/* An idle table comes back with its entries. */
		if (atomic_inc_return(&table->pt_share_count) == 1)
			pt_share_idle_reuse(table);
	} else {
		table = page_ptdesc(vmf->prealloc_pte);
		table->pt_share_key = key;
		/* Empty: not on the idle LRU. */
		INIT_LIST_HEAD(&table->pt_list);
		table->__page_mapping = (unsigned long)vma->vm_file->f_mapping;
		atomic_set(&table->pt_share_count, 1);
		if (xa_is_err(__xa_store(&cache->tables, key, table,
					 GFP_NOWAIT | __GFP_NOWARN))) {
			table->__page_mapping = 0;
			goto fail_unlock;
		}
		cache->variants[variant].nr_tables++;
		vmf->prealloc_pte = NULL;
		created = true;
		count_vm_event(PT_SHARE_TABLE_ALLOC);
	}
	xa_unlock(&cache->tables);
	/* A shared table is charged to no memcg, attached or not. */
	if (created)
		pt_share_uncharge_page(prealloc);

	/* Under a shared PMD table, its lock: the same for every sharer. */
	pml = pmd_lock(mm, vmf->pmd);
	if (likely(pmd_none(*vmf->pmd))) {
		if (!in_pmd_table) {
			mm_inc_nr_ptes(mm);
			add_mm_counter(mm, MM_SHMEMPAGES, PTRS_PER_PTE);
		}
		/* Entries and ptlock visible before the table is reachable. */
		smp_wmb();
		/*
		 * Under the table's lock, so that whoever clears an entry
		 * under it either finds this mm attached and flushes it, or
		 * cleared the entry before this mm could read it.
		 */
		spin_lock(ptlock_ptr(table));
		pmd_populate(mm, vmf->pmd, ptdesc_page(table));
		spin_unlock(ptlock_ptr(table));
		installed = true;
	}
	spin_unlock(pml);
	if (installed && in_pmd_table) {
		/* The PMD table holds the share; the caller frees prealloc. */
		count_vm_event(PT_SHARE_ATTACH);
	} else if (installed) {
		/* The unused preallocated table's charge is the attachment's. */
		if (!created)
			pt_share_uncharge_page(prealloc);
		pt_share_charge(mm);
		count_vm_event(PT_SHARE_ATTACH);
	} else {
		pt_share_put(cache, table, in_pmd_table ? NULL : mm);
	}
	return true;

fail_unlock:
	xa_unlock(&cache->tables);
	return in_pmd_table;
}

static inline struct ptdesc *pt_share_pmd_table(pmd_t pmdval)
{
	return page_ptdesc(pmd_page(pmdval));
}

/* ---------------------------------------------------------------------- */
/* Detach                                                                  */
/* ---------------------------------------------------------------------- */

/*
 * pt_share_detach - detach @vma's mm from the shared table at @pmd, if any
 *
 * Clear the pmd and flush this mm's TLBs and paging-structure caches for
 * the span, both under the table's lock; undo the attach accounting, then
 * drop the share. The caller holds the mmap lock (read is enough) or the
 * VMA lock.
 */
static bool pt_share_detach(struct vm_area_struct *vma, pmd_t *pmd,
			    unsigned long addr, enum vm_event_item cause)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long start = addr & PMD_MASK;
	struct ptdesc *table;
	spinlock_t *pml;	/* the pmd lock of @pmd */
	spinlock_t *ptl;	/* the table's lock */
	pmd_t pmdval;

	/*
	 * An entry of a shared PMD table is every sharer's: clearing it would
	 * detach them all. Every path that changes one mm's view detaches the
	 * PMD table first; one that did not must still not touch the entry.
	 */
	if (WARN_ON_ONCE(pt_share_pmd_in_shared(pmd)))
		return true;
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
	/*
	 * Under the table's lock: an rmap walker that reached the table
	 * through @pmd and still looks at this VMA finishes first, so the
	 * caller may change the VMA once we return; and a walker that clears
	 * an entry after us finds this mm gone only once it has flushed, so
	 * it need not flush this mm (pt_share_visit_sharers()).
	 */
	ptl = ptlock_ptr(table);
	spin_lock(ptl);
	pmd_clear(pmd);
	spin_unlock(pml);
	flush_tlb_mm_range(mm, start, start + PMD_SIZE, PAGE_SHIFT, true);
	spin_unlock(ptl);

	mm_dec_nr_ptes(mm);
	add_mm_counter(mm, MM_SHMEMPAGES, -PTRS_PER_PTE);
	pt_share_uncharge(mm);
	count_vm_event(PT_SHARE_DETACH);
	count_vm_event(cause);
	pt_share_put(vma->vm_file->f_mapping->pt_share, table, mm);
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
	/*
	 * Under a shared PMD table no leaf may go, and MADV_COLLAPSE holds
	 * the mmap lock only for read, too little to detach the PMD table.
	 */
	if (!install_pmd || pt_share_pmd_in_shared(pmd))
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
 * caller holds the mmap lock for write and has write-locked @vma.
 */
void __pt_share_unshare_range(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, enum vm_event_item cause)
{
	pt_share_unshare_range_locked(vma, start, end, cause, false);
}

/**
 * pt_share_unshare_range_locked - __pt_share_unshare_range(), maybe locked
 * @vma: the VMA
 * @start: start of the range
 * @end: end of the range
 * @cause: the /proc/vmstat counter of the reason
 * @i_mmap_held: the caller holds the file's i_mmap lock for write
 *
 * A shared PMD table over part of the range is replaced by one of this
 * mm's own first, which keeps the other spans attached; then the spans of
 * the range are detached one by one.
 */
void pt_share_unshare_range_locked(struct vm_area_struct *vma,
				   unsigned long start, unsigned long end,
				   enum vm_event_item cause, bool i_mmap_held)
{
	unsigned long addr;
	pmd_t *pmd;

	for (addr = start & PUD_MASK; addr < end; addr += PUD_SIZE) {
		pt_share_pud_detach(vma, addr, true, i_mmap_held, cause);
		if (addr + PUD_SIZE < addr)
			break;
	}
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

/*
 * Detach the table that straddles @addr, if @addr splits a span, and the
 * shared PMD table of the stretch first. The caller holds the i_mmap lock.
 */
static void pt_share_unshare_boundary(struct vm_area_struct *vma,
				      unsigned long addr)
{
	pmd_t *pmd;

	if (addr <= vma->vm_start || addr >= vma->vm_end)
		return;
	if (addr & ~PUD_MASK)
		pt_share_pud_detach(vma, addr, true, true,
				    PT_SHARE_DETACH_SPLIT);
	if (!(addr & ~PMD_MASK))
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

/**
 * __pt_share_vma_modify - a range of a VMA is about to get new flags
 * @vma: the VMA, with the mmap lock held for write
 * @start: start of the range
 * @end: end of the range
 * @new_flags: the flags the range will have
 *
 * Called by vma_modify(), which every change of an existing range's flags
 * (mprotect, pkey_mprotect, mlock, madvise, userfaultfd registration)
 * passes through before it merges, splits or changes the VMA. The entries
 * of a shared table are built from its variant's protection, which must
 * stay this VMA's while it is attached: detach the range first, with the
 * VMA write-locked so that no fault attaches it again before the flags
 * change. The cause counted follows what changes.
 */
void __pt_share_vma_modify(struct vm_area_struct *vma, unsigned long start,
			   unsigned long end, vm_flags_t new_flags)
{
	vm_flags_t changed = (vma->vm_flags ^ new_flags) & ~VM_PT_SHARE;
	enum vm_event_item cause = PT_SHARE_DETACH_MADVISE;

	if (!changed || !vma->vm_file || !(vma->vm_flags & VM_MAYSHARE))
		return;
	if (changed & VM_LOCKED_MASK)
		cause = PT_SHARE_DETACH_MLOCK;
	else if (changed & __VM_UFFD_FLAGS)
		cause = PT_SHARE_DETACH_UFFD;
	else if (changed & (VM_ACCESS_FLAGS | ARCH_VM_PKEY_FLAGS))
		cause = PT_SHARE_DETACH_MPROTECT;
	vma_start_write(vma);
	__pt_share_unshare_range(vma, start, end, cause);
}

/* Could @a's range be attached under @b's flags and protection? */
static bool pt_share_vma_same_view(struct vm_area_struct *a,
				   struct vm_area_struct *b)
{
	return a->vm_flags == b->vm_flags &&
	       pgprot_val(a->vm_page_prot) == pgprot_val(b->vm_page_prot);
}

/**
 * __pt_share_vma_merge - VMAs are merged into @vma
 * @vma: the VMA that grows over the others
 * @remove: a VMA whose range @vma takes over, or NULL
 * @remove2: another one, or NULL
 *
 * Merging VMAs ignores VM_SOFTDIRTY, on which their protection may depend
 * too. A range that ends up under flags or a protection other than its
 * own must not stay attached: detach it, in the merge itself, under the
 * VMA write locks the merge holds.
 */
void __pt_share_vma_merge(struct vm_area_struct *vma,
			  struct vm_area_struct *remove,
			  struct vm_area_struct *remove2)
{
	struct vm_area_struct *r[] = { remove, remove2 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(r); i++) {
		if (!r[i] || !r[i]->vm_file || !(r[i]->vm_flags & VM_MAYSHARE) ||
		    pt_share_vma_same_view(r[i], vma))
			continue;
		pt_share_unshare_range_locked(r[i], r[i]->vm_start,
					      r[i]->vm_end,
					      PT_SHARE_DETACH_SPLIT, true);
	}
}

/**
 * __pt_share_clear_refs_pmd - /proc/PID/clear_refs meets a pmd
 * @vma: the VMA walked, with the mmap lock held
 * @pmd: the pmd
 * @addr: an address in its span
 * @clear_folios: clear the referenced state of the folios mapped (clear_refs
 *                1 and 3), as for the entries of a table of this mm's own
 *
 * No per-mm walker writes into a shared table: what one mm does to its own
 * entries (clearing Accessed or soft-dirty bits) must not change another's.
 * So clear_refs detaches whatever shared table it meets, whatever the VMA's
 * flags say, and finds the span none. The referenced state of the folios
 * is no one mm's, and clear_refs clears it without sharing too: do that
 * first, while the table still maps them in this mm.
 *
 * Return: true if @pmd was a shared table, now detached.
 */
bool __pt_share_clear_refs_pmd(struct vm_area_struct *vma, pmd_t *pmd,
			       unsigned long addr, bool clear_folios)
{
	struct ptdesc *table;
	spinlock_t *pml, *ptl;
	pte_t *base, pte;
	unsigned int i;

	pml = pmd_lock(vma->vm_mm, pmd);
	if (!pt_share_pmd_shared(*pmd)) {
		spin_unlock(pml);
		return false;
	}
	if (clear_folios) {
		table = pt_share_pmd_table(*pmd);
		base = ptdesc_address(table);
		ptl = ptlock_ptr(table);
		spin_lock(ptl);
		for (i = 0; i < PTRS_PER_PTE; i++) {
			struct folio *folio;

			pte = ptep_get(base + i);
			if (!pte_present(pte))
				continue;
			folio = page_folio(pte_page(pte));
			folio_test_clear_young(folio);
			folio_clear_referenced(folio);
		}
		spin_unlock(ptl);
	}
	spin_unlock(pml);
	return pt_share_detach(vma, pmd, addr, PT_SHARE_DETACH_CLEAR_REFS);
}

