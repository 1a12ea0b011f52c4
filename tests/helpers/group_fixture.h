/*
 * group_fixture.h - helpers shared by test_group.c and test_group_batch.c:
 * a journal signed by a fresh key, runs of preflight + task plans, and the
 * records of a run as (type, op, attempt).  Include after testutil.h.
 */
#ifndef CAIRN_TEST_GROUP_FIXTURE_H
#define CAIRN_TEST_GROUP_FIXTURE_H

#include "commit/commit.h"
#include "verify/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct gfix {
    char *root, *dir;
    cairn_journal *j;
    cairn_signer *signer;
    cairn_pubkey *pub;
    cairn_journal_opts opts; /**< open_journal()'s (flags: CREATE) */
} gfix;

static inline void open_journal(gfix *f)
{
    char detail[256];
    f->opts.size = sizeof(f->opts);
    f->opts.flags = CAIRN_OPEN_CREATE;
    assert_int_equal(
        cairn_journal_open_opts(f->dir, &f->opts, &f->j, detail, sizeof(detail)),
        CAIRN_OK);
    cairn_journal_set_signer(f->j, f->signer);
}

static inline int setup(void **state)
{
    gfix *f = calloc(1, sizeof(*f));
    char detail[256];
    f->root = tu_mkdtemp();
    f->dir = tu_path(f->root, "j");
    char *pub = tu_path(f->root, "k.pub"), *sec = tu_path(f->root, "k.sec");
    assert_int_equal(cairn_keygen(pub, sec, NULL, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(
        cairn_signer_load(sec, NULL, &f->signer, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(cairn_pubkey_load(pub, &f->pub, detail, sizeof(detail)),
                     CAIRN_OK);
    free(pub);
    free(sec);
    open_journal(f);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    gfix *f = *state;
    cairn_journal_close(f->j);
    cairn_signer_free(f->signer);
    cairn_pubkey_free(f->pub);
    free(f->dir);
    tu_rmtree(f->root);
    free(f);
    return 0;
}

/* @p preflights preflight operations, then @p tasks tasks. */
static inline void create_run(gfix *f, const char *run_id, unsigned preflights,
                              unsigned tasks)
{
    char json[8192], detail[256], out[CAIRN_MAX_ID + 1];
    size_t n = (size_t)snprintf(json, sizeof(json),
                                "{\"cairn_plan\":1,\"plan_id\":\"g\","
                                "\"run_id\":\"%s\",\"operations\":[",
                                run_id);
    for (unsigned i = 0; i < preflights + tasks; i++) {
        n += (size_t)snprintf(
            json + n, sizeof(json) - n, "%s{\"id\":\"op%u\",\"kind\":\"%s\"}",
            i ? "," : "", i, i < preflights ? "preflight" : "task");
    }
    snprintf(json + n, sizeof(json) - n, "]}");
    cairn_plan *plan = NULL;
    assert_int_equal(
        cairn_plan_parse(json, strlen(json), &plan, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(cairn_run_create(f->j, plan, NULL, out, sizeof(out)),
                     CAIRN_OK);
    cairn_plan_free(plan);
}

static inline cairn_journal_info info(gfix *f)
{
    cairn_journal_info i;
    assert_int_equal(cairn_journal_info_get(f->j, &i), CAIRN_OK);
    return i;
}

static inline void assert_verified(gfix *f, const char *run)
{
    cairn_verify_report rep;
    assert_int_equal(cairn_verify_run(f->j, run, f->pub, &rep), CAIRN_OK);
    if (rep.verdict != CAIRN_VERDICT_VERIFIED) {
        fail_msg("%s: %s", run, rep.reason);
    }
    assert_int_equal(cairn_replay_check(f->j, run), CAIRN_OK);
}

/* ---- the records of a run, as (type, op, attempt) ---------------------- */

typedef struct seen {
    size_t n;
    cairn_record_type type[512];
    uint32_t op[512], attempt[512];
    uint64_t position[512];
} seen;

static inline int collect(void *ctx, const cairn_record_view *r)
{
    seen *s = ctx;
    if (s->n < 512) {
        s->type[s->n] = r->type;
        s->op[s->n] = r->op;
        s->attempt[s->n] = r->attempt;
        s->position[s->n] = r->position;
    }
    s->n++;
    return 0;
}

static inline seen *records_of(gfix *f, const char *run)
{
    seen *s = calloc(1, sizeof(*s));
    assert_int_equal(cairn_record_each(f->j, run, 0, collect, s), CAIRN_OK);
    return s;
}

/* CREATE, claim/receipt of op 0, ACCEPT, claim/receipt of each task. */
static inline void assert_pattern(gfix *f, const char *run, unsigned tasks)
{
    seen *s = records_of(f, run);
    assert_int_equal(s->n, 4 + 2 * (size_t)tasks);
    assert_int_equal(s->type[0], CAIRN_REC_CREATE);
    assert_int_equal(s->type[3], CAIRN_REC_ACCEPT);
    for (size_t i = 1; i < s->n; i++) {
        size_t k = i < 3 ? i - 1 : i - 4 + 2;
        if (i == 3) {
            continue;
        }
        assert_int_equal(s->type[i],
                         k % 2 == 0 ? CAIRN_REC_CLAIM : CAIRN_REC_RECEIPT);
        assert_int_equal(s->op[i], (uint32_t)(k / 2));
        assert_int_equal(s->attempt[i], 1);
        assert_true(s->position[i] > s->position[i - 1]);
    }
    free(s);
}

#endif
