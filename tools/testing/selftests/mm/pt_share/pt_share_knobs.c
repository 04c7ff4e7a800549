// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_knobs: the vm.pt_share and vm.pt_share_min_bytes sysctls and the
 * pt_share /proc/vmstat counters, seen from user space.
 *
 * Accepted values read back as written; every malformed or out-of-range
 * write fails with EINVAL and leaves the old value in place. The fixture
 * saves both knobs before each test and restores them after.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "../../kselftest_harness.h"
#include "pt_share_util.h"

FIXTURE(knobs) {
	struct pt_knobs saved;
};

FIXTURE_SETUP(knobs)
{
	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "no %s: kernel without CONFIG_PT_SHARE", PT_SHARE_KNOB);
	if (getuid())
		SKIP(return, "writing sysctls needs root");
	ASSERT_EQ(0, pt_knobs_save(&self->saved));
}

FIXTURE_TEARDOWN(knobs)
{
	pt_knobs_restore(&self->saved);
}

TEST_F(knobs, defaults_sane)
{
	unsigned long en = pt_read_ulong(PT_SHARE_KNOB);
	unsigned long min = pt_read_ulong(PT_MIN_KNOB);

	ASSERT_TRUE(en == 0 || en == 1);
	ASSERT_GE(min, PT_SPAN);
}

TEST_F(knobs, enable_accepts_0_and_1)
{
	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "1\n"));
	ASSERT_EQ(1, pt_read_ulong(PT_SHARE_KNOB));
	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "0\n"));
	ASSERT_EQ(0, pt_read_ulong(PT_SHARE_KNOB));
	/* Without a trailing newline too. */
	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "1"));
	ASSERT_EQ(1, pt_read_ulong(PT_SHARE_KNOB));
}

static const char * const bad_enable[] = {
	"2", "-1", "abc", "", "\n", "1 1", "0x1", "1.0",
	"99999999999999999999999999", " ",
};

TEST_F(knobs, enable_rejects_bad_values)
{
	int i, old;

	for (old = 0; old <= 1; old++) {
		char v[2] = { '0' + old, 0 };

		ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, v));
		for (i = 0; i < ARRAY_SIZE(bad_enable); i++) {
			EXPECT_EQ(-EINVAL, pt_write_file(PT_SHARE_KNOB,
							 bad_enable[i]))
				TH_LOG("write \"%s\" with old value %d",
				       bad_enable[i], old);
			EXPECT_EQ(old, pt_read_ulong(PT_SHARE_KNOB))
				TH_LOG("value changed by \"%s\"", bad_enable[i]);
		}
	}
}

TEST_F(knobs, min_bytes_accepts_range)
{
	ASSERT_EQ(0, pt_write_file(PT_MIN_KNOB, "2097152\n"));
	ASSERT_EQ(PT_SPAN, pt_read_ulong(PT_MIN_KNOB));
	ASSERT_EQ(0, pt_write_file(PT_MIN_KNOB, "1073741824"));
	ASSERT_EQ(1UL << 30, pt_read_ulong(PT_MIN_KNOB));
	/* Not a multiple of the table span: a length threshold, accepted. */
	ASSERT_EQ(0, pt_write_file(PT_MIN_KNOB, "3000000"));
	ASSERT_EQ(3000000, pt_read_ulong(PT_MIN_KNOB));
}

static const char * const bad_min_bytes[] = {
	"0", "4096", "2097151", "-1", "-2097152", "abc", "", "\n", "1M",
	"2097152 4194304", "18446744073709551615", "99999999999999999999999",
};

TEST_F(knobs, min_bytes_rejects_bad_values)
{
	unsigned long old = 8UL << 20;
	int i;

	ASSERT_EQ(0, pt_write_file(PT_MIN_KNOB, "8388608"));
	for (i = 0; i < ARRAY_SIZE(bad_min_bytes); i++) {
		EXPECT_EQ(-EINVAL, pt_write_file(PT_MIN_KNOB, bad_min_bytes[i]))
			TH_LOG("write \"%s\"", bad_min_bytes[i]);
		EXPECT_EQ(old, pt_read_ulong(PT_MIN_KNOB))
			TH_LOG("value changed by \"%s\"", bad_min_bytes[i]);
	}
}

TEST_F(knobs, values_persist)
{
	int i;

	ASSERT_EQ(0, pt_write_file(PT_SHARE_KNOB, "1"));
	ASSERT_EQ(0, pt_write_file(PT_MIN_KNOB, "4194304"));
	/* Each read reopens the file; nothing drifts back. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, pt_read_ulong(PT_SHARE_KNOB));
		ASSERT_EQ(4UL << 20, pt_read_ulong(PT_MIN_KNOB));
		usleep(10000);
	}
	/* A rejected write in between does not disturb the other knob. */
	ASSERT_EQ(-EINVAL, pt_write_file(PT_SHARE_KNOB, "7"));
	ASSERT_EQ(4UL << 20, pt_read_ulong(PT_MIN_KNOB));
	ASSERT_EQ(1, pt_read_ulong(PT_SHARE_KNOB));
}

TEST(unprivileged_write_denied)
{
	pid_t pid;
	int status;

	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "no %s: kernel without CONFIG_PT_SHARE", PT_SHARE_KNOB);
	if (getuid())
		SKIP(return, "needs root to drop to another uid");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(pt_write_file(PT_SHARE_KNOB, "1") == -EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

static const char vmstat_counters[][32] = {
	"pt_share_attach", "pt_share_detach",
	"pt_share_detach_unmap", "pt_share_detach_split",
	"pt_share_detach_mprotect", "pt_share_detach_mremap",
	"pt_share_detach_mlock", "pt_share_detach_uffd",
	"pt_share_detach_clear_refs", "pt_share_detach_notifier",
	"pt_share_detach_madvise", "pt_share_table_alloc",
	"pt_share_table_free",
};

TEST(vmstat_counters_present)
{
	char line[256], name[128];
	unsigned long val;
	int found[ARRAY_SIZE(vmstat_counters)] = { 0 };
	int i, n = ARRAY_SIZE(vmstat_counters);
	FILE *f;

	if (access(PT_SHARE_KNOB, F_OK))
		SKIP(return, "no %s: kernel without CONFIG_PT_SHARE", PT_SHARE_KNOB);
	f = fopen("/proc/vmstat", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %lu", name, &val) != 2)
			continue;
		for (i = 0; i < n; i++)
			if (!strcmp(name, vmstat_counters[i]))
				found[i]++;
	}
	fclose(f);
	for (i = 0; i < n; i++)
		EXPECT_EQ(1, found[i]) TH_LOG("%s in /proc/vmstat", vmstat_counters[i]);
}

TEST_HARNESS_MAIN
