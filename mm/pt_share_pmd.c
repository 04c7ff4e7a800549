// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share, the PMD level: shared PMD tables.
 *
 * A shared PMD table P maps one PUD_SIZE-aligned stretch of a file (a GiB
 * with 4 KiB pages) through the shared PTE tables T of the same file and
 * protection variant, so that an mm attaches the whole stretch with one
 * PUD entry. P is cached in the same xarray as the T's, under the cache
 * lock, above every key a T can have (pt_share_pmd_key()), and takes its
 * variant from the same slots: a variant stays fixed while any P or T of
 * it is cached.
 *
 * This file holds the mechanism: taking and dropping a share of P, its
 * release, and the count of mms that reach an entry through both levels.
 * Nothing attaches P to an mm yet: the fault path, the detach sites and
 * the guards that keep private tables away from P come with the attach.
 *
 * Rules this file keeps:
 *
 *  - Each entry of P is none or points to the T of the same file, variant
 *    and file index; P holds one share of each such T, however many mms
 *    share P.
 *  - No private table and no PMD leaf ever sits under P.
 *  - P is never idle: its share count counts the mms whose PUD points to
 *    it, and it leaves the cache when the last one detaches.
 *  - The count changes to or from zero only under the cache lock.
 *  - The last put erases P, then clears its entries and drops its share
 *    of each T (which may then go idle or be freed), then frees P after an
 *    RCU grace period, for GUP-fast and lockless page-table walkers.
 *  - P's page is charged to no memcg, as T's is.
 *
 * Lock order, as in pt_share.c: cache lock -> P's pmd lock -> T's lock.
 */

#define pr_fmt(fmt) "pt_share: " fmt

#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pgalloc.h>
#include <linux/pt_share.h>
#include <linux/rcupdate.h>
#include <linux/xarray.h>
#include <asm/tlbflush.h>

#include "pt_share_cache.h"

/**
 * pt_share_pmd_get - take a share of the cached PMD table of a stretch
 * @cache: the cache of @vma's file
 * @vma: a VMA that may share and covers the whole stretch
 * @index: the file index of a page in the stretch
 * @prealloc: a PMD table from pmd_alloc_one(), used if the cache has none;
 *            set to NULL when it is used
 *
 * Return: the PMD table with one more share, or NULL if @vma's variant
 * pool is full or the cache could not store a new table.
 */
struct ptdesc *pt_share_pmd_get(struct pt_share_cache *cache,
				struct vm_area_struct *vma, pgoff_t index,
				struct ptdesc **prealloc)
{
	struct ptdesc *pmd_table = NULL;
	unsigned long key;
	bool created = false;
	int variant;

	if (index > PT_SHARE_MAX_INDEX)
		return NULL;
	xa_lock(&cache->tables);
	variant = pt_share_variant_id(cache, vma);
	if (variant < 0)
		goto unlock;
	key = pt_share_pmd_key(index, variant);
	pmd_table = xa_load(&cache->tables, key);
	if (pmd_table) {
		/* Never idle: a cached P has a share. */
		atomic_inc(&pmd_table->pt_share_count);
		goto unlock;
	}
	pmd_table = *prealloc;
	pmd_table->pt_share_key = key - PT_SHARE_PMD_KEY_BASE;
	pmd_table->__page_mapping = (unsigned long)vma->vm_file->f_mapping;
	atomic_set(&pmd_table->pt_share_count, 1);
	if (xa_is_err(__xa_store(&cache->tables, key, pmd_table,
				 GFP_NOWAIT | __GFP_NOWARN))) {
		pmd_table->__page_mapping = 0;
		pmd_table = NULL;
		goto unlock;
	}
	cache->variants[variant].nr_tables++;
	*prealloc = NULL;
	created = true;
	count_vm_event(PT_SHARE_PMD_TABLE_ALLOC);
unlock:
	xa_unlock(&cache->tables);
	/* Like a shared PTE table, P is charged to no memcg. */
	if (created)
		pt_share_uncharge_page(ptdesc_page(pmd_table));
	return pmd_table;
}

static void pt_share_pmd_free_rcu(struct rcu_head *head)
{
	struct ptdesc *pmd_table = container_of(head, struct ptdesc,
						pt_rcu_head);

	/* The rcu_head overlays pmd_huge_pte, which the destructor checks. */
	pmd_table->pmd_huge_pte = NULL;
	pmd_free(NULL, ptdesc_address(pmd_table));
}

/*
 * pt_share_pmd_release - empty and free a PMD table that left its cache
 *
 * No mm reaches it any more: the last detach cleared its PUD and flushed
 * that mm. So its entries are cleared without a lock or a flush, and each
 * T loses the share P held, with no mm to charge if it goes idle.
 */
static void pt_share_pmd_release(struct pt_share_cache *cache,
				 struct ptdesc *pmd_table)
{
	pmd_t *base = ptdesc_address(pmd_table);
	struct ptdesc *table;
	unsigned int i;
	pmd_t pmdval;

	for (i = 0; i < PTRS_PER_PMD; i++) {
		pmdval = pmdp_get(base + i);
		if (pmd_none(pmdval))
			continue;
		/* Anything but a T of this file would break the rules above. */
		if (WARN_ON_ONCE(!pmd_present(pmdval) || pmd_leaf(pmdval)))
			continue;
		table = page_ptdesc(pmd_page(pmdval));
		if (WARN_ON_ONCE(table->__page_mapping !=
				 pmd_table->__page_mapping))
			continue;
		pmd_clear(base + i);
		/* The attachment into the PMD table ends. */
		count_vm_event(PT_SHARE_DETACH);
		pt_share_put(cache, table, NULL);
	}
	pmd_table->__page_mapping = 0;
	pmd_table->pt_share_key = 0;
	count_vm_event(PT_SHARE_PMD_TABLE_FREE);
	call_rcu(&pmd_table->pt_rcu_head, pt_share_pmd_free_rcu);
}

/**
 * pt_share_pmd_put - drop one share of a shared PMD table
 * @cache: the cache @pmd_table belongs to
 * @pmd_table: the table; the caller's mm no longer reaches it
 *
 * The last share erases the table from the cache and releases it.
 */
void pt_share_pmd_put(struct pt_share_cache *cache, struct ptdesc *pmd_table)
{
	unsigned long key = pmd_table->pt_share_key;
	bool last;

	xa_lock(&cache->tables);
	last = atomic_dec_and_test(&pmd_table->pt_share_count);
	if (last) {
		__xa_erase(&cache->tables, PT_SHARE_PMD_KEY_BASE + key);
		cache->variants[pt_share_key_variant(key)].nr_tables--;
	}
	xa_unlock(&cache->tables);
	/* Out of the cache: no attach can find it, so no lock is needed. */
	if (last)
		pt_share_pmd_release(cache, pmd_table);
}

/*
 * pt_share_pmd_of - the cached PMD table whose entry points to @table
 *
 * Looks P up under RCU, which keeps a P that is being released readable;
 * its entry then no longer points to @table, or its count is zero.
 */
static struct ptdesc *pt_share_pmd_of(struct pt_share_cache *cache,
				      struct ptdesc *table)
{
	unsigned long key = table->pt_share_key;
	pgoff_t index = pt_share_key_index(key);
	struct ptdesc *pmd_table;
	pmd_t pmdval;

	pmd_table = xa_load(&cache->tables,
			    pt_share_pmd_key(index,
					     pt_share_key_variant(key)));
	if (!pmd_table)
		return NULL;
	pmdval = pmdp_get_lockless((pmd_t *)ptdesc_address(pmd_table) +
				   pt_share_pmd_entry(index));
	if (!pmd_present(pmdval) || pmd_leaf(pmdval) ||
	    pmd_page(pmdval) != ptdesc_page(table))
		return NULL;
	return pmd_table;
}

/**
 * pt_share_table_sharers - how many mms reach the entries of a shared table
 * @cache: the cache @table belongs to
 * @table: a shared PTE table, kept from being freed by the caller (its
 *         lock, a share, or the i_mmap lock of a walk that found it)
 *
 * An mm reaches @table directly, with a share of its own, or through the
 * shared PMD table P that points to it; P holds one share of @table for
 * all the mms attached to P.
 *
 * Return: the number of mms, at least 1.
 */
int pt_share_table_sharers(struct pt_share_cache *cache, struct ptdesc *table)
{
	int sharers = atomic_read(&table->pt_share_count);
	struct ptdesc *pmd_table;

	rcu_read_lock();
	pmd_table = pt_share_pmd_of(cache, table);
	if (pmd_table)
		sharers += atomic_read(&pmd_table->pt_share_count) - 1;
	rcu_read_unlock();
	return max(sharers, 1);
}

/**
 * __pt_share_pte_sharers - how many mms reach the entries of a shared table
 * @table: a shared PTE table, with its lock held
 *
 * The caller maps the file through @table, which keeps the file's
 * address_space, and so its cache, alive.
 *
 * Return: the number of mms, at least 1.
 */
int __pt_share_pte_sharers(struct ptdesc *table)
{
	struct address_space *mapping;

	mapping = (struct address_space *)table->__page_mapping;
	return pt_share_table_sharers(mapping->pt_share, table);
}

/* ---------------------------------------------------------------------- */
/* Attach and detach at the PUD level                                      */
/* ---------------------------------------------------------------------- */

/**
 * __pt_share_attach_pud - populate a none PUD entry with a shared PMD table
 * @vma: the faulting VMA
 * @pud: the PUD entry of @addr, none when the fault looked
 * @addr: the faulting address
 *
 * Called by the fault path before it allocates a PMD table of the mm's
 * own; may sleep. If @vma may share the whole stretch, point @pud at the
 * cached PMD table for it, allocating it if the cache has none. The mm is
 * accounted one PMD table and the whole stretch, as an attached PTE table
 * is accounted its span; the PTE tables attached into the PMD table later
 * cost the mm nothing.
 */
void __pt_share_attach_pud(struct vm_area_struct *vma, pud_t *pud,
			   unsigned long addr)
{
	unsigned long start = addr & PUD_MASK;
	struct mm_struct *mm = vma->vm_mm;
	struct ptdesc *prealloc, *pmd_table;
	struct pt_share_cache *cache;
	bool installed = false;
	spinlock_t *ptl;	/* the mm's PUD lock */
	pgoff_t index;
	pmd_t *pmd;

	if (!pt_share_vma_eligible(vma) ||
	    !pt_share_span_eligible(vma->vm_start, vma->vm_end, vma->vm_pgoff,
				    addr, PUD_SIZE))
		return;
	cache = pt_share_cache_get(vma->vm_file->f_mapping);
	if (!cache)
		return;
	index = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT);
	pmd = pmd_alloc_one(mm, start);
	if (!pmd)
		return;
	prealloc = virt_to_ptdesc(pmd);
	pmd_table = pt_share_pmd_get(cache, vma, index, &prealloc);
	if (prealloc)
		pmd_free(mm, pmd);
	if (!pmd_table)
		return;

	/* The table's entries and lock visible before it is reachable. */
	smp_wmb();
	ptl = pud_lock(mm, pud);
	if (likely(pud_none(*pud))) {
		mm_inc_nr_pmds(mm);
		add_mm_counter(mm, MM_SHMEMPAGES, PT_SHARE_PMD_PAGES);
		pud_populate(mm, pud, ptdesc_address(pmd_table));
		installed = true;
	}
	spin_unlock(ptl);
	if (!installed) {
		pt_share_pmd_put(cache, pmd_table);
		return;
	}
	/*
	 * An rmap walker that clears an entry of one of the PTE tables finds
	 * the mms to flush by reading their PUD entries after the clear (an
	 * atomic exchange). Order this mm's store before its first read of an
	 * entry, so that either the walker sees this mm attached or this mm
	 * sees the entry cleared. (The return to user mode serialises too.)
	 */
	smp_mb();
	pt_share_charge(mm);
	count_vm_event(PT_SHARE_PMD_ATTACH);
}

/* The PUD entry that maps @addr in @mm, if the tables above it exist. */
static pud_t *pt_share_find_pud(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;

	if (!pgd_present(pgdp_get(pgd)))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (!p4d_present(p4dp_get(p4d)))
		return NULL;
	return pud_offset(p4d, addr);
}

static struct ptdesc *pt_share_pmd_alloc(bool i_mmap_held)
{
	/*
	 * Under the i_mmap lock, do not reclaim: reclaim may unmap a folio of
	 * this very file, and try_to_unmap() takes the i_mmap lock.
	 */
	gfp_t gfp = i_mmap_held ? GFP_NOWAIT | __GFP_NOWARN | __GFP_ZERO :
				  GFP_KERNEL | __GFP_ZERO;
	struct ptdesc *ptdesc = pagetable_alloc(gfp | __GFP_ACCOUNT, 0);

	if (ptdesc && !pagetable_pmd_ctor(ptdesc)) {
		pagetable_free(ptdesc);
		ptdesc = NULL;
	}
	return ptdesc;
}

/**
 * pt_share_pud_detach - detach @vma's mm from the shared PMD table at @addr
 * @vma: a VMA of the mm, which covers @addr
 * @addr: an address in the stretch
 * @keep: put a PMD table of the mm's own in place of the shared one, which
 *        points to the same PTE tables, so that only the spans that change
 *        lose their sharing; if none can be allocated, detach all the same
 * @i_mmap_held: the caller holds the file's i_mmap lock for write
 * @cause: the /proc/vmstat counter of the reason
 *
 * The caller holds the mmap lock for write with @vma write-locked, or
 * @vma is detached, or the mm is exiting: a fault or a page-table walk of
 * this mm keeps pointers into the PMD table, and walkers read the PUD
 * entry twice. The i_mmap lock keeps out the rmap walkers, which reach
 * the PTE tables through this mm's PUD entry without its locks: under it
 * the PUD entry changes and this mm is flushed, and only then is the
 * share dropped.
 *
 * Accounting: the mm gives back the PMD table and the stretch it was
 * accounted at the attach; with @keep, it is accounted its own PMD table
 * and, for each PTE table it now points to, what a direct attachment is.
 *
 * Return: true if a shared PMD table was detached.
 */
bool pt_share_pud_detach(struct vm_area_struct *vma, unsigned long addr,
			 bool keep, bool i_mmap_held, enum vm_event_item cause)
{
	unsigned long start = addr & PUD_MASK;
	struct mm_struct *mm = vma->vm_mm;
	struct ptdesc *pmd_table, *own = NULL, *table;
	struct address_space *mapping;
	unsigned int i, nr = 0;
	pmd_t *from, *to = NULL, pmdval;
	spinlock_t *ptl;	/* the mm's PUD lock */
	pud_t *pud;

	pud = pt_share_find_pud(mm, addr);
	/* Only this caller could change the entry from or to a shared one. */
	if (!pud || !pt_share_pud_shared(pudp_get(pud)))
		return false;
	/* A stretch attached lies in one VMA, which maps the table's file. */
	mapping = (struct address_space *)
		virt_to_ptdesc(pud_pgtable(pudp_get(pud)))->__page_mapping;
	if (WARN_ON_ONCE(!vma->vm_file || vma->vm_file->f_mapping != mapping))
		return false;
	if (keep) {
		own = pt_share_pmd_alloc(i_mmap_held);
		to = own ? ptdesc_address(own) : NULL;
	}
	if (!i_mmap_held)
		i_mmap_lock_write(mapping);
	ptl = pud_lock(mm, pud);
	pmd_table = virt_to_ptdesc(pud_pgtable(pudp_get(pud)));
	from = ptdesc_address(pmd_table);
	if (own) {
		for (i = 0; i < PTRS_PER_PMD; i++) {
			pmdval = pmdp_get(from + i);
			if (pmd_none(pmdval))
				continue;
			table = page_ptdesc(pmd_page(pmdval));
			/* The PMD table's share keeps the count above zero. */
			atomic_inc(&table->pt_share_count);
			set_pmd(to + i, pmdval);
			nr++;
		}
		pud_populate(mm, pud, to);
	} else {
		pud_clear(pud);
	}
	spin_unlock(ptl);
	/* Paging-structure caches too: they may hold the shared entries. */
	flush_tlb_mm_range(mm, start, start + PUD_SIZE, PAGE_SHIFT, true);
	if (!i_mmap_held)
		i_mmap_unlock_write(mapping);

	add_mm_counter(mm, MM_SHMEMPAGES,
		       (long)nr * PTRS_PER_PTE - (long)PT_SHARE_PMD_PAGES);
	if (!own)
		mm_dec_nr_pmds(mm);
	for (i = 0; i < nr; i++) {
		mm_inc_nr_ptes(mm);
		pt_share_charge(mm);
	}
	pt_share_uncharge(mm);
	/* With its own PMD table, the mm holds a share of each PTE table. */
	count_vm_events(PT_SHARE_ATTACH, nr);
	count_vm_event(PT_SHARE_PMD_DETACH);
	count_vm_event(cause);
	pt_share_pmd_put(mapping->pt_share, pmd_table);
	return true;
}

/**
 * __pt_share_zap_pud - a zap meets a shared PMD table
 * @vma: the VMA being zapped
 * @pud: the PUD entry
 * @addr: start of the range zapped in the stretch
 * @end: its end
 * @details: the zap's details
 *
 * munmap and exit (ZAP_FLAG_UNMAP) detach: the whole stretch when the
 * range covers it, else only the spans in the range, through a PMD table
 * of the mm's own that the caller then walks. Truncation and hole punch
 * zapped the PTE tables under the PMD table already, once for every
 * sharer, through the cache. MADV_DONTNEED detached the shared PMD tables
 * of its range before the zap (__pt_share_dontneed()); one a fault of
 * another thread attached since then stays, and its pages mapped, as if
 * that fault had come after the zap.
 *
 * Return: true if the caller must not walk the PMD table at @pud.
 */
bool __pt_share_zap_pud(struct vm_area_struct *vma, pud_t *pud,
			unsigned long addr, unsigned long end,
			struct zap_details *details)
{
	bool whole = !(addr & ~PUD_MASK) && end - addr == PUD_SIZE;

	if (!pt_share_pud_shared(pudp_get(pud)))
		return false;
	if (!details || !(details->zap_flags & ZAP_FLAG_UNMAP))
		return true;
	pt_share_pud_detach(vma, addr, !whole, false, PT_SHARE_DETACH_UNMAP);
	return !pud_present(pudp_get(pud));
}

/* Does [@start, @end) meet a shared PMD table of @mm? Mmap lock held. */
static bool pt_share_range_meets_pmd(struct mm_struct *mm,
				     unsigned long start, unsigned long end)
{
	unsigned long addr;
	pud_t *pud;

	for (addr = start & PUD_MASK; addr < end; addr += PUD_SIZE) {
		pud = pt_share_find_pud(mm, addr);
		if (pud && pt_share_pud_shared(pudp_get(pud)))
			return true;
	}
	return false;
}

/**
 * __pt_share_dontneed - detach the shared PMD tables MADV_DONTNEED meets
 * @vma: the VMA advised, with the mmap lock held for read
 * @start: start of the range
 * @end: its end, within @vma
 *
 * MADV_DONTNEED holds the mmap lock only for read, under which a fault of
 * another thread may keep a pointer into a shared PMD table: too little
 * to take the PUD entry away. So when the range meets one, drop the lock
 * as userfaultfd_remove() does, take it for write, write-lock the VMA
 * (per-VMA-lock faults) and detach each shared PMD table of the range:
 * a stretch the range covers whole altogether, else through a PMD table
 * of the mm's own, so that only the spans zapped lose their sharing. The
 * caller looks the VMA up again and zaps through the mm's own tables.
 *
 * Return: false if the mmap lock was dropped; it is not held then.
 */
bool __pt_share_dontneed(struct vm_area_struct *vma, unsigned long start,
			 unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr;
	bool whole;

	if (!vma->vm_file || !(vma->vm_flags & VM_MAYSHARE) ||
	    !pt_share_range_meets_pmd(mm, start, end))
		return true;
	mmap_read_unlock(mm);
	if (mmap_write_lock_killable(mm))
		return false;
	vma = vma_lookup(mm, start);
	if (vma) {
		vma_start_write(vma);
		end = min(end, vma->vm_end);
		for (addr = start & PUD_MASK; addr < end; addr += PUD_SIZE) {
			whole = addr >= start && end - addr >= PUD_SIZE;
			pt_share_pud_detach(vma, max(addr, start), !whole, false,
					    PT_SHARE_DETACH_UNMAP);
		}
	}
	mmap_write_unlock(mm);
	return false;
}

/**
 * __pt_share_gup_fast_unmapped - does current's mm still map this PMD table?
 * @pmdp: an entry of a shared PMD table that GUP-fast reached
 * @addr: the address GUP-fast took a page reference for
 *
 * Called with IRQs off, after GUP-fast took its reference (a fully ordered
 * atomic). A detach changes the PUD entry before it flushes, and the table
 * is freed only after an RCU grace period, which the IRQs-off section
 * holds back: a PUD entry read here that still points to the table shows
 * that the reference was taken while the mm mapped the table. This does
 * not rest on the detach's flush waiting for this CPU (a paravirt flush
 * may not send an IPI to a preempted vCPU).
 *
 * Return: true if the PUD entry of @addr no longer points to @pmdp's table.
 */
bool __pt_share_gup_fast_unmapped(pmd_t *pmdp, unsigned long addr)
{
	pgd_t *pgdp = pgd_offset(current->mm, addr), pgd;
	p4d_t *p4dp, p4d;
	pud_t pud;

	pt_share_debug_gup_window();
	pgd = READ_ONCE(*pgdp);
	if (!pgd_present(pgd))
		return true;
	p4dp = p4d_offset_lockless(pgdp, pgd, addr);
	p4d = READ_ONCE(*p4dp);
	if (!p4d_present(p4d))
		return true;
	pud = READ_ONCE(*pud_offset_lockless(p4dp, p4d, addr));
	return !pud_present(pud) || pud_leaf(pud) ||
	       virt_to_ptdesc(pud_pgtable(pud)) != virt_to_ptdesc(pmdp);
}

/**
 * __pt_share_free_pud - page-table freeing meets a shared PMD table
 * @mm: the mm whose tables are freed
 * @pud: the PUD entry
 *
 * Every unmap detached the PMD table before the tables are freed, so this
 * is a bug; but freeing the PMD table would free every sharer's PTE tables
 * too. Detach it instead, as far as the caller's locks allow.
 *
 * Return: true if @pud pointed to a shared PMD table, now cleared.
 */
bool __pt_share_free_pud(struct mm_struct *mm, pud_t *pud)
{
	struct ptdesc *pmd_table;
	struct address_space *mapping;

	if (!pt_share_pud_shared(pudp_get(pud)))
		return false;
	WARN_ON_ONCE(1);
	pmd_table = virt_to_ptdesc(pud_pgtable(pudp_get(pud)));
	mapping = (struct address_space *)pmd_table->__page_mapping;
	pud_clear(pud);
	flush_tlb_mm(mm);
	mm_dec_nr_pmds(mm);
	add_mm_counter(mm, MM_SHMEMPAGES, -(long)PT_SHARE_PMD_PAGES);
	pt_share_uncharge(mm);
	pt_share_pmd_put(mapping->pt_share, pmd_table);
	return true;
}

/**
 * __pt_share_split_pmd_tables - detach every shared PMD table of an mm
 * @mm: the mm, with its mmap lock held for write
 * @cause: the /proc/vmstat counter of the reason
 *
 * Each is replaced by a PMD table of the mm's own that points to the same
 * PTE tables, for a walk that then detaches them one by one (clear_refs).
 */
void __pt_share_split_pmd_tables(struct mm_struct *mm,
				 enum vm_event_item cause)
{
	struct vm_area_struct *vma;
	unsigned long addr;

	VMA_ITERATOR(vmi, mm, 0);
	for_each_vma(vmi, vma) {
		if (!vma->vm_file || !(vma->vm_flags & VM_MAYSHARE))
			continue;
		vma_start_write(vma);
		for (addr = vma->vm_start & PUD_MASK; addr < vma->vm_end;
		     addr += PUD_SIZE) {
			pt_share_pud_detach(vma, addr, true, false, cause);
			if (addr + PUD_SIZE < addr)
				break;
		}
	}
}

#include "pt_share_pmd-kunit.h"
