/*
 * runner_resume.c - cairn_run_resume(): continue a run with the plan kept
 * in its CREATE record (never a file), after settling what a dead runner
 * left in doubt.
 */
#include "runner/runner.h"

#include "journal/journal.h"

#include <stdlib.h>
#include <string.h>

typedef struct plan_grab {
    char *json;
    size_t len;
    int bad; /* record 0 is not a CREATE with a plan */
    int nomem;
} plan_grab;

static int grab_create(void *ctx, const cairn_record_view *rec)
{
    plan_grab *g = ctx;
    if (rec->type != CAIRN_REC_CREATE || rec->plan_json == NULL ||
        rec->plan_json_len == 0 || rec->plan_json_len > CAIRN_MAX_PLAN_BYTES) {
        g->bad = 1;
        return 1;
    }
    g->json = malloc(rec->plan_json_len + 1);
    if (g->json == NULL) {
        g->nomem = 1;
        return 1;
    }
    memcpy(g->json, rec->plan_json, rec->plan_json_len);
    g->json[rec->plan_json_len] = '\0';
    g->len = rec->plan_json_len;
    return 1; /* only record 0 */
}

/* Parse the stored plan and check it against the run's plan hash. */
static cairn_err load_plan(cairn_runner *r, const cairn_summary *s)
{
    plan_grab g = {NULL, 0, 0, 0};
    cairn_err err = cairn_record_each(r->j, r->run_id, 0, grab_create, &g);
    if (err != CAIRN_OK) {
        return err;
    }
    if (g.nomem) {
        return CAIRN_ENOMEM;
    }
    if (g.bad || g.json == NULL) {
        return cairn__jfail(r->j, CAIRN_ECORRUPT,
                            "run %s: record 0 is not "
                            "a create record holding the plan",
                            r->run_id);
    }
    char detail[512];
    err = cairn__plan_from_canonical(g.json, g.len, &r->owned_plan, detail,
                                     sizeof(detail));
    free(g.json);
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    if (err != CAIRN_OK) {
        return cairn__jfail(r->j, CAIRN_ECORRUPT,
                            "run %s: the stored plan "
                            "does not parse: %s",
                            r->run_id, detail);
    }
    r->plan = r->owned_plan;
    if (memcmp(r->owned_plan->hash, s->plan_hash, CAIRN_HASH_BYTES) != 0 ||
        r->owned_plan->n_ops != s->total) {
        /* In format 2 the plan hash comes from a proven state: a plan
         * that does not match it was rewritten. */
        return cairn__jfail(
            r->j, r->j->format >= 2 ? CAIRN_ETAMPERED : CAIRN_EPLAN_MISMATCH,
            "run %s: the stored plan does not match the "
            "run's %splan hash: nothing runs",
            r->run_id, r->j->format >= 2 ? "signed " : "");
    }
    return CAIRN_OK;
}

/* In-doubt operations first, then the loop. */
static cairn_err continue_run(cairn_runner *r, const cairn_summary *s)
{
    if (s->state == CAIRN_RUN_COMPLETED) {
        return cairn__runner_stopped(r, CAIRN_EFINISHED,
                                     "run %s is already complete: nothing "
                                     "to resume",
                                     r->run_id);
    }
    int ended_before =
        s->state == CAIRN_RUN_CANCELLED || s->state == CAIRN_RUN_TIMED_OUT;
    if (s->n_in_doubt > 0) {
        runner_stop stop = RUNNER_GO;
        int go_on = 1;
        cairn_err err = cairn__runner_observe(r, NULL);
        if (err == CAIRN_OK) {
            err = cairn__runner_settle(r, s, &stop);
        }
        if (err == CAIRN_OK && stop != RUNNER_GO) {
            err = cairn__runner_after(r, stop, &go_on);
        }
        if (err != CAIRN_OK || !go_on) {
            return err;
        }
    }
    return cairn__runner_drive(r, ended_before);
}

cairn_err cairn_run_resume(cairn_journal *journal, const char *run_id,
                           const cairn_runner_opts *opts)
{
    if (journal == NULL || run_id == NULL) {
        return CAIRN_EINVAL;
    }
    cairn_runner r;
    cairn__runner_init(&r, journal, opts);
    if (cairn__strlcpy(r.run_id, run_id, sizeof(r.run_id)) != CAIRN_OK) {
        return cairn__jfail(journal, CAIRN_EINVAL,
                            "run id longer than %d "
                            "bytes",
                            CAIRN_MAX_ID);
    }
    cairn_summary *s = NULL;
    cairn_err err = cairn_status_opts(journal, run_id, CAIRN_STATUS_BRIEF, &s);
    if (err == CAIRN_OK && s->pruned) {
        err = cairn__jfail(journal, CAIRN_EPRUNED,
                           "run %s was pruned: only its tombstone remains",
                           run_id);
    }
    if (err == CAIRN_OK) {
        err = load_plan(&r, s);
    }
    cairn_summary_free(s);
    s = NULL;
    if (err == CAIRN_OK) {
        err = cairn__runner_check_commands(&r);
    }
    if (err == CAIRN_OK && r.opts.dry_run) {
        cairn__runner_dry_run(&r);
    } else if (err == CAIRN_OK) {
        err = cairn__runner_take(&r, &s);
        if (err == CAIRN_OK) {
            err = continue_run(&r, s);
            cairn__runner_release(&r);
        }
        cairn_summary_free(s);
    }
    cairn_plan_free(r.owned_plan);
    return err;
}
