/*
 * prune.h - cairn prune: retention with proof (prune.c: options and
 * output; prune_select.c: eligibility, rules and the prune plan;
 * prune_archive.c: archive, re-verify and the prune transaction).
 */
#ifndef CAIRN_PRUNE_H
#define CAIRN_PRUNE_H

#include "cli.h"

/** What the selection decided for one run. */
typedef enum prune_verdict {
    PRUNE_SELECT = 1,   /**< in the plan: archived, then pruned */
    PRUNE_KEEP,         /**< eligible, but a keep rule (or the size) keeps it */
    PRUNE_NOT_PRUNABLE, /**< not eligible: active, held, in doubt ... */
    PRUNE_DONE_BEFORE,  /**< pruned by an earlier prune */
    PRUNE_OUT_OF_SCOPE  /**< --plan names other plans */
} prune_verdict;

typedef struct prune_run {
    char *run_id;
    char plan_id[CAIRN_MAX_ID + 1];
    cairn_run_state state;
    int have_state;
    uint64_t created_ns, updated_ns;
    uint64_t records; /**< records of the run */
    uint8_t head[CAIRN_HASH_BYTES];
    uint64_t bytes;      /**< encoded bytes of its records (measured) */
    int measured;        /**< bytes and positions were read */
    uint64_t *positions; /**< (first, count) pairs */
    size_t n_ranges;
    prune_verdict verdict;
    char why[CAIRN_MAX_PRUNE_RULE + 1]; /**< the rule that selected or kept
                                           it, or the reason */
    char *bundle;                       /**< SELECT: the bundle path */
    int outcome;    /**< execution: 0 not tried, 1 pruned, 2 skipped */
    char note[512]; /**< execution: what happened */
} prune_run;

typedef struct prune_policy {
    uint32_t keep_last;
    int have_keep_last;
    uint64_t keep_within_ns, keep_failed_within_ns;
    const char *keep_within_text, *keep_failed_within_text;
    uint64_t max_size;
    const char *max_size_text;
    int have_max_size;
    cli_run_filter filter; /**< states (terminal only) and plans */
    const char *archive;   /**< --archive DIR, made absolute */
    char *archive_owned;   /**< that absolute path (malloc'd) */
    const char *reason;    /**< --reason TEXT */
    const char *key_path;  /**< --key PUB, or NULL: the signer's key */
    const char *confirm;   /**< --confirm HASH, or NULL */
    int zstd;              /**< --zstd: archives are zstd bundles */
    int dry_run;
    uint64_t now_ns;
} prune_policy;

typedef struct prune_set {
    prune_run *v;
    size_t n, cap;
    char journal_id[2 * CAIRN_JOURNAL_ID_BYTES + 1];
    uint64_t journal_record_bytes; /**< with --max-journal-size: all runs */
    uint64_t estimated_after;      /**< that minus the selected runs' bytes */
    char policy_text[1024];        /**< canonical policy string */
    json_t *plan;                  /**< the canonical prune plan */
    char *plan_text;               /**< its canonical JSON */
    char plan_sha256[2 * CAIRN_HASH_BYTES + 1];
    uint8_t plan_hash[CAIRN_HASH_BYTES];
} prune_set;

/** Read every run of the open journal and decide each (prune_select.c). */
void prune_select(cli_ctx *ctx, const prune_policy *p, prune_set *set);
/** Build set->plan, plan_text and plan_sha256 from the selection. */
void prune_plan_build(const prune_policy *p, prune_set *set);
void prune_set_free(prune_set *set);
/** SHA-256 of @p len bytes (prune_archive.c, libsodium). */
void prune_sha256(const void *in, size_t len, uint8_t out[CAIRN_HASH_BYTES]);
/** "12.3 KiB" */
void prune_bytes_text(uint64_t n, char *out, size_t cap);

/** Make DIR/<journal id> (0700) and lock DIR/<journal id>/.prune.lock
 *  exclusively for the rest of the process (exit 5 when another prune
 *  holds it); returns the descriptor. */
int prune_archive_lock(const prune_policy *p, const char *journal_id);
/**
 * Archive, re-verify and prune every selected run (prune_archive.c).
 * @return the number of runs skipped (kept because their copy failed or
 *         the prune was refused).
 */
size_t prune_execute(cli_ctx *ctx, const prune_policy *p, prune_set *set,
                     const cairn_pubkey *key);

#endif
