/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vdmabuf test programs on both sides (guest tests,
 * host tests and importers): the host's page pin and locked-memory
 * counters, a thread join with a time limit, and through
 * examples/example_common.h monotonic time and TAP written to a file.  UUID formatting and DMA_BUF_IOCTL_SYNC are
 * libvdmabuf's (vdmabuf_uuid_format(), vdmabuf_dmabuf_sync()).
 */
#ifndef VDMABUF_UTIL_H
#define VDMABUF_UTIL_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>

#include "example_common.h"

/**
 * read_foll_pins() - the kernel's FOLL_PIN counters from /proc/vmstat
 * @acquired: nr_foll_pin_acquired, or -1 if it is missing
 * @released: nr_foll_pin_released, or -1 if it is missing
 *
 * Folds the per-CPU deltas into the global counters first (writing
 * vm.stat_refresh, which needs root), so that the two compare exactly.
 */
static inline void read_foll_pins(long long *acquired, long long *released)
{
	static bool refresh_failed;
	char line[128];
	FILE *f;
	int fd;

	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0 && !refresh_failed) {
			perror("vm.stat_refresh");
			refresh_failed = true;
		}
		close(fd);
	}
	*acquired = -1;
	*released = -1;
	f = fopen("/proc/vmstat", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "nr_foll_pin_acquired %lld", acquired) == 1)
			continue;
		sscanf(line, "nr_foll_pin_released %lld", released);
	}
	fclose(f);
}

/**
 * foll_pins_settle() - read_foll_pins() once the pins in flight are released
 * @acquired: nr_foll_pin_acquired, as read_foll_pins() gives it
 * @released: nr_foll_pin_released, likewise
 * @held: the pins the caller knows to stay held meanwhile
 * @ms: how long to wait at most, in milliseconds
 *
 * The counters are the whole machine's, and not every pin is released
 * before the call that took it returns.  A read or write of a file on 9p
 * without the page cache (the test VM's results directory, where a test
 * program's output goes) is netfs's unbuffered I/O: it pins the caller's
 * pages, and the last reference to the request unpins them.  On 6.12 that
 * is the writer or netfs's collector worker, whichever comes last; in
 * today's mainline always a worker, so the release lands after the write
 * returned, how long after depending on the load.  A test that compares
 * the counters across its run would count such a release as its own.  So
 * read them until exactly @held more pins were acquired than released and
 * neither counter moved over the last 10 ms (one reading may fold the
 * CPUs' counts while others pin), for at most @ms.
 *
 * Return: true if they settled there, else false; either way the last
 * reading is in @acquired and @released.
 */
static inline bool foll_pins_settle(long long *acquired, long long *released,
				    long long held, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	long long last_acq = -1, last_rel = -1;

	for (;;) {
		read_foll_pins(acquired, released);
		if (*acquired - *released == held &&
		    *acquired == last_acq && *released == last_rel)
			return true;
		if (now_ms() >= end)
			return false;
		last_acq = *acquired;
		last_rel = *released;
		usleep(10 * 1000);
	}
}

/* @key ("VmLck", ...) of /proc/@pid/status (0: this process) in kB, or -1. */
static inline long long proc_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	long long kb = -1;
	size_t len = strlen(key);
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':' &&
		    sscanf(line + len + 1, " %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* VmLck of process @pid (0: this one) in kB, or -1. */
static inline long long vmlck_kb(pid_t pid)
{
	return proc_status_kb(pid, "VmLck");
}

/* VmPin (pages pinned on its behalf, mm->pinned_vm) of @pid in kB, or -1. */
static inline long long vmpin_kb(pid_t pid)
{
	return proc_status_kb(pid, "VmPin");
}

/**
 * join_within() - join a thread, waiting at most @ms milliseconds
 * @t: the thread
 * @ms: the time limit
 *
 * Return: 0 if it ended, ETIMEDOUT if not; the thread is then left
 * running, so that a test that gives up on it does not hang for it.
 */
static inline int join_within(pthread_t t, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);	/* pthread_timedjoin_np's clock */
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, NULL, &ts);
}

#endif /* VDMABUF_UTIL_H */
