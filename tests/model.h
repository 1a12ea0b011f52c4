/*
 * model.h - an independent reference model of a run's state machine,
 * written from docs/DESIGN.md section 3 (not from lib/).  test_property.c
 * drives it side by side with the real journal: every call's exact cairn_err,
 * and after every call every field of the resume summary, must agree.
 *
 * The model predicts the exact error of a rejected call.  Where two rules
 * could both reject a call, docs/DESIGN.md does not say which one wins; the
 * model then follows the order of checks in lib/state/transition.c and
 * lib/commit/ops*.c, and says so in a comment ("tie-break").
 *
 * The Makefile builds a test from one .c file plus testutil.c, so
 * test_property.c includes model.c directly.
 */
#ifndef CAIRN_TEST_MODEL_H
#define CAIRN_TEST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cairn.h"

#define M_MAX_OPS 32
#define M_MAX_REQ 3
#define M_NAME 48

/* Output keys a receipt may carry: bit i of an output mask is m_keys[i]. */
#define M_N_KEYS 4
extern const char *const m_keys[M_N_KEYS];

typedef struct m_op {
    char id[M_NAME];
    cairn_kind kind;
    char target[M_NAME]; /* "" when none */
    unsigned requires;   /* mask over m_keys */
    cairn_op_state state;
    uint32_t attempt;
    cairn_error_class last_class;
    int holder_dead; /* the claimer of the current attempt is gone */
    uint32_t holder_pid;
    uint64_t completed_at; /* logical time of completion, 0 if none */
} m_op;

typedef struct m_run {
    char run_id[M_NAME];
    char plan_id[M_NAME];
    uint32_t n_ops;
    m_op ops[M_MAX_OPS];
    int accepted;
    char preflight_id[M_NAME];
    int cancelled;
    int timed_out;
    uint64_t records; /* records written for the run */
    uint64_t clock;   /* logical clock: one tick per completion */
    unsigned compat;  /* M_COMPAT_* bits: known deviations to mirror */
} m_run;

/*
 * Known deviations of the library from docs/DESIGN.md.  With the bit clear the
 * model follows docs/DESIGN.md; with it set it mirrors the library, so that the
 * random walk can keep looking for other bugs.  Each one has a dedicated
 * test in test_property.c.
 */
/* docs/DESIGN.md section 3.2: a cleanup claim takes a ready (or failed)
 * cleanup op, never a blocked one.  The deviation: a cleanup claim that
 * takes a *blocked* cleanup op, i.e. a mutating op before the preflight
 * was accepted (after a cancel, or a terminal preflight failure). */
#define M_COMPAT_CLEANUP_BLOCKED 0x1u
/* docs/DESIGN.md section 2, "Restart targets": T needs a restart when a
 * stop of T completed and no start of T completed later, in completion
 * order.  The deviation: deciding by the plan order of the completed
 * stop/start ops of T instead of the order in which they completed.  The two
 * differ once a containment claim completed the start of a later stop/start
 * pair of T (whose stop has not run yet): when that stop completes later, T is
 * stopped but no restart is reported. */
#define M_COMPAT_RESTART_PLAN_ORDER 0x2u

/** A fresh run: preflight ops ready, mutating ops blocked; 1 record. */
void m_init(m_run *m, const char *run_id, const char *plan_id);
/** Append an operation while building (before any transition). */
void m_add_op(m_run *m, const char *id, cairn_kind kind, const char *target,
              unsigned requires);

/** The JSON plan of @p m (ids, kinds, targets, requires; no commands).
 *  @return 0, or -1 when @p cap is too small. */
int m_plan_json(const m_run *m, char *json, size_t cap);

/* Each transition returns the exact predicted result and, on CAIRN_OK,
 * applies the change (one record more, except the no-op accept). */
cairn_err m_accept(m_run *m, const char *preflight_id);
/** @p op -1 for "pick"; @p seq_out receives the claimed sequence. */
cairn_err m_claim(m_run *m, int64_t op, cairn_claim_kind kind, int dead,
                  uint32_t pid, uint32_t *seq_out);

typedef struct m_receipt {
    uint32_t seq;
    uint32_t attempt; /* 0: current */
    int op_id;        /* 0: NULL, 1: the right id, 2: a wrong id */
    cairn_outcome outcome;
    cairn_error_class error_class;
    int has_reason;
    unsigned outputs; /* mask over m_keys */
    int bad_kv;       /* one output with a NULL value */
} m_receipt;

cairn_err m_outcome(m_run *m, const m_receipt *r, int resolve);
cairn_err m_retry(m_run *m, uint32_t op, int has_reason);
cairn_err m_cancel(m_run *m, int timed_out);

/* Derived views (docs/DESIGN.md section 3.4: run state, resume summary). */
int64_t m_head(const m_run *m);
int m_target_needs_restart(const m_run *m, const char *target);
int m_halted(const m_run *m);
int m_all_done(const m_run *m);
int m_in_doubt(const m_op *op);

typedef struct m_summary {
    cairn_run_state state;
    cairn_stopped_reason stopped_reason;
    cairn_next_action next_action;
    int restart_required;
    int64_t last_contiguous_seq;
    int64_t last_attempted_seq;
    uint32_t counts[7];
    size_t n_in_doubt;
} m_summary;

void m_summarize(const m_run *m, m_summary *out);

/**
 * Compare a summary from cairn_status() with the model: every field but
 * plan_hash, head, signing and times (which the model cannot know).
 * @return 0 when equal; 1 with the first difference in @p why.
 */
int m_compare(const m_run *m, const cairn_summary *s, char *why,
              size_t why_len);

/*
 * Probes of the known deviations, each in a fresh run of journal @p j
 * (run ids "probe-cleanup" and "probe-restart").
 */
/** The result of a cleanup claim of a blocked cleanup op after a cancel
 *  (docs/DESIGN.md section 3.2: rejected; CAIRN_ERR_COUNT_ if the setup
 *  failed). */
cairn_err m_probe_cleanup_blocked(cairn_journal *j);
/** Runs the restart-order scenario; *out receives the final summary
 *  (docs/DESIGN.md section 2: restart_required, db listed).  Caller frees. */
cairn_err m_probe_restart_order(cairn_journal *j, cairn_summary **out);
/** M_COMPAT_* bits for the deviations the library still shows. */
unsigned m_detect_compat(cairn_journal *j);

#endif
