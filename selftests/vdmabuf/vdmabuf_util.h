/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vdmabuf test programs on both sides (guest
 * producers and tests, host importers): monotonic time, UUID formatting,
 * and DMA_BUF_IOCTL_SYNC retried on EINTR/EAGAIN.
 */
#ifndef VDMABUF_UTIL_H
#define VDMABUF_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <sys/ioctl.h>

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

#endif /* VDMABUF_UTIL_H */
