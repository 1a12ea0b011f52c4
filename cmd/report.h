/*
 * report.h - the model behind `cairn report`: a run's attempts, in-doubt
 * windows and per-target downtime, gathered from its records
 * (report_model.c), and the HTML page made from it (report_html.c).
 *
 * Every string in the model comes from the journal, which is untrusted:
 * the HTML writer escapes all of it.
 */
#ifndef CAIRN_CLI_REPORT_H
#define CAIRN_CLI_REPORT_H

#include "cli.h"

/** Longest evidence tail kept per attempt (the runner stores 2048). */
#define RPT_TAIL_MAX 2048

/** A moment as a record saw it. */
typedef struct rpt_point {
    uint64_t wall_ns;
    uint64_t mono_ns;
    uint8_t boot_id[CAIRN_BOOT_ID_BYTES];
} rpt_point;

/** One attempt of an operation: its claim and what settled it. */
typedef struct rpt_attempt {
    uint32_t attempt;
    cairn_claim_kind claim_kind;
    rpt_point start; /**< the CLAIM record */
    int ended;       /**< a RECEIPT or RESOLVE settled it */
    int resolved;    /**< settled by a RESOLVE: it was in doubt */
    rpt_point end;
    cairn_outcome outcome;
    cairn_error_class error_class;
    char *reason;      /**< "" when none */
    char *actor;       /**< who settled it; "" when none */
    char *status_text; /**< "exit 1", "signal 9", "timed out", or "" */
    char *stderr_tail; /**< evidence stderr_tail (at most RPT_TAIL_MAX
                            bytes), or NULL */
} rpt_attempt;

typedef struct rpt_op {
    const cairn_op_view *view; /**< into the run's summary */
    rpt_attempt *attempts;
    size_t n_attempts, cap;
    uint32_t operator_retries; /**< RETRY records (failed -> ready) */
} rpt_op;

/** One stop/start pair of a target: the time its service was down. */
typedef struct rpt_downtime {
    const char *target; /**< into the summary */
    uint32_t stop_seq, start_seq;
    rpt_point from; /**< claim of the stop's first attempt */
    rpt_point to;   /**< the start's completion, or the run's last record */
    int open;       /**< the start has not completed */
    uint64_t ns;    /**< rpt_duration(from, to) */
} rpt_downtime;

/** One run, ready to be drawn. */
typedef struct rpt_run {
    cairn_summary *s;
    rpt_op *ops; /**< s->n_ops of them */
    rpt_point first, last;
    uint64_t records;
    int ended_by_record; /**< a CANCEL or TIMEOUT record */
    cairn_record_type end_type;
    rpt_point end_at;
    char *end_reason;
    rpt_downtime *downtimes;
    size_t n_downtimes;
    cairn_verify_report verify;
} rpt_run;

/** What the page says about the verification (key given or not). */
typedef struct rpt_page {
    rpt_run *runs;
    size_t n_runs;
    const char *title_plan; /**< --plan PLAN_ID, or NULL for one run */
    int key_pinned;
    char key_id[17]; /**< of the pinned key, or "" */
    char fingerprint[80];
    uint64_t generated_ns;
} rpt_page;

/**
 * Elapsed time from @p a to @p b: by the monotonic clock when both were
 * taken in the same boot, else by the wall clock; 0 when time ran
 * backwards.
 */
uint64_t rpt_duration(const rpt_point *a, const rpt_point *b);

/** Fill @p run for run @p run_id (status, records, downtime, verification
 *  with @p key, which may be NULL).  Dies on failure. */
void rpt_run_load(cli_ctx *ctx, const char *run_id, const cairn_pubkey *key,
                  rpt_run *run);
void rpt_run_free(rpt_run *run);

/** The word the page shows for a verification: VERIFIED, TAMPERED, ERROR,
 *  UNSIGNED (the run is not bound to a key), NOT VERIFIED (no key was
 *  given) or INCOMPLETE.  Never VERIFIED unless the verdict is. */
const char *rpt_verdict_label(const cairn_verify_report *r);

/* Pieces of the page (report_text.c, report_tables.c). */

/** @p s as HTML text or attribute value: & < > " ' as references, other
 *  control bytes (but newline and tab) as \xNN, invalid UTF-8 as U+FFFD. */
void rpt_put_text(FILE *out, const char *s);
/** "412 ms", "3.250 s", "2 min 5 s", "1 h 3 min". */
void rpt_put_duration(FILE *out, uint64_t ns);
/** RFC 3339 UTC with milliseconds. */
void rpt_put_time(FILE *out, uint64_t wall_ns);
/** CSS classes of an attempt's bar and outcome cell. */
const char *rpt_attempt_class(const rpt_attempt *a);
/** "completed", "failed", "skipped", or "pending" without an outcome. */
const char *rpt_outcome_word(const rpt_attempt *a);
void rpt_put_ops(FILE *out, const rpt_run *run);
void rpt_put_doubt(FILE *out, const rpt_run *run);
void rpt_put_attempts(FILE *out, const rpt_run *run);

/** The page's style sheet (report_css.c). */
extern const char rpt_css[];

/** Write the page to @p out; nonzero when a write failed. */
int rpt_write_html(FILE *out, const rpt_page *page);

#endif
