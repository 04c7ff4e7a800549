// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share idle tables: with vm.pt_share_idle = 1, a table whose last sharer
 * detached stays cached with its entries, so that the next mapper of the
 * span attaches it in one fault, and a memcg- and NUMA-aware shrinker frees
 * idle tables under memory pressure.
 *
 * Rules this file keeps:
 *
 *  - A cached table is idle exactly when its share count is zero, and it is
 *    then on pt_share_idle_lru. Going idle, coming back (an attach reuses
 *    it) and leaving the cache all happen under the cache lock.
 *  - No TLB holds an entry of an idle table: the last detach flushed. So
 *    its entries are cleared with no flush, under the cache lock, which
 *    keeps attachers out.
 *  - An idle table holds present entries or none: the migration entries
 *    and markers a table had when it went idle are cleared then, since no
 *    rmap walk would reach them later.
 *  - An idle table leaves the cache zapped: zap, then erase.
 *  - Everything that must unmap a folio reaches its idle entries, which no
 *    VMA leads to: try_to_unmap() and try_to_migrate() through the file's
 *    cache (here), truncation and hole punch (pt_share_rmap.c), page-cache
 *    invalidation of a clean folio and inode eviction (here).
 *    folio_referenced() does not see them: an idle entry is no process's
 *    reference.
 *  - memcg: an idle table is charged to the memcg the last attachment was
 *    charged to, whose charge it replaces, and sits on that memcg's list of
 *    the LRU, so that memcg's reclaim can free it. An attach that reuses it
 *    drops that charge and charges the attachment. A table whose payer is
 *    unknown (its last share was a truncation's) is freed, not kept.
 *  - The shrinker only trylocks the cache lock, since the LRU lock nests
 *    inside it everywhere else; tables it frees wait for an RCU grace
 *    period like every other.
 *
 * Lock order: see pt_share.c.
 */

#include <linux/list_lru.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/pt_share.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/vmstat.h>
#include <linux/xarray.h>

#include "internal.h"

#include "pt_share_cache.h"

static struct list_lru pt_share_idle_lru;
static bool pt_share_idle_lru_ready;

/**
 * pt_share_idle_ready - can tables be kept idle?
 *
 * Return: true once the idle LRU and its shrinker are set up.
 */
bool pt_share_idle_ready(void)
{
	return READ_ONCE(pt_share_idle_lru_ready);
}

#ifdef CONFIG_MEMCG
/*
 * Charge @table's page to @objcg, forced and without reclaim (the caller
 * holds the cache lock): it stands for the attachment charge the caller
 * just dropped. NR_PAGETABLE moves with the charge, as in
 * pt_share_uncharge_page().
 */
static void pt_share_idle_charge(struct ptdesc *table, struct obj_cgroup *objcg)
{
	struct page *page = ptdesc_page(table);
	struct folio *folio = page_folio(page);
	struct mem_cgroup *old;

	rcu_read_lock();
	old = set_active_memcg(obj_cgroup_memcg(objcg));
	lruvec_stat_sub_folio(folio, NR_PAGETABLE);
	if (memcg_kmem_charge_page(page, GFP_NOWAIT | __GFP_NOFAIL, 0))
		WARN_ON_ONCE(1);
	lruvec_stat_add_folio(folio, NR_PAGETABLE);
	set_active_memcg(old);
	rcu_read_unlock();
}

static bool pt_share_table_charged(struct ptdesc *table)
{
	return folio_memcg_kmem(ptdesc_folio(table));
}
#else
static inline void pt_share_idle_charge(struct ptdesc *table,
					struct obj_cgroup *objcg)
{
}

static inline bool pt_share_table_charged(struct ptdesc *table)
{
	return false;
}
#endif

/* The list of the LRU @table is on: its node's, of the memcg it is charged to. */
static bool pt_share_idle_lru_op(struct ptdesc *table, bool add)
{
	struct page *page = ptdesc_page(table);
	struct mem_cgroup *memcg;
	bool ret = true;

	rcu_read_lock();
	memcg = folio_memcg_check(page_folio(page));
	if (add) {
		/* 6.12's list_lru_add() expects the memcg's list to exist. */
		if (IS_ENABLED(CONFIG_MEMCG) && memcg &&
		    memcg_list_lru_alloc(memcg, &pt_share_idle_lru,
					 GFP_NOWAIT | __GFP_NOWARN))
			ret = false;
		else
			list_lru_add(&pt_share_idle_lru, &table->pt_list,
				     page_to_nid(page), memcg);
	} else {
		list_lru_del(&pt_share_idle_lru, &table->pt_list,
			     page_to_nid(page), memcg);
	}
	rcu_read_unlock();
	if (ret)
		mod_node_page_state(page_pgdat(page), NR_PT_SHARE_IDLE,
				    add ? 1 : -1);
	return ret;
}

/*
 * Clear the entries of @table that map no page: migration entries that a
 * migration through a sharer installed, and markers. The rmap walk that
 * would restore or drop them goes through VMAs, none of which leads to an
 * idle table, so they would outlive the migration; a later attacher would
 * wait on a folio nobody unlocks. Present entries stay: they are the point.
 */
static void pt_share_idle_clear_swap_entries(struct ptdesc *table)
{
	pte_t *base = ptdesc_address(table);
	spinlock_t *ptl = ptlock_ptr(table);
	unsigned int i;
	pte_t pte;

	spin_lock(ptl);
	for (i = 0; i < PTRS_PER_PTE; i++) {
		pte = ptep_get(base + i);
		if (!pte_none(pte) && !pte_present(pte))
			pte_clear(NULL, 0, base + i);
	}
	spin_unlock(ptl);
}

/**
 * pt_share_idle_add - the last share of a table is gone: keep it idle?
 * @table: the table, with its cache's lock held
 * @objcg: the objcg of the mm whose attachment ended, or NULL if no mm's
 *
 * Return: true if @table stays cached, idle; false if the caller must zap
 * and free it.
 */
bool pt_share_idle_add(struct ptdesc *table, struct obj_cgroup *objcg)
{
	bool charged = false;

	if (!READ_ONCE(sysctl_pt_share_idle) || !pt_share_idle_ready())
		return false;
	if (!pt_share_table_charged(table)) {
		/* Nobody to pay for it: the last share was no mm's. */
		if (!objcg)
			return false;
		if (objcg != PT_SHARE_UNCHARGED) {
			pt_share_idle_charge(table, objcg);
			charged = true;
		}
	}
	if (pt_share_idle_lru_op(table, true)) {
		pt_share_idle_clear_swap_entries(table);
		return true;
	}
	if (charged)
		pt_share_uncharge_page(ptdesc_page(table));
	return false;
}

/* Take an idle @table off the LRU; the caller holds the cache lock. */
static void pt_share_idle_del(struct ptdesc *table)
{
	pt_share_idle_lru_op(table, false);
}

/**
 * pt_share_idle_reuse - an attach takes an idle table back
 * @table: the table, whose share count just went from zero to one under
 *         its cache's lock
 *
 * The attachment is charged as any other; the table's own charge goes.
 */
void pt_share_idle_reuse(struct ptdesc *table)
{
	pt_share_idle_del(table);
	if (pt_share_table_charged(table))
		pt_share_uncharge_page(ptdesc_page(table));
	count_vm_event(PT_SHARE_TABLE_REUSE);
}

/**
 * pt_share_idle_zap - clear entries of an idle table
 * @cache: the table's cache, with its lock held
 * @table: the idle table
 * @from: first entry
 * @to: the entry after the last
 * @zap: where the folios wait to be released
 *
 * A range that covers the whole table takes it out of the cache too.
 *
 * Return: true if @table left the cache: the caller frees it once it has
 * dropped the cache lock.
 */
bool pt_share_idle_zap(struct pt_share_cache *cache, struct ptdesc *table,
		       unsigned int from, unsigned int to,
		       struct pt_share_zap *zap)
{
	lockdep_assert_held(&cache->tables.xa_lock);
	pt_share_zap_table(table, from, to, zap, false);
	if (from || to < PTRS_PER_PTE)
		return false;
	pt_share_idle_del(table);
	pt_share_erase(cache, table);
	return true;
}

/*
 * The cache of @folio's file and the entries [*from, *to) that map @folio
 * in each of its tables; NULL if the file shares nothing. Page-cache
 * folios are naturally aligned, so one table per variant maps all of it.
 */
static struct pt_share_cache *pt_share_folio_cache(struct folio *folio,
						   unsigned int *from,
						   unsigned int *to)
{
	struct address_space *mapping = folio->mapping;
	struct pt_share_cache *cache;

	if (!mapping || ((unsigned long)mapping & PAGE_MAPPING_FLAGS))
		return NULL;
	cache = READ_ONCE(mapping->pt_share);
	if (!cache || folio->index > PT_SHARE_MAX_INDEX)
		return NULL;
	*from = folio->index % PTRS_PER_PTE;
	*to = min_t(unsigned long, *from + folio_nr_pages(folio), PTRS_PER_PTE);
	return cache;
}

/* Clear @folio's entries in the idle tables of @cache; cache lock held. */
static void pt_share_idle_zap_folio(struct pt_share_cache *cache,
				    struct folio *folio, unsigned int from,
				    unsigned int to)
{
	struct folio *stack[PT_SHARE_ZAP_STACK];
	struct pt_share_zap zap = { .folios = stack, .max = ARRAY_SIZE(stack) };
	struct ptdesc *table;
	unsigned int v;

	for (v = 0; v < PT_SHARE_MAX_VARIANTS; v++) {
		table = xa_load(&cache->tables, pt_share_key(folio->index, v));
		if (table && pt_share_table_idle(table))
			pt_share_zap_table(table, from, to, &zap, false);
	}
}

/**
 * __pt_share_unmap_idle - clear a folio's entries in idle tables
 * @folio: a locked page-cache folio that the rmap walk left mapped
 */
void __pt_share_unmap_idle(struct folio *folio)
{
	struct pt_share_cache *cache;
	unsigned int from, to;

	cache = pt_share_folio_cache(folio, &from, &to);
	if (!cache)
		return;
	xa_lock(&cache->tables);
	pt_share_idle_zap_folio(cache, folio, from, to);
	xa_unlock(&cache->tables);
}

/**
 * __pt_share_evict_idle - page-cache invalidation: drop a folio's idle entries
 * @folio: a locked, clean page-cache folio that mapping_evict_folio() may
 *         remove from the page cache
 *
 * Without idle tables, the folio is unmapped once its last mapper has gone,
 * and invalidation (drop_caches, POSIX_FADV_DONTNEED) removes it if it is
 * clean. An idle entry is no process's mapping, so it must not keep the
 * folio: clear the folio's idle entries, unless one of them is dirty. Its
 * mapper's unmap would then have made the folio dirty, which invalidation
 * leaves alone, and so does this: the folio becomes dirty, keeps its idle
 * entries and stays. An idle table's entries do not change under the cache
 * lock (no TLB holds them, and attachers wait), so they can be read there.
 */
void __pt_share_evict_idle(struct folio *folio)
{
	struct pt_share_cache *cache;
	unsigned int from, to, i, v;
	struct ptdesc *table;
	pte_t *base, pte;

	cache = pt_share_folio_cache(folio, &from, &to);
	if (!cache)
		return;
	xa_lock(&cache->tables);
	for (v = 0; v < PT_SHARE_MAX_VARIANTS; v++) {
		table = xa_load(&cache->tables, pt_share_key(folio->index, v));
		if (!table || !pt_share_table_idle(table))
			continue;
		base = ptdesc_address(table);
		for (i = from; i < to; i++) {
			pte = ptep_get(base + i);
			if (pte_present(pte) && pte_dirty(pte)) {
				folio_mark_dirty(folio);
				goto out;
			}
		}
	}
	pt_share_idle_zap_folio(cache, folio, from, to);
out:
	xa_unlock(&cache->tables);
}

/**
 * __pt_share_mapping_evict - free the idle tables of an inode being evicted
 * @mapping: the inode's address_space
 *
 * No VMA maps the inode any more, so every table left is idle.
 */
void __pt_share_mapping_evict(struct address_space *mapping)
{
	struct pt_share_cache *cache = mapping->pt_share;
	struct folio *stack[PT_SHARE_ZAP_STACK];
	struct pt_share_zap zap = { .folios = stack, .max = ARRAY_SIZE(stack) };
	unsigned long key = 0;
	struct ptdesc *table;
	bool freed;

	for (;;) {
		xa_lock(&cache->tables);
		/* PTE tables only: no mm maps the file, so no PMD table is left. */
		table = xa_find(&cache->tables, &key, PT_SHARE_PTE_KEY_LAST,
				XA_PRESENT);
		freed = table && !WARN_ON_ONCE(!pt_share_table_idle(table)) &&
			pt_share_idle_zap(cache, table, 0, PTRS_PER_PTE, &zap);
		xa_unlock(&cache->tables);
		if (!table)
			break;
		if (freed)
			pt_share_table_free(table);
		else if (++key > PT_SHARE_PTE_KEY_LAST)
			break;
		cond_resched();
	}
}

/* ---------------------------------------------------------------------- */
/* The shrinker                                                            */
/* ---------------------------------------------------------------------- */

static enum lru_status pt_share_idle_isolate(struct list_head *item,
					     struct list_lru_one *list,
					     spinlock_t *lru_lock, void *arg)
	__must_hold(lru_lock)
{
	struct ptdesc *table = container_of(item, struct ptdesc, pt_list);
	struct address_space *mapping = (void *)table->__page_mapping;
	struct folio *stack[PT_SHARE_ZAP_STACK];
	struct pt_share_zap zap = { .folios = stack, .max = ARRAY_SIZE(stack) };
	struct page *page = ptdesc_page(table);
	struct pt_share_cache *cache;

	/*
	 * The LRU lock pins the cache: eviction takes every table off the
	 * LRU, under that lock, before it frees the cache. Coming from the
	 * LRU, the lock order is inverted: only try the cache lock.
	 */
	cache = mapping->pt_share;
	if (!xa_trylock(&cache->tables))
		return LRU_SKIP;
	if (WARN_ON_ONCE(!pt_share_table_idle(table))) {
		xa_unlock(&cache->tables);
		return LRU_SKIP;
	}
	list_lru_isolate(list, item);
	spin_unlock(lru_lock);

	mod_node_page_state(page_pgdat(page), NR_PT_SHARE_IDLE, -1);
	pt_share_zap_table(table, 0, PTRS_PER_PTE, &zap, false);
	pt_share_erase(cache, table);
	xa_unlock(&cache->tables);
	count_vm_event(PT_SHARE_TABLE_SHRINK);
	pt_share_table_free(table);

	cond_resched();
	spin_lock(lru_lock);
	return LRU_REMOVED_RETRY;
}

static unsigned long pt_share_idle_count(struct shrinker *shrinker,
					 struct shrink_control *sc)
{
	return list_lru_shrink_count(&pt_share_idle_lru, sc);
}

static unsigned long pt_share_idle_scan(struct shrinker *shrinker,
					struct shrink_control *sc)
{
	return list_lru_shrink_walk(&pt_share_idle_lru, sc,
				    pt_share_idle_isolate, NULL);
}

/* Without the LRU and its shrinker, no table is ever kept idle. */
static int __init pt_share_idle_init(void)
{
	struct shrinker *shrinker;

	shrinker = shrinker_alloc(SHRINKER_MEMCG_AWARE | SHRINKER_NUMA_AWARE,
				  "pt_share-idle");
	if (!shrinker)
		return -ENOMEM;
	if (list_lru_init_memcg(&pt_share_idle_lru, shrinker)) {
		shrinker_free(shrinker);
		return -ENOMEM;
	}
	shrinker->count_objects = pt_share_idle_count;
	shrinker->scan_objects = pt_share_idle_scan;
	/* Each idle table saves a sharer up to PTRS_PER_PTE faults. */
	shrinker->seeks = DEFAULT_SEEKS;
	shrinker_register(shrinker);
	WRITE_ONCE(pt_share_idle_lru_ready, true);
	return 0;
}

/* After the memcg and shrinker code it uses is set up. */
module_init(pt_share_idle_init);
