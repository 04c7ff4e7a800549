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
#include <linux/pgalloc.h>
#include <linux/pt_share.h>
#include <linux/rcupdate.h>
#include <linux/xarray.h>

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
		pt_share_put(cache, table, NULL);
	}
	pmd_table->__page_mapping = 0;
	pmd_table->pt_share_key = 0;
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

#include "pt_share_pmd-kunit.h"
