// SPDX-License-Identifier: MIT
/*
 * libvdmabuf: version, UUIDs, dma-buf sync, deadlines.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <linux/dma-buf.h>

#include "internal.h"

#define VDB_STR_(x)	#x
#define VDB_STR(x)	VDB_STR_(x)

VDMABUF_EXPORT const char *vdmabuf_version(void)
{
	return VDB_STR(LIBVDMABUF_VERSION_MAJOR) "."
	       VDB_STR(LIBVDMABUF_VERSION_MINOR) "."
	       VDB_STR(LIBVDMABUF_VERSION_MICRO);
}

VDMABUF_EXPORT char *vdmabuf_uuid_format(const struct vdmabuf_uuid *uuid,
					 char *out)
{
	static const char hex[] = "0123456789abcdef";
	int i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[uuid->b[i] >> 4];
		out[o++] = hex[uuid->b[i] & 15];
	}
	out[o] = '\0';
	return out;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

VDMABUF_EXPORT int vdmabuf_uuid_parse(const char *str,
				      struct vdmabuf_uuid *uuid)
{
	struct vdmabuf_uuid u;
	int i, pos = 0;

	if (!str || !uuid)
		return -EINVAL;
	for (i = 0; i < 16; i++) {
		int hi, lo;

		if (i == 4 || i == 6 || i == 8 || i == 10) {
			if (str[pos] != '-')
				return -EINVAL;
			pos++;
		}
		hi = hexval(str[pos]);
		if (hi < 0)
			return -EINVAL;
		lo = hexval(str[pos + 1]);
		if (lo < 0)
			return -EINVAL;
		u.b[i] = (uint8_t)(hi << 4 | lo);
		pos += 2;
	}
	if (str[pos] != '\0')
		return -EINVAL;
	*uuid = u;
	return 0;
}

VDMABUF_EXPORT int vdmabuf_dmabuf_sync(int dmabuf_fd, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };
	int tries;

	/* EAGAIN is bounded: a fence that never signals must not hang us. */
	for (tries = 0; tries < 1000; tries++) {
		if (!ioctl(dmabuf_fd, DMA_BUF_IOCTL_SYNC, &s))
			return 0;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}
