/*
 * xq.h - group commit across processes (docs/FORMAT.md section 8,
 * "Shared commits").
 *
 * Every writable handle maps DIR/commit.shm, a queue shared by all the
 * processes that write the journal.  A transition is prepared entirely by
 * its caller, outside any write transaction: the run's state is read (the
 * caller holds the run's writer lock, so nobody else can change it), the
 * record is built, validated, encoded and hashed, the new state encoded
 * and the checkpoint signed with the caller's own key.  What is left
 * needs no key and no plan: put the bytes at the next positions.  The
 * caller copies them into a slot of the queue; whoever finds no leader
 * becomes the leader, takes every queued slot, and writes them all in one
 * LMDB write transaction (one fsync pair for the lot), checking each
 * run's stored state against the one the slot was prepared from.  Every
 * caller returns only after the commit holding its record returned.
 *
 * A leader that dies leaves its slots "orphaned": their owners find out
 * from LMDB whether the commit happened (then force a sync before they
 * answer) or queue them again.  A slot whose owner died is dropped, never
 * written.  A queue left by another boot is reset.
 */
#ifndef CAIRN_XQ_H
#define CAIRN_XQ_H

#include "base/common.h"

#include <sys/stat.h>

typedef struct cairn_xq cairn_xq;

/**
 * Map (creating it when missing) the commit queue of the journal
 * directory open as @p dfd (named @p dir; @p mode_ref the fstat of its
 * data.mdb, for the mode of a new file).  commit.shm is opened without
 * following a symbolic link and must be a regular file of the caller's
 * (CAIRN_EUNSAFE otherwise).  A queue no process uses is made new,
 * whatever it holds.  Fails, leaving *out NULL, when the file cannot be
 * created or mapped, when it is in use by another version or namespace
 * or its lock cannot be taken within XQ_LOCK_BOUND_S; the handle then
 * commits on its own (group commit between its threads only), as it does
 * when opened with CAIRN_OPEN_NO_SHARED_COMMIT (then this is not called).
 * @p batch_max and @p wait_us are the handle's (cairn_journal_opts
 * batch_max, capped at the queue's 256 slots; batch_wait_us).
 */
CAIRN_INTERNAL cairn_err cairn__xq_open(int dfd, const char *dir,
                                        const struct stat *mode_ref,
                                        unsigned batch_max, unsigned wait_us,
                                        cairn_xq **out, char *detail,
                                        size_t detail_len);
CAIRN_INTERNAL void cairn__xq_close(cairn_xq *q);

/** Commits led, records written and stale preparations turned back by
 *  this process's leaders (tests; read without the queue's mutex). */
CAIRN_INTERNAL void cairn__xq_counts(const cairn_xq *q, uint64_t *commits,
                                     uint64_t *records, uint64_t *stale);

#endif
