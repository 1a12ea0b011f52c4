/*
 * stats.h - the figures of `cairn stats`, shared by stats.c (collection,
 * text and JSON) and stats_prom.c (the Prometheus text format).
 */
#ifndef CAIRN_CMD_STATS_H
#define CAIRN_CMD_STATS_H

#include "cli.h"

/* Index of the last operation kind (cairn_kind runs 1..10). */
#define STATS_KINDS 11
/* Index of the last run state (cairn_run_state runs 1..7). */
#define STATS_STATES 8

/** The durations of finished attempts of one kind (claim to receipt). */
typedef struct stats_durations {
    uint64_t *v; /**< ns; sorted by stats_quantile() */
    size_t n, cap;
    uint64_t sum_ns, max_ns;
    int sorted;
} stats_durations;

/** The figures of one plan, or of every run. */
typedef struct stats_agg {
    char plan[CAIRN_MAX_ID + 1]; /**< "" for the whole journal */
    uint64_t runs;
    uint64_t states[STATS_STATES]; /**< runs by cairn_run_state */
    uint64_t claims;               /**< attempts started (CLAIM) */
    uint64_t retries;              /**< claims of attempt 2 and later */
    uint64_t outcomes;             /**< RECEIPT and RESOLVE records */
    uint64_t failures;             /**< ... with outcome failed */
    uint64_t in_doubt_ops, in_doubt_runs;
    uint64_t held_runs; /**< runs whose hold counts now (cairn hold) */
    uint64_t records, record_bytes;
    uint64_t last_completed_ns; /**< update time of the newest completed run */
    stats_durations kinds[STATS_KINDS];
} stats_agg;

typedef struct stats {
    stats_agg all;
    stats_agg *plans; /**< sorted by plan id before printing */
    size_t n_plans, cap_plans;
    cairn_journal_info info;
    uint64_t now_ns;
    uint64_t day_records, day_bytes; /**< records of the last 24 hours */
} stats;

/** The @p q quantile (nearest rank) of @p d in ns; 0 when empty. */
uint64_t stats_quantile(stats_durations *d, double q);
/** failures / outcomes, retries / claims: 0 when the divisor is 0. */
double stats_ratio(uint64_t num, uint64_t den);
/** Journal bytes in use (LMDB pages), and its growth per day. */
uint64_t stats_journal_bytes(const stats *st);
double stats_per_day(const stats *st, uint64_t amount);

/** Write the Prometheus text format of @p st to @p path atomically
 *  (temporary file in the same directory, fsync, rename), or to stdout
 *  for "-"; dies on error (stats_prom.c). */
void stats_write_prom(cli_ctx *ctx, stats *st, const char *path);

#endif
