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
 *    userfaultfd registration, clear_refs and mmu notifier registration
 *    clear this mm's pmd, wait for rmap walkers holding the table's lock,
 *    flush this mm (paging-structure caches included) and only then drop
 *    the table's share count. So when the count reaches zero no mm can
 *    reach the table any more, in page tables or TLBs, and the last putter
 *    zaps the entries and frees the table after an RCU grace period
 *    (GUP-fast and lockless pte walkers).
 *  - An attached VMA's flags and protection are its table's variant's:
 *    every change of them (vma_modify(), a merge across VM_SOFTDIRTY,
 *    clear_refs) detaches first, with the VMA write-locked. Entries are
 *    built from the variant's protection all the same, so that no walk
 *    through a VMA that is changing can carry that VMA's view to others.
 *  - No per-mm walker writes into a shared table: it detaches (clear_refs)
 *    or skips tables other mms share (MADV_COLD/PAGEOUT, NUMA hinting).
 *    The per-mm zap and mprotect paths check again under the table lock.
 *  - Rmap-driven changes ("O": reclaim, migration, compaction, NUMA
 *    balancing) clear an entry once in the shared table and flush only
 *    the mms attached to it, each at the address it maps the table at:
 *    into the caller's batch (current->tlb_ubc) when it batches, at once
 *    otherwise. The attach sets an mm's pmd and the detach clears it and
 *    flushes, both under the table's lock, so a holder of that lock finds
 *    every mm that may cache an entry by walking the file's i_mmap tree
 *    (pt_share_visit_sharers()). Truncate and hole punch zap the cached
 *    tables directly, one at a time, before the per-VMA walk, and flush
 *    the sharers of each table once. folio_mkclean() never reaches a
 *    shared table: shmem has no writeback, so it never cleans a shmem
 *    folio; regular files will need the same clear-once path there.
 *    Entries belong to no VMA: they are zapped through a stand-in VMA and
 *    mm, never a sharer's.
 *
 * Accounting: attaching adds one table to the mm's nr_ptes and the whole
 * span (PTRS_PER_PTE pages) to its MM_SHMEMPAGES; detaching undoes exactly
 * that. Entries set or cleared inside a shared table move no mm counter.
 * memcg: each attachment is charged one page table to the mm's memcg (the
 * one its first attachment came from); the table page is charged to none.
 *
 * Lock order: i_mmap_rwsem -> cache lock (xa_lock of pt_share_cache.tables)
 * -> pmd lock -> pte table lock. The cache lock is never taken under a pte
 * table lock. The attach and the detach take the table lock inside the pmd
 * lock; a flush of the sharers runs under the table lock and the i_mmap
 * lock of the rmap walk or truncation that holds it.
 */

#define pr_fmt(fmt) "pt_share: " fmt

#include <linux/init.h>
#include <linux/kstrtox.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/pgalloc.h>
#include <linux/pkeys.h>
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

/*
 * Distinct protections per file that may share, in two pools: mappings that
 * may write the file (VM_MAYWRITE) take variants from the first pool, the
 * others from the second. An opener without write access can only fill the
 * second pool, so no combination of read-only mappings keeps writers from
 * sharing. A variant's slot is free again once no table of it is cached.
 * A mapping that finds its pool full just does not share.
 */
#define PT_SHARE_POOL_VARIANTS	4
#define PT_SHARE_MAX_VARIANTS	(2 * PT_SHARE_POOL_VARIANTS)

/* VMA flags that shape the PTEs a fault installs, beyond vm_page_prot. */
#define PT_SHARE_VARIANT_FLAGS	(VM_READ | VM_WRITE | VM_EXEC | VM_MAYWRITE)

/*
 * A protection variant: the vm_page_prot and flags every entry of its tables
 * is built from, whichever VMA a fault or an rmap walk comes through. Both
 * are set while the slot is free (no table of it cached) and then stay, so
 * they may be read without the cache lock by whoever holds a table of it.
 */
struct pt_share_variant {
	pgprot_t prot;
	vm_flags_t flags;
	unsigned int nr_tables;
};

/**
 * struct pt_share_cache - the shared PTE tables of one address_space
 * @tables: key (table number * PT_SHARE_MAX_VARIANTS + variant) -> ptdesc.
 *          Its xa_lock is the cache lock; it also protects @variants.
 * @variants: the protection variants, indexed by variant id; a slot with
 *            no cached table (nr_tables == 0) is free.
 *
 * A table is in @tables exactly while its pt_share_count is non-zero.
 */
struct pt_share_cache {
	struct xarray tables;
	struct pt_share_variant variants[PT_SHARE_MAX_VARIANTS];
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

/*
 * Called with the cache lock held. Returns the id of @vma's variant, which
 * the caller must give a table (nr_tables) before dropping the lock if the
 * slot was free, or -1 if the pool is full.
 */
static int pt_share_variant_id(struct pt_share_cache *cache,
			       struct vm_area_struct *vma)
{
	vm_flags_t flags = vma->vm_flags & PT_SHARE_VARIANT_FLAGS;
	pgprot_t prot = vma->vm_page_prot;
	unsigned int i, first = flags & VM_MAYWRITE ? 0 : PT_SHARE_POOL_VARIANTS;
	struct pt_share_variant *v;
	int free = -1;

	for (i = first; i < first + PT_SHARE_POOL_VARIANTS; i++) {
		v = &cache->variants[i];
		if (!v->nr_tables) {
			if (free < 0)
				free = i;
			continue;
		}
		if (pgprot_val(v->prot) == pgprot_val(prot) && v->flags == flags)
			return i;
	}
	if (free >= 0) {
		cache->variants[free].prot = prot;
		cache->variants[free].flags = flags;
	}
	return free;
}

static inline unsigned long pt_share_key(unsigned long index, int variant)
{
	return (index / PTRS_PER_PTE) * PT_SHARE_MAX_VARIANTS + variant;
}

static inline unsigned int pt_share_key_variant(unsigned long key)
{
	return key % PT_SHARE_MAX_VARIANTS;
}

/* The file index of the first page the table at @key maps. */
static inline pgoff_t pt_share_key_index(unsigned long key)
{
	return key / PT_SHARE_MAX_VARIANTS * PTRS_PER_PTE;
}

/*
 * The entries [*from, *to) of the table at @key that map file indices
 * [first, last]; the table's range must overlap it.
 */
static void pt_share_entry_range(unsigned long key, pgoff_t first,
				 pgoff_t last, unsigned int *from,
				 unsigned int *to)
{
	pgoff_t base = pt_share_key_index(key);

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

/*
 * Add every mm attached to @table to the caller's batch for the cleared
 * entry @pteval at index @i, and flush the batch unless @batch: one IPI
 * per CPU that runs a sharer, not one per sharer. The caller holds the
 * table's lock and the i_mmap lock.
 */
static void pt_share_flush_sharers(struct ptdesc *table, unsigned int i,
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

/* ---------------------------------------------------------------------- */
/* Zapping entries that belong to no VMA                                   */
/* ---------------------------------------------------------------------- */

/*
 * The entries of a shared table belong to no one VMA, and whoever zaps them
 * (truncation, the last detach) must not act as any sharer's VMA: the rmap
 * removal looks at the VMA only for VM_LOCKED, which would munlock a folio
 * another mm has locked, and page_table_check needs an mm other than
 * init_mm to count the unmapping. These stand in for both; nothing else
 * reads them. No shared table is ever VM_LOCKED: such mappings do not share.
 */
static struct mm_struct pt_share_rmap_mm;
static struct vm_area_struct pt_share_rmap_vma = {
	.vm_mm = &pt_share_rmap_mm,
};

/*
 * The folios whose entries a zap cleared, held until no TLB maps them: a
 * table's worth when the caller could allocate that, so that the sharers
 * are flushed once per table, or a few on the stack.
 */
struct pt_share_zap {
	struct folio **folios;
	unsigned int nr, max;
};

#define PT_SHARE_ZAP_STACK	16

/*
 * Clear the entries [from, to) of @table. With @flush, the table may still
 * have sharers: flush them before the folios are released; the caller holds
 * the file's i_mmap lock. Without, no mm can reach the table any more.
 */
static void pt_share_zap_table(struct ptdesc *table, unsigned int from,
			       unsigned int to, struct pt_share_zap *zap,
			       bool flush)
{
	struct mm_struct *mm = &pt_share_rmap_mm;
	pte_t *base = ptdesc_address(table);
	spinlock_t *ptl = ptlock_ptr(table);
	pte_t cleared = __pte(0);	/* a present entry cleared since the last flush */
	unsigned int i, first = to;

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
		if (zap->nr == zap->max) {
			/* Full: the folios may go once no TLB maps them. */
			if (flush)
				pt_share_flush_sharers(table, first, cleared,
						       false);
			release_pages(zap->folios, zap->nr);
			zap->nr = 0;
			first = to;
		}
		pte = ptep_get_and_clear(mm, 0, base + i);
		cleared = pte;
		first = min(first, i);
		page = pte_page(pte);
		folio = page_folio(page);
		if (pte_dirty(pte))
			folio_mark_dirty(folio);
		if (pte_young(pte))
			folio_mark_accessed(folio);
		folio_remove_rmap_pte(folio, page, &pt_share_rmap_vma);
		zap->folios[zap->nr++] = folio;
	}
	if (flush && zap->nr)
		pt_share_flush_sharers(table, first, cleared, false);
	spin_unlock(ptl);
	release_pages(zap->folios, zap->nr);
	zap->nr = 0;
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
static void pt_share_table_release(struct ptdesc *table)
{
	struct folio *folios[PT_SHARE_ZAP_STACK];
	struct pt_share_zap zap = {
		.folios = folios,
		.max = ARRAY_SIZE(folios),
	};

	pt_share_zap_table(table, 0, PTRS_PER_PTE, &zap, false);
	table->__page_mapping = 0;
	table->pt_share_key = 0;
	count_vm_event(PT_SHARE_TABLE_FREE);
	call_rcu(&table->pt_rcu_head, pt_share_free_rcu);
}

/* Drop one share of @table, which belongs to @cache. */
static void pt_share_put(struct pt_share_cache *cache, struct ptdesc *table)
{
	bool last;

	xa_lock(&cache->tables);
	last = atomic_dec_and_test(&table->pt_share_count);
	if (last) {
		__xa_erase(&cache->tables, table->pt_share_key);
		/* The last table of a variant frees its slot. */
		cache->variants[pt_share_key_variant(table->pt_share_key)].nr_tables--;
	}
	xa_unlock(&cache->tables);
	if (last)
		pt_share_table_release(table);
}

/* ---------------------------------------------------------------------- */
/* memcg: every attachment pays for its table                              */
/* ---------------------------------------------------------------------- */

#ifdef CONFIG_MEMCG
/*
 * The charge rule (Documentation/admin-guide/mm/pt_share.rst): each
 * attachment is charged one page table, as the table it stands for would be
 * without sharing, to the memcg the mm made its first attachment from, and
 * uncharged when it detaches. The shared table page itself is charged to no
 * memcg. So a memcg pays for exactly the tables its mms use, whoever
 * allocated them, and for none once they detach. Charging one objcg per mm
 * keeps the uncharge on the memcg that was charged when a task moves to
 * another cgroup, as the kernel's other charges do.
 */

/* mm->pt_share_objcg after a first attachment that had no memcg to charge. */
#define PT_SHARE_UNCHARGED	((struct obj_cgroup *)1UL)

static struct obj_cgroup *pt_share_mm_objcg(struct mm_struct *mm)
{
	struct obj_cgroup *objcg = READ_ONCE(mm->pt_share_objcg);
	struct obj_cgroup *old;

	if (objcg)
		return objcg;
	objcg = get_obj_cgroup_from_current() ?: PT_SHARE_UNCHARGED;
	old = cmpxchg(&mm->pt_share_objcg, NULL, objcg);
	if (old) {
		if (objcg != PT_SHARE_UNCHARGED)
			obj_cgroup_put(objcg);
		objcg = old;
	}
	return objcg;
}

/*
 * An attachment's charge comes from the table the fault preallocated: the
 * caller charged that page to the faulting task, with reclaim, before it
 * locked the folio, and it either becomes the shared table, which is
 * charged to no memcg, or is freed unused. So the page's charge is dropped
 * and the attachment charged instead, forced, without reclaim here
 * (fault-around holds the RCU read lock): it replaces the charge just
 * dropped, of the same memcg unless the task moved since the mm's first
 * attachment or faults another mm. The memcg thus pays one table per
 * attachment, as without sharing. The page's NR_PAGETABLE follows its
 * charge, so that PageTables stays the same.
 */
static void pt_share_uncharge_page(struct page *page)
{
	struct folio *folio = page_folio(page);

	lruvec_stat_sub_folio(folio, NR_PAGETABLE);
	memcg_kmem_uncharge_page(page, 0);
	lruvec_stat_add_folio(folio, NR_PAGETABLE);
}

static void pt_share_charge(struct mm_struct *mm)
{
	struct obj_cgroup *objcg = pt_share_mm_objcg(mm);

	if (objcg != PT_SHARE_UNCHARGED)
		obj_cgroup_charge(objcg, GFP_NOWAIT | __GFP_NOFAIL, PAGE_SIZE);
}

static void pt_share_uncharge(struct mm_struct *mm)
{
	struct obj_cgroup *objcg = READ_ONCE(mm->pt_share_objcg);

	if (!WARN_ON_ONCE(!objcg) && objcg != PT_SHARE_UNCHARGED)
		obj_cgroup_uncharge(objcg, PAGE_SIZE);
}

static void pt_share_mm_put_objcg(struct mm_struct *mm)
{
	struct obj_cgroup *objcg = mm->pt_share_objcg;

	if (objcg && objcg != PT_SHARE_UNCHARGED)
		obj_cgroup_put(objcg);
}
#else
static inline void pt_share_uncharge_page(struct page *page)
{
}

static inline void pt_share_charge(struct mm_struct *mm)
{
}

static inline void pt_share_uncharge(struct mm_struct *mm)
{
}

static inline void pt_share_mm_put_objcg(struct mm_struct *mm)
{
}
#endif

/**
 * __pt_share_mm_free - an mm is freed: drop the memcg its attachments used
 * @mm: the mm; it has no attachment left
 */
void __pt_share_mm_free(struct mm_struct *mm)
{
	pt_share_mm_put_objcg(mm);
	mm->pt_share_objcg = NULL;
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
	struct page *prealloc = vmf->prealloc_pte;
	bool installed = false, created = false;
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
		cache->variants[variant].nr_tables++;
		vmf->prealloc_pte = NULL;
		created = true;
		count_vm_event(PT_SHARE_TABLE_ALLOC);
	}
	xa_unlock(&cache->tables);
	/* A shared table is charged to no memcg, attached or not. */
	if (created)
		pt_share_uncharge_page(prealloc);

	pml = pmd_lock(mm, vmf->pmd);
	if (likely(pmd_none(*vmf->pmd))) {
		mm_inc_nr_ptes(mm);
		add_mm_counter(mm, MM_SHMEMPAGES, PTRS_PER_PTE);
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
	if (installed) {
		/* The unused preallocated table's charge is the attachment's. */
		if (!created)
			pt_share_uncharge_page(prealloc);
		pt_share_charge(mm);
		count_vm_event(PT_SHARE_ATTACH);
	} else {
		pt_share_put(cache, table);
	}
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
	pt_share_put(vma->vm_file->f_mapping->pt_share, table);
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
		__pt_share_unshare_range(r[i], r[i]->vm_start, r[i]->vm_end,
					 PT_SHARE_DETACH_SPLIT);
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
 * between tables.
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
	key = pt_share_key(first, 0);
	last_key = pt_share_key(last, PT_SHARE_MAX_VARIANTS - 1);
	if (last_key < key)
		last_key = ULONG_MAX;
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
		/* Cached means a share count above zero: hold it. */
		if (table)
			atomic_inc(&table->pt_share_count);
		xa_unlock(&cache->tables);
		if (!table)
			break;
		pt_share_entry_range(key, first, last, &from, &to);
		pt_share_zap_table(table, from, to, &zap, true);
		pt_share_put(cache, table);
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
