/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dmabuf_mover: a dma-buf exporter whose buffers move, for the vdmabuf
 * tests.  Test-only: it is never installed and this is not a UAPI.
 *
 * Its buffers behave as a TTM driver's (amdgpu, xe, nouveau) do towards a
 * dynamic importer:
 *
 * - the first pin of a buffer created with DMABUF_MOVER_F_MIGRATE_ON_PIN
 *   moves it first, as amdgpu's pin migrates a buffer from VRAM to GTT:
 *   every dynamic attachment is told (dma_buf_move_notify());
 * - with DMABUF_MOVER_F_FENCE a move leaves an unsignalled fence, the
 *   copy's, in the buffer's reservation object as DMA_RESV_USAGE_KERNEL,
 *   until DMABUF_MOVER_IOC_SIGNAL;
 * - DMABUF_MOVER_IOC_MOVE moves an unpinned buffer and refuses a pinned
 *   one with EBUSY.
 *
 * The pages never really change: a move only tells the importers.
 *
 * It is also a kernel importer that draws with the CPU, as fbdev emulation
 * or a cursor plane does: DMABUF_MOVER_IOC_VMAP maps any dma-buf into the
 * kernel and reads and writes it there.
 */
#ifndef _DMABUF_MOVER_H
#define _DMABUF_MOVER_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define DMABUF_MOVER_DEV		"/dev/dmabuf_mover"
#define DMABUF_MOVER_MAX_SIZE		(64ULL << 20)

#define DMABUF_MOVER_F_MIGRATE_ON_PIN	(1U << 0)
#define DMABUF_MOVER_F_FENCE		(1U << 1)
#define DMABUF_MOVER_F_ALL		(DMABUF_MOVER_F_MIGRATE_ON_PIN | \
					 DMABUF_MOVER_F_FENCE)

/**
 * struct dmabuf_mover_create - DMABUF_MOVER_IOC_CREATE
 * @size: bytes, a multiple of the page size, at most
 *	DMABUF_MOVER_MAX_SIZE
 * @flags: DMABUF_MOVER_F_*
 * @fd: out: the dma-buf, O_CLOEXEC
 */
struct dmabuf_mover_create {
	__u64 size;
	__u32 flags;
	__u32 fd;
};

/**
 * struct dmabuf_mover_op - DMABUF_MOVER_IOC_MOVE, _SIGNAL and _QUERY
 * @fd: a dma-buf of this module
 * @padding: must be zero
 * @pins: out: pins held
 * @moves: out: moves so far, migrations on pin included
 * @pending: out: 1 if the last move's fence has not signalled
 * @padding2: must be zero
 *
 * SIGNAL signals the buffer's last move fence (ENOENT: none, or signalled
 * already).  SIGNAL and QUERY do not take the buffer's reservation lock,
 * which an importer waiting for that fence may hold.  A move fence
 * signals by itself 10 s after the move if nobody signalled it.
 */
struct dmabuf_mover_op {
	__u32 fd;
	__u32 padding;
	__u32 pins;
	__u32 moves;
	__u32 pending;
	__u32 padding2;
};

/* At most this many bytes per DMABUF_MOVER_IOC_VMAP */
#define DMABUF_MOVER_VMAP_MAX		4096

/**
 * struct dmabuf_mover_vmap - DMABUF_MOVER_IOC_VMAP
 * @fd: a dma-buf, of any exporter
 * @len: bytes at @offset, 1 to DMABUF_MOVER_VMAP_MAX
 * @offset: where in the buffer; @offset + @len at most its size
 * @ptr: @len bytes of the caller's: in, what to write at @offset; out, what
 *	was there before
 *
 * Maps the buffer into the kernel (dma_buf_vmap_unlocked()), and within
 * dma_buf_begin_cpu_access() and dma_buf_end_cpu_access() reads the @len
 * bytes at @offset, writes the caller's there, and unmaps it.  EINVAL for
 * @len 0 or past DMABUF_MOVER_VMAP_MAX, an fd that is not a dma-buf, a
 * range outside the buffer or an exporter that cannot vmap; EBADF for no
 * open fd, or a dma-buf its exporter made read-only; EFAULT for @ptr; or
 * the exporter's error.
 */
struct dmabuf_mover_vmap {
	__u32 fd;
	__u32 len;
	__u64 offset;
	__u64 ptr;
};

#define DMABUF_MOVER_IOC_CREATE	_IOWR(0xB9, 0xE0, struct dmabuf_mover_create)
#define DMABUF_MOVER_IOC_MOVE	_IOWR(0xB9, 0xE1, struct dmabuf_mover_op)
#define DMABUF_MOVER_IOC_SIGNAL	_IOWR(0xB9, 0xE2, struct dmabuf_mover_op)
#define DMABUF_MOVER_IOC_QUERY	_IOWR(0xB9, 0xE3, struct dmabuf_mover_op)
#define DMABUF_MOVER_IOC_VMAP	_IOWR(0xB9, 0xE4, struct dmabuf_mover_vmap)

#endif /* _DMABUF_MOVER_H */
