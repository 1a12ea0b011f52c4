/*
 * xq_int.h - between the shared queue (xq_shm.c) and the journal side of
 * shared commits (xq_commit.c).  See xq.h.
 */
#ifndef CAIRN_XQ_INT_H
#define CAIRN_XQ_INT_H

#include "xq.h"

#define CAIRN__XQ_DETAIL 256

/** One queued transition as the leader sees it: the payload bytes
 *  (xq_commit.c's format, in the shared mapping, writable by the leader
 *  only while it holds the slot) and the result it fills in. */
typedef struct cairn_xq_item {
    uint8_t *data;
    size_t len;
    cairn_err err;
    int stale; /**< prepared from a state that is no longer the run's */
    uint64_t pos;
    char detail[CAIRN__XQ_DETAIL];
} cairn_xq_item;

/**
 * Write @p n items in one write transaction of @p j (xq_commit.c): each
 * gets err/stale/pos/detail.  A storage failure fails every item.
 */
CAIRN_INTERNAL void cairn__xq_write_batch(cairn_journal *j,
                                          cairn_xq_item *items, size_t n);

/**
 * After a leader died holding the payload: is its record in the journal
 * (*pos, *found)?  Reads in a fresh read transaction (xq_commit.c).
 */
CAIRN_INTERNAL cairn_err cairn__xq_committed(cairn_journal *j,
                                             const uint8_t *data, size_t len,
                                             uint64_t *pos, int *found);

/** The payload capacity of one slot. */
CAIRN_INTERNAL size_t cairn__xq_slot_bytes(const cairn_xq *q);

/**
 * Queue @p len bytes of @p payload and wait until the transition is
 * decided, leading commits whenever nobody else does (xq_shm.c).  The
 * result lands in @p out (data and len are not used).
 * @return CAIRN_OK with @p out filled; CAIRN_EINVAL (payload too big);
 *         CAIRN_EIO when the queue is unusable (a robust mutex that can no
 *         longer be recovered): nothing was queued.
 */
CAIRN_INTERNAL cairn_err cairn__xq_submit(cairn_xq *q, cairn_journal *j,
                                          const uint8_t *payload, size_t len,
                                          cairn_xq_item *out);

#endif
