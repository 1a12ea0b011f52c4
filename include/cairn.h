/*
 * cairn.h - the public API of libcairn.
 *
 * libcairn keeps a crash-safe, append-only, signed journal of backup and
 * restore runs in an LMDB environment (a "journal directory").  A run is one
 * execution of one plan; every state change of a run is a record, appended
 * in a durable LMDB write transaction together with the run's materialised
 * state, a checkpoint and the journal's head, which the commit signs once
 * with Ed25519 and which covers every record and run state (concurrent
 * transitions may share one transaction: see Threads below).
 *
 * This header is the specification.  Semantics follow docs/DESIGN.md; the byte
 * layout is in docs/FORMAT.md.
 *
 * Conventions
 * - Every fallible function returns a cairn_err.  CAIRN_OK is 0.  Results come
 *   back through out-parameters, which are set to NULL/0 on failure.
 * - After a failure, cairn_journal_errdetail() describes it (OS errno, LMDB
 *   code, JSON path, sequence number or byte offset).  There is no global or
 *   thread-local error state.
 * - Threads: the transitions (cairn_claim, cairn_receipt_record,
 *   cairn_resolve, cairn_retry, cairn_cancel, cairn_accept_preflight), and
 *   cairn_run_lock, cairn_run_unlock and cairn_journal_errdetail, may be
 *   called on one handle from several threads at once, on one run or on
 *   different runs.  Concurrent transitions share LMDB write transactions
 *   and their fsyncs (group commit, docs/FORMAT.md section 8): each still
 *   returns only after the commit that holds its record, and the
 *   transitions of one run are validated one after another, exactly as if
 *   the calls had not overlapped (in one order or the other).  A run's
 *   writer lock belongs to the handle, so the handle's threads share it.
 *   cairn_journal_errdetail() then gives the calling thread a copy of the
 *   handle's most recent failure description, which is another thread's
 *   when several calls fail at once (the returned error code is always the
 *   call's own).  Every other call (cairn_journal_close,
 *   cairn_journal_set_signer, cairn_run_create, status and inspection,
 *   verification, export, the runner) needs the handle to itself: no other
 *   call on the handle may be in progress.  Separate processes writing one
 *   journal share commits too, through DIR/commit.shm (docs/FORMAT.md
 *   section 8, "Shared commits"): each transition is prepared and signed
 *   by its caller, and whichever caller finds no commit in progress writes
 *   everything queued in one transaction; CAIRN_OPEN_NO_SHARED_COMMIT
 *   keeps a handle out of it.  Tuning (cairn_journal_opts, at open):
 *   batch_max, the most transitions per commit (1..4096, default 256; 256
 *   at most across processes), and batch_wait_us, how long a committing
 *   thread waits for a fuller batch (0..100000, default 0: only the
 *   transitions that queued during the previous commit share the next).
 *   The library reads no environment variable: the cairn CLI maps
 *   $CAIRN_MAP_SIZE, $CAIRN_BATCH_MAX, $CAIRN_BATCH_WAIT_US and
 *   $CAIRN_SHARED_COMMIT to these options (cairn(1)).  No transaction
 * stays open across calls.  Do not use a handle after fork(); open it again in
 * the child.  Do not open the same directory twice in one process (LMDB's POSIX
 * locks are per process).
 * - Destructors accept NULL.  Strings are NUL-terminated UTF-8 unless stated.
 * - Durability: a transition returns CAIRN_OK only after its LMDB write
 *   transaction committed with full durability (data fdatasync, then the
 *   meta page through an O_DSYNC descriptor).  A rejected transition writes
 *   nothing.
 */
#ifndef CAIRN_H
#define CAIRN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CAIRN_BUILDING)
#define CAIRN_API __attribute__((visibility("default")))
#else
#define CAIRN_API
#endif
#define CAIRN_WUR __attribute__((warn_unused_result))

#define CAIRN_VERSION_STRING "0.1.0"
/** On-disk record format version written by this library (the first byte
 *  of every record; unchanged by journal format 2). */
#define CAIRN_FORMAT_VERSION 1
/** Journal format written by this library (meta "format"): 2 adds one
 *  signed head for the whole journal (docs/FORMAT.md).  Journals of format
 *  CAIRN_JOURNAL_FORMAT_MIN up to it are read and verified; only the
 *  current format is written (`cairn migrate` converts an older one). */
#define CAIRN_JOURNAL_FORMAT 2
#define CAIRN_JOURNAL_FORMAT_MIN 1

/** Fixed sizes. */
#define CAIRN_HASH_BYTES 32 /**< SHA-256 */
#define CAIRN_JOURNAL_ID_BYTES 16
#define CAIRN_BOOT_ID_BYTES 16
#define CAIRN_KEY_ID_BYTES 8 /**< minisign key number */
#define CAIRN_PUBLIC_KEY_BYTES 32
#define CAIRN_SIGNATURE_BYTES 64

/** Limits (checked on input and when decoding). */
#define CAIRN_MAX_ID 128    /**< run, plan, op, preflight ids, targets */
#define CAIRN_MAX_TEXT 4096 /**< reasons, actors, hosts */
#define CAIRN_MAX_OPS 4096  /**< operations in a plan */
#define CAIRN_MAX_KV 256    /**< outputs or evidence pairs per record */
#define CAIRN_MAX_KV_KEY 128
#define CAIRN_MAX_KV_VALUE 65536
#define CAIRN_MAX_PLAN_BYTES (1u << 20) /**< plan file / canonical plan */
#define CAIRN_MAX_RECORD_BYTES (4u << 20)
#define CAIRN_MAX_HOLD_REASON 1024 /**< a hold's or release's reason */

/**
 * Error codes.  Append-only: values are never renumbered or reused.
 * cairn_strerror() names every value; cairn_exit_code() maps each to the
 * CLI's exit code (docs/DESIGN.md section 8).
 */
typedef enum cairn_err {
    CAIRN_OK = 0,
    CAIRN_EINVAL = 1,          /**< invalid argument (NULL, empty, too long) */
    CAIRN_ENOMEM = 2,          /**< allocation failed */
    CAIRN_EIO = 3,             /**< operating-system error (see detail) */
    CAIRN_ESTORE = 4,          /**< LMDB error (see detail) */
    CAIRN_EFATAL = 5,          /**< handle unusable after a failed commit
                                    (or a lock table out of step with
                                    data.mdb): close and reopen */
    CAIRN_ECORRUPT = 6,        /**< journal bytes do not decode or are
                                    inconsistent */
    CAIRN_EVERSION = 7,        /**< unsupported format version */
    CAIRN_ELOCKED = 8,         /**< run held by a live writer */
    CAIRN_ENORUN = 9,          /**< no such run */
    CAIRN_EEXIST = 10,         /**< run id already used */
    CAIRN_EPLAN = 11,          /**< plan invalid (detail names the JSON path) */
    CAIRN_EPLAN_MISMATCH = 12, /**< plan hash/id differs from the run's */
    CAIRN_ENOOP = 13,          /**< no operation with that sequence */
    CAIRN_EORDER = 14,         /**< not the head operation (out of order) */
    CAIRN_ESTATE = 15,         /**< operation state does not allow it */
    CAIRN_ENOTHING = 16,       /**< no operation can be claimed */
    CAIRN_EPREFLIGHT = 17,     /**< preflight not accepted yet */
    CAIRN_EPREFLIGHT_OPEN = 18, /**< accept: a preflight op not completed */
    CAIRN_EPREFLIGHT_ID = 19,   /**< a different preflight id was accepted */
    CAIRN_ENOTPENDING = 20,     /**< receipt/resolve for an op not pending */
    CAIRN_EATTEMPT = 21,        /**< receipt for another attempt */
    CAIRN_EOPID = 22,           /**< receipt names another operation id */
    CAIRN_EOUTPUT = 23,         /**< a required output missing or invalid */
    CAIRN_EREASON = 24,         /**< failed/skipped/operator action without a
                                     reason or error class */
    CAIRN_ENOTFAILED = 25,      /**< retry of an op that is not failed */
    CAIRN_ENOTINDOUBT = 26,     /**< resolve of an op whose claimer lives */
    CAIRN_EFINISHED = 27,       /**< run cancelled, timed out or complete */
    CAIRN_ECONTAIN = 28,        /**< containment/cleanup claim not allowed */
    CAIRN_EKEY = 29,            /**< key file malformed or unusable */
    CAIRN_EPASSWORD = 30,       /**< wrong password for a secret key */
    CAIRN_EKEYMISMATCH = 31,    /**< signing key differs from the run's key */
    CAIRN_ECRYPTO = 32,         /**< signing or random generation failed */
    CAIRN_ETAMPERED = 33,       /**< verification found proof of tampering */
    CAIRN_EINCOMPLETE = 34,     /**< verification could not prove integrity */
    CAIRN_ECHILD = 35,          /**< a command could not be run (runner) */
    CAIRN_EINTR = 36,           /**< interrupted by a signal (runner) */
    CAIRN_EATTENTION = 37,      /**< run needs an operator (in-doubt op) */
    CAIRN_EFAILED = 38,         /**< run ended with a terminal failure */
    CAIRN_EBUNDLE = 39,         /**< bundle file malformed */
    CAIRN_EUNSAFE = 40,         /**< a journal file is a symbolic link, not
                                     the caller's own, of the wrong type, or
                                     (CAIRN_OPEN_STRICT) writable by others */
    CAIRN_EHELD = 41,           /**< the run is held (cairn_hold()): what
                                     would remove it is refused */
    CAIRN_EIMPORTED = 42,       /**< the run was imported from a bundle
                                     (cairn_import()): read-only */
    CAIRN_ESTALE = 43,          /**< a witness request's old size is not the
                                     size the witness cosigned last
                                     (tlog-witness 409: retry with it) */
    CAIRN_EPRUNED = 44,         /**< the run was pruned: only its tombstone
                                     (PRUNE record) and stub remain */
    CAIRN_ERR_COUNT_ = 45       /**< number of codes; not an error */
} cairn_err;

/** Static English description of @p err ("unknown error" if out of range). */
CAIRN_API const char *cairn_strerror(cairn_err err);
/** Short symbolic name of @p err, e.g. "CAIRN_EORDER". */
CAIRN_API const char *cairn_errname(cairn_err err);
/** The cairn CLI exit code for @p err (docs/DESIGN.md section 8). */
CAIRN_API int cairn_exit_code(cairn_err err);

/* ------------------------------------------------------------------ */
/* Enumerations shared by plans, records and summaries.                */

/** Operation kinds.  Values are part of the on-disk format. */
typedef enum cairn_kind {
    CAIRN_KIND_PREFLIGHT = 1,
    CAIRN_KIND_STOP = 2,
    CAIRN_KIND_START = 3,
    CAIRN_KIND_SNAPSHOT = 4,
    CAIRN_KIND_TRANSFER = 5,
    CAIRN_KIND_VERIFY = 6,
    CAIRN_KIND_RESTORE = 7,
    CAIRN_KIND_FINALIZE = 8,
    CAIRN_KIND_TASK = 9,
    CAIRN_KIND_CLEANUP = 10
} cairn_kind;

/** Operation states.  Values are part of the on-disk format. */
typedef enum cairn_op_state {
    CAIRN_OP_BLOCKED = 1,
    CAIRN_OP_READY = 2,
    CAIRN_OP_PENDING = 3,
    CAIRN_OP_COMPLETED = 4,
    CAIRN_OP_FAILED = 5,
    CAIRN_OP_SKIPPED = 6
} cairn_op_state;

/** Receipt outcomes (subset of states).  On-disk values. */
typedef enum cairn_outcome {
    CAIRN_OUTCOME_COMPLETED = 4,
    CAIRN_OUTCOME_FAILED = 5,
    CAIRN_OUTCOME_SKIPPED = 6
} cairn_outcome;

/** Failure classes.  On-disk values; NONE for non-failures. */
typedef enum cairn_error_class {
    CAIRN_CLASS_NONE = 0,
    CAIRN_CLASS_RETRYABLE = 1,
    CAIRN_CLASS_TERMINAL = 2
} cairn_error_class;

/** Claim kinds (docs/DESIGN.md section 3).  On-disk values. */
typedef enum cairn_claim_kind {
    CAIRN_CLAIM_NORMAL = 0,      /**< the head, in order */
    CAIRN_CLAIM_CONTAINMENT = 1, /**< start of a stopped target after a
                                      terminal failure, cancel or timeout */
    CAIRN_CLAIM_CLEANUP = 2      /**< cleanup op after a terminal failure,
                                      cancel or timeout */
} cairn_claim_kind;

/** Derived run states (docs/DESIGN.md section 3). */
typedef enum cairn_run_state {
    CAIRN_RUN_AWAITING_PREFLIGHT = 1,
    CAIRN_RUN_RUNNING = 2,
    CAIRN_RUN_COMPLETED = 3,
    CAIRN_RUN_FAILED = 4,
    CAIRN_RUN_NEEDS_ATTENTION = 5,
    CAIRN_RUN_TIMED_OUT = 6,
    CAIRN_RUN_CANCELLED = 7
} cairn_run_state;

typedef enum cairn_stopped_reason {
    CAIRN_STOPPED_COMPLETE = 1,
    CAIRN_STOPPED_AWAITING_PREFLIGHT = 2,
    CAIRN_STOPPED_FAILED = 3,
    CAIRN_STOPPED_IN_DOUBT = 4,
    CAIRN_STOPPED_RUNNING = 5,
    CAIRN_STOPPED_TIMED_OUT = 6,
    CAIRN_STOPPED_CANCELLED = 7
} cairn_stopped_reason;

typedef enum cairn_next_action {
    CAIRN_NEXT_DONE = 1,
    CAIRN_NEXT_ACCEPT_PREFLIGHT = 2,
    CAIRN_NEXT_RETRY_FAILED = 3,
    CAIRN_NEXT_RESOLVE_IN_DOUBT = 4,
    CAIRN_NEXT_RESUME = 5,
    CAIRN_NEXT_RESTART_TARGETS = 6,
    /** In doubt, but its command (tree) still runs (never computed from
     *  the journal: `cairn status` shows it when
     *  cairn_run_command_alive() says so): wait, do not resolve. */
    CAIRN_NEXT_WAIT_COMMAND = 7,
    /** A process holds the run (never computed from the journal: `cairn
     *  status` shows it when cairn_run_activity() finds the run active):
     *  wait for it, or `cairn cancel` it; do not resume or resolve. */
    CAIRN_NEXT_WAIT_RUNNER = 8
} cairn_next_action;

/** Record types.  Values are part of the on-disk format. */
typedef enum cairn_record_type {
    CAIRN_REC_CREATE = 1,   /**< run created; carries the canonical plan */
    CAIRN_REC_ACCEPT = 2,   /**< preflight accepted */
    CAIRN_REC_CLAIM = 3,    /**< operation claimed (intent, before effect) */
    CAIRN_REC_RECEIPT = 4,  /**< outcome of one attempt */
    CAIRN_REC_RETRY = 5,    /**< operator: failed -> ready */
    CAIRN_REC_RESOLVE = 6,  /**< operator/probe: in-doubt -> outcome */
    CAIRN_REC_CANCEL = 7,   /**< run cancelled */
    CAIRN_REC_TIMEOUT = 8,  /**< run deadline passed */
    CAIRN_REC_HOLD = 9,     /**< run held: kept from retention (any state) */
    CAIRN_REC_RELEASE = 10, /**< a hold lifted */
    CAIRN_REC_PRUNE = 11,   /**< tombstone: the run's other records were
                                 removed (archived); its last record */
    CAIRN_REC_ROTATE = 12   /**< the journal's signing key was rotated
                                 (cairn_rotate_key()): a journal record,
                                 run number 0, not of any run */
} cairn_record_type;

/** Lowercase words used by the CLI and JSON ("preflight", "pending" ...).
 *  Each returns "unknown" for a value outside its enumeration. */
CAIRN_API const char *cairn_kind_name(cairn_kind kind);
CAIRN_API const char *cairn_op_state_name(cairn_op_state state);
CAIRN_API const char *cairn_run_state_name(cairn_run_state state);
CAIRN_API const char *cairn_stopped_reason_name(cairn_stopped_reason reason);
CAIRN_API const char *cairn_next_action_name(cairn_next_action action);
CAIRN_API const char *cairn_record_type_name(cairn_record_type type);
CAIRN_API const char *cairn_error_class_name(cairn_error_class cls);
CAIRN_API const char *cairn_claim_kind_name(cairn_claim_kind kind);

/* ------------------------------------------------------------------ */
/* Keys (minisign formats).                                            */

/** A loaded Ed25519 secret key (minisign format), kept in guarded memory. */
typedef struct cairn_signer cairn_signer;
/** A pinned Ed25519 public key (minisign format). */
typedef struct cairn_pubkey cairn_pubkey;

/**
 * Load a minisign secret key file.
 * @param path      key file path (read-only access).
 * @param password  password for an encrypted key, or NULL for an
 *                  unencrypted one.  Borrowed; not retained.
 * @param out       receives the signer; caller frees with
 *                  cairn_signer_free().  NULL on failure.
 * @param detail    optional buffer for a message naming what is wrong.
 * @return CAIRN_OK; CAIRN_EIO (cannot read, or not a regular file: a FIFO
 *         or device is refused without blocking); CAIRN_EKEY (malformed,
 *         truncated, larger than a key file can be, bad checksum on an
 *         unencrypted key, unsupported algorithm); CAIRN_EPASSWORD (encrypted
 * key and @p password is NULL or wrong); CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_signer_load(const char *path,
                                                const char *password,
                                                cairn_signer **out,
                                                char *detail,
                                                size_t detail_len);
/**
 * Permission facts of secret key file @p path, as ssh checks them (the
 * library never prints; the caller warns or refuses).
 * @param loose  receives CAIRN_LOOSE_KEY when group or others may read or
 *               write the file (mode & 077), else 0.
 * @param detail optional: the path and its mode when loose, or why stat
 *               failed.
 * @return CAIRN_OK; CAIRN_EINVAL (NULL); CAIRN_EIO (cannot stat).
 */
CAIRN_API CAIRN_WUR cairn_err cairn_key_file_loose(const char *path,
                                                   unsigned *loose,
                                                   char *detail,
                                                   size_t detail_len);
/** Wipe and free a signer.  NULL is a no-op. */
CAIRN_API void cairn_signer_free(cairn_signer *signer);
/** The signer's 8-byte key id (minisign key number, as stored). */
CAIRN_API void cairn_signer_key_id(const cairn_signer *signer,
                                   uint8_t out[CAIRN_KEY_ID_BYTES]);
/** The signer's Ed25519 public key. */
CAIRN_API void cairn_signer_public_key(const cairn_signer *signer,
                                       uint8_t out[CAIRN_PUBLIC_KEY_BYTES]);

/** Bytes of a signer's secret: key id (8) || Ed25519 secret key (64). */
#define CAIRN_SIGNER_SECRET_BYTES 72
/** Bytes of a secret key file tag (cairn_secret_key_tag()). */
#define CAIRN_KEY_TAG_BYTES 16

/**
 * A tag naming the contents of secret key file @p path without decrypting
 * it: the first 16 bytes of SHA-256 over a domain string and the file's
 * bytes.  Any change of the file (another key, a new password) changes
 * the tag.  `cairn unlock` files a decrypted key under it.
 * @return CAIRN_OK; CAIRN_EINVAL (NULL); CAIRN_EIO (cannot read, not a
 *         regular file); CAIRN_EKEY (larger than a key file can be);
 *         CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err
cairn_secret_key_tag(const char *path, uint8_t tag[CAIRN_KEY_TAG_BYTES],
                     char *detail, size_t detail_len);
/**
 * Copy the signer's secret (key id || Ed25519 secret key) into @p out.
 * The caller owns the copy: keep it in locked memory and wipe it.
 * @return CAIRN_OK; CAIRN_EINVAL (NULL).
 */
CAIRN_API CAIRN_WUR cairn_err cairn_signer_export_secret(
    const cairn_signer *signer, uint8_t out[CAIRN_SIGNER_SECRET_BYTES]);
/**
 * Build a signer from bytes cairn_signer_export_secret() wrote (no
 * scrypt).  @p in is copied into guarded memory; the caller wipes it.
 * @return CAIRN_OK; CAIRN_EINVAL (NULL); CAIRN_EKEY (the public half of
 *         the secret key does not match its seed); CAIRN_ECRYPTO;
 *         CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_signer_import_secret(
    const uint8_t in[CAIRN_SIGNER_SECRET_BYTES], cairn_signer **out);

/**
 * Load a minisign public key file (two lines, or the single base64 line).
 * @return CAIRN_OK; CAIRN_EIO (cannot read, or not a regular file: never
 *         blocks on a FIFO); CAIRN_EKEY (malformed or larger than a key
 *         file can be: detail names the line or the limit); CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_pubkey_load(const char *path,
                                                cairn_pubkey **out,
                                                char *detail,
                                                size_t detail_len);
/** Parse the base64 line of a minisign public key ("RWQ..."). */
CAIRN_API CAIRN_WUR cairn_err cairn_pubkey_parse(const char *b64,
                                                 cairn_pubkey **out,
                                                 char *detail,
                                                 size_t detail_len);
/** Free @p key and every key added to it. */
CAIRN_API void cairn_pubkey_free(cairn_pubkey *key);
/**
 * Pin several keys (`--key A --key B`): @p more, and every key already
 * added to it, joins the set @p set and is freed with it.  Verification
 * checks each run, head, bundle and detached signature with the member
 * whose key id it names; one signed by none of them is a key mismatch
 * (INCOMPLETE), never VERIFIED.  cairn_pubkey_key_id(),
 * cairn_pubkey_bytes() and the fingerprint describe the first key.
 * NULL-safe; adding a set to itself does nothing.
 */
CAIRN_API void cairn_pubkey_add(cairn_pubkey *set, cairn_pubkey *more);
CAIRN_API void cairn_pubkey_key_id(const cairn_pubkey *key,
                                   uint8_t out[CAIRN_KEY_ID_BYTES]);
CAIRN_API void cairn_pubkey_bytes(const cairn_pubkey *key,
                                  uint8_t out[CAIRN_PUBLIC_KEY_BYTES]);
/** "SHA256:<64 hex>" fingerprint of the raw public key into @p out
 *  (at least 72 bytes). */
CAIRN_API void cairn_pubkey_fingerprint(const cairn_pubkey *key, char *out,
                                        size_t out_len);

/**
 * Generate a key pair and write it in minisign format.
 * @param pub_path   public key file; created, fails if it exists.
 * @param sec_path   secret key file; created mode 0600, fails if it exists.
 * @param password   NULL for an unencrypted key; otherwise the key is
 *                   encrypted with scrypt (minisign parameters).
 * @return CAIRN_OK; CAIRN_EEXIST (a file exists); CAIRN_EIO; CAIRN_ECRYPTO;
 *         CAIRN_ENOMEM.  On failure no file is left behind.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_keygen(const char *pub_path,
                                           const char *sec_path,
                                           const char *password, char *detail,
                                           size_t detail_len);

/* ------------------------------------------------------------------ */
/* Plans.                                                              */

/** A validated plan (docs/DESIGN.md section 6).  Immutable. */
typedef struct cairn_plan cairn_plan;

/**
 * Parse and validate a JSON plan.  Besides the keys of docs/DESIGN.md section 6
 * a plan (top level) and each operation may have "env" (object of literal
 * variables), "env_file" (KEY=VALUE file read at spawn time, never
 * journaled), "pass_env" (names taken from the runner's environment,
 * cairn_runner_opts.pass_environ) and "cwd"; an operation may have
 * "daemon" (bool, default true for kind start: may leave processes
 * behind), "ready" ({"run": argv, "timeout": dur, "interval": dur}, daemon
 * operations only) and "probe_timeout" (default 5m).  Variable names are
 * [A-Za-z_][A-Za-z0-9_]*, at most 128 bytes, not CAIRN_*.  See the man
 * page, PLAN FORMAT.
 * @param json    plan text, @p len bytes (need not be NUL-terminated).
 * @param out     receives the plan; free with cairn_plan_free().
 * @param detail  receives "<json path>: <what is wrong>" on CAIRN_EPLAN.
 * @return CAIRN_OK; CAIRN_EPLAN (invalid: unknown/duplicate keys, wrong
 *         types, empty or duplicate ids, unknown kinds, mutating before the
 *         last preflight, unpaired stop/start, bad durations, too large);
 *         CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_plan_parse(const char *json, size_t len,
                                               cairn_plan **out, char *detail,
                                               size_t detail_len);
/** Read @p path (at most CAIRN_MAX_PLAN_BYTES, checked before reading)
 *  and parse it.  Adds CAIRN_EIO for a file that cannot be read or is not
 *  a regular file (a FIFO is refused without blocking). */
CAIRN_API CAIRN_WUR cairn_err cairn_plan_load(const char *path,
                                              cairn_plan **out, char *detail,
                                              size_t detail_len);
/**
 * cairn_plan_parse() that records a working directory in the plan: a plan
 * without a plan-level "cwd" gets "cwd": @p base_dir, a relative one is
 * made absolute against it, before the plan is canonicalised (so the
 * stored plan, bound by its hash, carries it and every resume resolves
 * relative paths the same way).  `cairn run` and `cairn create` pass the
 * invocation directory.
 * @param base_dir  an absolute directory, or NULL (same as
 *                  cairn_plan_parse()).
 * @return as cairn_plan_parse(); CAIRN_EINVAL when @p base_dir is not
 *         absolute; CAIRN_EPLAN "$.cwd: longer than 4096 bytes once made
 *         absolute".
 */
CAIRN_API CAIRN_WUR cairn_err cairn_plan_parse_at(const char *json, size_t len,
                                                  const char *base_dir,
                                                  cairn_plan **out,
                                                  char *detail,
                                                  size_t detail_len);
/** cairn_plan_load() with a recorded working directory (see
 *  cairn_plan_parse_at()). */
CAIRN_API CAIRN_WUR cairn_err cairn_plan_load_at(const char *path,
                                                 const char *base_dir,
                                                 cairn_plan **out, char *detail,
                                                 size_t detail_len);
CAIRN_API void cairn_plan_free(cairn_plan *plan);
CAIRN_API const char *cairn_plan_id(const cairn_plan *plan);
/** The plan's run_id, or NULL when the plan leaves it to be generated. */
CAIRN_API const char *cairn_plan_run_id(const cairn_plan *plan);
CAIRN_API size_t cairn_plan_op_count(const cairn_plan *plan);
/** SHA-256 of the canonical plan bytes (docs/FORMAT.md, "Plan hash"). */
CAIRN_API void cairn_plan_hash(const cairn_plan *plan,
                               uint8_t out[CAIRN_HASH_BYTES]);

/* ------------------------------------------------------------------ */
/* Durations.                                                          */

/** cairn_duration_parse() flag: a total of zero ("0s") is valid. */
#define CAIRN_DURATION_ZERO 0x1u

/**
 * Parse a duration as plans write them (docs/FORMAT.md): one or more
 * <digits><unit> groups, units ms, s, m, h, d ("500ms", "30s", "1h30m",
 * "2d"), summed into nanoseconds.  No sign, spaces or fractions; the
 * total must fit in uint64 and be greater than zero, unless @p flags has
 * CAIRN_DURATION_ZERO (for a context where zero means something, such as
 * "since now").  Plans and the CLI parse every duration through this.
 * @param flags   0 or CAIRN_DURATION_ZERO.
 * @param ns      receives the value; 0 on failure.
 * @param why     optional buffer: why @p text is not a duration ("offset
 *                2: expected a unit (ms, s, m, h or d)"); "" on success.
 * @return CAIRN_OK; CAIRN_EINVAL (not a duration; @p text or @p ns NULL;
 *         unknown flags).
 */
CAIRN_API CAIRN_WUR cairn_err cairn_duration_parse(const char *text,
                                                   unsigned flags, uint64_t *ns,
                                                   char *why, size_t why_len);

/* ------------------------------------------------------------------ */
/* Journal.                                                            */

typedef struct cairn_journal cairn_journal;

/** cairn_journal_open() flags. */
#define CAIRN_OPEN_READONLY 0x1u /**< inspection only; never writes */
#define CAIRN_OPEN_CREATE 0x2u   /**< create the journal if missing */
/** Refuse (CAIRN_EUNSAFE) a journal whose directory or files its group or
 *  others can write, instead of reporting it by cairn_journal_warnings(). */
#define CAIRN_OPEN_STRICT 0x4u
/** With CAIRN_OPEN_CREATE: a journal created now grants its group read
 *  access (directory 0750, files 0640) instead of 0700/0600. */
#define CAIRN_OPEN_GROUP_READABLE 0x8u
/** Read-only audit of a private copy, made without the journal's lock:
 *  see cairn_journal_open_snapshot() (this flag puts the copy in
 *  cairn_journal_opts.tmp_dir, or /tmp).
 *  Implies CAIRN_OPEN_READONLY; not with CAIRN_OPEN_CREATE.  The owner
 *  checks do not apply to it: it is meant for users who do not own the
 *  journal, and it never writes or locks anything in the directory. */
#define CAIRN_OPEN_SNAPSHOT 0x10u
/** Keep the handle out of the commit queue shared with the other
 *  processes writing the journal (DIR/commit.shm, docs/FORMAT.md section
 *  8): its transitions commit in write transactions of their own (still
 *  grouped among the handle's threads).  No effect on read-only handles. */
#define CAIRN_OPEN_NO_SHARED_COMMIT 0x20u

/** Limits and defaults of cairn_journal_opts. */
#define CAIRN_MAP_SIZE_DEFAULT ((uint64_t)256 << 20) /**< 256 MiB */
#define CAIRN_MAP_SIZE_MIN ((uint64_t)65536)
#define CAIRN_MAP_SIZE_MAX ((uint64_t)1 << 40) /**< also the growth limit */
#define CAIRN_BATCH_MAX_DEFAULT 256u
#define CAIRN_BATCH_MAX_LIMIT 4096u
#define CAIRN_BATCH_WAIT_US_MAX 100000u

/**
 * Options of cairn_journal_open_opts().  Versioned by size: zero the
 * struct, set @c size to sizeof(cairn_journal_opts) (or start from
 * CAIRN_JOURNAL_OPTS_INIT), then set what differs from the defaults.  A
 * zero field means its default.  Fields added in later versions go at the
 * end; a caller built against an older header passes a smaller size and
 * gets the defaults for the fields it does not know.
 */
typedef struct cairn_journal_opts {
    /** sizeof(cairn_journal_opts) as the caller was compiled with it. */
    size_t size;
    /** CAIRN_OPEN_* bits. */
    unsigned flags;
    /** Committed transitions per write transaction, at most: 0 for
     *  CAIRN_BATCH_MAX_DEFAULT, else 1..CAIRN_BATCH_MAX_LIMIT (through the
     *  shared queue at most 256).  1 commits every transition alone. */
    unsigned batch_max;
    /** How long (microseconds) a committing thread or process waits for a
     *  fuller batch: 0 (default: only the transitions that queued during
     *  the previous commit share the next) .. CAIRN_BATCH_WAIT_US_MAX.
     *  Throughput for latency. */
    unsigned batch_wait_us;
    /** Initial LMDB map size in bytes: 0 for CAIRN_MAP_SIZE_DEFAULT, else
     *  CAIRN_MAP_SIZE_MIN..CAIRN_MAP_SIZE_MAX.  The map grows by doubling
     *  when full (up to CAIRN_MAP_SIZE_MAX) whatever the start; a small
     *  start is for tests of that growth.  Also the size a journal made
     *  with CAIRN_OPEN_CREATE starts with.  Not used by snapshots. */
    uint64_t map_size;
    /** With CAIRN_OPEN_SNAPSHOT: the directory of the private copy (see
     *  cairn_journal_open_snapshot()); NULL: /tmp.  Borrowed for the
     *  call. */
    const char *tmp_dir;
} cairn_journal_opts;

/** Every option at its default (flags 0). */
#define CAIRN_JOURNAL_OPTS_INIT                                                \
    {                                                                          \
        sizeof(cairn_journal_opts), 0, 0, 0, 0, NULL                           \
    }

/** cairn_journal_warnings() bits. */
#define CAIRN_LOOSE_DIR 0x1u  /**< the directory is group/world-writable */
#define CAIRN_LOOSE_FILE 0x2u /**< a journal file is group/world-writable */
#define CAIRN_LOOSE_KEY                                                        \
    0x4u /**< a secret key file group/others can read                          \
              or write (cairn_key_file_loose) */

/**
 * Open (or create) a journal directory.
 * Guards file descriptors 0-2, opens the LMDB environment with full
 * durability, clears stale reader slots and checks the format version.
 *
 * The directory is opened once and every file in it relative to that
 * descriptor without following symbolic links; the directory and each
 * file cairn opens (data.mdb, lock.mdb, commit.shm, locks/ and its lock
 * files) must be of the expected type and owned by the caller's effective
 * uid (root is not exempt), else CAIRN_EUNSAFE naming the file.  LMDB
 * opens data.mdb and lock.mdb by name: they are checked just before, and
 * after the open the files LMDB holds are compared with the checked ones.
 * A journal is only ever made with CAIRN_OPEN_CREATE, in a directory that
 * is missing, empty or holds only cairn's own files; any other open of a
 * directory without data.mdb, or of a data.mdb without cairn's databases
 * and metadata, fails (nothing is written).  New journals are created
 * 0700/0600 (0750/0640 with CAIRN_OPEN_GROUP_READABLE).
 * While LMDB opens the environment, an exclusive flock(2) on @p dir keeps
 * every other cairn process from opening it at the same time (waiting at
 * most 60 s): a process killed inside LMDB's initialisation of lock.mdb
 * would otherwise hand a half-built lock table to a concurrent opener,
 * whose commits would later be lost (docs/DURABILITY.md section 7).
 * Every write transaction of the handle also checks that lock.mdb is in
 * step with the newest commit in data.mdb, and fails with CAIRN_EFATAL
 * (nothing written) when it is not.
 * The tuning of cairn_journal_opts (map size, batching) is at its
 * defaults: cairn_journal_open_opts() sets it.
 * @param dir    journal directory path.  Borrowed.
 * @param flags  CAIRN_OPEN_* bits.
 * @param out    receives the handle; NULL on failure.
 * @param detail optional buffer for a failure description.
 * @return CAIRN_OK; CAIRN_EINVAL; CAIRN_EIO (directory missing without
 *         CAIRN_OPEN_CREATE, permissions, another process opening it for
 *         60 s); CAIRN_ESTORE; CAIRN_ECORRUPT
 *         (not a cairn journal: no cairn databases, "format" or
 *         "journal_id" missing or bad; or a directory that is neither empty
 *         nor a journal given to CAIRN_OPEN_CREATE); CAIRN_EUNSAFE (see
 *         above; with CAIRN_OPEN_STRICT also a group/world-writable
 *         directory or file); CAIRN_EVERSION; CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_journal_open(const char *dir,
                                                 unsigned flags,
                                                 cairn_journal **out,
                                                 char *detail,
                                                 size_t detail_len);
/**
 * cairn_journal_open() with options: @p opts->flags as @p flags there,
 * and the tuning of cairn_journal_opts.  @p opts NULL: every default
 * (flags 0).  Borrowed for the call; the handle keeps a copy.
 * @return as cairn_journal_open(), and CAIRN_EINVAL naming the field when
 *         opts->size is smaller than the first version of the struct or
 *         larger than this library's, or a field is out of its range.
 */
CAIRN_API CAIRN_WUR cairn_err
cairn_journal_open_opts(const char *dir, const cairn_journal_opts *opts,
                        cairn_journal **out, char *detail, size_t detail_len);
/**
 * Open a consistent private copy of the journal in @p dir, for a reader
 * who cannot lock it (no write access to lock.mdb, a read-only mount) or
 * must not touch it: nothing in @p dir is written, created or locked, and
 * lock.mdb is not opened.  The pages of the newest committed LMDB
 * transaction are copied from data.mdb into an unnamed file in @p tmp_dir
 * (O_TMPFILE; else a name that is unlinked as soon as it is open), which
 * the handle maps read-only with MDB_NOLOCK and which disappears with it.
 *
 * Consistency: data.mdb is copied while writers may commit.  The copy
 * holds exactly one committed transaction T or is not used: LMDB reuses a
 * page of T only from the writer of T+3 on, so the meta pages are read
 * before and after the copy, and when a later commit than T+1 happened
 * meanwhile the copy is made again (a few times, waiting a little longer
 * each time).  A journal that changes under every copy fails with
 * CAIRN_ESTORE; a torn copy is never opened.  What the handle shows is
 * the journal as of T; later commits are not seen.
 *
 * The handle is read-only (as CAIRN_OPEN_READONLY): verification,
 * status, export work as on the journal itself.
 * @param tmp_dir  directory for the copy (needs room for data.mdb's used
 *                 pages); NULL: /tmp.  Borrowed.
 * @return CAIRN_OK; CAIRN_EINVAL; CAIRN_EIO (no data.mdb: "no journal
 *         here"; data.mdb unreadable or not a regular file; the copy could
 *         not be written); CAIRN_ECORRUPT (not an LMDB data file, or not
 *         a cairn journal); CAIRN_EVERSION; CAIRN_ESTORE (changed under
 *         every copy; LMDB refused the copy); CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_journal_open_snapshot(const char *dir,
                                                          const char *tmp_dir,
                                                          cairn_journal **out,
                                                          char *detail,
                                                          size_t detail_len);
/**
 * Look for a damaged page in the LMDB data file of the journal in @p dir
 * without LMDB, which trusts its pages (a zeroed leaf page makes it abort
 * the process on an assertion).  Reads data.mdb with pread(2) only, takes
 * no lock and writes nothing: the meta pages, then every page of the free
 * page tree, the main tree and each database's tree, each checked for its
 * page number, its type at its depth and the bounds of its nodes, and
 * the first page of each overflow run.  Free pages are in no tree and are
 * not checked.  Meant for a diagnosis after LMDB failed on a journal
 * (`cairn verify` runs it when its verifying child dies); on a journal
 * being written it may report a page a writer is just rewriting.
 * Thread-safe; uses no handle.
 * @param dir     the journal directory.  Borrowed.
 * @param detail  optional buffer: the first damage found, naming the
 *                page, its offset and its database ("data.mdb: page 10
 *                (offset 40960) of database \"records\": its header says
 *                page 0, flags 0x0 (zeroed or overwritten)"); "" when
 *                nothing was found.
 * @return CAIRN_OK (no damaged page found); CAIRN_ECORRUPT (damage, in
 *         @p detail); CAIRN_EIO (no data.mdb, unreadable, not a regular
 *         file); CAIRN_EINVAL (@p dir NULL or too long); CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_journal_check_pages(const char *dir,
                                                        char *detail,
                                                        size_t detail_len);
/** Close a handle, releasing its run locks.  NULL is a no-op. */
CAIRN_API void cairn_journal_close(cairn_journal *journal);
/**
 * What cairn_journal_open() found loose but accepted (no
 * CAIRN_OPEN_STRICT): CAIRN_LOOSE_* bits, 0 when nothing.  The library
 * never prints: the caller decides whether to warn.
 * @param detail optional buffer: the first loose path and its mode.
 */
CAIRN_API unsigned cairn_journal_warnings(const cairn_journal *journal,
                                          char *detail, size_t detail_len);
/** Description of the last failure on @p journal ("" when none).  Valid
 *  until the next call on the handle. */
CAIRN_API const char *cairn_journal_errdetail(const cairn_journal *journal);
/** The directory's random 16-byte identity. */
CAIRN_API void cairn_journal_id(const cairn_journal *journal,
                                uint8_t out[CAIRN_JOURNAL_ID_BYTES]);
/**
 * Sign every later commit with @p signer (borrowed: it must outlive its use
 * by the handle; pass NULL to write unsigned).  A run is bound at creation
 * to the key it was created with (or to "unsigned"); writing to it with
 * another key, or without its key, fails with CAIRN_EKEYMISMATCH.  After
 * cairn_rotate_key() the journal's current key writes every signed run,
 * those created under a retired key included, and a retired key is
 * refused.
 */
CAIRN_API void cairn_journal_set_signer(cairn_journal *journal,
                                        const cairn_signer *signer);

/** Who acted, written into the record (operators; NULL/empty for none). */
typedef struct cairn_actor_info {
    const char *actor;  /**< e.g. "alice" or "cairn-runner"; may be NULL */
    const char *reason; /**< required where the call says so */
} cairn_actor_info;

/**
 * Rotate the signing key of a format-2 journal (docs/FORMAT.md section 24,
 * docs/SECURITY.md "Key rotation"): one durable commit appends a ROTATE
 * record (run number 0, in the journal's signed history like every
 * record) that names @p new_key (key id and Ed25519 public key) and its
 * own position, signed by the journal's current key (the handle's signer,
 * cairn_journal_set_signer()) and by @p new_key; the head of that commit
 * and every later head and checkpoint are signed by @p new_key.  The
 * handle signs with @p new_key from then on (borrowed, as
 * cairn_journal_set_signer()).  Afterwards a writer holding only the old
 * key is refused with CAIRN_EKEYMISMATCH (the detail names the rotation)
 * and writes nothing; runs that were open stay open and continue under
 * the new key.  cairn_verify_run() / cairn_verify_all() with any key of
 * the chain pinned verify through the rotation.
 *
 * No other writer may have the journal open (a runner included): the
 * handle's shared hold on DIR/writers.lock is made exclusive for the
 * commit, and any other writable handle makes the call fail at once with
 * CAIRN_ELOCKED, nothing written.  No other thread may use @p journal
 * during the call.
 * @param who       actor and reason written into the record (may be NULL;
 *                  each at most CAIRN_MAX_TEXT bytes).
 * @param position  optional: receives the ROTATE record's position (the
 *                  first head size signed by @p new_key).
 * @return CAIRN_OK; CAIRN_EINVAL (NULL, read-only handle, the new key is
 *         the current one, an empty journal, texts too long);
 *         CAIRN_EVERSION (format 1); CAIRN_EKEYMISMATCH (no signer, an
 *         unsigned journal, or the head is signed by another key);
 *         CAIRN_ELOCKED (another writer has the journal open);
 *         CAIRN_ETAMPERED (the head, a tree node or the key history does
 *         not prove); storage errors.  Details: cairn_journal_errdetail().
 */
CAIRN_API CAIRN_WUR cairn_err cairn_rotate_key(cairn_journal *journal,
                                               const cairn_signer *new_key,
                                               const cairn_actor_info *who,
                                               uint64_t *position);

/**
 * Create a run of @p plan.  Preflight operations become ready, mutating
 * ones blocked (reason preflight-not-accepted).
 * @param run_id_out  receives the run id (the plan's, or a generated
 *                    "<plan_id>-<UTC time>-<random>"): at least
 *                    CAIRN_MAX_ID + 1 bytes.
 * @return CAIRN_OK; CAIRN_EEXIST (run id already used, nothing written);
 *         CAIRN_EINVAL; CAIRN_EFATAL; CAIRN_ESTORE; CAIRN_EIO; CAIRN_ENOMEM;
 *         CAIRN_ECRYPTO.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_run_create(cairn_journal *journal,
                                               const cairn_plan *plan,
                                               const cairn_actor_info *who,
                                               char *run_id_out,
                                               size_t run_id_len);

/**
 * Accept the preflight of @p run_id under @p preflight_id.
 * Every preflight operation must be completed.  A second accept with the
 * same id is a no-op returning CAIRN_OK (nothing written).
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_EPREFLIGHT_OPEN; CAIRN_EPREFLIGHT_ID;
 *         CAIRN_EFINISHED; CAIRN_ELOCKED; plus the storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err
cairn_accept_preflight(cairn_journal *journal, const char *run_id,
                       const char *preflight_id, const cairn_actor_info *who);

/** Result of a claim. */
typedef struct cairn_claim_result {
    uint32_t seq;              /**< operation sequence */
    uint32_t attempt;          /**< 1 for the first attempt */
    char id[CAIRN_MAX_ID + 1]; /**< operation id */
    cairn_kind kind;
} cairn_claim_result;

/** Identity of the process that performs a claimed operation. */
typedef struct cairn_holder {
    uint32_t pid;        /**< 0: the calling process */
    uint64_t start_time; /**< /proc start time (clock ticks); 0: look up */
} cairn_holder;

/**
 * Claim an operation (mark it pending) before its effect starts.
 * @param op      sequence to claim, or -1 for the head.
 * @param kind    CAIRN_CLAIM_NORMAL, or containment/cleanup: allowed only
 *                after a terminal failure of the head, a cancel or a
 *                timeout; containment takes a start op (ready, blocked or
 *                failed) whose target needs a restart, cleanup a cleanup op
 *                (ready or failed; a blocked one gives CAIRN_EPREFLIGHT).
 *                With @p op -1 the first such op in plan order is taken.
 * @param holder  process doing the work (NULL: the caller).  In-doubt
 *                detection asks whether this process still lives.
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_ENOOP; CAIRN_EORDER (not the head);
 *         CAIRN_ESTATE (not ready/failed); CAIRN_ENOTHING (no head);
 *         CAIRN_EPREFLIGHT (mutating op before acceptance);
 *         CAIRN_ECONTAIN; CAIRN_EFINISHED; CAIRN_ELOCKED; storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_claim(cairn_journal *journal,
                                          const char *run_id, int64_t op,
                                          cairn_claim_kind kind,
                                          const cairn_holder *holder,
                                          const cairn_actor_info *who,
                                          cairn_claim_result *out);

/** A key=value pair. */
typedef struct cairn_kv {
    const char *key;
    const char *value;
} cairn_kv;

/** The outcome of one attempt (or an operator's resolution). */
typedef struct cairn_receipt {
    uint32_t seq;      /**< operation sequence */
    uint32_t attempt;  /**< 0: the current attempt */
    const char *op_id; /**< NULL, or must equal the op's id */
    cairn_outcome outcome;
    cairn_error_class error_class; /**< required (not NONE) when failed */
    const char *reason;            /**< required when failed or skipped */
    const cairn_kv *outputs; /**< outputs (must cover the op's requires) */
    size_t n_outputs;
    const cairn_kv *evidence; /**< exit status, digests, tails ... */
    size_t n_evidence;
} cairn_receipt;

/**
 * Record the outcome of the pending attempt of an operation.
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_ENOOP; CAIRN_ENOTPENDING;
 *         CAIRN_EATTEMPT; CAIRN_EOPID; CAIRN_EOUTPUT (completed without a
 *         required output, or with one whose value breaks its rule: empty
 *         for "nonempty", not a digest for "sha256", no whole-value match
 *         of its "pattern"; cairn-plan(5)); CAIRN_EREASON; CAIRN_EINVAL
 *         (bad outcome, too many or too long pairs, duplicate keys);
 *         CAIRN_ELOCKED; storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_receipt_record(cairn_journal *journal,
                                                   const char *run_id,
                                                   const cairn_receipt *r,
                                                   const cairn_actor_info *who);

/**
 * Operator action: move a failed operation back to ready.
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_ENOOP; CAIRN_ENOTFAILED;
 *         CAIRN_EFINISHED; CAIRN_ELOCKED; storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_retry(cairn_journal *journal,
                                          const char *run_id, uint32_t op,
                                          const cairn_actor_info *who);

/**
 * Operator or probe decision on an in-doubt operation: a pending operation
 * whose claiming process is gone.  @p r->reason is required.
 * @return as cairn_receipt_record(), plus CAIRN_ENOTINDOUBT when the
 *         claimer still lives or holds the run.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_resolve(cairn_journal *journal,
                                            const char *run_id,
                                            const cairn_receipt *r,
                                            const cairn_actor_info *who);

/**
 * End a run: cancelled, or timed out (@p timed_out nonzero).  Afterwards
 * only containment and cleanup claims are accepted.
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_EFINISHED (already ended or
 *         complete); CAIRN_ELOCKED; storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_cancel(cairn_journal *journal,
                                           const char *run_id, int timed_out,
                                           const cairn_actor_info *who);

/**
 * Hold a run: keep it from retention (`cairn prune` and cairn_prune()
 * refuse a held run with CAIRN_EHELD) until cairn_release(), or until
 * @p until_ns passes.  Appends a signed HOLD record to the run's own
 * chain, committed like every transition.  Allowed in every run state,
 * including completed, failed, cancelled and timed out; the run's
 * operations are unchanged (a held run can still be resumed).
 * @param until_ns  wall time (ns since the epoch) after which the hold no
 *                  longer counts, or 0 for none; must be later than the
 *                  record's own time.
 * @param who       actor, and the reason (required, 1..
 *                  CAIRN_MAX_HOLD_REASON bytes).  Borrowed.
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_EREASON (no reason); CAIRN_EINVAL
 *         (reason too long or holding a NUL, @p until_ns not in the
 *         future); CAIRN_ESTATE (already held by a hold that still counts:
 *         release it first); CAIRN_EIMPORTED (an imported run);
 *         CAIRN_ELOCKED; storage errors.  A refused hold writes nothing.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_hold(cairn_journal *journal,
                                         const char *run_id, uint64_t until_ns,
                                         const cairn_actor_info *who);

/**
 * Lift the hold of a run (a RELEASE record, signed and committed like
 * every transition), whether or not its until time has passed.
 * @param who  actor, and the reason (required, 1..CAIRN_MAX_HOLD_REASON
 *             bytes).  Borrowed.
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_EREASON; CAIRN_EINVAL;
 *         CAIRN_ESTATE (the run is not held); CAIRN_EIMPORTED;
 *         CAIRN_ELOCKED; storage errors.  A refused release writes nothing.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_release(cairn_journal *journal,
                                            const char *run_id,
                                            const cairn_actor_info *who);

/* ------------------------------------------------------------------ */
/* Retention: pruning a run (docs/FORMAT.md section 22).               */

/** Most records a run may have to be pruned (its PRUNE record lists the
 *  position and leaf hash of each; 65536 x 44 bytes fit a record). */
#define CAIRN_MAX_PRUNE_RECORDS 65536u
/** Limits of the PRUNE record's text fields (bytes). */
#define CAIRN_MAX_PRUNE_RULE 256u
#define CAIRN_MAX_PRUNE_REASON 1024u
#define CAIRN_MAX_PRUNE_POLICY 1024u
#define CAIRN_MAX_PRUNE_LOCATION 1024u

/** What a PRUNE tombstone records besides the run's own facts.  Every
 *  pointer is borrowed for the call. */
typedef struct cairn_prune_info {
    const char *rule;   /**< the retention rule that selected the run, e.g.
                             "keep-last=5": 1..256 bytes, no NUL */
    const char *reason; /**< the operator's reason: 1..1024 bytes */
    const char *policy; /**< the whole policy as given, e.g. "--keep-last 5
                             --keep-within 30d": 0..1024 bytes (NULL: "") */
    uint8_t bundle_sha256[CAIRN_HASH_BYTES]; /**< SHA-256 of the archived
                                                  bundle file */
    uint64_t bundle_bytes;                   /**< its size in bytes */
    const char *location; /**< where the bundle is stored (path or URL):
                               0..1024 bytes (NULL: "") */
    uint8_t plan_sha256[CAIRN_HASH_BYTES]; /**< SHA-256 of the confirmed
                                                prune plan (zero: none) */
} cairn_prune_info;

/**
 * Check whether @p run_id may be pruned now: the run is terminal
 * (completed, failed, cancelled or timed out), no operation is pending
 * (claimed, or in doubt), no hold counts now (cairn_hold_active()), it is
 * not already pruned, and has at most CAIRN_MAX_PRUNE_RECORDS records.
 * Read-only; the state is proven under the journal's head like every
 * reader's.  An imported run (cairn_import()) is CAIRN_EIMPORTED.
 * @param detail  optional: why not (the run's state, the pending op ...);
 *                also the handle's detail.
 * @return CAIRN_OK (prunable); CAIRN_ENORUN; CAIRN_EPRUNED (pruned
 *         already); CAIRN_EHELD; CAIRN_EIMPORTED; CAIRN_ESTATE (running,
 * awaiting preflight, needs attention, an op pending or in doubt, or too many
 * records); CAIRN_ETAMPERED (the state does not prove); CAIRN_ECORRUPT;
 * CAIRN_ESTORE; CAIRN_EINVAL (NULL).
 */
CAIRN_API CAIRN_WUR cairn_err cairn_prune_check(cairn_journal *journal,
                                                const char *run_id,
                                                char *detail,
                                                size_t detail_len);

/**
 * Prune run @p run_id in ONE durable LMDB write transaction
 * (docs/FORMAT.md section 22): append a signed PRUNE record (the
 * tombstone: @p info, the run's final state and facts, and the position
 * and leaf hash of every record removed) as the last record of the run's
 * chain, replace each of the run's other records by an 8-byte placeholder
 * naming the run (its position stays), delete their `index` entries and
 * the run's other checkpoints, replace its state by a pruned stub
 * (section 9), keep the log tree (every root and proof stays valid) and
 * extend the signed head.  Each record is checked first (chain, leaf hash
 * against the log tree: CAIRN_ETAMPERED otherwise).  The eligibility of
 * cairn_prune_check() is checked again inside the transaction, under the
 * run's lock, and by the state machine at the PRUNE record's own time.
 * The caller archives the run first (cairn_export_bundle) and passes the
 * bundle's hash, size and location in @p info.  Needs the handle to
 * itself (like cairn_run_create()).
 * @param who  the actor (who->actor; who->reason is not used: the reason
 *             is info->reason).  May be NULL (no actor).
 * @return CAIRN_OK; CAIRN_EPRUNED (already pruned: nothing written);
 *         the errors of cairn_prune_check(); CAIRN_EINVAL (NULL, a field of
 *         @p info empty or too long, a NUL byte); CAIRN_ELOCKED (a live
 *         writer holds the run); CAIRN_EKEYMISMATCH; storage errors.  On
 *         any failure nothing is written.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_prune(cairn_journal *journal,
                                          const char *run_id,
                                          const cairn_prune_info *info,
                                          const cairn_actor_info *who);

/** A pruned run's tombstone, decoded from its PRUNE record. */
typedef struct cairn_tombstone {
    char run_id[CAIRN_MAX_ID + 1];
    char plan_id[CAIRN_MAX_ID + 1];
    uint8_t plan_hash[CAIRN_HASH_BYTES];
    uint64_t run_num;
    uint64_t position; /**< position of the PRUNE record */
    uint64_t seq;      /**< its seq: the number of records removed */
    uint64_t wall_ns;  /**< when the run was pruned */
    char actor[CAIRN_MAX_TEXT + 1];
    char rule[CAIRN_MAX_PRUNE_RULE + 1];
    char reason[CAIRN_MAX_PRUNE_REASON + 1];
    char policy[CAIRN_MAX_PRUNE_POLICY + 1];
    char location[CAIRN_MAX_PRUNE_LOCATION + 1];
    uint8_t bundle_sha256[CAIRN_HASH_BYTES];
    uint64_t bundle_bytes;
    uint8_t plan_sha256[CAIRN_HASH_BYTES];
    cairn_run_state final_state;        /**< the run's state when pruned */
    uint8_t run_head[CAIRN_HASH_BYTES]; /**< the run's head before the
                                             PRUNE record (its prev) */
    uint8_t leaf[CAIRN_HASH_BYTES];     /**< the PRUNE record's leaf hash */
    size_t n_records;                   /**< = seq: records removed */
    uint64_t *positions; /**< their positions, ascending (seq order) */
    uint8_t (*leaves)[CAIRN_HASH_BYTES]; /**< their leaf hashes, same order */
} cairn_tombstone;

/**
 * Read the tombstone of pruned run @p run_id (its PRUNE record, found
 * through the stub's last position; the stub is proven under the head).
 * @param out  receives the tombstone; free with cairn_tombstone_free().
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_ESTATE (the run is not pruned);
 *         CAIRN_ETAMPERED / CAIRN_ECORRUPT (the record is missing, does not
 *         decode, or is not the stub's); CAIRN_ESTORE; CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_prune_tombstone(cairn_journal *journal,
                                                    const char *run_id,
                                                    cairn_tombstone **out);
/** Free a tombstone.  NULL is a no-op. */
CAIRN_API void cairn_tombstone_free(cairn_tombstone *tombstone);

/* ------------------------------------------------------------------ */
/* Run locks.                                                          */

/**
 * Hold the writer lock of @p run_id on this handle until
 * cairn_run_unlock() or close.  Transitions take and drop the lock
 * themselves when it is not held; a runner holds it for its whole life.
 * The lock is a kernel-released flock(2) on a per-run file whose content
 * names the holder (pid, process start time, boot id, host, since).
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_ELOCKED (detail names the live
 *         holder); CAIRN_EIO.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_run_lock(cairn_journal *journal,
                                             const char *run_id);
CAIRN_API void cairn_run_unlock(cairn_journal *journal, const char *run_id);

/* ------------------------------------------------------------------ */
/* Summaries and inspection.                                           */

typedef struct cairn_op_view {
    uint32_t seq;
    char id[CAIRN_MAX_ID + 1];
    cairn_kind kind;
    char target[CAIRN_MAX_ID + 1]; /**< "" when none */
    cairn_op_state state;
    uint32_t attempt;             /**< attempts claimed so far */
    cairn_error_class last_class; /**< class of the last outcome (NONE
                                       after a completion or skip) */
    int in_doubt;                 /**< pending and its claimer is gone */
    uint64_t updated_ns;          /**< wall time of the last change */
    uint32_t holder_pid;          /**< claimer of a pending op, else 0 */
} cairn_op_view;

/** The resume summary of docs/DESIGN.md section 3.  Caller-owned. */
typedef struct cairn_summary {
    char run_id[CAIRN_MAX_ID + 1];
    char plan_id[CAIRN_MAX_ID + 1];
    uint8_t plan_hash[CAIRN_HASH_BYTES];
    char preflight_id[CAIRN_MAX_ID + 1]; /**< "" when none */
    int preflight_accepted;
    cairn_run_state state;
    uint32_t total;
    uint32_t counts[7]; /**< indexed by cairn_op_state (index 0 unused) */
    int has_next;
    uint32_t next_seq;
    cairn_op_state next_state;
    uint32_t next_attempt;
    int restart_required;
    size_t n_restart_targets;
    char **restart_targets; /**< target names */
    size_t n_in_doubt;
    uint32_t *in_doubt;          /**< sequences */
    int64_t last_contiguous_seq; /**< -1 when none */
    int64_t last_attempted_seq;  /**< -1 when none */
    cairn_stopped_reason stopped_reason;
    cairn_next_action next_action;
    uint64_t records; /**< records in the run */
    uint8_t head[CAIRN_HASH_BYTES];
    int signed_run; /**< nonzero when the run is bound to a key */
    uint8_t key_id[CAIRN_KEY_ID_BYTES];
    /** Wall times of the CREATE record and of the last record other than
     *  a HOLD or RELEASE (a hold is no progress). */
    uint64_t created_ns, updated_ns;
    size_t n_ops;
    cairn_op_view *ops; /**< every operation, by sequence */
    /** Nonzero when the run was pruned (cairn_prune()): @c state is its
     *  final state, @c counts and @c total its op counts when pruned,
     *  @c records includes the PRUNE record; @c ops is empty and nothing
     *  is next (cairn_prune_tombstone() tells what was removed). */
    int pruned;
    uint64_t prune_position; /**< position of the PRUNE record, or 0 */
    /** Held (cairn_hold()): the last HOLD record of the run was not
     *  followed by a RELEASE.  A hold whose @c hold_until_ns has passed
     *  no longer counts (cairn_hold_active()), but stays shown until
     *  released or replaced. */
    int held;
    char hold_reason[CAIRN_MAX_HOLD_REASON + 1]; /**< "" when not held */
    uint64_t hold_until_ns;                      /**< 0: until released */
    uint64_t hold_ns;                    /**< wall time of the HOLD record */
    char hold_actor[CAIRN_MAX_TEXT + 1]; /**< its actor ("" when none) */
    /** Imported from a bundle (cairn_import()): read-only. */
    int imported;
} cairn_summary;

/** Does the hold of @p summary count at wall time @p now_ns (ns since the
 *  epoch): held, and no @c hold_until_ns or one still in the future? */
CAIRN_API int cairn_hold_active(const cairn_summary *summary, uint64_t now_ns);

/**
 * The resume summary of @p run_id, from the materialised state (O(1) in the
 * journal's length) plus a liveness check of pending operations' claimers.
 * @param out  receives a summary; free with cairn_summary_free().
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_ECORRUPT; CAIRN_ESTORE; CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_status(cairn_journal *journal,
                                           const char *run_id,
                                           cairn_summary **out);
CAIRN_API void cairn_summary_free(cairn_summary *summary);

/**
 * Recompute the run's state from its records alone (the plan in its CREATE
 * record, then every transition) and compare it with the materialised state.
 * @return CAIRN_OK when they agree; CAIRN_ECORRUPT when they differ or a
 *         record does not decode or apply (detail names the sequence);
 *         CAIRN_ENORUN; storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_replay_check(cairn_journal *journal,
                                                 const char *run_id);

/**
 * Where the previous runs of a plan stopped, for an incremental plan
 * generator (`cairn watermark`, and the runner's CAIRN_PREV_* variables).
 * "Previous runs" are the runs of the plan id other than @p exclude_run,
 * newest (created last) first:
 * - attempted: the newest one that claimed at least one operation
 *   (last_attempted_seq >= 0), whatever its state (a run still going, a
 *   failed or cancelled one count); its last contiguous done position and
 *   its last attempted position, with the ids of those operations;
 * - completed: the newest one whose state is completed.
 * Sequences are -1 and ids "" when there is no such run.
 */
typedef struct cairn_watermark {
    uint64_t runs;     /**< runs of the plan looked at (the search stops
                            once both runs are found) */
    int has_attempted; /**< a previous run attempted something */
    char attempted_run_id[CAIRN_MAX_ID + 1];
    cairn_run_state attempted_state;
    int64_t last_contiguous_seq;               /**< of that run; -1 when none */
    int64_t last_attempted_seq;                /**< of that run; -1 when none */
    char last_contiguous_id[CAIRN_MAX_ID + 1]; /**< "" when none */
    char last_attempted_id[CAIRN_MAX_ID + 1];  /**< "" when none */
    uint64_t attempted_updated_ns; /**< that run's last change (holds and
                                        releases do not count) */
    int has_completed;             /**< a previous run completed */
    char completed_run_id[CAIRN_MAX_ID + 1];
    uint64_t completed_updated_ns; /**< when it completed (last change;
                                        holds and releases do not count) */
} cairn_watermark;

/**
 * Fill @p out for plan @p plan_id (see cairn_watermark), leaving out the run
 * named @p exclude_run (NULL: none; the runner passes its own run).  Reads
 * each looked-at run's materialised state, newest first, in one read
 * transaction; never replays records.  Cost: one state read per run created
 * since the older of the two runs found (every run when the plan has none).
 * @return CAIRN_OK (also when the plan has no runs: has_* 0); CAIRN_EINVAL
 *         (NULL, empty plan id); CAIRN_ECORRUPT (a run's state does not
 *         decode: detail names it); CAIRN_ESTORE; CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_watermark_get(cairn_journal *journal,
                                                  const char *plan_id,
                                                  const char *exclude_run,
                                                  cairn_watermark *out);

/** Call @p fn for each imported run id (cairn_import()), in byte order
 *  of the ids; stop early when @p fn returns nonzero.  cairn_run_each()
 *  does not list them.
 *  @return CAIRN_OK (also when the journal has no import);
 *          CAIRN_ECORRUPT (a malformed key); storage errors. */
CAIRN_API CAIRN_WUR cairn_err cairn_import_each(cairn_journal *journal,
                                                int (*fn)(void *ctx,
                                                          const char *run_id),
                                                void *ctx);

/** Call @p fn for each run id, in creation order; stop early when @p fn
 *  returns nonzero. */
CAIRN_API CAIRN_WUR cairn_err cairn_run_each(cairn_journal *journal,
                                             int (*fn)(void *ctx,
                                                       const char *run_id),
                                             void *ctx);

/** A decoded record.  Pointers are valid only during the callback. */
typedef struct cairn_record_view {
    cairn_record_type type;
    uint64_t seq;      /**< sequence in the run, from 0 */
    uint64_t position; /**< position in the journal directory */
    uint64_t wall_ns;
    uint64_t mono_ns;
    uint8_t boot_id[CAIRN_BOOT_ID_BYTES];
    uint8_t prev[CAIRN_HASH_BYTES];
    uint8_t hash[CAIRN_HASH_BYTES]; /**< leaf hash of this record */
    const char *actor;              /**< "" when none */
    /* Body fields; which are set depends on type (docs/FORMAT.md). */
    const char *run_id, *plan_id; /**< CREATE */
    const uint8_t *plan_hash;     /**< CREATE */
    const char *plan_json;        /**< CREATE: canonical plan */
    size_t plan_json_len;
    const char *preflight_id;      /**< ACCEPT */
    uint32_t op, attempt;          /**< CLAIM RECEIPT RETRY RESOLVE */
    cairn_claim_kind claim_kind;   /**< CLAIM */
    uint32_t holder_pid;           /**< CLAIM */
    uint64_t holder_start;         /**< CLAIM */
    const char *host;              /**< CLAIM */
    cairn_outcome outcome;         /**< RECEIPT RESOLVE */
    cairn_error_class error_class; /**< RECEIPT RESOLVE */
    const char *reason;            /**< all but CREATE/CLAIM ("" none);
                                        required by HOLD and RELEASE */
    const cairn_kv *outputs;
    size_t n_outputs;
    const cairn_kv *evidence;
    size_t n_evidence;
    size_t encoded_len; /**< bytes of the record */
    /** PRUNE: the tombstone (what was removed, by which rule, the bundle;
     *  docs/FORMAT.md section 22); NULL for other types. */
    const struct cairn_tombstone *tombstone;
    uint64_t until_ns; /**< HOLD: when the hold stops counting (0: none) */
} cairn_record_view;

/**
 * Call @p fn for the records of @p run_id with sequence >= @p from_seq, in
 * order; stop early when @p fn returns nonzero.
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_ECORRUPT (a record does not decode:
 *         detail names the sequence and byte offset); storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_record_each(
    cairn_journal *journal, const char *run_id, uint64_t from_seq,
    int (*fn)(void *ctx, const cairn_record_view *record), void *ctx);

/** Facts about a journal directory (`cairn info`). */
typedef struct cairn_journal_info {
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    uint32_t format;      /**< on-disk format version */
    uint64_t created_ns;  /**< when the directory was initialised */
    uint64_t runs;        /**< runs in the directory */
    uint64_t records;     /**< records (= last position) */
    uint64_t checkpoints; /**< checkpoints (one per run per commit) */
    uint64_t map_size;    /**< current LMDB map size, bytes */
    uint64_t page_size;   /**< LMDB page size, bytes */
    uint64_t last_txnid;  /**< LMDB transaction id of the last commit */
    uint64_t pages_used;  /**< last page number in use + 1 */
    unsigned readers;     /**< LMDB reader slots in use */
} cairn_journal_info;

/**
 * Fill @p out for `cairn info`.
 * @return CAIRN_OK; CAIRN_EINVAL; CAIRN_ESTORE; CAIRN_ECORRUPT.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_journal_info_get(cairn_journal *journal,
                                                     cairn_journal_info *out);

/** cairn_journal_compact() flags. */
#define CAIRN_COMPACT_DRY_RUN                                                  \
    0x1u /**< measure only: the journal is not                                 \
              changed */

/** What cairn_journal_compact() did (or, dry run, would do). */
typedef struct cairn_compact_result {
    uint64_t size_before; /**< bytes of data.mdb before */
    uint64_t size_after;  /**< bytes after (dry run: the exact size) */
    uint64_t page_size;   /**< LMDB page size, bytes */
    uint64_t txnid;       /**< LMDB transaction the copy holds (0: dry run) */
} cairn_compact_result;

/**
 * Return the unused space of the journal in @p dir to the file system:
 * rebuild data.mdb into a private temporary file in @p dir (a fresh LMDB
 * environment, every database copied entry by entry in key order, so that
 * neither free pages nor the half-empty pages deletions such as
 * cairn_prune() left are carried over), fsync it, check that it holds
 * every key and value of every database of the journal, then rename it
 * over data.mdb and fsync the directory (docs/DURABILITY.md,
 * "Compaction").  A crash at any point leaves the old or the new journal,
 * complete.
 *
 * The journal must be idle: no writable handle may be open anywhere (each
 * holds DIR/writers.lock shared; the compaction holds it exclusively, so
 * no writer opens while it runs), no process may hold run locks on
 * data.mdb, and when the file is replaced no process may have the
 * environment open at all (readers included).  Nothing waits: a holder
 * makes it fail with CAIRN_ELOCKED.  Takes no handle: it opens the
 * directory itself (not through a symbolic link, checked like an open).
 * With CAIRN_COMPACT_DRY_RUN it opens the journal read-only, rebuilds it
 * into an unnamed scratch file in @p dir (in /tmp when @p dir may not be
 * written), fills @p out (size_after: that file's size, exactly what a
 * compaction of the same content leaves), discards the file and changes
 * nothing in the journal; writers may run meanwhile.
 * @param out  receives the sizes (zeroed on failure).
 * @return CAIRN_OK; CAIRN_EINVAL (NULL, unknown flags); CAIRN_ELOCKED
 *         (detail names the holder's pid when /proc tells it);
 *         CAIRN_EUNSAFE (a file is a symbolic link or not ours); CAIRN_EIO
 *         (no journal, a file operation failed); CAIRN_ECORRUPT (the copy
 *         differs: nothing was replaced); CAIRN_ESTORE; CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_journal_compact(const char *dir,
                                                    unsigned flags,
                                                    cairn_compact_result *out,
                                                    char *detail,
                                                    size_t detail_len);

/* ------------------------------------------------------------------ */
/* Migration from journal format 1 (docs/FORMAT.md "Migration from     */
/* format 1").                                                         */

/** Room for a head's text in cairn_migrate_result (with its NUL). */
#define CAIRN_HEAD_TEXT_MAX 1025

/**
 * Checks the private copy of the old journal before it is converted
 * (cairn_journal_migrate()): @p copy is a format-1 handle of exactly the
 * bytes that will be converted, valid only during the call.  Return
 * CAIRN_OK to go on; any other value refuses the migration with that
 * error (describe it in @p detail, @p detail_len bytes): nothing is
 * published.  The CLI verifies the copy here (cairn_verify_all() under
 * the pinned key).
 */
typedef cairn_err (*cairn_migrate_check_fn)(void *ctx, cairn_journal *copy,
                                            char *detail, size_t detail_len);

/** cairn_journal_migrate() options; zero them, then set what applies. */
typedef struct cairn_migrate_opts {
    /** Signs the new journal's head (borrowed); NULL: the new journal is
     *  unsigned ("unsafe": nothing in it is authenticated).  Every run of
     *  the old journal must be signed by this key (with NULL: no run may
     *  be signed). */
    const cairn_signer *signer;
    /** Called once with the private copy before conversion; NULL: the
     *  caller vouches for the old journal (nothing is verified). */
    cairn_migrate_check_fn check;
    void *check_ctx;
} cairn_migrate_opts;

/** What cairn_journal_migrate() built. */
typedef struct cairn_migrate_result {
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES]; /**< the old journal's */
    uint64_t records;                           /**< log tree size */
    uint64_t runs;                              /**< state map size */
    uint8_t root[CAIRN_HASH_BYTES];             /**< log tree root */
    uint8_t state_root[CAIRN_HASH_BYTES];       /**< state map root */
    int is_signed;                  /**< the head carries a signature */
    size_t head_len;                /**< bytes of the head */
    char head[CAIRN_HEAD_TEXT_MAX]; /**< the head's text, NUL-terminated */
} cairn_migrate_result;

/**
 * Build a format-2 journal in @p new_dir from the format-1 journal in
 * @p old_dir, which is only read.  The old environment is copied (one
 * LMDB read transaction), @p opts->check is called on the copy, then
 * one write transaction of the copy creates the "tree" and "smap"
 * databases, appends every record's leaf (position order) to the log
 * tree and every run's state leaf (runs 1..R) to the state map, writes
 * the head (signed with @p opts->signer) and sets meta "format" to 2.
 * The head is then proven as any writer would, and only then is the
 * journal linked into place as @p new_dir/data.mdb.  Journal id,
 * records, states and per-run checkpoints are kept as they are.
 *
 * The new journal is built in a private ".cairn-new-*" directory inside
 * @p new_dir (made when missing; it must hold no journal and nothing but
 * cairn's own files), so a crash at any point leaves @p old_dir as it
 * was and @p new_dir without a journal, or with the complete one.
 * Files get the old data.mdb's mode.
 *
 * @param out  filled on success; zeroed on failure.
 * @return CAIRN_OK; CAIRN_EINVAL (NULL argument; @p old_dir is not a
 *         format-1 journal: "already format 2"); CAIRN_EEXIST (a journal
 *         is in @p new_dir); CAIRN_EKEYMISMATCH (a run is not signed by
 *         the signer's key, or is signed while no signer was given:
 *         detail names it); CAIRN_ECORRUPT (records or runs not dense
 *         from 1, a "tree" or "smap" database in the old journal);
 *         what @p opts->check returned; open, storage, signing and I/O
 *         errors.  Every failure is described in @p detail.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_journal_migrate(
    const char *old_dir, const char *new_dir, const cairn_migrate_opts *opts,
    cairn_migrate_result *out, char *detail, size_t detail_len);

/* ------------------------------------------------------------------ */
/* Verification and export.                                            */

/** Verdicts.  VERIFIED needs a pinned key, a clean structure, an unbroken
 *  chain, every checkpoint signed and valid (format 2: sealed by the
 *  journal head, whose signature verified and which covers the run's last
 *  record and state), every record sealed, and a replay equal to the
 *  materialised state. */
typedef enum cairn_verdict {
    CAIRN_VERDICT_VERIFIED = 0,
    CAIRN_VERDICT_TAMPERED = 1,   /**< proof of modification */
    CAIRN_VERDICT_INCOMPLETE = 2, /**< nothing wrong found, but integrity
                                       not proven (no pinned key, unsigned
                                       run, unsealed tail) */
    CAIRN_VERDICT_ERROR = 3       /**< could not be read (corrupt store) */
} cairn_verdict;

CAIRN_API const char *cairn_verdict_name(cairn_verdict verdict);
/** CLI exit code of a verdict: 0, 4, 3, 6. */
CAIRN_API int cairn_verdict_exit_code(cairn_verdict verdict);

/** The journal-wide signed head of a format-2 journal as verify read it
 *  (meta "head", docs/FORMAT.md section 13.3). */
typedef struct cairn_verify_head {
    int present;      /**< meta "head" was read and parsed */
    int is_signed;    /**< it has a signature line (else unsigned, unsafe) */
    int signature_ok; /**< that line verified under the pinned key */
    int key_mismatch; /**< signed, but not by the pinned key */
    uint64_t size;    /**< N: records covered by the log tree */
    uint64_t runs;    /**< R: runs covered by the state map */
    uint64_t time_ns; /**< the cairn-time line (wall clock of the commit) */
    uint8_t root[CAIRN_HASH_BYTES];       /**< log tree root */
    uint8_t state_root[CAIRN_HASH_BYTES]; /**< state map root */
    uint8_t key_id[4]; /**< signed-note key id of the signature line */
} cairn_verify_head;

/** The result of verifying one run. */
typedef struct cairn_verify_report {
    cairn_verdict verdict;
    char run_id[CAIRN_MAX_ID + 1];
    uint64_t records;       /**< records read and checked */
    uint64_t checkpoints;   /**< checkpoints read */
    uint64_t signatures_ok; /**< checkpoint signatures that verified */
    uint64_t unsigned_checkpoints;
    /** Checkpoints sealed by the journal head (format 2, docs/FORMAT.md
     *  section 25): no signature of their own; the run is VERIFIED only
     *  when the head's signature verified under the pinned key and the
     *  head covers the run's last record and state. */
    uint64_t head_sealed;
    uint64_t unsealed; /**< records after the last checkpoint */
    int key_pinned;    /**< a public key was given */
    int run_signed;    /**< the run is bound to a signing key */
    /** The run is signed by another key than the pinned one: a key
     *  mismatch (INCOMPLETE, like minisign's "key id mismatch"), not
     *  proof of tampering; its signatures were not checked. */
    int key_mismatch;
    uint8_t key_id[CAIRN_KEY_ID_BYTES]; /**< the run's key id */
    char fingerprint[80]; /**< "SHA256:..." of the pinned key, or "" */
    int replay_ok;        /**< replay equals the materialised state */
    uint8_t head[CAIRN_HASH_BYTES]; /**< hash of the last record */
    int has_bad;                    /**< a first bad record was found */
    uint64_t bad_seq;               /**< its sequence */
    char bad_field[64]; /**< what is wrong: "prev", "signature" ... */
    char expected[160]; /**< expected value (hex or text), or "" */
    char found[160];    /**< value found, or "" */
    char reason[512];   /**< one sentence for humans */
    /** Journal format (1 or 2; 0: not read).  Format 2 only below. */
    unsigned format;
    cairn_verify_head journal_head; /**< the signed head (.present) */
    /** The first bad Merkle node (bad_field "tree" or "state-map"):
     *  level and index of the complete subtree node, docs/FORMAT.md. */
    int has_node;
    unsigned bad_level;
    uint64_t bad_index;
    /** The run is pruned (cairn_prune()): its PRUNE record at
     *  prune_position stands for pruned_records records, whose positions
     *  and leaf hashes it lists (cairn_prune_tombstone() tells by whom,
     *  when, by which rule and where the bundle is).  In the directory
     *  report: pruned_records is the number of pruned positions. */
    int pruned;
    uint64_t prune_position;
    uint64_t pruned_records;
} cairn_verify_report;

/**
 * Verify run @p run_id: structure of every record, the hash chain from the
 * genesis hash, every checkpoint (position, sequence, head, key id and the
 * Ed25519 signature under @p pinned), a replay of the state machine
 * compared with the materialised state, and that every record is sealed
 * by a checkpoint.  In a format-2 journal also the journal-wide head
 * (strict parse, origin, record and run counts, its signature under
 * @p pinned) and, by inclusion proofs read from the stored trees, the
 * run's state blob and its last record under that head (out->format,
 * out->journal_head; field "head", "state-map" or "tree").  A format-1
 * report says in its reason that deletion of a whole run or a rollback is
 * not detectable.
 * @param pinned  the trusted public key, or NULL (the verdict is then at
 *                best INCOMPLETE: the journal does not hold the key and
 *                never trusts a key it would supply itself).
 * @param out     the report (always filled when CAIRN_OK is returned).
 * @return CAIRN_OK when the verification ran (see out->verdict; a storage
 *         failure while reading gives verdict ERROR with the reason);
 *         CAIRN_ENORUN; CAIRN_EINVAL; CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_verify_run(cairn_journal *journal,
                                               const char *run_id,
                                               const cairn_pubkey *pinned,
                                               cairn_verify_report *out);

/**
 * Whole-directory checks for `verify --all`: record positions are dense
 * from 1, every record belongs to exactly one run's index, every checkpoint
 * belongs to a record.  @p out->verdict is TAMPERED (the first bad
 * position in out->bad_seq with has_bad set, the field in out->bad_field,
 * a sentence in out->reason), ERROR (storage failure), or VERIFIED for
 * this structural part only.  In a format-2 journal also: meta "head"
 * parses and names this journal, the log tree and the state map rebuilt
 * from the records and run states equal every stored node (field "tree"
 * or "state-map", the first bad node in has_node / bad_level /
 * bad_index), no extra node, and the roots and counts equal the head's
 * (field "head"); the head's signature is not checked here (no key: see
 * cairn_verify_all()).
 */
CAIRN_API CAIRN_WUR cairn_err cairn_verify_directory(cairn_journal *journal,
                                                     cairn_verify_report *out);

/** Most threads cairn_verify_all() uses. */
#define CAIRN_VERIFY_MAX_THREADS 64

/** Receives one run's report from cairn_verify_all(); nonzero stops. */
typedef int (*cairn_verify_each_fn)(void *ctx, const cairn_verify_report *run);

/**
 * `verify --all`: cairn_verify_directory() and the verification of every
 * run (as cairn_verify_run() with @p pinned), spread over @p threads
 * threads (0: one per online CPU; at most CAIRN_VERIFY_MAX_THREADS; the
 * calling thread is one of them).  Each run, and the directory check, is
 * read in a read transaction of its own, as the separate calls would.
 *
 * The directory report also checks a format-2 head's signature under
 * @p pinned: a head signed by another key is INCOMPLETE with
 * journal_head.key_mismatch set (a key mismatch, not tampering), an
 * unsigned head with a key is INCOMPLETE.  In format 2 each run's report
 * also checks the log tree's leaf of every record of the run (field
 * "tree"), and the directory report builds the tree from those leaves.
 *
 * Checkpoints that name a run but seal none of its records are reported
 * by the directory check (field "checkpoint.position") rather than in
 * that run's report, so the run reports alone do not make a verdict:
 * combine them with @p dir.  This is what keeps the whole verification
 * O(records), where calling cairn_verify_run() for every run scans every
 * checkpoint once per run.
 *
 * @p each is called once per run, in run-number order, from one of the
 * threads but never from two at once; the report is only valid during
 * the call.  A run whose state does not name it, or whose name does not
 * lead to it, is delivered as TAMPERED (run_id "run number N" in the
 * first case).  A nonzero return stops: no further run is delivered.
 * Memory is bounded by the thread count, not by the journal.
 * @param dir  receives the directory report (complete when CAIRN_OK is
 *             returned, also after @p each asked to stop).
 * @return CAIRN_OK; CAIRN_EINVAL (NULL @p journal, @p each or @p dir);
 *         CAIRN_ENOMEM; CAIRN_ESTORE when the runs cannot be listed
 *         (detail names the failure; the reports delivered so far stand).
 */
CAIRN_API CAIRN_WUR cairn_err cairn_verify_all(
    cairn_journal *journal, const cairn_pubkey *pinned, unsigned threads,
    cairn_verify_each_fn each, void *ctx, cairn_verify_report *dir);

/**
 * Write a self-contained bundle of run @p run_id to @p path (docs/FORMAT.md
 * "Bundle"): journal id, run id, the signer's public key, every record and
 * checkpoint.  Also writes @p path + ".minisig", a minisign signature made
 * with @p signer that stock `minisign -V -p PUB -m FILE` accepts.  The run
 * must be signed by @p signer's key and must verify with it first.  From a
 * format-2 journal the bundle is version 2 and @p path + ".tlog-proof" is
 * written too (see cairn_export_bundle_opts()).
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_EKEYMISMATCH (also: a format-2
 *         head not signed by @p signer's key); CAIRN_EPRUNED (the run was
 *         pruned: its records are gone); CAIRN_ETAMPERED or
 *         CAIRN_EINCOMPLETE (the run does not verify: nothing written);
 *         CAIRN_EEXIST (a file exists); CAIRN_EIO; CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_export_bundle(cairn_journal *journal,
                                                  const char *run_id,
                                                  const cairn_signer *signer,
                                                  const char *path);

/** cairn_export_bundle_flags() flags. */
#define CAIRN_EXPORT_RUN_ONLY                                                  \
    0x1u /**< verify the run's own records and checkpoints only */

/**
 * cairn_export_bundle() with @p flags.  With CAIRN_EXPORT_RUN_ONLY the
 * verification before the export reads the run's records and the
 * checkpoints that seal them, but not the journal's other checkpoints
 * (which cairn_export_bundle() scans for one naming the run that seals
 * none of its records, such as the checkpoint of a tail that was cut):
 * for `cairn salvage` of a journal whose checkpoints database is partly
 * unreadable.  The bundle is the same; what it cannot show is said in
 * the salvage report.
 * CAIRN_EXPORT_ZSTD (below) is accepted too.
 * @return as cairn_export_bundle(); CAIRN_EINVAL also for an unknown flag.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_export_bundle_flags(
    cairn_journal *journal, const char *run_id, const cairn_signer *signer,
    const char *path, unsigned flags);

/** Most anchors cairn_export_bundle_opts() and cairn_verify_bundle_opts()
 *  take. */
#define CAIRN_BUNDLE_MAX_ANCHORS 16

/** cairn_export_bundle_opts() flag: write FILE as one zstd frame (the
 *  .minisig signs the compressed file as stored; readers detect the zstd
 *  magic and decompress at most 1 GiB before parsing). */
#define CAIRN_EXPORT_ZSTD 0x2u

/** Options of cairn_export_bundle_opts().  Zero-initialise. */
typedef struct cairn_export_opts {
    unsigned flags; /**< CAIRN_EXPORT_RUN_ONLY, CAIRN_EXPORT_ZSTD */
    /** Anchors: @p n_anchors checkpoints of this journal (C2SP signed
     *  notes, as `cairn checkpoint` prints them; borrowed for the call),
     *  at most CAIRN_BUNDLE_MAX_ANCHORS.  For each, a version-2 bundle
     *  carries the consistency proof from its size to the bundle's head
     *  (docs/FORMAT.md section 19). */
    const char *const *anchors;
    const size_t *anchor_lens; /**< byte length of each anchor */
    size_t n_anchors;
} cairn_export_opts;

/** What cairn_export_bundle_opts() wrote. */
typedef struct cairn_export_result {
    unsigned version;      /**< bundle version: 2 (format-2 journal) or 1 */
    int tlog_proof;        /**< FILE.tlog-proof was written (version 2) */
    uint64_t exported_ns;  /**< the export time in the bundle (version 2) */
    uint64_t tree_size;    /**< records under the embedded head (version 2) */
    cairn_run_state state; /**< the run's state as the bundle proves it
                                (version 2; 0 otherwise) */
    uint64_t bytes;        /**< size of FILE */
    uint64_t raw_bytes;    /**< the bundle uncompressed (= bytes without
                                CAIRN_EXPORT_ZSTD) */
} cairn_export_result;

/**
 * cairn_export_bundle_flags() with options and a result.  From a format-2
 * journal it writes bundle version 2 (docs/FORMAT.md section 19): besides
 * version 1's contents, the export time, the journal's signed head
 * (verbatim), the inclusion proof of the run's last record under it, the
 * run's state blob and its state-map inclusion proof, and one consistency
 * proof per anchor; and next to FILE also FILE.tlog-proof, a C2SP
 * tlog-proof@v1 of the run's last record (index = position - 1) that
 * stock tools check against the checkpoint.  The head must be signed by
 * @p signer's key.  A format-1 journal gets version 1 (no anchors).
 * Nothing is ever overwritten: FILE, FILE.tlog-proof and FILE.minisig must
 * not exist; on any failure the files this call created are removed.
 * @param opts  may be NULL (no flags, no anchors).
 * @param out   may be NULL; zeroed, then filled on success.
 * @return as cairn_export_bundle_flags(); CAIRN_EINVAL also for a malformed
 *         anchor, an anchor of another journal or not signed by @p signer,
 *         more than CAIRN_BUNDLE_MAX_ANCHORS, or anchors with a format-1
 *         journal; CAIRN_ETAMPERED for an anchor the journal is not
 *         consistent with (larger than the journal's head, or another root
 *         at its size); the detail names the anchor.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_export_bundle_opts(
    cairn_journal *journal, const char *run_id, const cairn_signer *signer,
    const char *path, const cairn_export_opts *opts, cairn_export_result *out);

/** cairn_verify_bundle_flags() flags. */
#define CAIRN_BUNDLE_NO_SIGNATURE                                              \
    0x1u /**< do not read or require FILE.minisig */

/** Options of cairn_verify_bundle_opts().  Zero-initialise. */
typedef struct cairn_bundle_verify_opts {
    const cairn_pubkey *pinned; /**< the trusted key, or NULL */
    unsigned flags;             /**< 0 or CAIRN_BUNDLE_NO_SIGNATURE */
    /** Anchors, as in cairn_export_opts (borrowed for the call). */
    const char *const *anchors;
    const size_t *anchor_lens;
    size_t n_anchors;
} cairn_bundle_verify_opts;

/** The outcome of one anchor of cairn_verify_bundle_opts(). */
typedef struct cairn_bundle_anchor_result {
    uint64_t size; /**< the anchor's tree size */
    /** VERIFIED: the bundle's head is proven consistent with it;
     *  TAMPERED: it is not (another journal, a bad proof, another root at
     *  the same size, a bad signature of the pinned key); INCOMPLETE:
     *  not proven (not signed by the pinned key, no proof in the bundle,
     *  the bundle predates it). */
    cairn_verdict verdict;
    char reason[256];
} cairn_bundle_anchor_result;

/** What cairn_verify_bundle_opts() learnt beyond the report. */
typedef struct cairn_bundle_info {
    unsigned version;      /**< 1 or 2; 0 when the header did not parse */
    int compressed;        /**< FILE is a zstd frame (export --zstd) */
    uint64_t stored_bytes; /**< size of FILE */
    uint64_t bytes;        /**< size of the bundle (decompressed) */
    uint64_t exported_ns;  /**< version 2: export time (signed by .minisig) */
    /** Version 2: the run's state blob is proven under the head's state
     *  root and equals the replay of the bundle's records; the fields
     *  below are from it. */
    int state_proven;
    cairn_run_state state; /**< derived as `cairn status` would, except
                                that a pending operation counts as in
                                doubt (a bundle cannot show its claimer) */
    uint32_t total;        /**< operations */
    uint32_t done;         /**< completed or skipped */
    uint32_t in_doubt;     /**< pending operations */
    uint32_t failed;       /**< failed operations */
    /** FILE.tlog-proof: 0 absent, 1 present and equal to the embedded
     *  proof and head, -1 present but different or unreadable. */
    int tlog_proof;
    size_t n_anchors;
    cairn_bundle_anchor_result anchors[CAIRN_BUNDLE_MAX_ANCHORS];
} cairn_bundle_info;

/**
 * cairn_verify_bundle_flags() with anchors and the bundle's details.  For
 * a version-2 bundle also (docs/FORMAT.md section 19): the embedded head
 * parses strictly as the journal's signed checkpoint (origin
 * cairn/journal/<the bundle's journal id>), signed by the pinned key
 * (field "bundle.head"); the run's last record is in its log tree (the
 * inclusion proof, field "bundle.tree_proof"); the state blob is in its
 * state map (field "bundle.state_proof") and equals the state the
 * records replay to (field "bundle.state"); FILE.tlog-proof, when present,
 * holds exactly the embedded proof and head (field "tlog-proof").  The head
 * goes to out->journal_head (out->format is 2).  Each anchor is checked
 * against the head (see cairn_bundle_anchor_result): a TAMPERED anchor
 * makes the verdict TAMPERED (field "anchor"), an INCOMPLETE one makes
 * VERIFIED INCOMPLETE.
 * @param info  may be NULL; zeroed, then filled.
 * @return as cairn_verify_bundle_flags(); CAIRN_EINVAL also for a
 *         malformed anchor (not a signed note whose text is a checkpoint:
 *         @p detail names it) or more than CAIRN_BUNDLE_MAX_ANCHORS.
 */
CAIRN_API CAIRN_WUR cairn_err
cairn_verify_bundle_opts(const char *path, const cairn_bundle_verify_opts *opts,
                         cairn_verify_report *out, cairn_bundle_info *info,
                         char *detail, size_t detail_len);

/**
 * Verify a bundle file without any journal directory: parse it strictly,
 * check that its key is @p pinned, then chain, signatures, seals and a
 * replay of the state machine, as cairn_verify_run() does; then, with a
 * pinned key, the detached signature @p path + ".minisig" (signature and
 * trusted comment, which names the record count and head).  The records
 * alone cannot show a bundle cut back to an earlier commit, so the
 * .minisig is required: when it is missing, unreadable or not a regular
 * file the verdict is at best INCOMPLETE (fail closed; the reason and
 * @p detail say why), unless @p flags has CAIRN_BUNDLE_NO_SIGNATURE (then
 * it is not read and the reason says it was not checked).  A .minisig
 * that does not verify, or whose comment describes another bundle, is
 * TAMPERED.  Every file is read through a bounded reader: a path that is
 * not a regular file (FIFO, device, directory) is refused without
 * blocking, and a bundle over 1 GiB is refused before it is read.
 * @param flags   0 or CAIRN_BUNDLE_NO_SIGNATURE.
 * @param detail  receives a parse error description, or with CAIRN_OK why
 *                the .minisig was not checked ("" when it was, or when
 *                CAIRN_BUNDLE_NO_SIGNATURE or no key made that moot).
 * @return CAIRN_OK when the verification ran (see out->verdict);
 *         CAIRN_EIO (the bundle cannot be read or is not a regular file);
 *         CAIRN_EBUNDLE (malformed or over 1 GiB: verdict TAMPERED is also
 *         set in @p out); CAIRN_EINVAL (NULL argument, unknown flag);
 *         CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_verify_bundle_flags(
    const char *path, const cairn_pubkey *pinned, unsigned flags,
    cairn_verify_report *out, char *detail, size_t detail_len);

/**
 * cairn_verify_bundle_flags(), then tie the bundle to the tombstone its
 * run left in @p journal when it was pruned (docs/FORMAT.md section 22):
 * the file's SHA-256 and size must be the tombstone's, the bundle must
 * hold exactly the records the PRUNE record lists (count, positions, leaf
 * hashes, hence the run's head), and the PRUNE record must apply to the
 * state the bundle's records replay to at its own time (ended, nothing
 * pending, not held, the same facts).  A mismatch is TAMPERED (fields
 * "bundle.sha256", "bundle.records", "held", "prune"); on success the
 * reason ends with "archived copy of pruned run X (tombstone at position
 * P, ...)" and out->pruned, prune_position, pruned_records are set.
 * @return as cairn_verify_bundle_flags(); CAIRN_EINVAL (NULL @p journal);
 *         CAIRN_ENORUN (no such run in @p journal, or a bundle of another
 *         journal: @p detail says which); CAIRN_ESTATE (the run is not
 *         pruned); storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_verify_bundle_pruned(
    cairn_journal *journal, const char *path, const cairn_pubkey *pinned,
    unsigned flags, cairn_verify_report *out, char *detail, size_t detail_len);

/**
 * Import the bundle at @p path (and @p path.minisig) into this journal,
 * read-only: verify it first with the checks of cairn_verify_bundle_flags()
 * under @p pinned (the verifier core, then the .minisig; @p flags
 * CAIRN_BUNDLE_NO_SIGNATURE skips the .minisig), and only when the
 * verdict is VERIFIED store, in one durable write of the `imports`
 * database (docs/FORMAT.md section 21), the bundle bytes, the .minisig,
 * the run state replayed from the bundle and where each record lies in
 * it.  A zstd bundle (CAIRN_EXPORT_ZSTD) is decompressed for the checks
 * and the replay, as cairn_verify_bundle_flags() does, and stored as
 * given, compressed (the .minisig signs those bytes); a corrupt or cut
 * frame is TAMPERED.  The run then answers cairn_status() (summary.imported 1),
 * cairn_record_each(), cairn_verify_run() (which re-verifies the stored
 * bundle under the key it pins), cairn_import_export() and
 * cairn_import_each(); every transition on it is refused with
 * CAIRN_EIMPORTED and writes nothing.  Its records are not part of this
 * journal's log tree, state map or signed head (docs/SECURITY.md).
 * @param pinned  the key the bundle must be signed with; NULL can only
 *                give INCOMPLETE, so nothing is imported.
 * @param out     the verification report (always filled).
 * @return CAIRN_OK (imported); CAIRN_ETAMPERED or CAIRN_EINCOMPLETE (the
 *         verdict, in @p out; nothing stored); CAIRN_EEXIST (a run of that
 *         id exists or was imported); CAIRN_EIO (the bundle cannot be read);
 *         CAIRN_EINVAL (bad argument, a read-only handle, a format-1
 *         journal); storage errors.  The detail says which.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_import(cairn_journal *journal,
                                           const char *path,
                                           const cairn_pubkey *pinned,
                                           unsigned flags,
                                           cairn_verify_report *out);

/**
 * Write the stored bundle of imported run @p run_id to @p path, byte for
 * byte as imported (a zstd bundle stays compressed), and its .minisig
 * (when one was imported) to
 * @p path.minisig.  Neither file may exist.
 * @return CAIRN_OK; CAIRN_ENORUN (not an imported run); CAIRN_ECORRUPT;
 *         CAIRN_EIO (a file exists or cannot be written); CAIRN_EINVAL.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_import_export(cairn_journal *journal,
                                                  const char *run_id,
                                                  const char *path);

/** cairn_verify_bundle_flags() with flags 0: the .minisig is required. */
CAIRN_API CAIRN_WUR cairn_err cairn_verify_bundle(const char *path,
                                                  const cairn_pubkey *pinned,
                                                  cairn_verify_report *out,
                                                  char *detail,
                                                  size_t detail_len);

/** A stored checkpoint of a run, decoded. */
typedef struct cairn_checkpoint_view {
    uint64_t position;              /**< position of the record it seals */
    uint64_t seq;                   /**< sequence of that record */
    uint8_t head[CAIRN_HASH_BYTES]; /**< leaf hash of that record */
    uint64_t wall_ns;
    int is_signed;   /**< it carries its own signature (format 1) */
    int head_sealed; /**< the journal head signs it (format 2, section 25) */
    uint8_t key_id[CAIRN_KEY_ID_BYTES];       /**< zero if neither */
    uint8_t signature[CAIRN_SIGNATURE_BYTES]; /**< zero unless is_signed */
} cairn_checkpoint_view;

/**
 * Call @p fn for each checkpoint sealing a record of @p run_id, in
 * sequence order; stop early when @p fn returns nonzero.  Nothing is
 * verified here (use cairn_verify_run()).
 * @return CAIRN_OK; CAIRN_EINVAL; CAIRN_ENORUN; CAIRN_ECORRUPT (an index
 *         entry or checkpoint does not decode: detail names it); storage
 *         errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_checkpoint_each(
    cairn_journal *journal, const char *run_id,
    int (*fn)(void *ctx, const cairn_checkpoint_view *cp), void *ctx);

/* ------------------------------------------------------------------ */
/* Anchors: the journal's signed checkpoint, consistency proofs and    */
/* remembered checkpoints (docs/FORMAT.md section 18).                 */

/** Longest checkpoint note (meta "head") handed out, without its NUL. */
#define CAIRN_CHECKPOINT_NOTE_MAX 1024
/** Room for an origin "cairn/journal/<32 hex>" with its NUL. */
#define CAIRN_ORIGIN_MAX 64
/** Longest add-checkpoint request body cairn_checkpoint_request()
 *  writes: "old N", 64 proof lines, a blank line and the note. */
#define CAIRN_CHECKPOINT_REQUEST_MAX                                           \
    (32 + 64 * 45 + 1 + CAIRN_CHECKPOINT_NOTE_MAX + 1)

/** The journal's current head as a checkpoint (format 2, meta "head"). */
typedef struct cairn_journal_checkpoint {
    char origin[CAIRN_ORIGIN_MAX];        /**< "cairn/journal/<hex id>" */
    uint64_t size;                        /**< N: records (log tree leaves) */
    uint8_t root[CAIRN_HASH_BYTES];       /**< log tree root */
    uint64_t runs;                        /**< R: runs (state map leaves) */
    uint8_t state_root[CAIRN_HASH_BYTES]; /**< state map root */
    uint64_t time_ns;  /**< the cairn-time line: wall clock of the commit */
    int is_signed;     /**< the note carries a signature line */
    int signature_ok;  /**< that line verified under the pinned key */
    int key_mismatch;  /**< signed, but not by the pinned key */
    uint8_t key_id[4]; /**< signed-note key id of the signature line */
    size_t note_len;   /**< bytes of note */
    /** The head verbatim (a C2SP signed note; the text alone in an
     *  unsigned journal), NUL-terminated. */
    char note[CAIRN_CHECKPOINT_NOTE_MAX + 1];
} cairn_journal_checkpoint;

/**
 * Read the journal's current head (one read transaction): strict parse
 * (docs/FORMAT.md section 14, rules 1-5), origin, N and R against the
 * records and runs held, and, with @p pinned, its signature.
 * @param pinned  the trusted public key, or NULL (the signature is then
 *                not checked: out->signature_ok stays 0).
 * @param out     filled on success (zeroed on failure).
 * @return CAIRN_OK (also when signed by another key: out->key_mismatch;
 *         or unsigned: !out->is_signed); CAIRN_EINVAL (NULL argument);
 *         CAIRN_EVERSION (a format-1 journal: detail names `cairn
 *         migrate`); CAIRN_ENOTHING (an empty journal: no head yet);
 *         CAIRN_ETAMPERED (the head does not parse, names another journal,
 *         miscounts, or a signature line of @p pinned does not verify);
 *         storage errors.  Each failure is described in @p detail.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_journal_checkpoint_get(
    cairn_journal *journal, const cairn_pubkey *pinned,
    cairn_journal_checkpoint *out, char *detail, size_t detail_len);

/**
 * A C2SP tlog-witness add-checkpoint request body for the current head:
 * "old <old_size>\n", the consistency proof from @p old_size to the
 * head's size (one base64 hash a line; none when old_size is 0 or the
 * head's size), "\n", then the head note verbatim.  The proof and the
 * root of size @p old_size come from the stored `tree` nodes and the
 * proof is checked against the head's root before anything is written
 * (a proof from forged nodes is never handed out).
 * @param cp    NULL, or receives the head the request carries (as
 *              cairn_journal_checkpoint_get() with @p pinned).
 * @param buf   receives the body, NUL-terminated; @p cap bytes
 *              (CAIRN_CHECKPOINT_REQUEST_MAX always suffice); *len its
 *              length without the NUL.
 * @return as cairn_journal_checkpoint_get(); CAIRN_EINVAL also when
 *         @p old_size is larger than the head's size or @p cap is too
 *         small; CAIRN_ETAMPERED when the stored nodes give no valid
 *         proof.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_checkpoint_request(
    cairn_journal *journal, const cairn_pubkey *pinned, uint64_t old_size,
    cairn_journal_checkpoint *cp, char *buf, size_t cap, size_t *len,
    char *detail, size_t detail_len);

/** What an anchor says about the current journal (cairn_anchor_check()). */
typedef enum cairn_anchor_status {
    /** The head extends the anchor, signed by the pinned key. */
    CAIRN_ANCHOR_OK = 0,
    /** The head extends the anchor, but the anchor's signature was not
     *  checked: no pinned key, no line of it, or an unsigned anchor (a
     *  verdict is then at best INCOMPLETE). */
    CAIRN_ANCHOR_UNVERIFIED = 1,
    /** The anchor is another journal's (origin): substitution. */
    CAIRN_ANCHOR_OTHER_JOURNAL = 2,
    /** A signature line of the pinned key does not verify. */
    CAIRN_ANCHOR_BAD_SIGNATURE = 3,
    /** The anchor has more records than the journal: rollback or
     *  truncation. */
    CAIRN_ANCHOR_ROLLBACK = 4,
    /** No consistency proof from the anchor to the head (another root at
     *  the same size, or the stored nodes prove nothing): a fork. */
    CAIRN_ANCHOR_FORK = 5
} cairn_anchor_status;

/** "ok", "unverified", "other-journal", "bad-signature", "rollback",
 *  "fork" (NULL for other values). */
CAIRN_API const char *cairn_anchor_status_name(cairn_anchor_status status);

/** The result of one anchor check. */
typedef struct cairn_anchor_result {
    cairn_anchor_status status;
    uint64_t size;                  /**< the anchor's tree size */
    uint8_t root[CAIRN_HASH_BYTES]; /**< its root */
    uint64_t time_ns;               /**< its cairn-time line */
    int is_signed;                  /**< it has signature lines */
    int signature_ok;               /**< a line of the pinned key verified */
    size_t cosignatures; /**< signature lines of other keys (ignored) */
    uint64_t head_size;  /**< the journal's current size */
    uint8_t head_root[CAIRN_HASH_BYTES];
    /** head_size - size when the head extends the anchor, else 0. */
    uint64_t records_after;
    char reason[512]; /**< one sentence for humans */
} cairn_anchor_result;

/**
 * Check a saved checkpoint note @p note (@p note_len bytes, as
 * cairn_journal_checkpoint_get() gives it; signature lines of other keys,
 * such as witness cosignatures, are ignored) against the journal's
 * current head: strict parse (a C2SP signed note, or the text alone, whose
 * text is a cairn head: origin, size, root, cairn-state, cairn-time);
 * origin; the pinned key's signature; size at most the head's; and a
 * consistency proof from the anchor to the head, built from the stored
 * `tree` nodes (equal roots at equal size).  The journal's head itself is
 * read as cairn_journal_checkpoint_get() does, without a key (verify
 * checks its signature).
 * @param pinned  the trusted key, or NULL (status at best UNVERIFIED).
 * @param out     the result (filled when CAIRN_OK is returned).
 * @return CAIRN_OK (see out->status); CAIRN_ECORRUPT (the note is
 *         malformed: out->reason names the byte and the rule);
 *         CAIRN_EINVAL; CAIRN_EVERSION; CAIRN_ETAMPERED (the journal's own
 *         head is bad: out->reason); storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_anchor_check(cairn_journal *journal,
                                                 const cairn_pubkey *pinned,
                                                 const char *note,
                                                 size_t note_len,
                                                 cairn_anchor_result *out);

/** What a remembered checkpoint store knew about this journal. */
typedef struct cairn_remembered {
    int found;       /**< a remembered checkpoint exists */
    char path[4096]; /**< its file (dir/<hex id>.note), or "" */
    uint64_t size;   /**< its records */
    uint8_t root[CAIRN_HASH_BYTES];
    uint64_t time_ns;   /**< its cairn-time */
    uint64_t head_size; /**< the journal's current size */
} cairn_remembered;

/**
 * Check the journal against the checkpoint remembered for it in the store
 * @p dir (docs/FORMAT.md section 18.2; a directory outside the journal
 * directory, which the caller chooses: the library reads no environment).
 * No store, or nothing remembered for this journal or its directory:
 * CAIRN_OK with out->found 0.  Else the current head must extend it: same
 * journal in the same directory, size at least the remembered one, equal
 * roots at equal size, else a consistency proof from the stored nodes.
 * Nothing is written.
 * @param out  filled (may be NULL).
 * @return CAIRN_OK; CAIRN_ETAMPERED (rolled back, forked, or another
 *         journal in a directory that held this one: @p detail says what
 *         was remembered, from which file, and what is there now);
 *         CAIRN_EUNSAFE (the store or a file of it is a symbolic link,
 *         not a regular file or directory, not owned by the caller or
 *         writable by others); CAIRN_ECORRUPT (a remembered file is
 *         malformed: @p detail names it); CAIRN_EVERSION; CAIRN_EIO;
 *         CAIRN_EINVAL.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_checkpoint_check_remembered(
    cairn_journal *journal, const char *dir, cairn_remembered *out,
    char *detail, size_t detail_len);

/**
 * Remember the journal's current head in the store @p dir (made, mode
 * 0700, when missing), forward only: under the store's lock file the
 * remembered checkpoint is read again and the head must extend it
 * (as cairn_checkpoint_check_remembered()); a head of the same size
 * changes nothing, a larger one replaces the file (write a temporary
 * file, fsync, rename, fsync the directory).  The head is remembered
 * only when it is authenticated: its signature verifies under @p pinned
 * (or, with @p pinned NULL, under the handle's signing key), or the
 * journal is unsigned and neither key exists.  An empty journal (no head)
 * is not remembered.
 * @param written  NULL, or set to 1 when a file was written, else 0.
 * @return CAIRN_OK (also when nothing was written); the errors of
 *         cairn_checkpoint_check_remembered(); CAIRN_EINCOMPLETE (the head
 *         is not authenticated: nothing written).
 */
CAIRN_API CAIRN_WUR cairn_err cairn_checkpoint_remember(
    cairn_journal *journal, const char *dir, const cairn_pubkey *pinned,
    int *written, char *detail, size_t detail_len);

/* ------------------------------------------------------------------ */
/* Runner (declared by lib/runner/runner.c's section below).                  */

/*
 * The thin runner (docs/DESIGN.md section 7): executes a plan's operations
 * against the journal.  For each operation: claim (durable), spawn its
 * command (no shell, own process group, clean environment), wait with its
 * timeout, journal a receipt with evidence, then move on.  Preflight runs
 * first and is accepted automatically unless manual_accept is set.
 *
 * Commands see a clean environment: PATH, HOME, USER, LOGNAME, LANG,
 * LC_ALL, TZ and TMPDIR when set in the runner's, plus CAIRN_RUN_ID,
 * CAIRN_OP_ID, CAIRN_OP_SEQ, CAIRN_OP_KIND, CAIRN_TARGET (when the
 * operation has one), CAIRN_ATTEMPT, CAIRN_JOURNAL (the journal
 * directory), CAIRN_OUTPUT (a fresh mode-0600 file per attempt in
 * <journal>/tmp: write "key=value" lines there; it is read and removed
 * after the command ends, or when the run is taken again after a crash),
 * CAIRN_LOCK_FD (the number of the inherited command-lifetime lock
 * descriptor, see below), for probes, CAIRN_PROBE=1, and where the plan's
 * previous runs stopped (cairn_watermark_get() with this run left out,
 * read once per runner call before its first command): CAIRN_PREV_RUN_ID,
 * CAIRN_PREV_LAST_CONTIGUOUS_SEQ, CAIRN_PREV_LAST_ATTEMPTED_SEQ (-1 when
 * none), CAIRN_PREV_LAST_CONTIGUOUS_ID, CAIRN_PREV_LAST_ATTEMPTED_ID and
 * CAIRN_PREV_COMPLETED_RUN_ID ("" when none).
 *
 * Receipts.  Completed: exit status 0, $CAIRN_OUTPUT parses and holds
 * every output the operation requires, each obeying its rule (non-empty
 * unless the plan says otherwise; cairn-plan(5)); the outputs are those
 * pairs.  Otherwise the attempt fails terminally and its reason names the
 * output and the rule.
 * Failed retryable: an exit status listed in retry.exit_codes, a timeout,
 * death by a signal, or termination because the runner was interrupted.
 * Failed terminal: any other exit status, a command that cannot be run
 * (not found, not executable), an unparsable $CAIRN_OUTPUT (the reason
 * names the line), a missing required output.  Every receipt carries the
 * evidence pairs exit_code or signal, duration_ms, timed_out,
 * stdout_bytes, stdout_sha256, stdout_tail, stderr_bytes, stderr_sha256,
 * stderr_tail (the last 2048 bytes; a tail holding a NUL byte is stored
 * with non-printable bytes as \xNN and '\' as \\), plus interrupted=1
 * when the runner stopped the command.
 *
 * Retries: up to retry.attempts attempts per operation and invocation,
 * waiting backoff * 2^(n-1) (at most max_backoff), of which a random
 * 50-100 %, between them.  A retryable failure left when the attempts are
 * used up stops the run (CAIRN_EATTENTION, next action retry-failed; a
 * later resume runs the operation again with a fresh budget).  A terminal
 * failure, the run deadline or a cancel leads to containment (the start
 * operation of every target whose stop completed, one attempt each), then
 * every cleanup operation (one attempt each), then CAIRN_EFAILED.
 * Containment and cleanup commands are limited by their own timeout, not
 * by the run deadline.
 *
 * Command lifetime lock.  Before each command the runner takes an
 * exclusive flock on <journal>/locks/run-<n>.cmd and the command inherits
 * that descriptor (number in CAIRN_LOCK_FD).  While any process of the
 * command tree lives the lock stays held, even after the runner died: a
 * later run or resume of the run then refuses with CAIRN_ELOCKED, naming
 * the processes still holding it.  A command that leaves a daemon behind
 * on purpose must close that descriptor in the daemon.
 *
 * Resume after a crash: a pending operation whose claimer is gone is in
 * doubt and is never re-run silently.  With a probe: the probe runs (same
 * environment); exit 0 resolves it completed with the probe's outputs,
 * exit 1 resolves it failed (retryable) and runs it again, anything else
 * is unknown.  Else, or when the probe's answer is unknown, an idempotent
 * operation is resolved failed (retryable) and run again.  Otherwise the
 * run stops with CAIRN_EATTENTION until an operator runs `cairn resolve`.
 * (A containment or cleanup operation cannot be claimed twice, so for
 * those only the probe's answer is used.)
 *
 * Signals: the caller's SIGINT/SIGTERM handler increments *interrupts.
 * At 1 no new operation starts and the running command gets
 * shutdown_timeout_ns to finish (then its process group is terminated);
 * at 2 it is terminated at once.  Either way its receipt is journaled
 * before the runner returns CAIRN_EINTR.
 *
 * The runner never prints: it reports through on_event.  It holds the
 * run's writer lock for the whole call, and uses whatever signer is
 * installed on the journal handle.
 */
#include <signal.h>

/** Runner events (cairn_run_event.type). */
typedef enum cairn_run_event_type {
    CAIRN_EVENT_OP_START = 1,   /**< claimed (durable); the command starts */
    CAIRN_EVENT_OP_END = 2,     /**< the attempt's receipt is journaled */
    CAIRN_EVENT_RETRY_WAIT = 3, /**< waiting wait_ns before the next
                                     attempt */
    CAIRN_EVENT_IN_DOUBT = 4,   /**< decision on an in-doubt operation
                                     (reason says which; outcome is set
                                     when it was resolved) */
    CAIRN_EVENT_PREFLIGHT_ACCEPTED = 5, /**< reason holds the preflight id */
    CAIRN_EVENT_CONTAINMENT = 6,        /**< a stopped target is about to be
                                             started after a failure */
    CAIRN_EVENT_CLEANUP = 7,            /**< a cleanup operation is about to run
                                             after a failure */
    CAIRN_EVENT_HOOK_FAILED = 8,  /**< the hook failed (reason); not fatal */
    CAIRN_EVENT_STATE_CHANGE = 9, /**< the run's state, stopped reason,
                                       next action, restart-required flag
                                       or in-doubt count changed
                                       (summary) */
    CAIRN_EVENT_DRY_RUN = 10,     /**< an operation that would run */
    CAIRN_EVENT_HEARTBEAT = 12,   /**< a command still runs: duration_ns
                                       (its time so far), out_bytes,
                                       err_bytes, since_output_ns; every
                                       heartbeat_ns; never journaled */
    CAIRN_EVENT_STOPPED = 11      /**< the runner stops before the run ends
                                       (reason: max steps, signal, needs an
                                       operator, locked ...) */
} cairn_run_event_type;

/** "op-start", "op-end", "retry-wait", "in-doubt", "preflight-accepted",
 *  "containment", "cleanup", "hook-failed", "state-change", "dry-run",
 *  "stopped"; "unknown" otherwise. */
CAIRN_API const char *cairn_run_event_name(cairn_run_event_type type);

/** One runner event.  Every pointer is valid only during the callback. */
typedef struct cairn_run_event {
    cairn_run_event_type type;
    const char *run_id; /**< "" in a dry run of a plan without one */
    uint32_t total;     /**< operations in the plan */
    int has_op;         /**< the fields up to claim_kind are set */
    uint32_t seq;
    const char *op_id;
    cairn_kind kind;
    const char *target;    /**< "" when none */
    uint32_t attempt;      /**< journal attempt number (op-start/end) */
    uint32_t max_attempts; /**< the operation's retry.attempts */
    cairn_claim_kind claim_kind;
    int has_outcome; /**< op-end, and in-doubt when resolved */
    cairn_outcome outcome;
    cairn_error_class error_class; /**< NONE unless failed */
    const char *reason; /**< failure reason, decision, why; "" none */
    int exited;         /**< op-end: exit_code is valid */
    int exit_code;
    int signaled; /**< op-end: killed by term_signal */
    int term_signal;
    int timed_out;        /**< op-end: killed for its timeout */
    int interrupted;      /**< op-end: killed because of a signal */
    uint64_t duration_ns; /**< op-end: the command's run time */
    uint64_t elapsed_ns;  /**< since this runner call started */
    uint64_t wait_ns;     /**< retry-wait: the delay; dry-run: backoff */
    uint64_t timeout_ns;  /**< op-start, dry-run: effective timeout
                               (0: none) */
    char *const *argv;    /**< op-start, dry-run: the command */
    const cairn_summary *summary;  /**< state-change (and stopped): the
                                        run's summary */
    uint64_t out_bytes, err_bytes; /**< heartbeat: output so far */
    int has_output;                /**< heartbeat: since_output_ns valid */
    uint64_t since_output_ns;      /**< heartbeat: since the last output */
    const char *stderr_tail;       /**< op-end: the command's stderr tail as
                                        journaled (evidence stderr_tail:
                                        the last 2048 bytes, raw unless it
                                        held a NUL byte); "" when none */
} cairn_run_event;

/** Event callback.  It may read the journal (cairn_status ...) but must
 *  not write to the run nor call the runner. */
typedef void (*cairn_run_event_fn)(void *ctx, const cairn_run_event *event);

/** Runner options.  All-zero is valid and means the defaults. */
typedef struct cairn_runner_opts {
    int manual_accept;            /**< do not accept the preflight: stop (state
                                       awaiting-preflight, CAIRN_EATTENTION) */
    uint32_t max_steps;           /**< stop (CAIRN_OK, next action resume) once
                                       this many operations ran in this call;
                                       0: no limit.  Containment and cleanup are
                                       not counted and never held back. */
    int dry_run;                  /**< only emit a dry-run event per operation;
                                       write nothing, not even the run */
    uint64_t shutdown_timeout_ns; /**< after a first signal; 0: 30 s */
    uint64_t kill_grace_ns;       /**< SIGTERM -> SIGKILL delay; 0: 5 s */
    const char *hook;             /**< run as /bin/sh -c HOOK on every run state
                                       change, or NULL.  Its environment is the
                                       clean one above plus CAIRN_RUN_ID,
                                       CAIRN_RUN_STATE, CAIRN_STOPPED_REASON,
                                       CAIRN_NEXT_ACTION, CAIRN_RESTART_REQUIRED
                                       (0/1), CAIRN_RESTART_TARGETS and
                                       CAIRN_IN_DOUBT (comma-separated),
                                       CAIRN_JOURNAL, CAIRN_TRANSITION
                                       ("runner"), CAIRN_ACTOR (see
                                       cairn_hook_run()) */
    uint64_t hook_timeout_ns;     /**< 0: 30 s */
    const char *actor;            /**< recorded on the runner's records; NULL:
                                       "cairn-runner" */
    const volatile sig_atomic_t *interrupts; /**< see "Signals"; NULL:
                                                  never interrupted */
    cairn_run_event_fn on_event;             /**< NULL: no events */
    void *event_ctx;
    /** The environment (NULL-terminated "NAME=value" strings, borrowed for
     *  the call) that a plan's "pass_env" names are copied from; NULL:
     *  none (every pass_env name is absent).  The CLI passes environ. */
    char *const *pass_environ;
    /** While a command runs, its runner refreshes the command-lifetime
     *  lock's note (output bytes, last output; read by
     *  cairn_run_command_alive()) and emits CAIRN_EVENT_HEARTBEAT this
     *  often; 0: 10 s.  Nothing is journaled per heartbeat. */
    uint64_t heartbeat_ns;
} cairn_runner_opts;

/**
 * Does a command tree of run @p run_id still live?  True while the
 * runner's command-lifetime lock (locks/run-N.cmd) is held: by the runner
 * during a command, or by the processes of a command that outlived its
 * runner.  Read from /proc/locks without taking the lock.
 * @param alive  out: 1 when it lives.
 * @param what   out: "" or what runs: the runner's note (operation,
 *               attempt), "running for 1h12m, last output 3s ago (stdout
 *               N B, stderr M B; runner heartbeat 2s ago)", the lock file
 *               and the processes that hold it (pid, name, process group).
 * @return CAIRN_OK; CAIRN_ENORUN; CAIRN_EINVAL; storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_run_command_alive(cairn_journal *journal,
                                                      const char *run_id,
                                                      int *alive, char *what,
                                                      size_t what_len);

/** Who is working on a run (cairn_run_activity()).  Not journaled: read
 *  from the run lock, its holder note and the pending operations. */
typedef enum cairn_activity {
    /** Nobody holds the run and nothing was left behind: created and not
     *  started, or stopped cleanly between operations. */
    CAIRN_ACTIVITY_IDLE = 1,
    /** A process holds the run lock (a runner, or a primitive in the
     *  middle of a transition), or a pending operation's claimer lives. */
    CAIRN_ACTIVITY_ACTIVE = 2,
    /** A writer died working on it: an operation is in doubt (an intent
     *  without a receipt whose claimer is gone), or the lock note of a
     *  writer that never released the run (killed) is still there and
     *  the run is not done. */
    CAIRN_ACTIVITY_ABANDONED = 3,
    /** Nobody holds it and it has ended (completed, cancelled, timed out,
     *  failed) with nothing left behind. */
    CAIRN_ACTIVITY_ENDED = 4
} cairn_activity;

/** The lowercase word of an activity ("idle", "active", "abandoned",
 *  "ended"); "unknown" for other values. */
CAIRN_API const char *cairn_activity_name(cairn_activity activity);

/** What cairn_run_activity() found.  Caller-owned, no pointers. */
typedef struct cairn_run_holder {
    cairn_activity activity;
    /** pid, host and since_ns below are set: from the run lock's note
     *  (active, or the writer an abandoned run was left by) or from a
     *  pending operation's claim. */
    int has_holder;
    /** ACTIVE only: the holder is proven, not just named: the note is
     *  well-formed, names this host and this boot, the process with that
     *  pid has the start time the note records, belongs to the lock
     *  file's owner, has the lock file open and is the one /proc/locks
     *  shows holding it.  Only a proven holder is ever signalled. */
    int verified;
    uint32_t pid;
    uint64_t since_ns; /**< when it took the run (wall clock), or 0 */
    char host[256];    /**< "" when unknown */
    /** ACTIVE and not verified: why; ABANDONED: what was left behind;
     *  escaped (printable ASCII). */
    char detail[512];
} cairn_run_holder;

/**
 * Is run @p summary->run_id being worked on?  Active (a process holds the
 * run lock: found with F_OFD_GETLK on data.mdb and /proc/locks, never by
 * taking the lock), abandoned, ended or idle (cairn_activity).  The note
 * in locks/run-N.lock is read relative to the journal's directory
 * descriptor without following links and is never trusted: it only names
 * a candidate, which is then checked (see verified).
 * @param summary  from cairn_status() of the same run, borrowed.
 * @param out      filled (zeroed first).
 * @return CAIRN_OK; CAIRN_EINVAL; CAIRN_ENORUN; storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_run_activity(cairn_journal *journal,
                                                 const cairn_summary *summary,
                                                 cairn_run_holder *out);

/**
 * Ask the process holding run @p run_id to stop, as SIGTERM does to a
 * runner (it finishes or stops its operation, journals the outcome, does
 * the containment it owes, releases the run).  Only a verified holder
 * (cairn_run_holder.verified) is signalled, through a pidfd opened before
 * the checks so that a pid reused meanwhile cannot be hit.
 * @param out  filled: activity ACTIVE and verified when the signal was
 *             sent; any other activity when nobody holds the run (nothing
 *             sent).
 * @return CAIRN_OK (see @p out); CAIRN_ELOCKED: held by a process that
 *         cannot be verified (another host, a forged or stale note,
 *         another user: out->detail says which), nothing sent;
 *         CAIRN_EIO: the signal could not be sent; CAIRN_EINVAL;
 *         CAIRN_ENORUN; storage errors.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_run_interrupt(cairn_journal *journal,
                                                  const char *run_id,
                                                  cairn_run_holder *out);

/** What a hook is told besides the run's summary (cairn_hook_run()). */
typedef struct cairn_hook_info {
    /** CAIRN_TRANSITION: what changed the run ("create", "claim",
     *  "complete", "fail", "skip", "retry", "resolve", "cancel",
     *  "accept-preflight", "run", "resume" ...); NULL: "". */
    const char *transition;
    const char *actor; /**< CAIRN_ACTOR; NULL: unset */
    /** The transition names an operation: CAIRN_OP_SEQ, CAIRN_OP_ID
     *  (from the summary's operations). */
    int has_op;
    uint32_t seq;
    /** CAIRN_EVENT_JSON: the event as one JSON object; NULL, or longer
     *  than 64 KiB: unset. */
    const char *event_json;
    uint64_t timeout_ns; /**< 0: 30 s; then SIGTERM, SIGKILL 5 s later */
    /** As cairn_runner_opts.interrupts (NULL: never interrupted); after a
     *  first signal the hook gets shutdown_ns (0: 30 s) more. */
    const volatile sig_atomic_t *interrupts;
    uint64_t shutdown_ns;
} cairn_hook_info;

/**
 * Run a hook: /bin/sh -c @p hook in its own process group, stdin from
 * /dev/null, output captured (not shown), with the clean environment of
 * the runner's commands (PATH HOME USER LOGNAME LANG LC_ALL TZ TMPDIR when
 * set) plus CAIRN_RUN_ID, CAIRN_RUN_STATE, CAIRN_STOPPED_REASON,
 * CAIRN_NEXT_ACTION, CAIRN_RESTART_REQUIRED (0/1), CAIRN_RESTART_TARGETS
 * and CAIRN_IN_DOUBT (comma-separated), CAIRN_JOURNAL (absolute) from
 * @p summary, and CAIRN_TRANSITION, CAIRN_ACTOR, CAIRN_OP_SEQ, CAIRN_OP_ID,
 * CAIRN_EVENT_JSON from @p info.  The runner's hook
 * (cairn_runner_opts.hook) gets the same variables, with CAIRN_TRANSITION
 * "runner" and no CAIRN_EVENT_JSON.  The hook command comes from the
 * caller, never from the journal directory.  Waits for it.
 * @param detail  "" or why the hook failed ("exit status 3: <stderr
 *                tail>", "timed out", "killed by signal 9", "/bin/sh: ...").
 * @return CAIRN_OK: it ran and exited 0; CAIRN_ECHILD: it failed or could
 *         not be run (@p detail); CAIRN_EINVAL; CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_hook_run(cairn_journal *journal,
                                             const char *hook,
                                             const cairn_summary *summary,
                                             const cairn_hook_info *info,
                                             char *detail, size_t detail_len);

/**
 * Create a run of @p plan and execute it.
 * @param journal     open read-write (may be NULL in a dry run).
 * @param plan        borrowed for the call.
 * @param opts        NULL: defaults.
 * @param run_id_out  receives the run id as soon as the run exists ("" in
 *                    a dry run of a plan without a run_id): at least
 *                    CAIRN_MAX_ID + 1 bytes.
 * @return CAIRN_OK: every operation completed (or max_steps reached, or a
 *         dry run); CAIRN_EFAILED: a terminal failure or the deadline
 *         ended the run, containment and cleanup were done (the summary
 *         says whether a target still needs a restart);
 *         CAIRN_EATTENTION: retries used up, an in-doubt operation, or
 *         manual_accept and the preflight awaits an operator;
 *         CAIRN_EINTR: stopped by a signal, outcome journaled;
 *         CAIRN_ELOCKED: another live runner holds the run, or a process
 *         of an earlier command still holds the command lock (a command
 *         tree that outlived a dead runner, or a process that left its
 *         command's group): nothing was claimed;
 *         CAIRN_EEXIST: the plan's run id exists (nothing touched: use
 *         cairn_run_resume()); CAIRN_EPLAN: an operation has no "run"
 *         command; CAIRN_EINVAL; CAIRN_EIO (temporary files, locks);
 *         CAIRN_ENOMEM; and the journal's errors (CAIRN_EKEYMISMATCH,
 *         CAIRN_ESTORE, CAIRN_EFATAL ...).  The detail
 *         (cairn_journal_errdetail) says what happened and what to do.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_run_plan(cairn_journal *journal,
                                             const cairn_plan *plan,
                                             const cairn_runner_opts *opts,
                                             char *run_id_out,
                                             size_t run_id_len);

/**
 * Continue run @p run_id with the plan stored in its CREATE record (never
 * a file): settle in-doubt operations by the rules above, then go on.  A
 * failed (retryable) head is run again with a fresh attempt budget; a run
 * halted by a terminal failure, a cancel or a timeout gets the
 * containment and cleanup it still owes.
 * @return as cairn_run_plan() (CAIRN_EINTR, CAIRN_EATTENTION ...), plus
 *         CAIRN_ENORUN; CAIRN_EFINISHED: the run had already completed,
 *         been cancelled or timed out (after any owed containment and
 *         cleanup ran); CAIRN_EPLAN_MISMATCH: the stored plan does not
 *         hash to the run's plan hash; CAIRN_ELOCKED also when a pending
 *         operation's claimer is alive; CAIRN_EPRUNED: the run was pruned.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_run_resume(cairn_journal *journal,
                                               const char *run_id,
                                               const cairn_runner_opts *opts);

/* ------------------------------------------------------------------ */
/* Witness: cosigning checkpoints (docs/FORMAT.md section 20).         */

/**
 * A witness: it cosigns a log's checkpoint (C2SP tlog-cosignature v1,
 * Ed25519) only when a consistency proof shows the checkpoint extends the
 * last one it cosigned for that log, and it remembers that last one per
 * log origin in its own LMDB store.  The requests and the rules are C2SP
 * tlog-witness's add-checkpoint without HTTP: the CLI (`cairn witness`)
 * reads a request from a file or standard input and prints the
 * cosignature, so a witness runs over ssh or from a timer.
 * One thread per handle at a time; processes may share a store (the check
 * and the write are one LMDB write transaction).
 */
typedef struct cairn_witness cairn_witness;

/** Longest cosignature line cairn_witness_add_checkpoint() writes
 *  ("— " name " " 104 base64 characters "\n", NUL included). */
#define CAIRN_WITNESS_LINE_MAX 400
/** Longest key name of a witness or a log origin (bytes). */
#define CAIRN_WITNESS_NAME_MAX 255
/** Longest verifier key text (name "+" 8 hex "+" 44 base64), NUL
 *  included. */
#define CAIRN_VKEY_MAX (CAIRN_WITNESS_NAME_MAX + 1 + 8 + 1 + 44 + 1)

/**
 * Open (creating when missing) the witness store in directory @p dir and
 * make a witness cosigning with @p key under key name @p name.
 * @param dir    the store directory: made (mode 0700) when missing, its
 *               parent must exist; it and its files must belong to the
 *               effective user and be writable by nobody else, and are
 *               never followed through a symbolic link (CAIRN_EUNSAFE).
 * @param key    the witness's own secret key; borrowed: it must outlive
 *               the handle.
 * @param name   the witness's key name (C2SP: 1..255 bytes of UTF-8, no
 *               space, no '+', no control character); copied.
 * @param out    receives the handle (NULL on failure); free it with
 *               cairn_witness_close().
 * @return CAIRN_OK; CAIRN_EINVAL (NULL, invalid name); CAIRN_EUNSAFE;
 *         CAIRN_EIO; CAIRN_ESTORE; CAIRN_ECORRUPT; CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err
cairn_witness_open(const char *dir, const cairn_signer *key, const char *name,
                   cairn_witness **out, char *detail, size_t detail_len);
/** Close the store and free the handle.  NULL is a no-op. */
CAIRN_API void cairn_witness_close(cairn_witness *witness);

/**
 * Accept checkpoints signed by the Ed25519 log key @p pk (note signature
 * type 0x01, key name = the checkpoint's origin, as cairn's journal heads
 * are signed).  @p origin: only checkpoints of this origin, or NULL for
 * any origin.  The first checkpoint cosigned for an origin pins it to
 * the key that signed it; a later checkpoint of that origin must carry a
 * valid signature of the pinned key.
 * @return CAIRN_OK; CAIRN_EINVAL (NULL, invalid origin); CAIRN_EKEY (@p pk
 *         is the witness's own key: a witness must not share a key with a
 *         log); CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_witness_trust_log(
    cairn_witness *witness, const char *origin,
    const uint8_t pk[CAIRN_PUBLIC_KEY_BYTES], char *detail, size_t detail_len);

/** What cairn_witness_add_checkpoint() saw, filled as far as it got. */
typedef struct cairn_witness_result {
    char origin[CAIRN_WITNESS_NAME_MAX + 1]; /**< the checkpoint's origin
                                                  ("" when not parsed) */
    uint64_t old_size;                       /**< the request's old size */
    uint64_t size;                           /**< the checkpoint's size */
    int known;             /**< the witness had cosigned this origin before */
    uint64_t witness_size; /**< the size it had cosigned last (0 when
                                unknown): on CAIRN_ESTALE, the old size to
                                retry with */
    uint8_t witness_root[CAIRN_HASH_BYTES]; /**< and its root */
    uint64_t time; /**< on success, the cosignature's time (POSIX s) */
} cairn_witness_result;

/** cairn_witness_add_checkpoint() flag: return the checkpoint note with
 *  the cosignature line appended (any earlier line of this witness
 *  removed) instead of the line alone. */
#define CAIRN_WITNESS_NOTE 0x1u

/**
 * Handle one C2SP tlog-witness add-checkpoint request body: "old <N>\n",
 * up to 63 base64 consistency proof hashes (one a line), an empty line,
 * the signed checkpoint note.  In this order:
 * - a malformed request is CAIRN_EINVAL (detail "byte N: ...");
 * - the note must carry a signature of a trusted log key (key name = the
 *   origin) that verifies, and of the pinned key when the origin is
 *   known: a signature line of such a key that does not verify is
 *   CAIRN_ETAMPERED; none at all (unknown origin or key, or a known
 *   origin signed by another key than the pinned one) CAIRN_EKEYMISMATCH;
 * - a checkpoint smaller than the one cosigned last (the log rolled back,
 *   or an older checkpoint was replayed) or of the same size with another
 *   root (a fork) is CAIRN_ETAMPERED, detail naming both sizes and roots;
 * - old > the checkpoint's size is CAIRN_EINVAL;
 * - old not equal to the size cosigned last (0 for an unknown origin) is
 *   CAIRN_ESTALE, with that size in @p res->witness_size;
 * - a proof of the wrong length for (old, size) is CAIRN_EINVAL, one that
 *   does not prove the cosigned checkpoint a prefix of this one
 *   CAIRN_ETAMPERED (a fork), detail naming both sizes and roots;
 * - else the checkpoint is cosigned at @p now (never earlier than the
 *   origin's previous cosignature) and stored, in the same durable LMDB
 *   write transaction as the checks: only after its commit is the
 *   cosignature returned.
 * @param request  @p len bytes (no NUL needed); borrowed for the call.
 * @param now      POSIX seconds of the cosignature; 0: the current time.
 * @param flags    0 or CAIRN_WITNESS_NOTE.
 * @param out      receives a malloc'd, NUL-terminated text (the
 *                 cosignature line "— <name> <base64>\n", or with
 *                 CAIRN_WITNESS_NOTE the cosigned note) that the caller
 *                 frees with free(); NULL on failure.
 * @param out_len  receives its length (0 on failure).
 * @param res      optional: what was seen (see cairn_witness_result).
 * @return as above; CAIRN_ESTORE; CAIRN_EFATAL; CAIRN_EIO; CAIRN_ECORRUPT
 *         (a store record that does not decode); CAIRN_ECRYPTO;
 *         CAIRN_ENOMEM.  Nothing is stored unless CAIRN_OK.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_witness_add_checkpoint(
    cairn_witness *witness, const char *request, size_t len, uint64_t now,
    unsigned flags, char **out, size_t *out_len, cairn_witness_result *res,
    char *detail, size_t detail_len);

/**
 * The C2SP verifier key of a cosigner (type 0x04, tlog-cosignature v1):
 * "<name>+<8 hex key ID>+<base64(0x04 || pk)>", without newline, into
 * @p out (at least CAIRN_VKEY_MAX bytes).  Verifiers pin it
 * (`cairn verify --witness-key`).
 * @return CAIRN_OK; CAIRN_EINVAL (NULL, invalid name, @p out too small).
 */
CAIRN_API CAIRN_WUR cairn_err
cairn_witness_vkey(const uint8_t pk[CAIRN_PUBLIC_KEY_BYTES], const char *name,
                   char *out, size_t out_len);

/** Verifier key types (C2SP signed-note): a log's Ed25519 note key, and
 *  an Ed25519 cosigner (witness) key, tlog-cosignature v1. */
#define CAIRN_VKEY_ED25519 0x01
#define CAIRN_VKEY_COSIGNATURE 0x04

/**
 * Strict parse of a C2SP verifier key "<name>+<8 lowercase hex key
 * ID>+<base64(type || 32-byte Ed25519 key)>" of @p len bytes (no
 * newline; docs/FORMAT.md section 15): a valid name, type
 * CAIRN_VKEY_ED25519 or CAIRN_VKEY_COSIGNATURE, the key ID matching.
 * @param name  receives the key name, NUL-terminated: at least
 *              CAIRN_WITNESS_NAME_MAX + 1 bytes (@p name_len).
 * @return CAIRN_OK; CAIRN_EKEY (detail "byte N: ..."); CAIRN_EINVAL (NULL,
 *         @p name too small).
 */
CAIRN_API CAIRN_WUR cairn_err cairn_vkey_parse(
    const char *text, size_t len, char *name, size_t name_len, uint8_t *type,
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES], char *detail, size_t detail_len);

/**
 * Check the cosignature of the witness with verifier key @p vkey (type
 * 0x04) on the signed checkpoint note @p note.  Lines of other keys are
 * ignored.
 * @param time  optional: receives the cosignature's time (POSIX s).
 * @return CAIRN_OK (a line of the witness, every such line valid);
 *         CAIRN_EKEYMISMATCH (no line of this witness); CAIRN_ETAMPERED (a
 *         line of this witness does not verify); CAIRN_EKEY (@p vkey is
 *         not a cosignature verifier key); CAIRN_ECORRUPT (@p note is not
 *         a signed checkpoint); CAIRN_EINVAL; CAIRN_ENOMEM.
 */
CAIRN_API CAIRN_WUR cairn_err cairn_cosignature_verify(
    const char *note, size_t note_len, const char *vkey, size_t vkey_len,
    uint64_t *time, char *detail, size_t detail_len);

#ifdef __cplusplus
}
#endif
#endif /* CAIRN_H */
