/*
 * ops_op.c - the per-operation transitions: claim, receipt, retry,
 * resolve, and the run-ending cancel/timeout.
 */
#include "commit/commit.h"

#include "base/sys.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cairn_err dup_text(char **dst, const char *src)
{
    return cairn__record_set_str(dst, src);
}

static cairn_err who_fields(cairn_record *rec, const cairn_actor_info *who)
{
    cairn_err err = dup_text(&rec->actor, who ? who->actor : NULL);
    return err != CAIRN_OK ? err
                           : dup_text(&rec->reason, who ? who->reason : NULL);
}

/* ---- claim ------------------------------------------------------------ */

typedef struct claim_ctx {
    int64_t op;
    cairn_claim_kind kind;
    uint32_t holder_pid;
    uint64_t holder_start;
    const cairn_actor_info *who;
    cairn_claim_result *out;
} claim_ctx;

/* The first op a containment or cleanup claim may take; -1: none.
 * Every row is read (such claims come once a run has halted). */
static int64_t pick_special(const cairn_state *st, cairn_claim_kind kind)
{
    for (uint32_t i = 0; i < st->n_ops; i++) {
        const cairn_op_st *op = &st->ops[i];
        if (op->state != CAIRN_OP_READY && op->state != CAIRN_OP_BLOCKED &&
            op->state != CAIRN_OP_FAILED) {
            continue;
        }
        if (kind == CAIRN_CLAIM_CLEANUP && op->kind == CAIRN_KIND_CLEANUP &&
            op->state != CAIRN_OP_BLOCKED) {
            return i;
        }
        if (kind == CAIRN_CLAIM_CONTAINMENT && op->kind == CAIRN_KIND_START &&
            cairn__state_op_stopped(st, i)) {
            return i;
        }
    }
    return -1;
}

static cairn_err build_claim(cairn_journal *j, cairn_state *st,
                             cairn_record *rec, void *vctx, char *detail,
                             size_t detail_len)
{
    claim_ctx *c = vctx;
    (void)j;
    int64_t seq = c->op;
    if (seq < 0 && c->kind == CAIRN_CLAIM_NORMAL) {
        seq = cairn__state_head(st);
        if (seq < 0 && !st->cancelled && !st->timed_out) {
            return cairn__fail(detail, detail_len, CAIRN_ENOTHING,
                               cairn__state_all_done(st)
                                   ? "every operation is done"
                                   : "no operation is ready, pending or "
                                     "failed (preflight not accepted?)");
        }
    } else if (seq < 0) {
        cairn_err err = cairn__state_need_all(st, detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
        seq = pick_special(st, c->kind);
        if (seq < 0) {
            return cairn__fail(detail, detail_len, CAIRN_ECONTAIN,
                               "no %s operation can be "
                               "claimed",
                               cairn_claim_kind_name(c->kind));
        }
    }
    if (seq < 0 || seq >= (int64_t)st->n_ops) {
        return cairn__fail(
            detail, detail_len, seq < 0 ? CAIRN_EFINISHED : CAIRN_ENOOP,
            seq < 0 ? "run has ended" : "no operation %lld in a plan of %u",
            (long long)seq, st->n_ops);
    }
    cairn_err err = cairn__state_need(st, (uint32_t)seq, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    rec->type = CAIRN_REC_CLAIM;
    rec->op = (uint32_t)seq;
    rec->attempt = st->ops[seq].attempt + 1;
    rec->claim_kind = c->kind;
    rec->holder_pid = c->holder_pid;
    rec->holder_start = c->holder_start;
    char host[CAIRN_MAX_HOST + 1];
    cairn__hostname(host);
    err = dup_text(&rec->host, host);
    if (err == CAIRN_OK) {
        err = dup_text(&rec->actor, c->who ? c->who->actor : NULL);
    }
    if (err == CAIRN_OK && c->out != NULL) {
        c->out->seq = rec->op;
        c->out->attempt = rec->attempt;
        c->out->kind = st->ops[seq].kind;
        memcpy(c->out->id, st->ops[seq].id, sizeof(c->out->id));
    }
    return err;
}

uint64_t cairn__holder_start(const cairn_journal *j, pid_t pid)
{
    /* The handle's process is alive while it claims: its start time is
     * the one read at open (unless it is a forked child, a new pid). */
    if (j->have_self_start && pid == j->self_pid && getpid() == j->self_pid) {
        return j->self_start;
    }
    uint64_t start = 0;
    /* A claimer we cannot identify is treated as gone later. */
    (void)cairn__proc_start_time(pid, &start);
    return start;
}

cairn_err cairn_claim(cairn_journal *journal, const char *run_id, int64_t op,
                      cairn_claim_kind kind, const cairn_holder *holder,
                      const cairn_actor_info *who, cairn_claim_result *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (journal == NULL || run_id == NULL || op < -1 ||
        op > (int64_t)UINT32_MAX ||
        (kind != CAIRN_CLAIM_NORMAL && kind != CAIRN_CLAIM_CONTAINMENT &&
         kind != CAIRN_CLAIM_CLEANUP)) {
        return CAIRN_EINVAL;
    }
    claim_ctx c = {op, kind, 0, 0, who, out};
    c.holder_pid = holder && holder->pid ? holder->pid : (uint32_t)getpid();
    c.holder_start = holder ? holder->start_time : 0;
    if (c.holder_start == 0) {
        c.holder_start = cairn__holder_start(journal, (pid_t)c.holder_pid);
    }
    cairn_err err =
        cairn__journal_append(journal, run_id, build_claim, &c, NULL);
    if (err != CAIRN_OK && out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    return err;
}

/* ---- receipts and resolutions ------------------------------------------ */

static cairn_err copy_kv(cairn_kvlist *dst, const cairn_kv *src, size_t n)
{
    if (n > CAIRN_MAX_KV) {
        return CAIRN_EINVAL;
    }
    if (n == 0) {
        return CAIRN_OK;
    }
    if (src == NULL) {
        return CAIRN_EINVAL;
    }
    dst->v = calloc(n, sizeof(cairn_kv));
    if (dst->v == NULL) {
        return CAIRN_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (src[i].key == NULL || src[i].value == NULL) {
            return CAIRN_EINVAL;
        }
        char *k = strdup(src[i].key), *v = strdup(src[i].value);
        dst->v[i].key = k;
        dst->v[i].value = v;
        dst->n = i + 1;
        if (k == NULL || v == NULL) {
            return CAIRN_ENOMEM;
        }
    }
    return CAIRN_OK;
}

typedef struct outcome_ctx {
    const cairn_receipt *r;
    const cairn_actor_info *who;
    cairn_record_type type;
} outcome_ctx;

static cairn_err check_target_op(cairn_state *st, const outcome_ctx *c,
                                 char *detail, size_t detail_len)
{
    const cairn_receipt *r = c->r;
    if (r->seq >= st->n_ops) {
        return cairn__fail(detail, detail_len, CAIRN_ENOOP,
                           "no operation %u in a plan of %u", r->seq,
                           st->n_ops);
    }
    cairn_err err = cairn__state_need(st, r->seq, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    const cairn_op_st *op = &st->ops[r->seq];
    if (r->op_id != NULL && strcmp(r->op_id, op->id) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_EOPID,
                           "operation %u is \"%s\", not "
                           "\"%s\"",
                           r->seq, op->id, r->op_id);
    }
    if (c->type == CAIRN_REC_RESOLVE) {
        if (op->state != CAIRN_OP_PENDING) {
            return cairn__fail(detail, detail_len, CAIRN_ENOTPENDING,
                               "operation %u (%s) is "
                               "%s, not pending",
                               r->seq, op->id, cairn_op_state_name(op->state));
        }
        if (cairn__op_claimer_alive(op)) {
            return cairn__fail(detail, detail_len, CAIRN_ENOTINDOUBT,
                               "operation %u (%s): its claimer (pid %u on "
                               "%s) is still alive",
                               r->seq, op->id, op->holder_pid,
                               op->host[0] ? op->host : "this host");
        }
    }
    return CAIRN_OK;
}

static cairn_err build_outcome(cairn_journal *j, cairn_state *st,
                               cairn_record *rec, void *vctx, char *detail,
                               size_t detail_len)
{
    outcome_ctx *c = vctx;
    const cairn_receipt *r = c->r;
    (void)j;
    cairn_err err = check_target_op(st, c, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    rec->type = c->type;
    rec->op = r->seq;
    rec->attempt = r->attempt != 0 ? r->attempt : st->ops[r->seq].attempt;
    rec->outcome = r->outcome;
    rec->error_class = r->error_class;
    err = dup_text(&rec->reason, r->reason);
    if (err == CAIRN_OK) {
        err = dup_text(&rec->actor, c->who ? c->who->actor : NULL);
    }
    if (err == CAIRN_OK) {
        err = copy_kv(&rec->outputs, r->outputs, r->n_outputs);
    }
    if (err == CAIRN_OK) {
        err = copy_kv(&rec->evidence, r->evidence, r->n_evidence);
    }
    if (err == CAIRN_EINVAL) {
        return cairn__fail(detail, detail_len, err,
                           "too many outputs/evidence pairs, or a "
                           "NULL key or value");
    }
    if (err == CAIRN_OK && rec->attempt == 0) {
        return cairn__fail(detail, detail_len, CAIRN_ENOTPENDING,
                           "operation %u was never "
                           "claimed",
                           r->seq);
    }
    if (err == CAIRN_OK && r->outcome == CAIRN_OUTCOME_COMPLETED) {
        /* The machine's checks plus the writer's rule: a required output
         * is not empty unless its plan says so (state.h). */
        char why[1024];
        err = cairn__state_check_outcome(st, rec, 1, why, sizeof(why));
        if (err != CAIRN_OK) {
            return cairn__fail(detail, detail_len, err, "%s", why);
        }
    }
    return err;
}

static cairn_err record_outcome(cairn_journal *journal, const char *run_id,
                                const cairn_receipt *r,
                                const cairn_actor_info *who,
                                cairn_record_type type)
{
    if (journal == NULL || run_id == NULL || r == NULL) {
        return CAIRN_EINVAL;
    }
    if (r->outcome != CAIRN_OUTCOME_COMPLETED &&
        r->outcome != CAIRN_OUTCOME_FAILED &&
        r->outcome != CAIRN_OUTCOME_SKIPPED) {
        return cairn__jfail(journal, CAIRN_EINVAL, "unknown outcome %d",
                            (int)r->outcome);
    }
    outcome_ctx c = {r, who, type};
    return cairn__journal_append(journal, run_id, build_outcome, &c, NULL);
}

cairn_err cairn_receipt_record(cairn_journal *journal, const char *run_id,
                               const cairn_receipt *r,
                               const cairn_actor_info *who)
{
    return record_outcome(journal, run_id, r, who, CAIRN_REC_RECEIPT);
}

cairn_err cairn_resolve(cairn_journal *journal, const char *run_id,
                        const cairn_receipt *r, const cairn_actor_info *who)
{
    return record_outcome(journal, run_id, r, who, CAIRN_REC_RESOLVE);
}

/* ---- retry and cancel -----------------------------------------------------
 */

typedef struct simple_ctx {
    cairn_record_type type;
    uint32_t op;
    const cairn_actor_info *who;
} simple_ctx;

static cairn_err build_simple(cairn_journal *j, cairn_state *st,
                              cairn_record *rec, void *vctx, char *detail,
                              size_t detail_len)
{
    simple_ctx *c = vctx;
    (void)j;
    (void)st;
    (void)detail;
    (void)detail_len;
    rec->type = c->type;
    rec->op = c->op;
    return who_fields(rec, c->who);
}

cairn_err cairn_retry(cairn_journal *journal, const char *run_id, uint32_t op,
                      const cairn_actor_info *who)
{
    if (journal == NULL || run_id == NULL) {
        return CAIRN_EINVAL;
    }
    simple_ctx c = {CAIRN_REC_RETRY, op, who};
    return cairn__journal_append(journal, run_id, build_simple, &c, NULL);
}

cairn_err cairn_cancel(cairn_journal *journal, const char *run_id,
                       int timed_out, const cairn_actor_info *who)
{
    if (journal == NULL || run_id == NULL) {
        return CAIRN_EINVAL;
    }
    simple_ctx c = {timed_out ? CAIRN_REC_TIMEOUT : CAIRN_REC_CANCEL, 0, who};
    return cairn__journal_append(journal, run_id, build_simple, &c, NULL);
}
