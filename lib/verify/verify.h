/*
 * verify.h - forensic verification (internal): the streaming verifier core
 * shared by the journal and bundle paths, the bundle format constants, and
 * the report helpers.
 *
 * The core is independent of LMDB.  A driver feeds it the records of one
 * run in sequence order (bytes and position) and, right after the record
 * it seals, each checkpoint of the run (bytes and position).  The core
 * decodes strictly, checks the run binding, the hash chain, the state
 * machine and every checkpoint, and fills a cairn_verify_report.  It keeps
 * one decoded record at a time and the replayed state: memory does not
 * grow with the number of records.
 */
#ifndef CAIRN_VERIFY_H
#define CAIRN_VERIFY_H

#include "base/common.h"
#include "base/crypto.h"
#include "keys/key.h"
#include "format/merkle.h"
#include "format/note.h"
#include "format/record.h"
#include "journal/keyhist.h"
#include "state/state.h"
#include "store/store.h"

/* ---- Bundle format (docs/FORMAT.md section 12) ------------------------- */

#define CAIRN__BUNDLE_MAGIC "CAIRNBDL"
#define CAIRN__BUNDLE_MAGIC_LEN 8u
#define CAIRN__BUNDLE_VERSION 1u
/** Version 2 (docs/FORMAT.md section 19): version 1 and a trailer. */
#define CAIRN__BUNDLE_VERSION_2 2u
/** Version 3 (docs/FORMAT.md section 26): version 2 and the journal's key
 *  history (ROTATE records with their inclusion proofs). */
#define CAIRN__BUNDLE_VERSION_3 3u
/** Longest ROTATE record a version-3 bundle carries (u16 length). */
#define CAIRN__BUNDLE_ROTATE_MAX 65535u
/** Longest journal head a version-2 bundle carries. */
#define CAIRN__BUNDLE_HEAD_MAX 4096u
/** Longest state blob a version-2 bundle carries (the state codec's
 *  limit, CAIRN__STATE_MAX_BYTES: a section 9 blob of CAIRN_MAX_OPS
 *  operations fits). */
#define CAIRN__BUNDLE_STATE_MAX (256u << 20)
/** Most records (and checkpoints) a bundle may hold. */
#define CAIRN__BUNDLE_MAX_RECORDS (1u << 24)
/** zstd level of export --zstd. */
#define CAIRN__BUNDLE_ZSTD_LEVEL 12
/** Largest bundle file written or read (1 GiB; for a compressed bundle
 *  also the bound of its decompressed bytes). */
#define CAIRN__BUNDLE_MAX_BYTES ((size_t)1 << 30)

/* ---- Reports -------------------------------------------------------- */

/** Zero @p rep and fill run id (truncated to fit), key_pinned and the
 *  fingerprint of @p pinned (may be NULL). */
CAIRN_INTERNAL void cairn__report_init(cairn_verify_report *rep,
                                       const char *run_id,
                                       const cairn_pubkey *pinned);
/** Verdict TAMPERED with the first bad object.  @p has_seq says whether
 *  @p seq names a record; @p expected / @p found may be NULL. */
CAIRN_INTERNAL void
cairn__report_tampered(cairn_verify_report *rep, int has_seq, uint64_t seq,
                       const char *field, const char *expected,
                       const char *found, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/** Verdict ERROR with @p fmt as the reason. */
CAIRN_INTERNAL void cairn__report_error(cairn_verify_report *rep,
                                        const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Lowercase hex of a hash into @p out (65 bytes). */
CAIRN_INTERNAL void cairn__hash_hex(const uint8_t h[CAIRN_HASH_BYTES],
                                    char out[2 * CAIRN_HASH_BYTES + 1]);

/* ---- The streaming core --------------------------------------------- */

/** The last plan a verifier parsed, kept across the runs one thread
 *  verifies: runs of one plan store the same canonical bytes, and a byte-
 *  for-byte equal plan is parsed once (parsing is deterministic, so the
 *  result is the same).  Zero-initialise; cairn__plan_memo_free() after. */
/** A journal head whose signature verified under @c key (the bytes of
 *  meta "head", malloc'd; NULL: none yet), so that the runs one thread
 *  verifies check the same head's Ed25519 signature once. */
typedef struct cairn__vhead_memo {
    uint8_t *bytes;
    size_t len;
    const cairn_pubkey *key;
} cairn__vhead_memo;

typedef struct cairn_plan_memo {
    char *json;
    size_t len;
    cairn_plan *plan;
    cairn__vhead_memo head; /**< kept across the runs too (verify_run.c) */
} cairn_plan_memo;

CAIRN_INTERNAL void cairn__plan_memo_free(cairn_plan_memo *m);

typedef struct cairn_vcore {
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    uint64_t run_num;           /**< expected run number; 0: adopt seq 0's */
    const char *run_id;         /**< expected run id (borrowed), or NULL */
    const cairn_pubkey *pinned; /**< NULL after a key mismatch */
    char mismatch[200];         /**< the key mismatch, for the reason */
    cairn_verify_report *rep;
    cairn_state st; /**< the replayed state */
    int stopped;    /**< the verdict is decided (TAMPERED) */
    uint64_t n;     /**< records accepted so far */
    uint64_t last_pos;
    uint8_t last_hash[CAIRN_HASH_BYTES];
    uint64_t last_wall;
    int last_sealed; /**< a checkpoint sealed the last record */
    uint64_t sealed; /**< records covered by the last checkpoint */
    int have_cp;
    uint64_t cp_wall;   /**< wall_ns of the previous checkpoint */
    uint64_t time_back; /**< checkpoints older than their predecessor */
    uint64_t time_back_seq;
    cairn_plan_memo *memo; /**< optional, borrowed (set after init) */
    /** The run is pruned: its first (and only) record fed was its PRUNE
     *  record, which stands for records 0..seq-1 (docs/FORMAT.md
     *  section 22); the state is the stub it implies. */
    int pruned_start;
    /** The journal's key history (verify_keys.c; NULL or empty: none):
     *  each checkpoint's key id must be the key in force at its position
     *  and the run's CREATE that at its own, and, when @c keys_trusted, the
     *  signature is checked under that key. */
    const cairn_keyhist *keys;
    int keys_trusted;
    /** Head-sealed checkpoints (flag bit 1, docs/FORMAT.md section 25)
     *  are allowed: the driver reads a format-2 journal or a version-2
     *  bundle, whose signed head covers the run.  Elsewhere they are
     *  TAMPERED (nothing would sign them). */
    int head_seals;
    /** The driver checked, before cairn__vcore_finish(), the journal
     *  head's signature under the pinned key and that it covers the run's
     *  last record (log tree) and state (state map).  Without it a run
     *  with head-sealed checkpoints is never VERIFIED. */
    int head_proven;
    /** Where each record's strings and kv lists are decoded (reused from
     *  record to record: no allocation per field). */
    cairn_record_scratch scratch;
} cairn_vcore;

/** Start a run.  @p run_id and @p pinned are borrowed for the core's
 *  life; @p rep must already be initialised (cairn__report_init). */
CAIRN_INTERNAL void
cairn__vcore_init(cairn_vcore *v,
                  const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                  uint64_t run_num, const char *run_id,
                  const cairn_pubkey *pinned, cairn_verify_report *rep);
CAIRN_INTERNAL void cairn__vcore_free(cairn_vcore *v);
/**
 * Feed the next record of the run (its sequence is the number of records
 * fed before it).
 * @return CAIRN_OK; CAIRN_ETAMPERED (verdict decided: the report names the
 *         first bad record; feeding more is a no-op); CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__vcore_record(cairn_vcore *v, uint64_t position,
                                             const uint8_t *bytes, size_t len);
/**
 * Feed a checkpoint stored under @p position.  It must seal the record fed
 * last (same position); anything else is TAMPERED.
 * @return CAIRN_OK; CAIRN_ETAMPERED.
 */
CAIRN_INTERNAL cairn_err cairn__vcore_checkpoint(cairn_vcore *v,
                                                 uint64_t position,
                                                 const uint8_t *bytes,
                                                 size_t len);
/** Stop with TAMPERED for a reason found by the driver (index gap ...). */
CAIRN_INTERNAL cairn_err cairn__vcore_tampered(cairn_vcore *v, int has_seq,
                                               uint64_t seq, const char *field,
                                               const char *expected,
                                               const char *found,
                                               const char *reason);
/**
 * A version-2 run state (docs/FORMAT.md 23.6; verify_rows.c): a summary
 * counting other records than the replay is TAMPERED, field "state" at
 * the first sequence they disagree on; then every op
 * tree node, every operation row and the stored summary @p val (@p vl
 * bytes) must be byte for byte those of the replayed state v->st (whose
 * ops_root this sets).  A difference stops @p v with TAMPERED, field
 * "otree" (naming level and index), "oprows" (naming the op and the first
 * differing field) or "state" (the summary).
 * @return CAIRN_OK; CAIRN_ETAMPERED; CAIRN_ENOMEM; storage errors.
 */
CAIRN_INTERNAL cairn_err cairn__verify_rows(cairn_txn *txn, cairn_vcore *v,
                                            const uint8_t *val, size_t vl);
/** Decide the verdict when nothing was found: INCOMPLETE (unsigned run,
 *  key not pinned, unsealed tail, no records, head-sealed checkpoints
 *  without @c head_proven) or VERIFIED.  @p note (may
 *  be NULL) is appended to the reason. */
CAIRN_INTERNAL void cairn__vcore_finish(cairn_vcore *v, const char *note);

/* ---- Walking lookups (verify_read.c) -------------------------------- */

/** cairn__txn_get() through a cursor kept open between calls: a key on
 *  the leaf page of the one asked before is found without a descent. */
typedef struct cairn__vread {
    cairn_txn *txn;
    cairn_dbi dbi;
    cairn_cursor *cur;
} cairn__vread;

CAIRN_INTERNAL void cairn__vread_init(cairn__vread *r, cairn_txn *txn,
                                      cairn_dbi dbi);
/**
 * The value under @p key, as cairn__txn_get() gives it (*found 0 when
 * absent); the view lives as long as the transaction.
 * @return CAIRN_OK; a store error.
 */
CAIRN_INTERNAL cairn_err cairn__vread_get(cairn__vread *r, const uint8_t *key,
                                          size_t key_len, const uint8_t **val,
                                          size_t *val_len, int *found);
/** Close the cursor (before the transaction ends); NULL-safe state. */
CAIRN_INTERNAL void cairn__vread_close(cairn__vread *r);

/* ---- Key rotation (verify_keys.c, docs/FORMAT.md section 24) ------- */

/** The key history as a verifier sees it. */
typedef struct cairn__vkeys {
    cairn_keyhist kh;
    int trusted;       /**< a pinned key is in the chain: all of it counts */
    cairn_pubkey *set; /**< the chain's keys as a pinned set (trusted) */
} cairn__vkeys;

/**
 * Load and check the journal's key history in @p txn and decide whether
 * @p pinned trusts it (see verify_keys.c).
 * @return CAIRN_OK; CAIRN_ETAMPERED (@p rep filled, field "rotation");
 *         CAIRN_ENOMEM; a store error.  Free @p vk with
 *         cairn__vkeys_free() in every case.
 */
CAIRN_INTERNAL cairn_err cairn__vkeys_load(
    cairn_txn *txn, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    const cairn_pubkey *pinned, cairn__vkeys *vk, cairn_verify_report *rep);
CAIRN_INTERNAL void cairn__vkeys_free(cairn__vkeys *vk);
/**
 * With vk->kh loaded: when a key of @p pinned (id and public key) is in
 * the chain, trust the whole chain (vk->trusted, vk->set).
 * @return CAIRN_OK; CAIRN_ENOMEM (@p vk freed).
 */
CAIRN_INTERNAL cairn_err cairn__vkeys_trust(cairn__vkeys *vk,
                                            const cairn_pubkey *pinned);
/** The pinned set to check signatures with: the chain's keys when
 *  trusted (the current key first), else @p pinned. */
CAIRN_INTERNAL const cairn_pubkey *
cairn__vkeys_pinned(const cairn__vkeys *vk, const cairn_pubkey *pinned);
/**
 * After the head was read (rep->journal_head): a trusted history needs
 * the head signed by the key in force at its size, and every ROTATE record
 * proven in the log tree under the head's root.
 * @return CAIRN_OK; CAIRN_ETAMPERED (@p rep filled); a store error.
 */
CAIRN_INTERNAL cairn_err cairn__vkeys_check_head(
    cairn_txn *txn, const cairn__vkeys *vk,
    const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES], cairn_verify_report *rep);

/* ---- Format 2: stored Merkle trees (verify_tree.c) ------------------ */

/** A stored tree (database @p dbi: key u8 level || u64 BE index, value a
 *  32-byte hash) being checked against its leaves, pushed in order. */
typedef struct cairn__vtree {
    cairn_txn *txn;
    cairn_dbi dbi;
    const char *field; /**< "tree" or "state-map": the report's field */
    cairn_verify_report *rep;
    cairn_mt_stream st; /**< the recomputed tree (format/merkle.h) */
    int stored_leaves;  /**< leaves come from level 0 (push_stored) */
    cairn_cursor *cur[CAIRN_MT_MAX_LEVEL + 1]; /**< one per level */
} cairn__vtree;

/** Start checking the tree in @p dbi; @p field and @p rep borrowed. */
CAIRN_INTERNAL void cairn__vtree_init(cairn__vtree *t, cairn_txn *txn,
                                      cairn_dbi dbi, const char *field,
                                      cairn_verify_report *rep);
/**
 * Push the next leaf (its bytes: the leaf hash is SHA-256(0x00 || bytes))
 * and compare every node it completes with the stored one.
 * @return CAIRN_OK; CAIRN_ETAMPERED (rep names the node: bad_field, has_node,
 *         bad_level, bad_index); a store error (rep untouched).
 */
CAIRN_INTERNAL cairn_err cairn__vtree_push(cairn__vtree *t,
                                           const uint8_t *bytes, size_t len);
/**
 * Push the next leaf as stored at level 0 (its hash is not recomputed from
 * the record here: the caller proves it elsewhere, as cairn_verify_all()'s
 * run checks do) and compare the nodes above it.  Do not mix with
 * cairn__vtree_push().
 * @return as cairn__vtree_push(); a missing leaf is TAMPERED.
 */
CAIRN_INTERNAL cairn_err cairn__vtree_push_stored(cairn__vtree *t);
/**
 * With cairn__vtree_push(): the next leaf is a pruned record's, whose
 * bytes are gone; its stored leaf is taken as is (the root, compared with
 * the signed head's, and the PRUNE record that lists it prove it).
 * @return as cairn__vtree_push(); a missing leaf is TAMPERED.
 */
CAIRN_INTERNAL cairn_err cairn__vtree_push_pruned(cairn__vtree *t);
/** Close the tree's cursors (before the transaction ends). */
CAIRN_INTERNAL void cairn__vtree_free(cairn__vtree *t);
/**
 * After the last leaf: the database holds no node but the complete nodes
 * of the tree (else CAIRN_ETAMPERED naming the first extra one), and
 * @p root gets the RFC 6962 root (SHA-256("") when empty).
 */
CAIRN_INTERNAL cairn_err cairn__vtree_finish(cairn__vtree *t,
                                             uint8_t root[CAIRN_HASH_BYTES]);
/**
 * Is leaf hash @p leaf_hash leaf @p leaf of the tree of size @p n whose
 * root is @p root?  An inclusion proof read from the stored nodes
 * (O(log n) reads) and checked: *ok 1 when it holds.
 * @return CAIRN_OK (see *ok); CAIRN_ETAMPERED (a node of the proof missing
 *         or malformed: rep names it); CAIRN_EINVAL (leaf >= n); a store
 *         error.
 */
CAIRN_INTERNAL cairn_err
cairn__vtree_prove_leaf(cairn__vtree *t, uint64_t n, uint64_t leaf,
                        const uint8_t leaf_hash[CAIRN_HASH_BYTES],
                        const uint8_t root[CAIRN_HASH_BYTES], int *ok);

/* ---- Format 2: the signed head (verify_head.c) ---------------------- */

/** Longest meta "head" value read (a checkpoint note). */
#define CAIRN__VHEAD_MAX 4096u

/**
 * Read the format of the journal (meta "format") and, in format 2, meta
 * "head": parse it strictly (docs/FORMAT.md section 13.3), check its origin
 * against the journal id and, with @p pinned, its signature.  Fills
 * rep->format and rep->head.  A missing head is accepted only when the
 * journal holds no record.
 * @return CAIRN_OK (also with journal_head.key_mismatch set: not tampering);
 *         CAIRN_ETAMPERED (report filled, field "head" or "meta"); a store
 *         error (report untouched).
 */
CAIRN_INTERNAL cairn_err cairn__verify_head_read(
    cairn_txn *txn, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    const cairn_pubkey *pinned, cairn_verify_report *rep);
/**
 * Parse and check head bytes @p v (@p vl) as cairn__verify_head_read()
 * does with meta "head" (strict parse, origin of @p journal_id, the
 * signature under @p pinned): what a version-2 bundle carries.  Sets
 * rep->journal_head (present 1).
 * @return CAIRN_OK (also with journal_head.key_mismatch set);
 *         CAIRN_ETAMPERED (report filled, field "head").
 */
CAIRN_INTERNAL cairn_err
cairn__verify_head_note(const uint8_t *v, size_t vl,
                        const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                        const cairn_pubkey *pinned, cairn_verify_report *rep);
/** The head's N and R against the records and runs LMDB holds (O(1)).
 *  @return CAIRN_OK; CAIRN_ETAMPERED (field "head"); a store error. */
CAIRN_INTERNAL cairn_err cairn__verify_head_counts(cairn_txn *txn,
                                                   cairn_verify_report *rep);
/**
 * cairn_verify_directory() with the head's signature checked under
 * @p pinned (NULL: not checked) - what cairn_verify_all() reports.
 * @p leaves_by_runs: take the log tree's leaves as stored (the run checks
 * of cairn_verify_all(), VRUN_DIR_CHECKED, compare each with its record's
 * leaf hash) instead of hashing every record here.
 */
CAIRN_INTERNAL cairn_err cairn__verify_dir(cairn_journal *journal,
                                           const cairn_pubkey *pinned,
                                           int leaves_by_runs,
                                           cairn_verify_report *out);
/** The sentence a format-1 report carries (no journal-wide head). */
#define CAIRN__FORMAT1_NOTE                                                    \
    "format 1: no journal-wide head; deletion of a whole run or a "            \
    "rollback is not detectable"

/**
 * The cheap format-2 check of one run (cairn_verify_run()): the head as
 * cairn__verify_head_read(), the run's state blob by the state map's
 * stored nodes against the head's state root, and the run's last record
 * (position @p last_pos, 0: none) by the log tree's stored nodes against
 * the head's root.  The hash chain of the run ties its other records to
 * the last one.
 * @return as cairn__verify_head_read(); field "state-map" or "tree".
 */
CAIRN_INTERNAL cairn_err cairn__verify_head_run(
    cairn_txn *txn, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    const cairn_pubkey *pinned, uint64_t run_num, uint64_t last_pos,
    cairn_verify_report *rep);
/** cairn__verify_head_run() with @p memo (may be NULL): a head byte for
 *  byte equal to the memo's, under the same @p pinned, counts as
 *  signature-verified without a second Ed25519 check; a head that
 *  verified is remembered (an allocation failure only skips that).
 *  @p counts 0 leaves the head's N and R against the databases to the
 *  directory check (cairn_verify_all()): the run's proofs use the head's
 *  own N and R. */
CAIRN_INTERNAL cairn_err cairn__verify_head_run_memo(
    cairn_txn *txn, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    const cairn_pubkey *pinned, uint64_t run_num, uint64_t last_pos,
    cairn__vhead_memo *memo, int counts, cairn_verify_report *rep);

/* ---- Drivers -------------------------------------------------------- */

/** How cairn__verify_run_txn() finds checkpoints that name the run but
 *  seal none of its records. */
typedef enum cairn_vrun_mode {
    VRUN_ALONE,       /**< scan every checkpoint of the journal */
    VRUN_DIR_CHECKED, /**< cairn_verify_directory() covers them: seek only */
    /** cairn_verify_all(): as VRUN_DIR_CHECKED, and in format 2 every
     *  record's leaf hash is compared with the log tree's stored leaf
     *  (the directory check builds the tree from those leaves). */
    VRUN_ALL
} cairn_vrun_mode;

/**
 * Verify run @p run_id inside read transaction @p txn (verify_run.c).
 * @param mode     VRUN_DIR_CHECKED only when the caller also runs the
 *                 directory check and reports its verdict with the run's.
 * @param memo     optional plan memo kept across runs (NULL: none).
 * @param run_num  optional: receives the run number (0 when unknown).
 * @return CAIRN_OK (see rep->verdict; LMDB failures give verdict ERROR);
 *         CAIRN_ENORUN; CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__verify_run_txn(
    cairn_journal *j, cairn_txn *txn, const char *run_id,
    const cairn_pubkey *pinned, cairn_vrun_mode mode, cairn_plan_memo *memo,
    cairn_verify_report *rep, uint64_t *run_num);

/**
 * Verify a bundle held in memory (bundle.c): strict parse, key check,
 * then the core.  The fuzz target's entry point.
 * @return as cairn_verify_bundle() without CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__verify_bundle_mem(
    const uint8_t *buf, size_t len, const cairn_pubkey *pinned,
    cairn_verify_report *out, char *detail, size_t detail_len);

/** Called by cairn__bundle_records() for each record entry: its position
 *  and where its bytes lie in the bundle. */
typedef cairn_err (*cairn__bundle_record_fn)(void *ctx, uint64_t position,
                                             size_t offset, size_t len);
/**
 * Parse a bundle's framing strictly (as cairn__verify_bundle_mem() does)
 * and call @p fn for each record, in order; nothing is decoded or
 * verified here.  @return CAIRN_OK; CAIRN_EBUNDLE (detail "offset N:
 * what"); what @p fn returned.
 */
CAIRN_INTERNAL cairn_err cairn__bundle_records(const uint8_t *buf, size_t len,
                                               cairn__bundle_record_fn fn,
                                               void *ctx, char *detail,
                                               size_t detail_len);

struct cairn_journal;
/**
 * Verify the import of @p run_id stored in @p txn (import.c): its bundle
 * and .minisig under @p pinned as verify-bundle checks them, and the
 * stored state and record index against the bundle's replay.  A bundle
 * signed by another key than @p pinned is INCOMPLETE, naming the key it
 * needs.  @return CAIRN_OK (see out->verdict); CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__verify_import(struct cairn_journal *j,
                                              cairn_txn *txn,
                                              const char *run_id,
                                              const cairn_pubkey *pinned,
                                              cairn_verify_report *out);

/** The trusted comment of a bundle's .minisig into @p out. */
CAIRN_INTERNAL void
cairn__bundle_comment(const char *run_id, uint64_t records,
                      const uint8_t head[CAIRN_HASH_BYTES],
                      const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                      char *out, size_t out_len);

/* ---- Bundle version 2 (bundle_v2.c, export_v2.c; anchors: bundle_anchor.h)
 * --- */

/** The trailer of a version-2 bundle, as views into the file. */
typedef struct cairn__bundle_v2 {
    uint64_t exported_ns;
    const uint8_t *head; /**< the journal head note, verbatim */
    size_t head_len;
    const uint8_t *tree_proof; /**< n_tree_proof hashes of 32 bytes */
    size_t n_tree_proof;
    const uint8_t *state; /**< the run's state blob */
    size_t state_len;
    const uint8_t *state_proof;
    size_t n_state_proof;
    size_t n_anchors;
    struct {
        uint64_t size;
        const uint8_t *proof;
        size_t n_proof;
    } anchors[CAIRN_BUNDLE_MAX_ANCHORS];
    /** Version 3: the key history block (its entries, framed; count 0 in
     *  a version-2 bundle). */
    size_t n_rotations;
    const uint8_t *rotations; /**< the first entry */
    size_t rotations_len;     /**< bytes of all entries */
} cairn__bundle_v2;

/** A bundle parse failure: CAIRN_EBUNDLE, @p detail "offset OFF: <fmt>"
 *  (bundle_v2.c; shared by the bundle, trailer and key-history parsers). */
CAIRN_INTERNAL cairn_err cairn__bundle_fail(char *detail, size_t detail_len,
                                            size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/**
 * Parse the trailer at @p r (after the checkpoints) strictly: every
 * length against the input and its limit before it is used; nothing may
 * follow.  @return CAIRN_OK; CAIRN_EBUNDLE (detail "offset N: what").
 */
CAIRN_INTERNAL cairn_err cairn__bundle_v2_parse(cairn_rd *r,
                                                cairn__bundle_v2 *t,
                                                char *detail,
                                                size_t detail_len);
/**
 * The trailer of a version-3 bundle: cairn__bundle_v2_parse()'s fields,
 * then the key history block (bundle_keys.c; docs/FORMAT.md section 26.1),
 * framed only (nothing decoded); nothing may follow.
 * @return CAIRN_OK; CAIRN_EBUNDLE (detail "offset N: what").
 */
CAIRN_INTERNAL cairn_err cairn__bundle_v3_parse(cairn_rd *r,
                                                cairn__bundle_v2 *t,
                                                char *detail,
                                                size_t detail_len);

struct cairn__anchor_note; /* verify/anchor_note.h */

/** What a version-2 bundle's verification needs besides the file. */
typedef struct cairn__bundle_check {
    const cairn_pubkey *pinned;
    const struct cairn__anchor_note *anchors; /**< parsed anchors */
    size_t n_anchors;
    /** NULL, or receives the tlog-proof text FILE.tlog-proof must hold
     *  (version 2 with records only; the caller frees it). */
    cairn_wr *tlog_proof;
    /** NULL, or receives (version 3, a pinned key in the bundle's key
     *  chain) the key in force at the head, which signs FILE.minisig; the
     *  caller frees it with cairn_pubkey_free().  Set on the way in:
     *  the key the head is checked with (internal). */
    cairn_pubkey **minisig_key;
    const cairn_keyhist *keys; /**< version 3: the bundle's key chain */
} cairn__bundle_check;

/* ---- Bundle version 3: the key history (bundle_keys.c) -------------- */

/**
 * Frame the key history block at @p r into @p t (strict: the count
 * 1..4096, each entry whole, positions 1..2^63-1; nothing decoded).
 * @return CAIRN_OK; CAIRN_EBUNDLE (detail "offset N: key history: ...").
 */
CAIRN_INTERNAL cairn_err cairn__bundle_keys_parse(cairn_rd *r,
                                                  cairn__bundle_v2 *t,
                                                  char *detail,
                                                  size_t detail_len);

/**
 * Read the key history block of @p t (version 3) into @p kh: each entry's
 * ROTATE record checked as the journal's next rotation
 * (cairn__keyhist_push()).  A broken rule is TAMPERED in @p out, field
 * "bundle.rotation", naming the rotation and the rule.
 * @return CAIRN_OK; CAIRN_ETAMPERED; CAIRN_ENOMEM.  Free @p kh with
 *         cairn__keyhist_free() in every case.
 */
CAIRN_INTERNAL cairn_err cairn__bundle_keys_load(
    const cairn__bundle_v2 *t, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    cairn_keyhist *kh, cairn_verify_report *out);
/**
 * Before a version-3 bundle's records are fed to @p v: read its key
 * history into vk->kh (cairn__bundle_keys_load()); the bundle's key (the
 * run's, @p key_id and @p pk) must be a key of it (else TAMPERED, field
 * "bundle.key"); a key of @p pinned in the chain trusts the chain
 * (cairn__vkeys_trust()), and @p v then checks each checkpoint under the
 * key in force at its position; a pinned key outside it is a key
 * mismatch (out->key_mismatch, INCOMPLETE).
 * @return CAIRN_OK; CAIRN_ETAMPERED (out filled); CAIRN_ENOMEM.  Free
 *         @p vk with cairn__vkeys_free() in every case.
 */
CAIRN_INTERNAL cairn_err cairn__bundle_keys_begin(
    const cairn__bundle_v2 *t, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    const uint8_t key_id[CAIRN_KEY_ID_BYTES],
    const uint8_t pk[CAIRN_PUBLIC_KEY_BYTES], const cairn_pubkey *pinned,
    cairn__vkeys *vk, cairn_vcore *v, cairn_verify_report *out);
/**
 * After the head was read into out->journal_head: it is signed by the
 * last key of @p kh (the key in force at its size; field "bundle.head",
 * naming a retired key of the chain), and each ROTATE record of @p t is
 * at a position the head covers and proven by its inclusion proof under
 * the head's root (field "bundle.rotation").
 * @return 0 when all hold; -1 (out TAMPERED).
 */
CAIRN_INTERNAL int
cairn__bundle_keys_check(const cairn__bundle_v2 *t, const cairn_keyhist *kh,
                         const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                         cairn_verify_report *out);
/**
 * Export: load the journal's key history into @p kh (free it with
 * cairn__keyhist_free()) and choose the bundle's key for run @p run_id
 * (state @p st) into @p key_id / @p pk: @p signer's, or, in a journal that
 * rotated, the key of the history the run was created under - then
 * @p signer must be the key in force (docs/FORMAT.md section 26.3).
 * @return CAIRN_OK; CAIRN_EKEYMISMATCH (j's detail says which key);
 *         CAIRN_ETAMPERED (the history does not check); a store error.
 */
CAIRN_INTERNAL cairn_err cairn__export_bind_key(
    cairn_journal *j, cairn_txn *txn, const char *run_id,
    const cairn_signer *signer, const cairn_state *st, cairn_keyhist *kh,
    uint8_t key_id[CAIRN_KEY_ID_BYTES], uint8_t pk[CAIRN_PUBLIC_KEY_BYTES]);
/**
 * Export: append the key history block of @p kh (every ROTATE record of
 * the journal, read in @p txn, with its inclusion proof in the log tree of
 * the signed head @p h, checked against its root) to @p w.
 * @return CAIRN_OK; CAIRN_ECORRUPT / CAIRN_ETAMPERED (a record or node
 *         missing or not proving; j's detail says which); a store error.
 */
CAIRN_INTERNAL cairn_err cairn__bundle_keys_put(cairn_journal *j,
                                                cairn_txn *txn,
                                                const cairn_keyhist *kh,
                                                const cairn_verify_head *h,
                                                cairn_wr *w);

/**
 * The version-2 checks (docs/FORMAT.md section 19.3) after the core
 * accepted the records: head, proofs, state blob against the replayed
 * state @p st (the run's last record at @p last_pos with leaf hash
 * out->head), anchors.  Fills out->format / journal_head and @p info
 * (may be NULL).  A finding sets verdict TAMPERED or INCOMPLETE in @p out.
 * @return CAIRN_OK; CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__bundle_v2_check(
    const cairn__bundle_v2 *t, const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    const cairn_state *st, uint64_t last_pos, const cairn__bundle_check *c,
    cairn_verify_report *out, cairn_bundle_info *info);

/**
 * The run's state as a bundle shows it (cairn_bundle_info's state, total,
 * done, in_doubt, failed) from state @p st: a pending operation counts
 * as in doubt.  @return CAIRN_OK; CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__bundle_state(const cairn_state *st,
                                             cairn_bundle_info *info);

/**
 * A bundle file's bytes as the parser wants them: @p stored itself, or,
 * when it is a zstd frame (export --zstd), its decompression (at most
 * @p max bytes) in *owned (free it).  *bytes / *bytes_len are what to
 * parse.
 * @return CAIRN_OK; CAIRN_EBUNDLE (corrupt, cut short or over @p max:
 *         detail "offset N: zstd: ..."); CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__bundle_unpack(const uint8_t *stored, size_t len,
                                              size_t max, uint8_t **owned,
                                              const uint8_t **bytes,
                                              size_t *bytes_len, char *detail,
                                              size_t detail_len);

/** The version-2 part of the .minisig trusted comment. */
typedef struct cairn__bundle_comment_v2 {
    uint64_t exported_ns;
    cairn_run_state state;
    uint64_t tree_size;
} cairn__bundle_comment_v2;

/** cairn__bundle_comment() with " exported=<ns> state=<name> tree=<N>"
 *  appended when @p v2 is not NULL. */
CAIRN_INTERNAL void cairn__bundle_comment_ex(
    const char *run_id, uint64_t records, const uint8_t head[CAIRN_HASH_BYTES],
    const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
    const cairn__bundle_comment_v2 *v2, char *out, size_t out_len);

/**
 * Verify a bundle in memory with anchors (cairn__verify_bundle_mem() is
 * this with no anchors and no info).  @p info may be NULL.
 */
CAIRN_INTERNAL cairn_err cairn__verify_bundle_mem_ex(
    const uint8_t *buf, size_t len, const cairn__bundle_check *c,
    cairn_verify_report *out, cairn_bundle_info *info, char *detail,
    size_t detail_len);

/** What export_v2.c builds for a version-2 bundle. */
typedef struct cairn__export_v2 {
    /** In: the journal's key history (empty: never rotated, version 2;
     *  else version 3 and the key history block). */
    const cairn_keyhist *keys;
    cairn_wr trailer;    /**< the bytes after the checkpoints */
    cairn_wr tlog_proof; /**< the text of FILE.tlog-proof */
    uint64_t exported_ns;
    uint64_t tree_size;
    cairn_run_state state;
} cairn__export_v2;

/**
 * Build the trailer and the tlog proof of run @p run_num in @p txn, after
 * the run verified (@p rep: its head must be signed by @p signer) and
 * check the anchors of @p opts (errors as cairn_export_bundle_opts()).
 * Free @p x with cairn__export_v2_free() also on failure.
 */
CAIRN_INTERNAL cairn_err cairn__export_v2_build(
    cairn_journal *j, cairn_txn *txn, uint64_t run_num,
    const cairn_signer *signer, const cairn_verify_report *rep,
    const cairn_export_opts *opts, cairn__export_v2 *x);
CAIRN_INTERNAL void cairn__export_v2_free(cairn__export_v2 *x);

/* ---- Bundle files (export_io.c) ------------------------------------ */

/** A buffered writer to a file descriptor that hashes what it writes
 *  (BLAKE2b-512, minisign's prehash) and stops at the bundle size limit.
 *  Failures are sticky and reported by cairn__bout_finish(). */
typedef struct cairn__bout {
    int fd;
    uint8_t *buf;
    size_t cap, n;
    uint64_t total; /**< bytes written to the file */
    uint64_t raw;   /**< bytes given to cairn__bout_put() */
    cairn_blake2b hash;
    int err; /**< errno of the first failure; -1: over the size limit */
    struct cairn__zc *zc; /**< NULL, or compress what is put (zstd) */
} cairn__bout;

/** @p buf (@p cap bytes, borrowed) is the write buffer. */
CAIRN_INTERNAL void cairn__bout_init(cairn__bout *o, int fd, uint8_t *buf,
                                     size_t cap);
/** Compress everything put from now on into one zstd frame (the hash and
 *  the file get the compressed bytes; the 1 GiB limit applies to the
 *  bytes put).  @return CAIRN_OK; CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__bout_zstd(cairn__bout *o);
CAIRN_INTERNAL void cairn__bout_put(cairn__bout *o, const void *p, size_t n);
/** Flush, fsync and close; the hash of every byte into @p hash.
 *  @return CAIRN_OK; CAIRN_EIO; CAIRN_EINVAL (over the size limit). */
CAIRN_INTERNAL cairn_err cairn__bout_finish(cairn__bout *o, uint8_t hash[64],
                                            char *detail, size_t detail_len);
/** Create "<path>.tmp-<random hex>" exclusively (mode 0644 & ~umask).
 *  @param tmp_out  receives the malloc'd name. */
CAIRN_INTERNAL cairn_err cairn__temp_create(const char *path, char **tmp_out,
                                            int *fd_out, char *detail,
                                            size_t detail_len);
/** Rename @p tmp to @p path without replacing an existing file, then
 *  fsync the directory.  @return CAIRN_OK; CAIRN_EEXIST; CAIRN_EIO. */
CAIRN_INTERNAL cairn_err cairn__temp_publish(const char *tmp, const char *path,
                                             char *detail, size_t detail_len);
/** Write @p len bytes to a new file @p path the same way (temporary file,
 *  fsync, rename without replacing, directory fsync). */
CAIRN_INTERNAL cairn_err cairn__file_write_new(const char *path,
                                               const void *data, size_t len,
                                               char *detail, size_t detail_len);

#endif
