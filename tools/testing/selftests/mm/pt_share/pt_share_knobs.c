// SPDX-License-Identifier: GPL-2.0
/*
 * pt_share_knobs: the vm.pt_share and vm.pt_share_min_bytes sysctls and the
 * pt_share /proc/vmstat counters, seen from user space.
 *
 * Accepted values read back as written; every malformed or out-of-range
 * write fails with EINVAL and leaves the old value in place. The fixture
 * saves both knobs before each test and restores them after.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "../../kselftest_harness.h"

#define PT_SHARE		"/proc/sys/vm/pt_share"
#define PT_SHARE_MIN_BYTES	"/proc/sys/vm/pt_share_min_bytes"
#define PMD_BYTES		(2UL << 20)

static int read_knob(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* Returns 0 or -errno of the single write(2) of @val (length @len). */
static int write_knob(const char *path, const char *val, size_t len)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

static unsigned long read_ulong(const char *path)
{
	char buf[64];

	if (read_knob(path, buf, sizeof(buf)))
		return ~0UL;
	return strtoul(buf, NULL, 10);
}

FIXTURE(knobs) {
	char saved_enabled[64];
	char saved_min_bytes[64];
};

FIXTURE_SETUP(knobs)
{
	if (access(PT_SHARE, F_OK))
		SKIP(return, "no %s: kernel without CONFIG_PT_SHARE", PT_SHARE);
	if (getuid())
		SKIP(return, "writing sysctls needs root");
	ASSERT_EQ(0, read_knob(PT_SHARE, self->saved_enabled,
			       sizeof(self->saved_enabled)));
	ASSERT_EQ(0, read_knob(PT_SHARE_MIN_BYTES, self->saved_min_bytes,
			       sizeof(self->saved_min_bytes)));
}

FIXTURE_TEARDOWN(knobs)
{
	if (self->saved_enabled[0])
		write_knob(PT_SHARE, self->saved_enabled,
			   strlen(self->saved_enabled));
	if (self->saved_min_bytes[0])
		write_knob(PT_SHARE_MIN_BYTES, self->saved_min_bytes,
			   strlen(self->saved_min_bytes));
}

TEST_F(knobs, defaults_sane)
{
	unsigned long en = read_ulong(PT_SHARE);
	unsigned long min = read_ulong(PT_SHARE_MIN_BYTES);

	ASSERT_TRUE(en == 0 || en == 1);
	ASSERT_GE(min, PMD_BYTES);
}

TEST_F(knobs, enable_accepts_0_and_1)
{
	ASSERT_EQ(0, write_knob(PT_SHARE, "1\n", 2));
	ASSERT_EQ(1, read_ulong(PT_SHARE));
	ASSERT_EQ(0, write_knob(PT_SHARE, "0\n", 2));
	ASSERT_EQ(0, read_ulong(PT_SHARE));
	/* Without a trailing newline too. */
	ASSERT_EQ(0, write_knob(PT_SHARE, "1", 1));
	ASSERT_EQ(1, read_ulong(PT_SHARE));
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

		ASSERT_EQ(0, write_knob(PT_SHARE, v, 1));
		for (i = 0; i < ARRAY_SIZE(bad_enable); i++) {
			EXPECT_EQ(-EINVAL, write_knob(PT_SHARE, bad_enable[i],
						      strlen(bad_enable[i])))
				TH_LOG("write \"%s\" with old value %d",
				       bad_enable[i], old);
			EXPECT_EQ(old, read_ulong(PT_SHARE))
				TH_LOG("value changed by \"%s\"", bad_enable[i]);
		}
	}
}

TEST_F(knobs, min_bytes_accepts_range)
{
	ASSERT_EQ(0, write_knob(PT_SHARE_MIN_BYTES, "2097152\n", 8));
	ASSERT_EQ(PMD_BYTES, read_ulong(PT_SHARE_MIN_BYTES));
	ASSERT_EQ(0, write_knob(PT_SHARE_MIN_BYTES, "1073741824", 10));
	ASSERT_EQ(1UL << 30, read_ulong(PT_SHARE_MIN_BYTES));
	/* Not a multiple of the table span: a length threshold, accepted. */
	ASSERT_EQ(0, write_knob(PT_SHARE_MIN_BYTES, "3000000", 7));
	ASSERT_EQ(3000000, read_ulong(PT_SHARE_MIN_BYTES));
}

static const char * const bad_min_bytes[] = {
	"0", "4096", "2097151", "-1", "-2097152", "abc", "", "\n", "1M",
	"2097152 4194304", "18446744073709551615", "99999999999999999999999",
};

TEST_F(knobs, min_bytes_rejects_bad_values)
{
	unsigned long old = 8UL << 20;
	int i;

	ASSERT_EQ(0, write_knob(PT_SHARE_MIN_BYTES, "8388608", 7));
	for (i = 0; i < ARRAY_SIZE(bad_min_bytes); i++) {
		EXPECT_EQ(-EINVAL, write_knob(PT_SHARE_MIN_BYTES, bad_min_bytes[i],
					      strlen(bad_min_bytes[i])))
			TH_LOG("write \"%s\"", bad_min_bytes[i]);
		EXPECT_EQ(old, read_ulong(PT_SHARE_MIN_BYTES))
			TH_LOG("value changed by \"%s\"", bad_min_bytes[i]);
	}
}

TEST_F(knobs, values_persist)
{
	int i;

	ASSERT_EQ(0, write_knob(PT_SHARE, "1", 1));
	ASSERT_EQ(0, write_knob(PT_SHARE_MIN_BYTES, "4194304", 7));
	/* Each read reopens the file; nothing drifts back. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, read_ulong(PT_SHARE));
		ASSERT_EQ(4UL << 20, read_ulong(PT_SHARE_MIN_BYTES));
		usleep(10000);
	}
	/* A rejected write in between does not disturb the other knob. */
	ASSERT_EQ(-EINVAL, write_knob(PT_SHARE, "7", 1));
	ASSERT_EQ(4UL << 20, read_ulong(PT_SHARE_MIN_BYTES));
	ASSERT_EQ(1, read_ulong(PT_SHARE));
}

TEST(unprivileged_write_denied)
{
	pid_t pid;
	int status;

	if (access(PT_SHARE, F_OK))
		SKIP(return, "no %s: kernel without CONFIG_PT_SHARE", PT_SHARE);
	if (getuid())
		SKIP(return, "needs root to drop to another uid");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(write_knob(PT_SHARE, "1", 1) == -EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

static const char * const vmstat_counters[] = {
	"pt_share_attach", "pt_share_detach",
	"pt_share_detach_unmap", "pt_share_detach_split",
	"pt_share_detach_mprotect", "pt_share_detach_mremap",
	"pt_share_detach_mlock", "pt_share_detach_uffd",
	"pt_share_detach_softdirty", "pt_share_detach_notifier",
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

	if (access(PT_SHARE, F_OK))
		SKIP(return, "no %s: kernel without CONFIG_PT_SHARE", PT_SHARE);
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
