/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vdmabuf test programs on both sides (guest
 * producers and tests, host importers): monotonic time, UUID formatting,
 * DMA_BUF_IOCTL_SYNC retried on EINTR/EAGAIN, and the host's page pin and
 * locked-memory counters.
 */
#ifndef VDMABUF_UTIL_H
#define VDMABUF_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include <linux/dma-buf.h>

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into @out (37 bytes). */
static inline const char *uuid_str(const uint8_t *u, char *out)
{
	static const char hex[] = "0123456789abcdef";
	int i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = '\0';
	return out;
}

/**
 * dmabuf_sync() - DMA_BUF_IOCTL_SYNC, retried on EINTR/EAGAIN
 * @fd: dma-buf
 * @flags: DMA_BUF_SYNC_{START,END} | DMA_BUF_SYNC_{READ,WRITE,RW}
 *
 * Return: 0, or -errno.
 */
static inline int dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		if (!ioctl(fd, DMA_BUF_IOCTL_SYNC, &s))
			return 0;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

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
	char line[128];
	FILE *f;
	int fd;

	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			perror("vm.stat_refresh");
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

/* VmLck of process @pid (0: this one) in kB, or -1. */
static inline long long vmlck_kb(pid_t pid)
{
	char path[64], line[256];
	long long kb = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#endif /* VDMABUF_UTIL_H */
