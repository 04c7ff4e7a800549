// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share: page-table sharing for MAP_SHARED file mappings.
 *
 * A shmem address_space caches the PTE tables that map it, keyed by the
 * file index of the table's first page and by protection variant. An
 * eligible VMA that faults on a pmd_none() span attaches to the cached
 * table (allocating it if absent) instead of installing a private one, so
 * every process mapping the file shares the entries, as threads do.
 * See Documentation/admin-guide/mm/pt_share.rst for the user view.
 *
 * The code is split by concern, with one internal header, pt_share_cache.h:
 *
 *  - pt_share.c: the switches (sysctls, static keys), the cache and its
 *    protection variants, the life of a table (the last share zaps it and
 *    frees it), and the memcg charge of attachments;
 *  - pt_share_attach.c: eligibility, attach, and the detach that every
 *    change of one mm's own view makes;
 *  - pt_share_rmap.c: what reaches a table through the file rather than
 *    through one mm (reclaim, migration, truncation): it changes the entry
 *    once and flushes the sharers;
 *  - pt_share_idle.c: idle tables, kept with their entries after the last
 *    sharer left, their LRU and the shrinker that frees them;
 *  - pt_share_pmd.c: shared PMD tables, each of which points to the shared
 *    PTE tables of one PUD_SIZE stretch of the file.
 *
 * Rules this file keeps:
 *
 *  - A table is in its cache while its share count is non-zero, or while
 *    it is idle (count zero, on the idle LRU). The count is changed only
 *    under the cache lock when it may reach or leave zero. When it reaches
 *    zero no mm can reach the table any more, in page tables or TLBs
 *    (every detach flushes before it drops its share), so the last putter
 *    keeps it idle or zaps it, erases it and frees it after an RCU grace
 *    period (GUP-fast and lockless pte walkers).
 *  - A table leaves the cache zapped: zap, then erase, under the cache
 *    lock.
 *  - Entries belong to no VMA: they are zapped through a stand-in VMA and
 *    mm, never a sharer's.
 *  - A variant's protection and flags are set while its slot is free and
 *    then stay until its last table leaves the cache.
 *
 * Accounting: attaching adds one table to the mm's nr_ptes and the whole
 * span (PTRS_PER_PTE pages) to its MM_SHMEMPAGES; detaching undoes exactly
 * that. Entries set or cleared inside a shared table move no mm counter.
 * memcg: each attachment is charged one page table to the mm's memcg (the
 * one its first attachment came from); the table page is charged to none.
 *
 * Lock order: i_mmap_rwsem -> cache lock (xa_lock of pt_share_cache.tables)
 * -> pmd lock -> pte table lock, and cache lock -> list_lru lock of the
 * idle LRU (whose shrinker only trylocks the cache lock). The cache lock is never taken under a pte
 * table lock. The attach and the detach take the table lock inside the pmd
 * lock; a flush of the sharers runs under the table lock and the i_mmap
 * lock of the rmap walk or truncation that holds it.
 */

#define pr_fmt(fmt) "pt_share: " fmt

#include <linux/init.h>
#include <linux/kstrtox.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pgalloc.h>
#include <linux/pt_share.h>
#include <linux/rmap.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/sysctl.h>
#include <linux/xarray.h>

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
/* vm.pt_share_idle: 1 keeps tables whose last sharer left (default 0). */
unsigned int sysctl_pt_share_idle;
/* vm.pt_share_min_bytes: mappings shorter than this never share. */
unsigned long sysctl_pt_share_min_bytes = PT_SHARE_MIN_BYTES_DEFAULT;

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

/*
 * The 0/1 switches, vm.pt_share and vm.pt_share_idle: a read is
 * proc_douintvec()'s; a write must be exactly 0 or 1, into *@val. The
 * caller applies *@val only if this returned 0 for a write.
 */
static int pt_share_switch_io(const struct ctl_table *table, int write,
			      void *buffer, size_t *lenp, loff_t *ppos,
			      unsigned long *val)
{
	if (!write)
		return proc_douintvec(table, write, buffer, lenp, ppos);
	return pt_share_sysctl_write(buffer, lenp, ppos, 0, 1, val);
}

static int pt_share_sysctl_handler(const struct ctl_table *table, int write,
				   void *buffer, size_t *lenp, loff_t *ppos)
{
	unsigned long val;
	int ret;

	ret = pt_share_switch_io(table, write, buffer, lenp, ppos, &val);
	if (ret || !write)
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

static int pt_share_idle_handler(const struct ctl_table *table, int write,
				 void *buffer, size_t *lenp, loff_t *ppos)
{
	unsigned long val;
	int ret;

	ret = pt_share_switch_io(table, write, buffer, lenp, ppos, &val);
	if (ret || !write)
		return ret;
	/* Without its LRU and shrinker, nothing could free idle tables. */
	if (val && !pt_share_idle_ready())
		return -ENOMEM;
	/* Off keeps no new idle table; the shrinker frees the ones kept. */
	WRITE_ONCE(sysctl_pt_share_idle, val);
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
		.procname	= "pt_share_idle",
		.data		= &sysctl_pt_share_idle,
		.maxlen		= sizeof(sysctl_pt_share_idle),
		.mode		= 0644,
		.proc_handler	= pt_share_idle_handler,
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

/* VMA flags that shape the PTEs a fault installs, beyond vm_page_prot. */
#define PT_SHARE_VARIANT_FLAGS	(VM_READ | VM_WRITE | VM_EXEC | VM_MAYWRITE)

/**
 * pt_share_cache_get - the pt_share cache of @mapping, made if need be
 * @mapping: a shmem address_space
 *
 * Does not sleep: fault-around calls it under rcu_read_lock().
 *
 * Return: the cache, or NULL if there is none and none could be allocated.
 */
struct pt_share_cache *pt_share_cache_get(struct address_space *mapping)
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

/**
 * pt_share_variant_id - the protection variant of @vma in @cache
 * @cache: the cache of @vma's file, with its lock held
 * @vma: a VMA that may share
 *
 * A free slot is set to @vma's protection; the caller must give it a table
 * (nr_tables) before it drops the cache lock.
 *
 * Return: the variant id, or -1 if @vma's pool is full.
 */
int pt_share_variant_id(struct pt_share_cache *cache,
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

/**
 * pt_share_zap_table - clear entries of a shared table, as no VMA
 * @table: the table
 * @from: first entry
 * @to: the entry after the last
 * @zap: where the folios wait for the flush; empty on return
 * @flush: the table may still have sharers: flush them before the folios
 *         are released; the caller holds the file's i_mmap lock. Without,
 *         no mm can reach the table any more.
 */
void pt_share_zap_table(struct ptdesc *table, unsigned int from,
			unsigned int to, struct pt_share_zap *zap, bool flush)
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

/**
 * pt_share_table_free - free a table that left its cache
 * @table: the table, zapped and erased: no page table, TLB or cache
 *         references it any more
 *
 * GUP-fast and lockless pte walkers may still be looking, so the page is
 * freed after an RCU grace period.
 */
void pt_share_table_free(struct ptdesc *table)
{
	table->__page_mapping = 0;
	table->pt_share_key = 0;
	count_vm_event(PT_SHARE_TABLE_FREE);
	call_rcu(&table->pt_rcu_head, pt_share_free_rcu);
}

/* Zap and free a table that nothing can reach any more (and KUnit's). */
static void pt_share_table_release(struct ptdesc *table)
{
	struct folio *folios[PT_SHARE_ZAP_STACK];
	struct pt_share_zap zap = {
		.folios = folios,
		.max = ARRAY_SIZE(folios),
	};

	pt_share_zap_table(table, 0, PTRS_PER_PTE, &zap, false);
	pt_share_table_free(table);
}

/**
 * pt_share_erase - take a zapped table out of its cache
 * @cache: the cache, with its lock held
 * @table: the table, with no share and no entry left
 *
 * The last table of a variant frees the variant's slot.
 */
void pt_share_erase(struct pt_share_cache *cache, struct ptdesc *table)
{
	lockdep_assert_held(&cache->tables.xa_lock);
	__xa_erase(&cache->tables, table->pt_share_key);
	cache->variants[pt_share_key_variant(table->pt_share_key)].nr_tables--;
}

/**
 * pt_share_put - drop one share of a table
 * @cache: the cache @table belongs to
 * @table: the table
 * @mm: the mm whose attachment ends, or NULL for a share taken by no mm
 *
 * The last share leaves the table idle, charged to @mm's memcg, if idle
 * tables are kept; otherwise it zaps the table, takes it out of the cache
 * and frees it. Zap, then erase, both under the cache lock: until a table
 * is erased, truncation and the rmap find it, so no folio it maps can be
 * taken out of the page cache behind its back. The zap needs no flush:
 * the last detach flushed the last mm.
 */
void pt_share_put(struct pt_share_cache *cache, struct ptdesc *table,
		  struct mm_struct *mm)
{
	struct obj_cgroup *objcg = mm ? pt_share_mm_objcg(mm) : NULL;
	struct folio *folios[PT_SHARE_ZAP_STACK];
	struct pt_share_zap zap = {
		.folios = folios,
		.max = ARRAY_SIZE(folios),
	};
	bool freed = false;

	xa_lock(&cache->tables);
	if (atomic_dec_and_test(&table->pt_share_count) &&
	    !pt_share_idle_add(table, objcg)) {
		pt_share_zap_table(table, 0, PTRS_PER_PTE, &zap, false);
		pt_share_erase(cache, table);
		freed = true;
	}
	xa_unlock(&cache->tables);
	if (freed) {
		/* The selftests check that nothing is left to do here. */
		pt_share_debug_put_window();
		pt_share_table_free(table);
	}
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

/**
 * pt_share_mm_objcg - the objcg @mm's attachments are charged to
 * @mm: the mm
 *
 * The first call, at the mm's first attachment, takes the current task's.
 *
 * Return: the objcg, or PT_SHARE_UNCHARGED for an mm that pays nothing.
 */
struct obj_cgroup *pt_share_mm_objcg(struct mm_struct *mm)
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

/**
 * pt_share_uncharge_page - a preallocated table page becomes uncharged
 * @page: the page the fault preallocated and charged
 *
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
void pt_share_uncharge_page(struct page *page)
{
	struct folio *folio = page_folio(page);

	lruvec_stat_sub_folio(folio, NR_PAGETABLE);
	memcg_kmem_uncharge_page(page, 0);
	lruvec_stat_add_folio(folio, NR_PAGETABLE);
}

/**
 * pt_share_charge - charge a new attachment of @mm
 * @mm: the mm that attached
 */
void pt_share_charge(struct mm_struct *mm)
{
	struct obj_cgroup *objcg = pt_share_mm_objcg(mm);

	if (objcg != PT_SHARE_UNCHARGED)
		obj_cgroup_charge(objcg, GFP_NOWAIT | __GFP_NOFAIL, PAGE_SIZE);
}

/**
 * pt_share_uncharge - uncharge an attachment of @mm that ends
 * @mm: the mm that detached
 */
void pt_share_uncharge(struct mm_struct *mm)
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

/**
 * pt_share_mapping_destroy - free the pt_share cache of an evicted inode
 * @mapping: the inode's address_space
 *
 * No mm maps an inode that is being destroyed, and eviction freed its idle
 * tables (pt_share_mapping_evict()), so the cache is empty by now.
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
