/*
 * codec_int.h - the pieces the run state codecs share (state_codec.c:
 * section 9's whole blob; summary_codec.c: format 2's run summary and
 * operation rows, docs/FORMAT.md section 23).  Internal to lib/state.
 */
#ifndef CAIRN_STATE_CODEC_INT_H
#define CAIRN_STATE_CODEC_INT_H

#include "base/bytes.h"
#include "state/state.h"

/** Largest encoded state, summary or row. */
#define CAIRN__STATE_MAX_BYTES (256u << 20)

enum {
    SF_ACCEPTED = 1,
    SF_SIGNED = 2,
    SF_CANCELLED = 4,
    SF_TIMED_OUT = 8,
    SF_HELD = 16,   /* the hold block follows the ops */
    SF_PRUNED = 32, /* a pruned run's stub: counts instead of ops */
    OF_IDEMPOTENT = 1,
    OF_PROBE = 2,
    OF_RULES = 4 /* the requires list is followed by its rules */
};

/** A decoder: the bounded reader, the caller's detail buffer and what is
 *  decoded ("run state", "op row"), which every detail starts with. */
typedef struct cairn__sc_dec {
    cairn_rd r;
    char *detail;
    size_t detail_len;
    const char *what;
} cairn__sc_dec;

/** CAIRN_ECORRUPT with "<what> offset N: <field>: <why>". */
CAIRN_INTERNAL cairn_err cairn__sc_bad(cairn__sc_dec *d, const char *field,
                                       const char *what);
/** A str16 of min..cap-1 bytes without NUL, copied into dst[cap]; the
 *  reader does not move on failure. */
CAIRN_INTERNAL cairn_err cairn__sc_get_str(cairn__sc_dec *d, const char *field,
                                           char *dst, size_t cap, size_t min);
CAIRN_INTERNAL void cairn__sc_put_str(cairn_wr *w, const char *s);
/** One op as section 9 lays it out; @p anchor: with the u32 anchor after
 *  the flags (a format-2 row, section 23.3). */
CAIRN_INTERNAL void cairn__sc_put_op(cairn_wr *w, const cairn_op_st *op,
                                     int anchor);
/** Decode one op (as cairn__sc_put_op() writes it).  On failure the op
 *  may own requires: the caller frees them. */
CAIRN_INTERNAL cairn_err cairn__sc_get_op(cairn__sc_dec *d, cairn_op_st *op,
                                          int anchor);
/** The fields up to updated_ns with @p version, and a pruned stub's
 *  final state and counts. */
CAIRN_INTERNAL void cairn__sc_put_header(cairn_wr *w, const cairn_state *st,
                                         uint8_t version);
/** Decode what cairn__sc_put_header() writes, then (not pruned) n_ops,
 *  checked 1..CAIRN_MAX_OPS; the version must be @p version. */
CAIRN_INTERNAL cairn_err cairn__sc_get_header(cairn__sc_dec *d, cairn_state *st,
                                              uint8_t version);
/** The hold block, when st->held. */
CAIRN_INTERNAL void cairn__sc_put_hold(cairn_wr *w, const cairn_state *st);
CAIRN_INTERNAL cairn_err cairn__sc_get_hold(cairn__sc_dec *d, cairn_state *st);

#endif
