/*
 * import_value.h - the value of the `imports` database (docs/FORMAT.md
 * section 21): a bundle imported by cairn_import(), its .minisig, the run
 * state replayed from it, and where each record lies in the bundle, so
 * that status and log read an imported run without parsing the bundle.
 *
 * Layout (big-endian):
 *   u8 version (1: plain bundle, 2: zstd bundle) | u64 imported_ns |
 *   u32 bundle_len (1..2^30) | bundle bytes, as given |
 *   version 2 only: u32 unpacked_len (1..2^30), the bundle decompressed |
 *   u32 minisig_len (0..16384) | .minisig text (no NUL; 0: none stored) |
 *   u32 state_len (1..2^28) | run state blob (section 9) |
 *   u32 n_records (1..2^24) | n x (u64 position | u32 offset | u32 len)
 * Version 1's bundle must not start with the zstd magic, version 2's
 * must.  Records: len 1..CAIRN_MAX_CREATE_RECORD_BYTES, offset + len <= the
 * plain bundle's length (bundle_len, or unpacked_len for version 2: the
 * offsets are into the decompressed bytes), each record after the
 * previous one (offset >= previous offset + len) and positions strictly
 * ascending.  Nothing may follow.
 */
#ifndef CAIRN_IMPORT_VALUE_H
#define CAIRN_IMPORT_VALUE_H

#include "base/common.h"

#define CAIRN__IMPORT_VERSION 1u      /**< the bundle stored plain */
#define CAIRN__IMPORT_VERSION_ZSTD 2u /**< the bundle stored as zstd */
#define CAIRN__IMPORT_BUNDLE_MAX ((size_t)1 << 30)
#define CAIRN__IMPORT_MINISIG_MAX 16384u
#define CAIRN__IMPORT_STATE_MAX ((size_t)256 << 20) /* state codec limit */
#define CAIRN__IMPORT_RECORDS_MAX (1u << 24)

/** One record of the bundle: its journal position and its bytes. */
typedef struct cairn_import_rec {
    uint64_t position;
    uint32_t offset; /**< into the bundle bytes */
    uint32_t len;
} cairn_import_rec;

/** A decoded value: views into the decoded buffer (which must outlive
 *  it), except @c recs, allocated (cairn__import_value_free()). */
typedef struct cairn_import_value {
    uint64_t imported_ns;
    const uint8_t *bundle; /**< the bundle file as given (maybe zstd) */
    size_t bundle_len;
    const uint8_t *minisig; /**< NULL when none is stored */
    size_t minisig_len;
    const uint8_t *state;
    size_t state_len;
    cairn_import_rec *recs;
    size_t n_recs;
    /** Nonzero: @c bundle is a zstd frame (version 2) of @c unpacked_len
     *  bytes; the record offsets are into those.  Zero: @c unpacked_len
     *  is @c bundle_len (the decoder sets it; the encoder ignores it). */
    int compressed;
    size_t unpacked_len;
} cairn_import_value;

/** Decode @p len bytes strictly.  @return CAIRN_OK; CAIRN_ECORRUPT (detail
 *  "import offset N: what"); CAIRN_ENOMEM.  On failure nothing to free. */
CAIRN_INTERNAL cairn_err cairn__import_value_decode(const uint8_t *buf,
                                                    size_t len,
                                                    cairn_import_value *out,
                                                    char *detail,
                                                    size_t detail_len);
/** Encode @p v (every field checked as the decoder does) into @p w.
 *  @return CAIRN_OK; CAIRN_EINVAL (a field out of range); CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__import_value_encode(const cairn_import_value *v,
                                                    uint8_t **out,
                                                    size_t *out_len);
CAIRN_INTERNAL void cairn__import_value_free(cairn_import_value *v);

/**
 * The plain bundle bytes the record offsets of @p v index: @p v's bundle
 * itself, or (version 2) the bundle decompressed into *@p owned (free()
 * it), which must be exactly @c unpacked_len bytes.  *@p bytes is
 * @c unpacked_len bytes long.
 * @return CAIRN_OK; CAIRN_ECORRUPT (the frame does not decompress, or to
 *         another length: detail "import: ..."); CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__import_value_unpack(const cairn_import_value *v,
                                                    uint8_t **owned,
                                                    const uint8_t **bytes,
                                                    char *detail,
                                                    size_t detail_len);

#endif
