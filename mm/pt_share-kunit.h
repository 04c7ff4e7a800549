/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for pt_share's pure logic: table geometry and the parsing of
 * sysctl writes. Included at the end of mm/pt_share.c so that it can reach
 * static functions.
 */
#ifdef CONFIG_PT_SHARE_KUNIT_TEST

#include <kunit/test.h>

#define MB(x)	((unsigned long)(x) << 20)
#define PGOFF(bytes)	((bytes) >> PAGE_SHIFT)

static void pt_share_test_eligible_aligned(struct kunit *test)
{
	/* A 4 MiB VMA at 2 MiB mapping the file from offset 0. */
	unsigned long start = MB(2), end = MB(6);

	KUNIT_EXPECT_TRUE(test, pt_share_range_eligible(start, end, 0, start));
	KUNIT_EXPECT_TRUE(test, pt_share_range_eligible(start, end, 0, end - 1));
	KUNIT_EXPECT_TRUE(test, pt_share_range_eligible(start, end, 0,
							 MB(3) + 4096 * 7));
	/* Outside the VMA. */
	KUNIT_EXPECT_FALSE(test, pt_share_range_eligible(start, end, 0, end));
	KUNIT_EXPECT_FALSE(test, pt_share_range_eligible(start, end, 0,
							  start - 1));
}

static void pt_share_test_eligible_partial(struct kunit *test)
{
	/* VMA [3 MiB, 7 MiB): only [4 MiB, 6 MiB) is a whole table span. */
	unsigned long start = MB(3), end = MB(7), pgoff = PGOFF(MB(1));

	KUNIT_EXPECT_FALSE(test, pt_share_range_eligible(start, end, pgoff,
							  start));
	KUNIT_EXPECT_TRUE(test, pt_share_range_eligible(start, end, pgoff,
							 MB(4)));
	KUNIT_EXPECT_TRUE(test, pt_share_range_eligible(start, end, pgoff,
							 MB(6) - 1));
	KUNIT_EXPECT_FALSE(test, pt_share_range_eligible(start, end, pgoff,
							  MB(6)));
	/* A VMA smaller than one span never shares. */
	KUNIT_EXPECT_FALSE(test, pt_share_range_eligible(MB(2), MB(4) - 4096,
							  0, MB(2)));
}

static void pt_share_test_eligible_congruence(struct kunit *test)
{
	unsigned long start = MB(2), end = MB(10);

	/* File offset 2 MiB at VA 2 MiB: congruent. */
	KUNIT_EXPECT_TRUE(test, pt_share_range_eligible(start, end,
							 PGOFF(MB(2)), MB(4)));
	/* File offset 4 KiB at VA 2 MiB: every page is off by one entry. */
	KUNIT_EXPECT_FALSE(test, pt_share_range_eligible(start, end, 1, MB(4)));
	/* File offset 1 MiB: off by half a table. */
	KUNIT_EXPECT_FALSE(test, pt_share_range_eligible(start, end,
							  PGOFF(MB(1)), MB(4)));
	/* VA 1 MiB + file offset 1 MiB: congruent, the span at 2 MiB shares. */
	KUNIT_EXPECT_TRUE(test, pt_share_range_eligible(MB(1), MB(5),
							 PGOFF(MB(1)), MB(2)));
	/* pgoff larger than the VA page number: the difference wraps. */
	KUNIT_EXPECT_TRUE(test, pt_share_range_eligible(MB(2), MB(4),
							 PGOFF(MB(1024)), MB(2)));
}

static void pt_share_test_eligible_top(struct kunit *test)
{
	/* A span ending at the very top of the address space must not wrap. */
	unsigned long end = 0UL - PAGE_SIZE, start = (end & PMD_MASK) - PMD_SIZE;

	KUNIT_EXPECT_TRUE(test, pt_share_range_eligible(start, end, 0, start));
	KUNIT_EXPECT_FALSE(test, pt_share_range_eligible(start, end, 0,
							  end - 1));
}

static void pt_share_test_table_index(struct kunit *test)
{
	/* VA 6 MiB maps file offset 4 MiB; its table starts at index 1024. */
	KUNIT_EXPECT_EQ(test, pt_share_table_index(MB(2), 0, MB(6) + 12345),
			PGOFF(MB(4)));
	KUNIT_EXPECT_EQ(test, pt_share_table_index(MB(3), PGOFF(MB(1)), MB(4)),
			PGOFF(MB(2)));
	/* Eligible ranges always give a multiple of PTRS_PER_PTE. */
	KUNIT_EXPECT_EQ(test, pt_share_table_index(MB(1), PGOFF(MB(1)), MB(2)) %
			PTRS_PER_PTE, 0);
	/* Two mappers at different addresses reach the same index. */
	KUNIT_EXPECT_EQ(test, pt_share_table_index(MB(2), 0, MB(4)),
			pt_share_table_index(MB(64), 0, MB(66)));
}

static void pt_share_test_align_offset(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, pt_share_align_offset(0), 0);
	KUNIT_EXPECT_EQ(test, pt_share_align_offset(PTRS_PER_PTE), 0);
	KUNIT_EXPECT_EQ(test, pt_share_align_offset(1), PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, pt_share_align_offset(PTRS_PER_PTE + 3),
			3 * PAGE_SIZE);
}

static void pt_share_test_parse(struct kunit *test)
{
	unsigned long val = 42;
	static const char * const bad[] = {
		"", "\n", "-1", "abc", "1x", "2 3", "0x10", " ",
		"99999999999999999999999",
	};
	int i;

	KUNIT_EXPECT_EQ(test, pt_share_parse_ulong("1\n", 2, 0, 1, &val), 0);
	KUNIT_EXPECT_EQ(test, val, 1);
	KUNIT_EXPECT_EQ(test, pt_share_parse_ulong("0", 1, 0, 1, &val), 0);
	KUNIT_EXPECT_EQ(test, val, 0);
	/* Out of range. */
	KUNIT_EXPECT_EQ(test, pt_share_parse_ulong("2", 1, 0, 1, &val),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, pt_share_parse_ulong("4096", 4, PMD_SIZE, ~0UL,
						   &val), -EINVAL);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		KUNIT_EXPECT_EQ_MSG(test, pt_share_parse_ulong(bad[i],
				    strlen(bad[i]), 0, ~0UL, &val), -EINVAL,
				    "input \"%s\"", bad[i]);
}

static struct kunit_case pt_share_test_cases[] = {
	KUNIT_CASE(pt_share_test_eligible_aligned),
	KUNIT_CASE(pt_share_test_eligible_partial),
	KUNIT_CASE(pt_share_test_eligible_congruence),
	KUNIT_CASE(pt_share_test_eligible_top),
	KUNIT_CASE(pt_share_test_table_index),
	KUNIT_CASE(pt_share_test_align_offset),
	KUNIT_CASE(pt_share_test_parse),
	{}
};

static struct kunit_suite pt_share_test_suite = {
	.name = "pt_share",
	.test_cases = pt_share_test_cases,
};
kunit_test_suite(pt_share_test_suite);

#endif /* CONFIG_PT_SHARE_KUNIT_TEST */
