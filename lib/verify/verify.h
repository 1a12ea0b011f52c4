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
#include "format/record.h"
#include "state/state.h"
#include "store/store.h"

/* ---- Bundle format (docs/FORMAT.md section 12) ------------------------- */

#define CAIRN__BUNDLE_MAGIC "CAIRNBDL"
#define CAIRN__BUNDLE_MAGIC_LEN 8u
#define CAIRN__BUNDLE_VERSION 1u
/** Most records (and checkpoints) a bundle may hold. */
#define CAIRN__BUNDLE_MAX_RECORDS (1u << 24)
/** Largest bundle file written or read (1 GiB). */
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
typedef struct cairn_plan_memo {
    char *json;
    size_t len;
    cairn_plan *plan;
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
/** Decide the verdict when nothing was found: INCOMPLETE (unsigned run,
 *  key not pinned, unsealed tail, no records) or VERIFIED.  @p note (may
 *  be NULL) is appended to the reason. */
CAIRN_INTERNAL void cairn__vcore_finish(cairn_vcore *v, const char *note);

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

/** The trusted comment of a bundle's .minisig into @p out. */
CAIRN_INTERNAL void
cairn__bundle_comment(const char *run_id, uint64_t records,
                      const uint8_t head[CAIRN_HASH_BYTES],
                      const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                      char *out, size_t out_len);

/* ---- Bundle files (export_io.c) ------------------------------------ */

/** A buffered writer to a file descriptor that hashes what it writes
 *  (BLAKE2b-512, minisign's prehash) and stops at the bundle size limit.
 *  Failures are sticky and reported by cairn__bout_finish(). */
typedef struct cairn__bout {
    int fd;
    uint8_t *buf;
    size_t cap, n;
    uint64_t total;
    cairn_blake2b hash;
    int err; /**< errno of the first failure; -1: over the size limit */
} cairn__bout;

/** @p buf (@p cap bytes, borrowed) is the write buffer. */
CAIRN_INTERNAL void cairn__bout_init(cairn__bout *o, int fd, uint8_t *buf,
                                     size_t cap);
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
