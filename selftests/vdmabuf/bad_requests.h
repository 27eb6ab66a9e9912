/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Malformed and over-limit requests, one per entry, with the status the
 * spec gives each: the same list for both host back-ends (host_vdmabuf
 * drives the vhost_vdmabuf module with it, host_vu_device the vhost-user
 * daemon's device model), so that the two answer alike.
 *
 * Guest RAM is [0, BAD_RAM_SIZE); BAD_BUF is a page of it that a valid
 * request would export.
 */
#ifndef BAD_REQUESTS_H
#define BAD_REQUESTS_H

#include <stdint.h>
#include <string.h>

#include <linux/virtio_vdmabuf.h>

#define BAD_PAGE	4096ULL
#define BAD_RAM_SIZE	(32ULL << 20)
#define BAD_BUF		0x100000ULL

enum { OVER_NONE, OVER_RANGES, OVER_META, OVER_SIZE };

/**
 * struct bad_req - one malformed request
 * @type: the header's type
 * @flags: the header's flags
 * @zero_uuid: send the all-zero UUID
 * @addr: every range's address
 * @len: every range's length
 * @size: the EXPORT's size; 0: same as @len
 * @nr_delta: the nr_ranges field minus the ranges sent
 * @len_delta: the bytes sent minus the right length
 * @over: one past the device's limit of ranges, metadata or size
 * @status: the answer the spec gives
 */
struct bad_req {
	uint32_t type;
	uint32_t flags;
	int zero_uuid;
	uint64_t addr;
	uint64_t len;
	uint64_t size;
	int nr_delta;
	int len_delta;
	int over;
	uint32_t status;
};

#define BAD_EXPORT	.type = VIRTIO_VDMABUF_REQ_EXPORT

/* X(name, fields of struct bad_req) for each request. */
#define BAD_REQUESTS(X)							\
	X(short_header, BAD_EXPORT, .addr = BAD_BUF, .len = BAD_PAGE,	\
	  .len_delta = -(int)sizeof(struct virtio_vdmabuf_export_req) - 16 + 10, \
	  .status = VIRTIO_VDMABUF_S_INVALID)				\
	X(short_export, BAD_EXPORT, .addr = BAD_BUF, .len = BAD_PAGE,	\
	  .len_delta = -16 - 8, .status = VIRTIO_VDMABUF_S_INVALID)	\
	X(wrong_type, .type = 99, .addr = BAD_BUF, .len = BAD_PAGE,	\
	  .status = VIRTIO_VDMABUF_S_UNSUPPORTED)			\
	X(hdr_flags, BAD_EXPORT, .flags = 1, .addr = BAD_BUF,		\
	  .len = BAD_PAGE, .status = VIRTIO_VDMABUF_S_INVALID)		\
	X(zero_uuid, BAD_EXPORT, .zero_uuid = 1, .addr = BAD_BUF,	\
	  .len = BAD_PAGE, .status = VIRTIO_VDMABUF_S_INVALID)		\
	X(too_many_ranges, BAD_EXPORT, .addr = BAD_BUF, .len = BAD_PAGE, \
	  .over = OVER_RANGES, .status = VIRTIO_VDMABUF_S_LIMIT)	\
	X(no_ranges, BAD_EXPORT, .addr = BAD_BUF, .len = BAD_PAGE,	\
	  .nr_delta = -1, .len_delta = -16,				\
	  .status = VIRTIO_VDMABUF_S_INVALID)				\
	X(ranges_missing, BAD_EXPORT, .addr = BAD_BUF, .len = BAD_PAGE,	\
	  .nr_delta = 1, .status = VIRTIO_VDMABUF_S_INVALID)		\
	X(trailing_bytes, BAD_EXPORT, .addr = BAD_BUF, .len = BAD_PAGE,	\
	  .len_delta = 8, .status = VIRTIO_VDMABUF_S_INVALID)		\
	X(meta_over_limit, BAD_EXPORT, .addr = BAD_BUF, .len = BAD_PAGE, \
	  .over = OVER_META, .status = VIRTIO_VDMABUF_S_LIMIT)		\
	X(zero_size, BAD_EXPORT, .addr = BAD_BUF, .len = 0,		\
	  .status = VIRTIO_VDMABUF_S_INVALID)				\
	X(unaligned_size, BAD_EXPORT, .addr = BAD_BUF, .len = BAD_PAGE,	\
	  .size = BAD_PAGE + 512, .status = VIRTIO_VDMABUF_S_INVALID)	\
	X(size_over_limit, BAD_EXPORT, .addr = BAD_BUF, .len = BAD_PAGE, \
	  .over = OVER_SIZE, .status = VIRTIO_VDMABUF_S_LIMIT)		\
	X(zero_length_range, BAD_EXPORT, .addr = BAD_BUF, .len = 0,	\
	  .size = BAD_PAGE, .status = VIRTIO_VDMABUF_S_INVALID)		\
	X(unaligned_addr, BAD_EXPORT, .addr = BAD_BUF + 512,		\
	  .len = BAD_PAGE, .status = VIRTIO_VDMABUF_S_INVALID)		\
	X(unaligned_len, BAD_EXPORT, .addr = BAD_BUF, .len = 1536,	\
	  .size = BAD_PAGE, .status = VIRTIO_VDMABUF_S_INVALID)		\
	X(sum_mismatch, BAD_EXPORT, .addr = BAD_BUF, .len = BAD_PAGE,	\
	  .size = 2 * BAD_PAGE, .status = VIRTIO_VDMABUF_S_INVALID)	\
	X(addr_len_overflow, BAD_EXPORT, .addr = 0xfffffffffffff000ULL,	\
	  .len = 2 * BAD_PAGE, .status = VIRTIO_VDMABUF_S_INVALID)	\
	X(outside_guest_ram, BAD_EXPORT, .addr = 4 * BAD_RAM_SIZE,	\
	  .len = BAD_PAGE, .status = VIRTIO_VDMABUF_S_FAULT)		\
	X(past_end_of_ram, BAD_EXPORT, .addr = BAD_RAM_SIZE - BAD_PAGE,	\
	  .len = 2 * BAD_PAGE, .status = VIRTIO_VDMABUF_S_FAULT)	\
	X(unexport_unknown, .type = VIRTIO_VDMABUF_REQ_UNEXPORT,	\
	  .status = VIRTIO_VDMABUF_S_NOENT)				\
	X(unexport_long, .type = VIRTIO_VDMABUF_REQ_UNEXPORT,		\
	  .len_delta = 8, .status = VIRTIO_VDMABUF_S_INVALID)		\
	X(present_unknown, .type = VIRTIO_VDMABUF_REQ_PRESENT,		\
	  .status = VIRTIO_VDMABUF_S_NOENT)

/*
 * Two ranges of one EXPORT that overlap (share a page) are INVALID: each
 * would pin the shared pages once more.  Adjacent ranges are fine.
 */
static const struct bad_overlap {
	uint64_t a0, l0, a1, l1;
	uint32_t status;
} bad_overlaps[] = {
	/* The second starts on the first's last page. */
	{ BAD_BUF, 4 * BAD_PAGE, BAD_BUF + 3 * BAD_PAGE, 4 * BAD_PAGE,
	  VIRTIO_VDMABUF_S_INVALID },
	/* The second is inside the first... */
	{ BAD_BUF, 8 * BAD_PAGE, BAD_BUF + 2 * BAD_PAGE, 2 * BAD_PAGE,
	  VIRTIO_VDMABUF_S_INVALID },
	/* ...or the first inside the second. */
	{ BAD_BUF + 2 * BAD_PAGE, 2 * BAD_PAGE, BAD_BUF, 8 * BAD_PAGE,
	  VIRTIO_VDMABUF_S_INVALID },
	/* The same page twice. */
	{ BAD_BUF, BAD_PAGE, BAD_BUF, BAD_PAGE, VIRTIO_VDMABUF_S_INVALID },
	/* Adjacent, in either order: OK. */
	{ BAD_BUF, 4 * BAD_PAGE, BAD_BUF + 4 * BAD_PAGE, 4 * BAD_PAGE,
	  VIRTIO_VDMABUF_S_OK },
	{ BAD_BUF + 4 * BAD_PAGE, 4 * BAD_PAGE, BAD_BUF, 4 * BAD_PAGE,
	  VIRTIO_VDMABUF_S_OK },
};

/* Big enough for the longest: one past 65536 ranges. */
#define BAD_REQ_BUF	(sizeof(struct virtio_vdmabuf_export_req) + \
			 16 * 70000 + VIRTIO_VDMABUF_MAX_META + 64)

/*
 * Build @var against a device with the limits @cfg into @buf (BAD_REQ_BUF
 * bytes, zeroed here), host byte order = little-endian (x86).
 * Return: the request's length.
 */
static inline size_t bad_req_build(const struct bad_req *var,
				   const struct virtio_vdmabuf_config *cfg,
				   uint8_t *buf)
{
	struct virtio_vdmabuf_export_req *req = (void *)buf;
	struct virtio_vdmabuf_range *r = (void *)(req + 1);
	uint64_t size = var->size ? var->size : var->len;
	uint32_t nr = 1, meta_len = 0, i;
	size_t len;

	memset(buf, 0, BAD_REQ_BUF);
	if (var->over == OVER_RANGES)
		nr = cfg->max_ranges + 1;
	if (var->over == OVER_META)
		meta_len = cfg->max_meta_len + 1;
	if (var->over == OVER_SIZE)
		size = cfg->max_export_size + BAD_PAGE;
	req->hdr.type = var->type;
	req->hdr.flags = var->flags;
	if (!var->zero_uuid)
		for (i = 0; i < 16; i++)
			req->hdr.uuid[i] = 100 + i;
	req->size = size;
	req->nr_ranges = nr + var->nr_delta;
	req->meta_len = meta_len;
	for (i = 0; i < nr; i++) {
		r[i].addr = var->addr;
		r[i].len = var->over == OVER_SIZE ? size : var->len;
	}
	if (var->over == OVER_RANGES)
		r[0].len = size;	/* sum matches: only the count is bad */
	len = sizeof(*req) + nr * 16 + meta_len;
	if (var->type == VIRTIO_VDMABUF_REQ_UNEXPORT)
		len = sizeof(req->hdr);
	if (var->type == VIRTIO_VDMABUF_REQ_PRESENT)
		len = sizeof(struct virtio_vdmabuf_present_req);
	return len + var->len_delta;
}

#endif /* BAD_REQUESTS_H */
