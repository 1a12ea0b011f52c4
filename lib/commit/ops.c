/*
 * ops.c - the public transitions: each builds one record and hands it to
 * the commit path, which validates it with the state machine first.
 */
#include "commit/commit.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/sys.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cairn_err set_str(char **dst, const char *src)
{
    return cairn__record_set_str(dst, src);
}

static cairn_err set_actor(cairn_record *rec, const cairn_actor_info *who,
                           int with_reason)
{
    cairn_err err = set_str(&rec->actor, who ? who->actor : NULL);
    if (err == CAIRN_OK && with_reason) {
        err = set_str(&rec->reason, who ? who->reason : NULL);
    }
    return err;
}

/* ---- create --------------------------------------------------------- */

typedef struct create_ctx {
    cairn_journal *j;
    const cairn_plan *plan;
    const cairn_actor_info *who;
    const char *run_id;
    cairn_append_req req; /* the CREATE transition; its detail */
} create_ctx;

static cairn_err last_run_num(cairn_journal *j, cairn_txn *txn, uint64_t *n,
                              char *detail, size_t detail_len)
{
    const uint8_t *k;
    size_t kl;
    int found;
    cairn_err err = cairn__txn_last_key(txn, CAIRN_DBI_RUNS, &k, &kl, &found);
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "%s",
                           cairn__store_detail(j->store));
    }
    if (found && kl != 8) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT, "runs: bad key");
    }
    *n = found ? cairn__load64_be(k) : 0;
    return CAIRN_OK;
}

/* The body of the CREATE record (cairn_build_fn; stamped already). */
static cairn_err build_create(cairn_journal *j, cairn_state *st,
                              cairn_record *rec, void *vctx, char *detail,
                              size_t detail_len)
{
    const create_ctx *c = vctx;
    (void)st;
    (void)detail;
    (void)detail_len;
    rec->type = CAIRN_REC_CREATE;
    memcpy(rec->journal_id, j->journal_id, CAIRN_JOURNAL_ID_BYTES);
    memcpy(rec->plan_hash, c->plan->hash, CAIRN_HASH_BYTES);
    if (j->signer != NULL) {
        rec->signed_run = 1;
        memcpy(rec->key_id, j->signer->key_id, CAIRN_KEY_ID_BYTES);
    }
    cairn__genesis_hash(j->journal_id, c->run_id, rec->key_id, rec->prev);
    cairn_err err = set_str(&rec->run_id, c->run_id);
    if (err == CAIRN_OK) {
        err = set_str(&rec->plan_id, c->plan->plan_id);
    }
    if (err == CAIRN_OK) {
        err = set_actor(rec, c->who, 0);
    }
    if (err == CAIRN_OK) {
        /* Canonical plans are ASCII JSON: no NUL byte inside. */
        err = set_str(&rec->plan_json, c->plan->canonical);
        rec->plan_len = c->plan->canonical_len;
    }
    return err;
}

static cairn_err create_fn(cairn_txn *txn, void *vctx)
{
    create_ctx *c = vctx;
    cairn_journal *j = c->j;
    uint64_t run_num = 0;
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found;
    char *detail = c->req.detail;
    size_t detail_len = sizeof(c->req.detail);
    detail[0] = '\0'; /* re-run from scratch after a map growth */
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_NAMES, c->run_id,
                                   strlen(c->run_id), &v, &vl, &found);
    if (err == CAIRN_OK && found) {
        return cairn__fail(detail, detail_len, CAIRN_EEXIST,
                           "run \"%s\" already exists: "
                           "a run id is never reused",
                           c->run_id);
    }
    if (err == CAIRN_OK &&
        cairn__import_has(j, txn, c->run_id, strlen(c->run_id))) {
        return cairn__fail(detail, detail_len, CAIRN_EEXIST,
                           "run \"%s\" already exists (imported from a "
                           "bundle): a run id is never reused",
                           c->run_id);
    }
    if (err != CAIRN_OK ||
        (err = last_run_num(j, txn, &run_num, detail, detail_len))) {
        return err;
    }
    run_num++;
    cairn__store64_be(key, run_num);
    err = cairn__txn_put(txn, CAIRN_DBI_NAMES, c->run_id, strlen(c->run_id),
                         key, sizeof(key), CAIRN_PUT_NOOVERWRITE);
    cairn_state st;
    memset(&st, 0, sizeof(st));
    c->req.run_num = run_num;
    if (err == CAIRN_OK) {
        err = cairn__commit_new_run(j, txn, &c->req, c->plan, &st);
    }
    cairn__state_free(&st);
    return err;
}

static void generate_run_id(const cairn_plan *plan, char *out, size_t cap)
{
    uint8_t rnd[4];
    char hex[9], when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
    cairn__random(rnd, sizeof(rnd));
    cairn__hex(rnd, sizeof(rnd), hex);
    cairn__fmt(out, cap, "%.100s-%s-%s", plan->plan_id, when, hex);
}

cairn_err cairn_run_create(cairn_journal *journal, const cairn_plan *plan,
                           const cairn_actor_info *who, char *run_id_out,
                           size_t run_id_len)
{
    if (journal == NULL || plan == NULL || run_id_out == NULL ||
        run_id_len < CAIRN_MAX_ID + 1) {
        return CAIRN_EINVAL;
    }
    run_id_out[0] = '\0';
    char run_id[CAIRN_MAX_ID + 1];
    if (plan->run_id != NULL) {
        if (cairn__strlcpy(run_id, plan->run_id, sizeof(run_id))) {
            return cairn__jfail(journal, CAIRN_EINVAL, "run id too long");
        }
    } else {
        generate_run_id(plan, run_id, sizeof(run_id));
    }
    if (journal->readonly || cairn__store_fatal(journal->store)) {
        return cairn__jfail(journal,
                            journal->readonly ? CAIRN_EINVAL : CAIRN_EFATAL,
                            "journal not writable");
    }
    journal->detail[0] = '\0';
    create_ctx c;
    memset(&c, 0, sizeof(c));
    c.j = journal;
    c.plan = plan;
    c.who = who;
    c.run_id = run_id;
    c.req.run_id = run_id;
    c.req.build = build_create;
    c.req.ctx = &c;
    cairn_err err = cairn__store_write(journal->store, create_fn, &c);
    if (err != CAIRN_OK) {
        if (c.req.detail[0] == '\0') {
            cairn__fmt(c.req.detail, sizeof(c.req.detail), "%s",
                       cairn__store_detail(journal->store));
        }
        cairn__publish_detail(journal, c.req.detail);
        return err;
    }
    memcpy(run_id_out, run_id, strlen(run_id) + 1);
    return CAIRN_OK;
}

/* ---- accept preflight ------------------------------------------------ */

typedef struct accept_ctx {
    const char *preflight_id;
    const cairn_actor_info *who;
} accept_ctx;

static cairn_err build_accept(cairn_journal *j, cairn_state *st,
                              cairn_record *rec, void *vctx, char *detail,
                              size_t detail_len)
{
    accept_ctx *c = vctx;
    (void)j;
    (void)detail;
    (void)detail_len;
    if (st->accepted && strcmp(st->preflight_id, c->preflight_id) == 0) {
        return CAIRN_OK; /* same id again: a no-op, nothing written */
    }
    rec->type = CAIRN_REC_ACCEPT;
    cairn_err err = set_str(&rec->preflight_id, c->preflight_id);
    return err != CAIRN_OK ? err : set_actor(rec, c->who, 1);
}

cairn_err cairn_accept_preflight(cairn_journal *journal, const char *run_id,
                                 const char *preflight_id,
                                 const cairn_actor_info *who)
{
    if (journal == NULL || run_id == NULL || preflight_id == NULL) {
        return CAIRN_EINVAL;
    }
    size_t n = strlen(preflight_id);
    if (n == 0 || n > CAIRN_MAX_ID) {
        return cairn__jfail(journal, CAIRN_EINVAL,
                            "preflight id must be 1..%d bytes", CAIRN_MAX_ID);
    }
    accept_ctx c = {preflight_id, who};
    return cairn__journal_append(journal, run_id, build_accept, &c, NULL);
}
