/*
 * facts.h - the incremental facts of a run's state (facts.c), for the
 * state machine's own files.
 */
#ifndef CAIRN_STATE_FACTS_H
#define CAIRN_STATE_FACTS_H

#include "state/state.h"

/** Room for one more stopped target and one more pending op, so that
 *  cairn__facts_move() cannot fail.  @return CAIRN_OK; CAIRN_ENOMEM
 *  (nothing changed). */
CAIRN_INTERNAL cairn_err cairn__facts_reserve(cairn_state *st);
/** Move op @p i to state @p to and update every fact (counts, pending
 *  list, head, done prefix, preflight_open, stopped targets).  Reads the
 *  ops after @p i only when the head or the done prefix moves past it.
 *  Room must have been reserved (cairn__facts_reserve()). */
CAIRN_INTERNAL void cairn__facts_move(cairn_state *st, uint32_t i,
                                      cairn_op_state to);
/** Set every op's anchor (docs/FORMAT.md 23.3) from the ops' kinds and
 *  targets.  @return CAIRN_OK; CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__facts_anchors(cairn_state *st);
/** Is @p v in the ascending @p arr[@p n]?  O(log n). */
CAIRN_INTERNAL int cairn__facts_has(const uint32_t *arr, uint32_t n,
                                    uint32_t v);
/** Copy the set @p src[@p n] into *arr (capacity *cap, grown to n + 1).
 *  @return CAIRN_OK; CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__facts_copy_set(uint32_t **arr, uint32_t *cap,
                                               const uint32_t *src, uint32_t n);
/** Do @p a and @p b hold the same incremental facts? */
CAIRN_INTERNAL int cairn__facts_equal(const cairn_state *a,
                                      const cairn_state *b);

#endif
