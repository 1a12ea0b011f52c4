/*
 * record.h - journal records, checkpoints and materialised run state, and
 * their canonical binary encodings (docs/FORMAT.md is the byte-level spec).
 *
 * All integers are big-endian.  "str16" is a u16 length followed by that
 * many bytes (no NUL byte allowed inside, no terminator stored).  Every
 * decoder is strict: a length beyond its limit, an unknown enum value, a
 * non-zero reserved field, unsorted or duplicate pairs, or trailing bytes
 * make it fail with CAIRN_ECORRUPT (CAIRN_EVERSION for an unknown version)
 * and a detail naming the field and its byte offset.
 */
#ifndef CAIRN_RECORD_H
#define CAIRN_RECORD_H

#include "base/common.h"
#include "format/outputs.h"

/* Domain-separation prefixes (including their final NUL byte). */
#define CAIRN_GENESIS_TAG "cairn/v1/genesis"       /* 17 bytes with NUL */
#define CAIRN_CHECKPOINT_TAG "cairn/v1/checkpoint" /* 20 bytes with NUL */
#define CAIRN_ROTATE_TAG "cairn/v1/rotate"         /* 16 bytes with NUL */
#define CAIRN_KEYS_GENESIS_TAG "cairn/v1/keys"     /* 14 bytes with NUL */

/** Bytes at the end of a ROTATE record that its signatures do not cover:
 *  the old key's and the new key's Ed25519 signatures. */
#define CAIRN_ROTATE_SIGS_BYTES (2u * CAIRN_SIGNATURE_BYTES)

/** A run of consecutive pruned positions. */
typedef struct cairn_prune_range {
    uint64_t start; /* first position, >= 1 */
    uint32_t count; /* >= 1 */
} cairn_prune_range;

/**
 * A decoded record; every pointer is owned by the record and freed by
 * cairn__record_free(), except, in a record decoded into a scratch
 * (cairn__record_decode_scratch(), @c in_scratch set), its strings and kv
 * lists, which live in the scratch.  Unused string fields are "" (never
 * NULL after a successful decode), unused numbers 0.
 *
 * Layout (docs/FORMAT.md "Record"):
 *   u8 version | u8 type | u16 flags (0) | u64 run_num | u64 seq |
 *   u64 wall_ns | u64 mono_ns | 16 boot_id | 32 prev | str16 actor |
 *   u32 body_len | body
 * Bodies by type:
 *   CREATE : 16 journal_id | str16 run_id | str16 plan_id | 32 plan_hash |
 *            u8 signed (0/1) | 8 key_id (zero when unsigned) |
 *            u32 plan_len | plan_len bytes canonical plan JSON
 *   ACCEPT : str16 preflight_id | str16 reason
 *   CLAIM  : u32 op | u32 attempt | u8 claim_kind | u32 holder_pid |
 *            u64 holder_start | str16 host
 *   RECEIPT, RESOLVE:
 *            u32 op | u32 attempt | u8 outcome | u8 error_class |
 *            str16 reason | kvlist outputs | kvlist evidence
 *   RETRY  : u32 op | str16 reason
 *   CANCEL, TIMEOUT: str16 reason
 *   PRUNE  : str16 run_id | str16 plan_id | 32 plan_hash |
 *            str16 preflight_id | u8 state_flags | 8 key_id |
 *            u64 created_ns | u8 final_state | 7 x u32 op_counts |
 *            str16 rule | str16 reason | str16 policy | 32 bundle_sha256 |
 *            u64 bundle_bytes | str16 location | 32 plan_sha256 |
 *            u64 pruned_count | u32 n_ranges |
 *            n_ranges x (u64 start | u32 count) | pruned_count x 32 leaf
 *            (docs/FORMAT.md section 3.2 and 22)
 *   HOLD   : str16 reason (1..CAIRN_MAX_HOLD_REASON) | u64 until_ns
 *   RELEASE: str16 reason (1..CAIRN_MAX_HOLD_REASON)
 *   ROTATE : 16 journal_id | u64 from_size (>= 1) | 8 key_id (old) |
 *            32 old_pk | 8 new_key_id | 32 new_pk | str16 reason |
 *            64 old_sig | 64 new_sig; run_num 0; the new key differs
 *            from the old (docs/FORMAT.md section 24)
 *   kvlist : u16 count | count x (u16 klen | key | u32 vlen | value),
 *            keys strictly ascending by bytes (sorted, unique)
 * Limits: actor, reason, host <= CAIRN_MAX_TEXT / CAIRN_MAX_HOST; ids
 * 1..CAIRN_MAX_ID; plan 1..CAIRN_MAX_PLAN_BYTES; kv as in cairn.h;
 * whole record <= CAIRN_MAX_RECORD_BYTES.
 */
typedef struct cairn_record {
    uint8_t version;
    cairn_record_type type;
    uint64_t run_num;
    uint64_t seq;
    uint64_t wall_ns;
    uint64_t mono_ns;
    uint8_t boot_id[CAIRN_BOOT_ID_BYTES];
    uint8_t prev[CAIRN_HASH_BYTES];
    char *actor;
    /* CREATE */
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    char *run_id;
    char *plan_id;
    uint8_t plan_hash[CAIRN_HASH_BYTES];
    uint8_t signed_run;
    uint8_t key_id[CAIRN_KEY_ID_BYTES];
    char *plan_json; /* NUL-terminated copy; plan_len bytes before it */
    size_t plan_len;
    /* ACCEPT */
    char *preflight_id;
    /* CLAIM, RECEIPT, RETRY, RESOLVE */
    uint32_t op;
    uint32_t attempt;
    cairn_claim_kind claim_kind;
    uint32_t holder_pid;
    uint64_t holder_start;
    char *host;
    /* RECEIPT, RESOLVE */
    cairn_outcome outcome;
    cairn_error_class error_class;
    /* HOLD: wall time after which the hold no longer counts (0: none) */
    uint64_t until_ns;
    /* ACCEPT RECEIPT RETRY RESOLVE CANCEL TIMEOUT HOLD RELEASE */
    char *reason;
    cairn_kvlist outputs;
    cairn_kvlist evidence;
    /* PRUNE (run_id, plan_id, plan_hash, preflight_id, key_id and reason
     * above are used too) */
    uint8_t state_flags; /* the run's state flags bits 0..3 */
    uint64_t created_ns;
    uint8_t final_state;   /* cairn_run_state: 3, 4, 6 or 7 */
    uint32_t op_counts[7]; /* [0] all ops, [s] in cairn_op_state s */
    char *rule;
    char *policy;
    char *location;
    uint8_t bundle_sha256[CAIRN_HASH_BYTES];
    uint64_t bundle_bytes;
    uint8_t prune_plan_sha256[CAIRN_HASH_BYTES];
    uint64_t pruned_count; /* records removed: the PRUNE record's seq */
    size_t n_ranges;
    cairn_prune_range *ranges;                  /* ascending, never adjacent */
    uint8_t (*pruned_leaves)[CAIRN_HASH_BYTES]; /* pruned_count, in order */
    /* ROTATE (journal_id, key_id = the old key's id and reason above are
     * used too) */
    uint64_t from_size; /* the record's own position: heads of this size
                           and later are the new key's */
    uint8_t old_pk[CAIRN_PUBLIC_KEY_BYTES];
    uint8_t new_key_id[CAIRN_KEY_ID_BYTES];
    uint8_t new_pk[CAIRN_PUBLIC_KEY_BYTES];
    uint8_t old_sig[CAIRN_SIGNATURE_BYTES];
    uint8_t new_sig[CAIRN_SIGNATURE_BYTES];
    /* Strings and kv lists point into a cairn_record_scratch: not freed
     * by cairn__record_free(), not to be replaced by
     * cairn__record_set_str(). */
    uint8_t in_scratch;
} cairn_record;

/**
 * Memory that cairn__record_decode_scratch() decodes a record's strings
 * and kv lists into: one buffer, grown when a record needs more and
 * reused by the next decode, so that decoding a stream of records
 * allocates nothing per field.  Zero it to start; free it with
 * cairn__record_scratch_free().
 */
typedef struct cairn_record_scratch {
    uint8_t *buf;
    size_t cap;
    size_t used;
} cairn_record_scratch;

/** Nonzero for the run states a pruned run may end in (completed,
 *  failed, timed out, cancelled). */
CAIRN_INTERNAL int cairn__prune_final_state_ok(unsigned state);
/** Expand a PRUNE record's ranges into @p out (pruned_count positions,
 *  ascending). */
CAIRN_INTERNAL void cairn__prune_positions(const cairn_record *rec,
                                           uint64_t *out);

/** Zero a record so that every string is "" and it can be freed. */
CAIRN_INTERNAL void cairn__record_init(cairn_record *rec);
/** Free what a record owns; the struct itself is the caller's. */
CAIRN_INTERNAL void cairn__record_free(cairn_record *rec);

/** Replace a string field of a record with a copy of @p value (NULL
 *  means ""); frees the old value unless it is the shared "".
 *  @return CAIRN_OK; CAIRN_ENOMEM (the field is unchanged). */
CAIRN_INTERNAL cairn_err cairn__record_set_str(char **field, const char *value);

/**
 * Encode @p rec canonically (sorting a copy of its kv lists).
 * @param out  receives malloc'd bytes; *out_len their count.
 * @return CAIRN_OK; CAIRN_EINVAL (a field over its limit, empty id, NUL in
 *         a string, duplicate kv key, bad enum); CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__record_encode(const cairn_record *rec,
                                              uint8_t **out, size_t *out_len,
                                              char *detail, size_t detail_len);
/**
 * Decode @p len bytes strictly into @p rec (initialised by the call).
 * @return CAIRN_OK; CAIRN_ECORRUPT; CAIRN_EVERSION; CAIRN_ENOMEM.  On
 *         failure @p rec holds nothing to free.
 */
CAIRN_INTERNAL cairn_err cairn__record_decode(const uint8_t *buf, size_t len,
                                              cairn_record *rec, char *detail,
                                              size_t detail_len);

/**
 * cairn__record_decode() with the record's strings and kv lists placed in
 * @p scratch instead of one allocation each: the same checks, verdicts,
 * errors and details (CAIRN_ENOMEM aside, which names the record rather
 * than a field when the scratch cannot grow).  The record stays valid
 * until the next decode into @p scratch or its free; cairn__record_free()
 * still releases what it owns (a PRUNE record's ranges and leaves).
 */
CAIRN_INTERNAL cairn_err cairn__record_decode_scratch(
    const uint8_t *buf, size_t len, cairn_record *rec,
    cairn_record_scratch *scratch, char *detail, size_t detail_len);
/** Free a scratch's buffer and zero it (NULL: nothing). */
CAIRN_INTERNAL void cairn__record_scratch_free(cairn_record_scratch *scratch);

/** Leaf hash: SHA-256(0x00 || bytes). */
CAIRN_INTERNAL void cairn__leaf_hash(const uint8_t *buf, size_t len,
                                     uint8_t out[CAIRN_HASH_BYTES]);
/** The prev value of a run's first record:
 *  SHA-256("cairn/v1/genesis\0" || journal_id || str16 run_id || key_id). */
CAIRN_INTERNAL void cairn__genesis_hash(
    const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES], const char *run_id,
    const uint8_t key_id[CAIRN_KEY_ID_BYTES], uint8_t out[CAIRN_HASH_BYTES]);

/** The prev of a journal's first ROTATE record:
 *  SHA-256("cairn/v1/keys\0" || journal_id). */
CAIRN_INTERNAL void
cairn__keys_genesis(const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                    uint8_t out[CAIRN_HASH_BYTES]);

/**
 * The message both signatures of an encoded ROTATE record (@p rec,
 * @p len bytes) cover: "cairn/v1/rotate\0" followed by every byte of the
 * record before its two signatures.
 * @param msg  receives malloc'd bytes (free them); *msg_len their count.
 * @return CAIRN_OK; CAIRN_EINVAL (@p len too short); CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__rotate_message(const uint8_t *rec, size_t len,
                                               uint8_t **msg, size_t *msg_len);

/**
 * A checkpoint: the seal of one commit of one run.  Stored in the
 * checkpoints database under the position of the last record it covers.
 * Layout, 130 bytes: u8 version (1) | u8 flags (bit 0: signed; bit 1:
 * sealed by the journal head, format 2; at most one of them; others 0) |
 * u64 run_num | u64 seq | 32 head | u64 wall_ns | 8 key_id | 64 signature
 * (all zero unless signed; key_id zero too unless signed or head-sealed,
 * where it names the journal's key in force).  docs/FORMAT.md section 6.
 */
#define CAIRN_CHECKPOINT_BYTES 130
typedef struct cairn_checkpoint {
    uint8_t version;
    uint8_t is_signed;   /**< flag bit 0: its own Ed25519 signature */
    uint8_t head_sealed; /**< flag bit 1: the journal head signs it */
    uint64_t run_num;
    uint64_t seq;                   /**< sequence of the last record covered */
    uint8_t head[CAIRN_HASH_BYTES]; /**< leaf hash of that record */
    uint64_t wall_ns;
    uint8_t key_id[CAIRN_KEY_ID_BYTES];
    uint8_t sig[CAIRN_SIGNATURE_BYTES];
} cairn_checkpoint;

CAIRN_INTERNAL void
cairn__checkpoint_encode(const cairn_checkpoint *cp,
                         uint8_t out[CAIRN_CHECKPOINT_BYTES]);
CAIRN_INTERNAL cairn_err cairn__checkpoint_decode(const uint8_t *buf,
                                                  size_t len,
                                                  cairn_checkpoint *cp,
                                                  char *detail,
                                                  size_t detail_len);
/**
 * The message a checkpoint signature covers:
 *   "cairn/v1/checkpoint\0" | 16 journal_id | str16 run_id | u64 seq |
 *   32 head | u64 wall_ns | 8 key_id
 * written into @p out (at least CAIRN_CHECKPOINT_MSG_MAX bytes); returns
 * its length.
 */
#define CAIRN_CHECKPOINT_MSG_MAX (20 + 16 + 2 + CAIRN_MAX_ID + 8 + 32 + 8 + 8)
CAIRN_INTERNAL size_t cairn__checkpoint_message(
    const cairn_checkpoint *cp,
    const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES], const char *run_id,
    uint8_t out[CAIRN_CHECKPOINT_MSG_MAX]);

#endif
