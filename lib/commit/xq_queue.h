/*
 * xq_queue.h - the shared commit queue's protocol (xq_queue.c): queue a
 * prepared payload and wait for its commit.  See store/xq.h.
 */
#ifndef CAIRN_XQ_QUEUE_H
#define CAIRN_XQ_QUEUE_H

#include "commit/xq_write.h"

/**
 * Queue @p len bytes of @p payload and wait until the transition is
 * decided, leading commits (in @p store) whenever nobody else does.  The
 * result lands in @p out (data and len are not used).
 * @return CAIRN_OK with @p out filled; CAIRN_EINVAL when it was not
 *         queued: too big, or no room on the file system for the slot's
 *         blocks (the caller commits it on its own, where a full disk is
 *         an error LMDB reports);
 *         CAIRN_EIO when the queue is unusable (a robust mutex that can no
 *         longer be recovered): nothing was queued.
 */
CAIRN_INTERNAL cairn_err cairn__xq_submit(cairn_xq *q, cairn_journal *j,
                                          const uint8_t *payload, size_t len,
                                          cairn_xq_item *out);

#endif
