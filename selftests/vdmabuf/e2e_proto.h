/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vdmabuf end-to-end tests: what the guest test (e2e_vdmabuf, in L2) and
 * the host importer (importer_e2e, in L1) tell each other.
 *
 * They share no channel but the device:
 *  - guest -> host: the export's metadata, a struct e2e_meta naming the
 *    test and, per frame sequence number, the FNV-1a hash the host must
 *    find in the buffer when that frame is PRESENTED;
 *  - host -> guest: a struct e2e_verdict the host writes through its own
 *    mapping into the last E2E_VERDICT_SIZE bytes of the buffer before it
 *    acknowledges the frame with FRAME_DONE.  The guest reads it after the
 *    FRAME_DONE event.  So pixels travel guest -> host and the verdict host
 *    -> guest through the same pages, zero copy both ways.
 *
 * The hash covers bytes [0, size - E2E_VERDICT_SIZE) of the buffer; the
 * guest zeroes the verdict area before every PRESENT.
 *
 * All multi-byte fields are little-endian.
 */
#ifndef VDMABUF_E2E_PROTO_H
#define VDMABUF_E2E_PROTO_H

#include <stdint.h>

#include "demo_pattern.h"	/* DEMO_FOURCC, fnv1a64 */

#define E2E_META_MAGIC		DEMO_FOURCC('V', 'D', 'E', '2')
#define E2E_VERDICT_MAGIC	DEMO_FOURCC('V', 'E', 'R', 'D')
#define E2E_CHILD_MAGIC		DEMO_FOURCC('K', 'I', 'D', '!')
/*
 * Lifecycle tests (life_guest in L2, importer_holder in L1): metadata of
 * exactly two little-endian 32-bit words, this magic and the guest
 * program's pid.  Only the holder imports these; importer_e2e leaves them.
 */
#define E2E_HOLD_MAGIC		DEMO_FOURCC('H', 'O', 'L', 'D')
#define E2E_VERDICT_SIZE	64
#define E2E_MAX_FRAMES		8

/* struct e2e_meta.test_id */
#define E2E_T_PIXELS		1	/* one frame, host checks the hash */
#define E2E_T_REWRITE		2	/* two frames, new contents, no re-export */
#define E2E_T_EVERY		3	/* many frames, some replaced */
#define E2E_T_RELEASE		4	/* host holds the import after UNEXPORTED */
#define E2E_T_KILL		5	/* a host importer dies holding a frame */

/* struct e2e_meta.flags */
/* Keep the import for hold_ms after UNEXPORTED before closing it. */
#define E2E_F_HOLD		(1U << 0)
/*
 * Fork a second importer (its own importer fd from the socket) that
 * imports and maps the buffer and never acknowledges a frame; kill it
 * kill_ms after it saw frame 2.  Frame 1 is acknowledged only once that
 * importer is ready.
 */
#define E2E_F_KILL		(1U << 1)

/**
 * struct e2e_frame - the expected contents of one frame
 * @seq: the PRESENT's sequence number; 0 matches any sequence number
 * @hash: FNV-1a 64 of bytes [0, size - E2E_VERDICT_SIZE)
 */
struct e2e_frame {
	uint64_t seq;
	uint64_t hash;
};

/**
 * struct e2e_meta - the metadata of an e2e export
 * @magic: E2E_META_MAGIC; exports without it are not e2e buffers
 * @test_id: E2E_T_*
 * @flags: E2E_F_*
 * @nr_frames: valid entries in @frames
 * @size: the buffer's size as the guest sees it
 * @hold_ms: E2E_F_HOLD: how long the host keeps its import
 * @kill_ms: E2E_F_KILL: delay before the second importer is killed
 * @frames: expected hash per frame
 */
struct e2e_meta {
	uint32_t magic;
	uint32_t test_id;
	uint32_t flags;
	uint32_t nr_frames;
	uint64_t size;
	uint32_t hold_ms;
	uint32_t kill_ms;
	struct e2e_frame frames[E2E_MAX_FRAMES];
};

/* struct e2e_verdict.result */
#define E2E_R_PASS		1	/* the bytes hashed as expected */
#define E2E_R_HASH		2	/* the bytes hashed to something else */
#define E2E_R_NOFRAME		3	/* no expected hash for this seq */
#define E2E_R_SIZE		4	/* sizes of metadata and event differ */
#define E2E_R_CHILD		5	/* E2E_F_KILL: second importer failed */

/* struct e2e_verdict.flags */
#define E2E_VF_CHILD_READY	(1U << 0)	/* second importer holds it */

/**
 * struct e2e_verdict - written by the host at size - E2E_VERDICT_SIZE
 * @magic: E2E_VERDICT_MAGIC
 * @result: E2E_R_*
 * @test_id: the test the host thinks this is
 * @flags: E2E_VF_*
 * @seq: the frame the verdict is about
 * @hash_seen: what the host computed
 * @hash_expected: what the metadata said
 * @frames: frames of this buffer the host has verified so far
 * @child_magic: E2E_CHILD_MAGIC, written by the second importer only
 * @child_pid: the second importer's pid
 * @child_seq: the newest frame the second importer saw
 */
struct e2e_verdict {
	uint32_t magic;
	uint32_t result;
	uint32_t test_id;
	uint32_t flags;
	uint64_t seq;
	uint64_t hash_seen;
	uint64_t hash_expected;
	uint64_t frames;
	uint32_t child_magic;
	uint32_t child_pid;
	uint64_t child_seq;
};

_Static_assert(sizeof(struct e2e_verdict) == E2E_VERDICT_SIZE,
	       "verdict must fill the verdict area");
_Static_assert(sizeof(struct e2e_meta) == 32 + 16 * E2E_MAX_FRAMES,
	       "e2e_meta layout");

#endif /* VDMABUF_E2E_PROTO_H */
