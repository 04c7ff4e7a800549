// SPDX-License-Identifier: GPL-2.0
/*
 * ptb_tsc: print this CPU's TSC frequency in kHz, measured against
 * CLOCK_MONOTONIC_RAW over half a second.
 *
 * The guest kernel cannot calibrate its TSC under QEMU TCG (no ACPI, so no
 * HPET or PM timer reference, and the PIT loop is too erratic), falls back
 * to the jiffies clocksource and then measures time in 4 ms steps. QEMU
 * TCG passes the host's TSC through to the guest, so harness/vm.sh boots
 * every TCG guest with tsc_early_khz=<this figure> tsc=reliable to get a
 * fine-grained clock.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static long long raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void)
{
	long long t0, t1, khz[3], tmp;
	unsigned long long c0, c1;
	int i, j;

	/* The median of three half-second measurements. */
	for (i = 0; i < 3; i++) {
		t0 = raw_ns();
		c0 = __rdtsc();
		do {
			t1 = raw_ns();
		} while (t1 - t0 < 500000000LL);
		c1 = __rdtsc();
		khz[i] = (long long)((c1 - c0) * 1000000ULL / (t1 - t0));
	}
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2 - i; j++)
			if (khz[j] > khz[j + 1]) {
				tmp = khz[j];
				khz[j] = khz[j + 1];
				khz[j + 1] = tmp;
			}
	if (khz[1] <= 0) {
		fprintf(stderr, "ptb_tsc: cannot measure the TSC\n");
		return 1;
	}
	printf("%lld\n", khz[1]);
	return 0;
}
