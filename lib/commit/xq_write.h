/*
 * xq_write.h - the leader's side of shared commits (xq_write.c): parse
 * queued payloads, write them in one transaction of the store, and tell
 * an owner whose leader died whether its record is in.  See store/xq.h.
 */
#ifndef CAIRN_XQ_WRITE_H
#define CAIRN_XQ_WRITE_H

#include "journal/journal.h"
#include "store/store.h"
#include "store/xq_int.h"

/** One queued transition as the leader sees it: the payload bytes
 *  (the payload format of xq_commit.c, in the shared mapping, writable by the
 * leader only while it holds the slot) and the result it fills in. */
typedef struct cairn_xq_item {
    uint8_t *data;
    size_t len;
    cairn_err err;
    int stale; /**< prepared from a state that is no longer the run's */
    uint64_t pos;
    char detail[CAIRN__XQ_DETAIL];
} cairn_xq_item;

/**
 * Write @p n items in one write transaction of @p j's store, ending with
 * the journal's new head signed by @p j's signer (commit/head_write.c):
 * each gets err/stale/pos/detail.  The head and each run's stored state
 * are proven first (journal/head.h); a storage failure, or a head that
 * does not prove, fails every item.
 */
CAIRN_INTERNAL void cairn__xq_write_batch(cairn_journal *j,
                                          cairn_xq_item *items, size_t n);

/**
 * After a leader died holding the payload: is its record in the journal
 * (*pos, *found)?  Looks in a write transaction of @p store that is
 * always aborted.
 */
CAIRN_INTERNAL cairn_err cairn__xq_committed(cairn_store *store,
                                             const uint8_t *data, size_t len,
                                             uint64_t *pos, int *found);

/** A payload, parsed (views into it; xq_commit.c has the layout). */
typedef struct xpayload {
    uint64_t run_num, seq;
    const uint8_t *prev, *cp, *rec, *state;
    uint32_t rec_len, state_len, last_pos_off;
    uint32_t n_rows;     /**< rows the record changes ... */
    const uint8_t *rows; /**< ... each u32 op | u32 length | row */
    size_t rows_len;
} xpayload;

/** Parse a payload strictly (every length inside @p len, every row's
 *  too, nothing left over, last_pos inside the state).  0 or -1.  Fuzzed:
 * fuzz_xq.c. */
CAIRN_INTERNAL int cairn__xq_payload_parse(const uint8_t *p, size_t len,
                                           xpayload *out);
/** From an encoded run state (FORMAT.md section 9, or a summary of
 *  section 23.2, which begins the same way): next_seq, head and
 *  the offset of last_pos (8 bytes are there).  0, or -1 when it does not
 *  parse that far.  Fuzzed: fuzz_xq.c. */
CAIRN_INTERNAL int cairn__xq_state_tail(const uint8_t *p, size_t len,
                                        uint64_t *next_seq,
                                        const uint8_t **head,
                                        size_t *last_pos_off);

#endif
