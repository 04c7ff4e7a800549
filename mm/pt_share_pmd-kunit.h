/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for pt_share's PMD level: the keys of shared PMD tables, the
 * release of the last share of one (its PTE tables lose the share it held,
 * and it is freed only after an RCU grace period), and the count of mms
 * that reach an entry through both levels. Included at the end of
 * mm/pt_share_pmd.c so that it can reach static functions.
 *
 * The tables here belong to no mm and no file: a zeroed address_space
 * stands for the file, its cache is empty but for the test's tables, and
 * the PTE tables hold no entry.
 */
#ifdef CONFIG_PT_SHARE_KUNIT_TEST

#include <kunit/test.h>

static void pt_share_pmd_test_key(struct kunit *test)
{
	unsigned long last_pte_key, key;

	/* Every index of a stretch gives its key, for each variant. */
	KUNIT_EXPECT_EQ(test, pt_share_pmd_key(0, 3),
			pt_share_pmd_key(PT_SHARE_PMD_PAGES - 1, 3));
	KUNIT_EXPECT_EQ(test, pt_share_pmd_key(0, 0) + PT_SHARE_MAX_VARIANTS,
			pt_share_pmd_key(PT_SHARE_PMD_PAGES, 0));
	/* Above every key of a PTE table, the last file index's included. */
	last_pte_key = pt_share_key(PT_SHARE_MAX_INDEX,
				    PT_SHARE_MAX_VARIANTS - 1);
	KUNIT_EXPECT_LE(test, last_pte_key, PT_SHARE_PTE_KEY_LAST);
	KUNIT_EXPECT_GT(test, pt_share_pmd_key(0, 0), PT_SHARE_PTE_KEY_LAST);
	/* What the ptdesc keeps fits its 32 bits, and names the variant. */
	KUNIT_EXPECT_LE(test, pt_share_pmd_key(PT_SHARE_MAX_INDEX,
					       PT_SHARE_MAX_VARIANTS - 1) -
			PT_SHARE_PMD_KEY_BASE, (unsigned long)U32_MAX);
	key = pt_share_pmd_key(7 * PT_SHARE_PMD_PAGES, 5);
	KUNIT_EXPECT_EQ(test, 5,
			pt_share_key_variant(key - PT_SHARE_PMD_KEY_BASE));
	/* The PTE table of each 2 MiB of a stretch has its own entry. */
	KUNIT_EXPECT_EQ(test, 0, pt_share_pmd_entry(PT_SHARE_PMD_PAGES));
	KUNIT_EXPECT_EQ(test, 1, pt_share_pmd_entry(PTRS_PER_PTE));
	KUNIT_EXPECT_EQ(test, PTRS_PER_PMD - 1,
			pt_share_pmd_entry(PT_SHARE_PMD_PAGES - 1));
}

struct pt_share_pmd_fixture {
	struct address_space *mapping;
	struct pt_share_cache *cache;
	struct vm_area_struct *vma;
	struct file *file;
};

static void pt_share_pmd_fixture_init(struct kunit *test,
				      struct pt_share_pmd_fixture *f)
{
	f->mapping = kunit_kzalloc(test, sizeof(*f->mapping), GFP_KERNEL);
	f->cache = kunit_kzalloc(test, sizeof(*f->cache), GFP_KERNEL);
	f->vma = kunit_kzalloc(test, sizeof(*f->vma), GFP_KERNEL);
	f->file = kunit_kzalloc(test, sizeof(*f->file), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f->mapping);
	KUNIT_ASSERT_NOT_NULL(test, f->cache);
	KUNIT_ASSERT_NOT_NULL(test, f->vma);
	KUNIT_ASSERT_NOT_NULL(test, f->file);
	xa_init(&f->cache->tables);
	f->mapping->pt_share = f->cache;
	f->file->f_mapping = f->mapping;
	f->vma->vm_file = f->file;
	vm_flags_init(f->vma, VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE |
			      VM_SHARED | VM_MAYSHARE);
}

/* A shared PTE table of @f's file for @index, with @count shares. */
static struct ptdesc *pt_share_pmd_test_table(struct kunit *test,
					      struct pt_share_pmd_fixture *f,
					      pgoff_t index, int count)
{
	struct ptdesc *table;
	unsigned long key;
	struct page *page;
	int variant;

	xa_lock(&f->cache->tables);
	variant = pt_share_variant_id(f->cache, f->vma);
	xa_unlock(&f->cache->tables);
	KUNIT_ASSERT_GE(test, variant, 0);
	key = pt_share_key(index, variant);
	page = pte_alloc_one(&init_mm);
	KUNIT_ASSERT_NOT_NULL(test, page);
	/* Its free counts one; keep alloc - free (live tables) exact. */
	count_vm_event(PT_SHARE_TABLE_ALLOC);
	table = page_ptdesc(page);
	table->pt_share_key = key;
	INIT_LIST_HEAD(&table->pt_list);
	table->__page_mapping = (unsigned long)f->mapping;
	atomic_set(&table->pt_share_count, count);
	KUNIT_ASSERT_FALSE(test, xa_is_err(xa_store(&f->cache->tables, key,
						    table, GFP_KERNEL)));
	f->cache->variants[variant].nr_tables++;
	return table;
}

/* Point the entry of @pmd_table for @table's span at it, with a share. */
static void pt_share_pmd_test_link(struct ptdesc *pmd_table,
				   struct ptdesc *table)
{
	pgoff_t index = pt_share_key_index(table->pt_share_key);
	pmd_t *pmd = (pmd_t *)ptdesc_address(pmd_table) +
		     pt_share_pmd_entry(index);

	atomic_inc(&table->pt_share_count);
	pmd_populate(&init_mm, pmd, ptdesc_page(table));
}

static struct ptdesc *pt_share_pmd_test_get(struct kunit *test,
					    struct pt_share_pmd_fixture *f,
					    pgoff_t index)
{
	struct ptdesc *prealloc, *pmd_table;
	pmd_t *pmd;

	pmd = pmd_alloc_one(&init_mm, 0);
	KUNIT_ASSERT_NOT_NULL(test, pmd);
	prealloc = virt_to_ptdesc(pmd);
	pmd_table = pt_share_pmd_get(f->cache, f->vma, index, &prealloc);
	KUNIT_EXPECT_PTR_EQ(test, virt_to_ptdesc(pmd), pmd_table);
	KUNIT_EXPECT_NULL(test, prealloc);
	return pmd_table;
}

/*
 * The last share of P: P leaves the cache at once, its PTE tables lose
 * the share it held and stay cached while they have others, and P is
 * freed only after a grace period, as its PTE tables are.
 */
static void pt_share_pmd_test_release(struct kunit *test)
{
	struct pt_share_pmd_fixture f;
	struct ptdesc *pmd_table, *table, *again;
	struct page *page;
	pmd_t *pmd;
	bool freed_early;

	pt_share_pmd_fixture_init(test, &f);
	/* The second PTE table of the second GiB, held by one mm too. */
	table = pt_share_pmd_test_table(test, &f, PT_SHARE_PMD_PAGES +
					PTRS_PER_PTE, 1);
	pmd_table = pt_share_pmd_test_get(test, &f, PT_SHARE_PMD_PAGES + 5);
	KUNIT_ASSERT_NOT_NULL(test, pmd_table);
	KUNIT_EXPECT_EQ(test, 2, f.cache->variants[0].nr_tables);
	pt_share_pmd_test_link(pmd_table, table);
	KUNIT_EXPECT_EQ(test, 2, atomic_read(&table->pt_share_count));

	/* A second mm finds the same P; no new table is used. */
	pmd = pmd_alloc_one(&init_mm, 0);
	KUNIT_ASSERT_NOT_NULL(test, pmd);
	again = virt_to_ptdesc(pmd);
	KUNIT_EXPECT_PTR_EQ(test, pmd_table,
			    pt_share_pmd_get(f.cache, f.vma,
					     2 * PT_SHARE_PMD_PAGES - 1,
					     &again));
	KUNIT_EXPECT_PTR_EQ(test, virt_to_ptdesc(pmd), again);
	pmd_free(&init_mm, pmd);
	KUNIT_EXPECT_EQ(test, 2, atomic_read(&pmd_table->pt_share_count));
	pt_share_pmd_put(f.cache, pmd_table);
	KUNIT_EXPECT_PTR_EQ(test, pmd_table,
			    xa_load(&f.cache->tables,
				    pt_share_pmd_key(PT_SHARE_PMD_PAGES, 0)));

	/* Our reference keeps the struct page ours to look at. */
	page = ptdesc_page(pmd_table);
	get_page(page);
	rcu_read_lock();
	pt_share_pmd_put(f.cache, pmd_table);
	freed_early = !PageTable(page);
	rcu_read_unlock();
	KUNIT_EXPECT_FALSE_MSG(test, freed_early,
			       "PMD table freed inside an RCU read-side section");
	KUNIT_EXPECT_NULL(test, xa_load(&f.cache->tables,
					pt_share_pmd_key(PT_SHARE_PMD_PAGES,
							 0)));
	KUNIT_EXPECT_EQ(test, 1, atomic_read(&table->pt_share_count));
	KUNIT_EXPECT_EQ(test, 1, f.cache->variants[0].nr_tables);
	rcu_barrier();
	KUNIT_EXPECT_FALSE_MSG(test, PageTable(page),
			       "PMD table not freed after a grace period");
	put_page(page);

	/* The mm's own share was the last: the PTE table goes too. */
	pt_share_put(f.cache, table, NULL);
	KUNIT_EXPECT_TRUE(test, xa_empty(&f.cache->tables));
	KUNIT_EXPECT_EQ(test, 0, f.cache->variants[0].nr_tables);
	rcu_barrier();
	xa_destroy(&f.cache->tables);
}

/*
 * An entry of T is seen by the mms attached to T itself and by those
 * attached to the P that points to T, which holds one share of T for
 * them all.
 */
static void pt_share_pmd_test_sharers(struct kunit *test)
{
	struct pt_share_pmd_fixture f;
	struct ptdesc *pmd_table, *table, *other;
	int i;

	pt_share_pmd_fixture_init(test, &f);
	/* Two mms attached to T directly. */
	table = pt_share_pmd_test_table(test, &f, 0, 2);
	/* T of the next span, which P does not point to. */
	other = pt_share_pmd_test_table(test, &f, PTRS_PER_PTE, 1);
	KUNIT_EXPECT_EQ(test, 2, pt_share_table_sharers(f.cache, table));

	pmd_table = pt_share_pmd_test_get(test, &f, 0);
	KUNIT_ASSERT_NOT_NULL(test, pmd_table);
	/* P is cached but does not point to T yet. */
	KUNIT_EXPECT_EQ(test, 2, pt_share_table_sharers(f.cache, table));
	pt_share_pmd_test_link(pmd_table, table);
	/* Two direct, one through P. */
	KUNIT_EXPECT_EQ(test, 3, pt_share_table_sharers(f.cache, table));
	for (i = 0; i < 3; i++)
		atomic_inc(&pmd_table->pt_share_count);
	KUNIT_EXPECT_EQ(test, 6, pt_share_table_sharers(f.cache, table));
	KUNIT_EXPECT_EQ(test, 1, pt_share_table_sharers(f.cache, other));
	KUNIT_EXPECT_EQ(test, 6, __pt_share_pte_sharers(table));

	for (i = 0; i < 4; i++)
		pt_share_pmd_put(f.cache, pmd_table);
	KUNIT_EXPECT_EQ(test, 2, pt_share_table_sharers(f.cache, table));
	pt_share_put(f.cache, table, NULL);
	pt_share_put(f.cache, table, NULL);
	pt_share_put(f.cache, other, NULL);
	KUNIT_EXPECT_TRUE(test, xa_empty(&f.cache->tables));
	rcu_barrier();
	xa_destroy(&f.cache->tables);
}

static struct kunit_case pt_share_pmd_test_cases[] = {
	KUNIT_CASE(pt_share_pmd_test_key),
	KUNIT_CASE(pt_share_pmd_test_release),
	KUNIT_CASE(pt_share_pmd_test_sharers),
	{}
};

static struct kunit_suite pt_share_pmd_test_suite = {
	.name = "pt_share_pmd",
	.test_cases = pt_share_pmd_test_cases,
};

kunit_test_suite(pt_share_pmd_test_suite);

#endif /* CONFIG_PT_SHARE_KUNIT_TEST */
