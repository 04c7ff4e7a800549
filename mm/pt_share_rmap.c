// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share rmap side: what reaches a shared table through the file rather
 * than through one mm, and must act for every sharer at once.
 *
 * Rules this file keeps:
 *
 *  - Rmap-driven changes (reclaim, migration, compaction, NUMA balancing)
 *    clear an entry once in the shared table and flush only the mms
 *    attached to it, each at the address it maps the table at: into the
 *    caller's batch (current->tlb_ubc) when it batches, at once otherwise.
 *  - Whoever holds a table's lock finds every mm that may cache one of its
 *    entries by walking the file's i_mmap tree (pt_share_visit_sharers()):
 *    the attach sets an mm's pmd and the detach clears it and flushes,
 *    both under the table's lock.
 *  - Entries are built from the table's variant's protection, never from
 *    the VMA a walk came through.
 *  - Truncate and hole punch zap the cached tables directly, one at a
 *    time, before the per-VMA walk, and flush the sharers of each table
 *    once; idle ones they zap with no flush, and free if wholly covered.
 *  - folio_mkclean() never reaches a shared table: shmem has no writeback,
 *    so it never cleans a shmem folio; regular files will need the same
 *    clear-once path there.
 *
 * Lock order: see pt_share.c.
 */

#include <linux/mm.h>
#include <linux/pt_share.h>
#include <linux/rcupdate.h>
#include <linux/rmap.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "internal.h"

#include "pt_share_cache.h"

/* ---------------------------------------------------------------------- */
/* The sharers of a table: whom a cleared entry must be flushed from       */
/* ---------------------------------------------------------------------- */

/*
 * Which mms may hold a TLB entry made from an entry of a shared table.
 *
 * An mm reaches the table only through a pmd of its own. The attach sets
 * that pmd, and the detach clears it and flushes the mm, each under the
 * table's lock (the detach flushes before it drops the lock). So whoever
 * holds the table's lock and has cleared an entry has to flush exactly
 * the mms whose pmd points to the table at that moment: an mm that
 * attaches later reads the cleared entry, and one that detached has
 * flushed. No attach sequence count is needed, and no global fallback.
 *
 * Those mms are found through the file's i_mmap tree, which lists every
 * VMA that may be attached, at the address of the span in it. The caller
 * holds the i_mmap lock (rmap walks and truncation do), which keeps each
 * VMA listed in place and the page tables above its span allocated:
 * free_pgtables() unlinks a VMA before it frees the tables under it. The
 * walk costs one pmd lookup per VMA that maps the span, as the rmap walk
 * of an unshared folio does; it does not depend on the number of CPUs.
 */

/* Is @pmdval a pointer to @table? */
static inline bool pt_share_pmd_maps(pmd_t pmdval, struct ptdesc *table)
{
	return pmd_present(pmdval) && !pmd_leaf(pmdval) &&
	       pmd_page(pmdval) == ptdesc_page(table);
}

/*
 * Call @fn for every mm attached to @table, with the address of the span in
 * it, and return how many there were. The caller holds the table's lock and
 * the i_mmap lock of its file.
 */
static unsigned int pt_share_visit_sharers(struct ptdesc *table,
					   void (*fn)(struct mm_struct *mm,
						      unsigned long span,
						      void *arg),
					   void *arg)
{
	struct address_space *mapping = (void *)table->__page_mapping;
	pgoff_t base = pt_share_key_index(table->pt_share_key);
	struct vm_area_struct *vma;
	unsigned int nr = 0;
	unsigned long span;
	pmd_t *pmd;

	lockdep_assert_held(ptlock_ptr(table));
	i_mmap_assert_locked(mapping);
	vma_interval_tree_foreach(vma, &mapping->i_mmap, base,
				  base + PTRS_PER_PTE - 1) {
		/* Only a VMA that covers the whole span can be attached. */
		if (vma->vm_pgoff > base)
			continue;
		span = vma->vm_start + ((base - vma->vm_pgoff) << PAGE_SHIFT);
		if ((span & ~PMD_MASK) || vma->vm_end - span < PMD_SIZE)
			continue;
		pmd = mm_find_pmd(vma->vm_mm, span);
		if (!pmd || !pt_share_pmd_maps(pmdp_get_lockless(pmd), table))
			continue;
		fn(vma->vm_mm, span, arg);
		nr++;
	}
	count_vm_events(PT_SHARE_FLUSH_MMS, nr);
	return nr;
}

/* The cleared entry, and its byte offset in the span. */
struct pt_share_flush_entry {
	pte_t pteval;
	unsigned long offset;
};

/*
 * The mm joins the caller's TLB batch (current->tlb_ubc) as the mms of
 * reclaim's own unmaps do: its CPUs are added to the flush, its TLB
 * generation moves on, so that CPUs that switch to it later flush too, and
 * a dirty entry marks the batch for try_to_unmap_flush_dirty() before any
 * I/O. On x86 the batch flushes the whole TLB of each CPU in it, whatever
 * address it was given, and CONFIG_PT_SHARE depends on that: an
 * architecture whose batch flushed by address would need one call per
 * cleared entry where a range of them is flushed (truncation).
 */
static void pt_share_batch_mm(struct mm_struct *mm, unsigned long span,
			      void *arg)
{
	struct pt_share_flush_entry *e = arg;

	set_tlb_ubc_flush_pending(mm, e->pteval, span + e->offset);
}

/**
 * pt_share_flush_sharers - flush a cleared entry from every sharer
 * @table: the shared table; the caller holds its lock and the i_mmap lock
 * @i: the index of the cleared entry (the first, for a range)
 * @pteval: the cleared entry
 * @batch: leave the flush in the caller's batch (current->tlb_ubc)
 *
 * Every mm attached to @table joins the caller's batch, which is flushed
 * unless @batch: one IPI per CPU that runs a sharer, not one per sharer.
 */
void pt_share_flush_sharers(struct ptdesc *table, unsigned int i,
			    pte_t pteval, bool batch)
{
	struct pt_share_flush_entry e = {
		.pteval = pteval,
		.offset = (unsigned long)i << PAGE_SHIFT,
	};

	/* None found: nobody is attached who could cache the entry. */
	pt_share_visit_sharers(table, pt_share_batch_mm, &e);
	if (batch) {
		count_vm_event(PT_SHARE_FLUSH_BATCHED);
		return;
	}
	try_to_unmap_flush();
	count_vm_event(PT_SHARE_FLUSH);
}

/**
 * __pt_share_pte_prot - the protection to build an entry of a shared table
 * @vma: the VMA the fault or the rmap walk came through
 * @ptep: the entry, with its table's lock held
 *
 * Every entry of a shared table is built from the protection of the
 * table's variant, never from the VMA a fault or an rmap walk came through:
 * that VMA's mm may be changing its own view while the walk runs, and its
 * protection would then reach every other sharer. The caller's table lock
 * keeps the table cached, and so its variant's slot in use and unchanged.
 *
 * Return: the variant's vm_page_prot.
 */
pgprot_t __pt_share_pte_prot(struct vm_area_struct *vma, pte_t *ptep)
{
	struct ptdesc *table = virt_to_ptdesc(ptep);
	struct address_space *mapping = (void *)table->__page_mapping;
	unsigned int variant = pt_share_key_variant(table->pt_share_key);

	VM_WARN_ON_ONCE(mapping != vma->vm_file->f_mapping);
	return mapping->pt_share->variants[variant].prot;
}

/* ---------------------------------------------------------------------- */
/* Rmap-driven changes and truncation: operate once, flush the sharers     */
/* ---------------------------------------------------------------------- */

/**
 * __pt_share_ptep_clear_flush - reclaim/migration clears a shared entry
 * @vma: the VMA the rmap walk came through
 * @addr: the entry's address in @vma
 * @ptep: the entry, in a shared table whose lock is held
 * @pteval: where to store the old entry
 * @batch: the caller batches its flushes (TTU_BATCH_FLUSH)
 *
 * The entry is cleared once, for every attached mm; the rmap walk's later
 * visits of other sharers' VMAs find it none, and the walk may stop once
 * the folio is unmapped: every sharer is flushed here, each at the address
 * it maps the entry at. With @batch they join the caller's batch, which
 * try_to_unmap_flush() flushes before the folio is freed, and
 * try_to_unmap_flush_dirty() before its I/O if the entry was dirty;
 * otherwise they are flushed before we return, the folio can be copied.
 * mms with mmu notifiers never share, so secondary MMUs need no
 * invalidation here.
 *
 * Return: true (the entry is cleared, and its flush made or batched).
 */
bool __pt_share_ptep_clear_flush(struct vm_area_struct *vma,
				 unsigned long addr, pte_t *ptep,
				 pte_t *pteval, bool batch)
{
	struct ptdesc *table = virt_to_ptdesc(ptep);

	*pteval = ptep_get_and_clear(vma->vm_mm, addr, ptep);
	pt_share_flush_sharers(table, ptep - (pte_t *)ptdesc_address(table),
			       *pteval, batch);
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
 * cached tables themselves first. The folios must not be released while
 * another mm may still cache an entry of them: once nothing maps a folio,
 * reclaim or migration may take it whatever the page cache's reference.
 * So the sharers of each table are flushed first, once for all its
 * entries. The entries belong to no VMA, so none is needed.
 * The cache lock is held only to find the next table and take a share of
 * it: the zap runs under the table's own lock, with a chance to reschedule
 * between tables. An idle table is zapped under the cache lock instead,
 * which keeps attachers out, with no flush (no TLB holds its entries);
 * one the range covers wholly is freed.
 */
void __pt_share_unmap_mapping(struct address_space *mapping, pgoff_t first,
			      pgoff_t last)
{
	struct pt_share_cache *cache = READ_ONCE(mapping->pt_share);
	struct folio *stack[PT_SHARE_ZAP_STACK];
	struct pt_share_zap zap = { .folios = stack, .max = ARRAY_SIZE(stack) };
	unsigned long key, last_key;
	struct folio **folios;
	struct ptdesc *table;
	unsigned int from, to;

	if (!cache || xa_empty(&cache->tables))
		return;
	if (first > PT_SHARE_MAX_INDEX)
		return;
	key = pt_share_key(first, 0);
	/* PTE tables only: the PMD tables' keys lie above theirs. */
	last_key = pt_share_key(min_t(pgoff_t, last, PT_SHARE_MAX_INDEX),
				PT_SHARE_MAX_VARIANTS - 1);
	/*
	 * Without a table's worth, the sharers are flushed more often. Not
	 * from reclaim: it may want the i_mmap lock we hold, and a writer
	 * queued on it would keep it from us.
	 */
	folios = NULL;
	if (last - first >= PT_SHARE_ZAP_STACK)
		folios = kmalloc_array(PTRS_PER_PTE, sizeof(*folios),
				       GFP_NOWAIT | __GFP_NOWARN |
				       __GFP_NOMEMALLOC);
	if (folios) {
		zap.folios = folios;
		zap.max = PTRS_PER_PTE;
	}

	for (;;) {
		xa_lock(&cache->tables);
		table = xa_find(&cache->tables, &key, last_key, XA_PRESENT);
		if (!table) {
			xa_unlock(&cache->tables);
			break;
		}
		pt_share_entry_range(key, first, last, &from, &to);
		if (pt_share_table_idle(table)) {
			/* No TLB to flush, and the cache lock keeps attachers out. */
			if (pt_share_idle_zap(cache, table, from, to, &zap)) {
				xa_unlock(&cache->tables);
				pt_share_table_free(table);
			} else {
				xa_unlock(&cache->tables);
			}
		} else {
			/* Hold it while the zap runs under the table's own lock. */
			atomic_inc(&table->pt_share_count);
			xa_unlock(&cache->tables);
			pt_share_zap_table(table, from, to, &zap, true);
			pt_share_put(cache, table, NULL);
		}
		if (key == last_key)
			break;
		key++;
		cond_resched();
	}
	kfree(folios);
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
		if (!table || pt_share_table_sharers(cache, table) < 2)
			continue;
		pte = ptep_get((pte_t *)ptdesc_address(table) +
			       folio->index % PTRS_PER_PTE);
		shared = pte_present(pte) && pte_pfn(pte) == pfn;
	}
	rcu_read_unlock();
	return shared;
}
