/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for pt_share's pure logic: table geometry, the alignment of
 * kernel-chosen addresses, cache keys, the entries a truncation zaps, and
 * the parsing of sysctl writes; and for the one lifetime rule no test
 * from userspace can reliably hit: a released table is freed only after
 * an RCU grace period. Included at the end of mm/pt_share.c so that it
 * can reach static functions.
 */
#ifdef CONFIG_PT_SHARE_KUNIT_TEST

#include <kunit/test.h>
#include <linux/mman.h>

#define MB(x)		((unsigned long)(x) << 20)
#define PGOFF(bytes)	((bytes) >> PAGE_SHIFT)

struct pt_share_eligible_case {
	const char *what;
	unsigned long vm_start, vm_end, vm_pgoff, addr;
	bool eligible;
};

static const struct pt_share_eligible_case pt_share_eligible_cases[] = {
	{ "aligned, first page", MB(2), MB(6), 0, MB(2), true },
	{ "aligned, last page", MB(2), MB(6), 0, MB(6) - 1, true },
	{ "aligned, inside", MB(2), MB(6), 0, MB(3) + 7 * 4096, true },
	{ "address at vm_end", MB(2), MB(6), 0, MB(6), false },
	{ "address below vm_start", MB(2), MB(6), 0, MB(2) - 1, false },
	/* [3 MiB, 7 MiB) at file offset 1 MiB: only [4, 6) is whole. */
	{ "span starts before vma", MB(3), MB(7), PGOFF(MB(1)), MB(3), false },
	{ "whole span inside", MB(3), MB(7), PGOFF(MB(1)), MB(4), true },
	{ "whole span, last page", MB(3), MB(7), PGOFF(MB(1)), MB(6) - 1, true },
	{ "span ends after vma", MB(3), MB(7), PGOFF(MB(1)), MB(6), false },
	{ "vma shorter than a span", MB(2), MB(4) - 4096, 0, MB(2), false },
	{ "offset 2 MiB at 2 MiB", MB(2), MB(10), PGOFF(MB(2)), MB(4), true },
	{ "offset off by one page", MB(2), MB(10), 1, MB(4), false },
	{ "offset off by half a span", MB(2), MB(10), PGOFF(MB(1)), MB(4),
	  false },
	{ "unaligned vma, congruent", MB(1), MB(5), PGOFF(MB(1)), MB(2), true },
	{ "pgoff above the va page number", MB(2), MB(4), PGOFF(MB(1024)),
	  MB(2), true },
};

static void pt_share_test_eligible(struct kunit *test)
{
	const struct pt_share_eligible_case *c;
	int i;

	for (i = 0; i < ARRAY_SIZE(pt_share_eligible_cases); i++) {
		c = &pt_share_eligible_cases[i];
		KUNIT_EXPECT_EQ_MSG(test, c->eligible,
				    pt_share_range_eligible(c->vm_start,
							    c->vm_end,
							    c->vm_pgoff,
							    c->addr),
				    "case: %s", c->what);
	}
}

static void pt_share_test_eligible_top(struct kunit *test)
{
	/* A span ending at the very top of the address space must not wrap. */
	unsigned long end = 0UL - PAGE_SIZE;
	unsigned long start = (end & PMD_MASK) - PMD_SIZE;

	KUNIT_EXPECT_TRUE(test,
			  pt_share_range_eligible(start, end, 0, start));
	KUNIT_EXPECT_FALSE(test,
			   pt_share_range_eligible(start, end, 0, end - 1));
}

static void pt_share_test_table_index(struct kunit *test)
{
	/* VA 6 MiB maps file offset 4 MiB; its table starts at index 1024. */
	KUNIT_EXPECT_EQ(test, PGOFF(MB(4)),
			pt_share_table_index(MB(2), 0, MB(6) + 12345));
	KUNIT_EXPECT_EQ(test, PGOFF(MB(2)),
			pt_share_table_index(MB(3), PGOFF(MB(1)), MB(4)));
	/* Eligible ranges always give a multiple of PTRS_PER_PTE. */
	KUNIT_EXPECT_EQ(test, 0,
			pt_share_table_index(MB(1), PGOFF(MB(1)), MB(2)) %
			PTRS_PER_PTE);
	/* Two mappers at different addresses reach the same index. */
	KUNIT_EXPECT_EQ(test, pt_share_table_index(MB(2), 0, MB(4)),
			pt_share_table_index(MB(64), 0, MB(66)));
}

static void pt_share_test_align_offset(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 0, pt_share_align_offset(0));
	KUNIT_EXPECT_EQ(test, 0, pt_share_align_offset(PTRS_PER_PTE));
	KUNIT_EXPECT_EQ(test, PAGE_SIZE, pt_share_align_offset(1));
	KUNIT_EXPECT_EQ(test, 3 * PAGE_SIZE,
			pt_share_align_offset(PTRS_PER_PTE + 3));
}

struct pt_share_align_case {
	const char *what;
	unsigned long len, pgoff, flags, align;
};

/* With vm.pt_share_min_bytes at 16 MiB. */
static const struct pt_share_align_case pt_share_align_cases[] = {
	{ "private", MB(1024), 0, MAP_PRIVATE, 0 },
	{ "shorter than min_bytes", MB(16) - PAGE_SIZE, 0, MAP_SHARED, 0 },
	{ "min_bytes", MB(16), 0, MAP_SHARED, PMD_SIZE },
	{ "validate", MB(16), 0, MAP_SHARED_VALIDATE, PMD_SIZE },
	{ "a page short of a GiB", MB(1024) - PAGE_SIZE, 0, MAP_SHARED,
	  PMD_SIZE },
	{ "1 GiB at 0", MB(1024), 0, MAP_SHARED, PUD_SIZE },
	{ "1 GiB at 1 GiB", MB(1024), PGOFF(MB(1024)), MAP_SHARED, PUD_SIZE },
	/* From 2 MiB, the first whole GiB of the file starts 1022 MiB in. */
	{ "1 GiB at 2 MiB", MB(1024), PGOFF(MB(2)), MAP_SHARED, PMD_SIZE },
	{ "a page short at 2 MiB", MB(2046) - PAGE_SIZE, PGOFF(MB(2)),
	  MAP_SHARED, PMD_SIZE },
	{ "just holds a GiB at 2 MiB", MB(2046), PGOFF(MB(2)), MAP_SHARED,
	  PUD_SIZE },
	{ "3 GiB at 4 KiB", MB(3072), 1, MAP_SHARED, PUD_SIZE },
};

static void pt_share_test_align_size(struct kunit *test)
{
	unsigned long min_bytes = sysctl_pt_share_min_bytes;
	const struct pt_share_align_case *c;
	int i;

	sysctl_pt_share_min_bytes = MB(16);
	for (i = 0; i < ARRAY_SIZE(pt_share_align_cases); i++) {
		c = &pt_share_align_cases[i];
		KUNIT_EXPECT_EQ_MSG(test, c->align,
				    __pt_share_align_size(c->len, c->pgoff,
							  c->flags),
				    "case: %s", c->what);
	}
	sysctl_pt_share_min_bytes = min_bytes;
}

static void pt_share_test_key(struct kunit *test)
{
	/* Variants of one table are adjacent; tables are ordered by index. */
	KUNIT_EXPECT_EQ(test, 0, pt_share_key(0, 0));
	KUNIT_EXPECT_EQ(test, 1, pt_share_key(0, 1));
	KUNIT_EXPECT_EQ(test, PT_SHARE_MAX_VARIANTS,
			pt_share_key(PTRS_PER_PTE, 0));
	/* Any index inside a table gives that table's key. */
	KUNIT_EXPECT_EQ(test, pt_share_key(PTRS_PER_PTE, 2),
			pt_share_key(2 * PTRS_PER_PTE - 1, 2));
	KUNIT_EXPECT_LT(test, pt_share_key(PTRS_PER_PTE,
					   PT_SHARE_MAX_VARIANTS - 1),
			pt_share_key(2 * PTRS_PER_PTE, 0));
	/* A key names the first file index of its table, for any variant. */
	KUNIT_EXPECT_EQ(test, 3 * PTRS_PER_PTE,
			pt_share_key_index(pt_share_key(3 * PTRS_PER_PTE + 7,
							PT_SHARE_MAX_VARIANTS - 1)));
	KUNIT_EXPECT_EQ(test, 0, pt_share_key_index(pt_share_key(0, 3)));
}

static void pt_share_test_entry_range(struct kunit *test)
{
	unsigned long key = pt_share_key(2 * PTRS_PER_PTE, 1);
	unsigned int from, to;

	/* The whole file: every entry. */
	pt_share_entry_range(key, 0, ULONG_MAX, &from, &to);
	KUNIT_EXPECT_EQ(test, 0, from);
	KUNIT_EXPECT_EQ(test, PTRS_PER_PTE, to);
	/* Truncate to the middle of the table: its tail. */
	pt_share_entry_range(key, 2 * PTRS_PER_PTE + 100, ULONG_MAX, &from,
			     &to);
	KUNIT_EXPECT_EQ(test, 100, from);
	KUNIT_EXPECT_EQ(test, PTRS_PER_PTE, to);
	/* A hole inside the table. */
	pt_share_entry_range(key, 2 * PTRS_PER_PTE + 10,
			     2 * PTRS_PER_PTE + 19, &from, &to);
	KUNIT_EXPECT_EQ(test, 10, from);
	KUNIT_EXPECT_EQ(test, 20, to);
	/* A range that starts before and ends inside. */
	pt_share_entry_range(key, 0, 2 * PTRS_PER_PTE, &from, &to);
	KUNIT_EXPECT_EQ(test, 0, from);
	KUNIT_EXPECT_EQ(test, 1, to);
}

static const char * const pt_share_bad_writes[] = {
	"", "\n", "-1", "abc", "1x", "2 3", "0x10", " ",
	"99999999999999999999999",
};

static void pt_share_test_parse(struct kunit *test)
{
	unsigned long val = 42;
	const char *s;
	int i;

	KUNIT_EXPECT_EQ(test, 0, pt_share_parse_ulong("1\n", 2, 0, 1, &val));
	KUNIT_EXPECT_EQ(test, 1, val);
	KUNIT_EXPECT_EQ(test, 0, pt_share_parse_ulong("0", 1, 0, 1, &val));
	KUNIT_EXPECT_EQ(test, 0, val);
	/* Out of range. */
	KUNIT_EXPECT_EQ(test, -EINVAL,
			pt_share_parse_ulong("2", 1, 0, 1, &val));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			pt_share_parse_ulong("4096", 4, PMD_SIZE, ~0UL, &val));
	for (i = 0; i < ARRAY_SIZE(pt_share_bad_writes); i++) {
		s = pt_share_bad_writes[i];
		KUNIT_EXPECT_EQ_MSG(test, -EINVAL,
				    pt_share_parse_ulong(s, strlen(s), 0, ~0UL,
							 &val),
				    "input \"%s\"", s);
	}
}

/*
 * CVE class "GUP-fast vs unshare": a walker that read a pmd locklessly
 * (GUP-fast, pte_offset_map() and its users) may still be about to read
 * the table or take its lock when the last sharer detaches. The table
 * must outlive every RCU reader that began before its release. From
 * userspace that window is a few instructions wide, and on x86 GUP-fast
 * is also held off by the detach's flush IPI, so only this test fails
 * at once on a kernel that frees the table early.
 */
static void pt_share_test_release_waits_for_rcu(struct kunit *test)
{
	struct page *page;
	bool freed_early;

	/* An empty table: the zap reads no entry. */
	page = pte_alloc_one(&init_mm);
	KUNIT_ASSERT_NOT_NULL(test, page);
	/* The release counts a free; keep alloc - free (live tables) exact. */
	count_vm_event(PT_SHARE_TABLE_ALLOC);
	/* Our reference keeps the struct page ours to look at after the free. */
	get_page(page);

	rcu_read_lock();
	pt_share_table_release(page_ptdesc(page));
	/* The pte destructor clears the page type: the table was freed. */
	freed_early = !PageTable(page);
	rcu_read_unlock();
	KUNIT_EXPECT_FALSE_MSG(test, freed_early,
			       "table freed inside an RCU read-side section");

	rcu_barrier();
	KUNIT_EXPECT_FALSE_MSG(test, PageTable(page),
			       "table not freed after a grace period");
	put_page(page);
}

/*
 * A read-only opener can fill only the pool of mappings that may not write
 * the file, never the writers' (issue: a read-only opener switched sharing
 * off for a file for good), and a variant whose last table left the cache
 * frees its slot for another.
 */
static void pt_share_test_variant_pools(struct kunit *test)
{
	struct pt_share_cache *cache;
	struct vm_area_struct *vma;
	int i, id;

	cache = kunit_kzalloc(test, sizeof(*cache), GFP_KERNEL);
	vma = kunit_kzalloc(test, sizeof(*vma), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cache);
	KUNIT_ASSERT_NOT_NULL(test, vma);

	vm_flags_init(vma, VM_READ | VM_MAYREAD | VM_MAYSHARE);
	for (i = 0; i < PT_SHARE_POOL_VARIANTS; i++) {
		vma->vm_page_prot = __pgprot(i + 1);
		id = pt_share_variant_id(cache, vma);
		KUNIT_EXPECT_EQ(test, PT_SHARE_POOL_VARIANTS + i, id);
		if (id >= 0)
			cache->variants[id].nr_tables++;
	}
	/* The same protection again finds its variant. */
	vma->vm_page_prot = __pgprot(2);
	KUNIT_EXPECT_EQ(test, PT_SHARE_POOL_VARIANTS + 1,
			pt_share_variant_id(cache, vma));
	/* A fifth read-only protection finds its pool full... */
	vma->vm_page_prot = __pgprot(100);
	KUNIT_EXPECT_EQ(test, -1, pt_share_variant_id(cache, vma));
	/* ...while a writer still gets a variant. */
	vm_flags_init(vma, VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE |
			   VM_SHARED | VM_MAYSHARE);
	KUNIT_EXPECT_EQ(test, 0, pt_share_variant_id(cache, vma));
	/* A variant without tables is free again. */
	cache->variants[PT_SHARE_POOL_VARIANTS + 2].nr_tables = 0;
	vm_flags_init(vma, VM_READ | VM_MAYREAD | VM_MAYSHARE);
	KUNIT_EXPECT_EQ(test, PT_SHARE_POOL_VARIANTS + 2,
			pt_share_variant_id(cache, vma));
}

static struct kunit_case pt_share_test_cases[] = {
	KUNIT_CASE(pt_share_test_eligible),
	KUNIT_CASE(pt_share_test_eligible_top),
	KUNIT_CASE(pt_share_test_table_index),
	KUNIT_CASE(pt_share_test_align_offset),
	KUNIT_CASE(pt_share_test_align_size),
	KUNIT_CASE(pt_share_test_key),
	KUNIT_CASE(pt_share_test_entry_range),
	KUNIT_CASE(pt_share_test_parse),
	KUNIT_CASE(pt_share_test_release_waits_for_rcu),
	KUNIT_CASE(pt_share_test_variant_pools),
	{}
};

static struct kunit_suite pt_share_test_suite = {
	.name = "pt_share",
	.test_cases = pt_share_test_cases,
};

kunit_test_suite(pt_share_test_suite);

#endif /* CONFIG_PT_SHARE_KUNIT_TEST */
