/*
 * watermark.c - cairn_watermark_get(): where the previous runs of a plan
 * stopped, from their materialised states, newest run first.
 */
#include "journal/journal.h"
#include "journal/oprows.h"

#include "base/bytes.h"

#include <string.h>

static void set_seq(const cairn_summary *s, int64_t seq, char *id, size_t cap)
{
    const cairn_op_view *op = seq >= 0 && seq <= UINT32_MAX
                                  ? cairn_summary_op(s, (uint32_t)seq)
                                  : NULL;
    id[0] = '\0';
    if (op != NULL) {
        cairn__fmt(id, cap, "%s", op->id);
    }
}

/* Take what run @p s offers; 1 when both runs are found. */
static int consider(const cairn_summary *s, cairn_watermark *out)
{
    if (!out->has_attempted && s->last_attempted_seq >= 0) {
        out->has_attempted = 1;
        cairn__fmt(out->attempted_run_id, sizeof(out->attempted_run_id), "%s",
                   s->run_id);
        out->attempted_state = s->state;
        out->last_contiguous_seq = s->last_contiguous_seq;
        out->last_attempted_seq = s->last_attempted_seq;
        set_seq(s, s->last_contiguous_seq, out->last_contiguous_id,
                sizeof(out->last_contiguous_id));
        set_seq(s, s->last_attempted_seq, out->last_attempted_id,
                sizeof(out->last_attempted_id));
        out->attempted_updated_ns = s->updated_ns;
    }
    if (!out->has_completed && s->state == CAIRN_RUN_COMPLETED) {
        out->has_completed = 1;
        cairn__fmt(out->completed_run_id, sizeof(out->completed_run_id), "%s",
                   s->run_id);
        out->completed_updated_ns = s->updated_ns;
    }
    return out->has_attempted && out->has_completed;
}

/* Run @p run_num, when it exists and belongs to the plan. */
static cairn_err look_at(cairn_journal *j, cairn_txn *txn, uint64_t run_num,
                         const char *plan_id, const char *exclude,
                         cairn_watermark *out, int *done)
{
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found = 0;
    cairn__store64_be(key, run_num);
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key), &v, &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (!found) {
        return CAIRN_OK; /* no such run number (none, or removed) */
    }
    cairn_state st;
    char why[256];
    err = cairn__runstate_decode(txn, v, vl, &st, why, sizeof(why));
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "run %llu: %s", (unsigned long long)run_num,
                            cairn__why_unprefixed(why, run_num));
    }
    if (strcmp(st.plan_id, plan_id) == 0 &&
        (exclude == NULL || strcmp(st.run_id, exclude) != 0)) {
        cairn_summary *s = NULL;
        err = cairn__summary_from_state(&st, &s);
        if (err == CAIRN_OK) {
            out->runs++;
            *done = consider(s, out);
        }
        cairn_summary_free(s);
    }
    cairn__state_free(&st);
    return err;
}

cairn_err cairn_watermark_get(cairn_journal *journal, const char *plan_id,
                              const char *exclude_run, cairn_watermark *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
        out->last_contiguous_seq = out->last_attempted_seq = -1;
    }
    if (journal == NULL || plan_id == NULL || plan_id[0] == '\0' ||
        out == NULL) {
        return CAIRN_EINVAL;
    }
    cairn_txn *txn = NULL;
    const uint8_t *k;
    size_t kl;
    int found = 0, done = 0;
    cairn_err err = cairn__store_read(journal->store, &txn);
    if (err == CAIRN_OK) {
        err = cairn__txn_last_key(txn, CAIRN_DBI_RUNS, &k, &kl, &found);
    }
    if (err != CAIRN_OK) {
        cairn__txn_end(txn);
        return cairn__jfail(journal, err, "%s",
                            cairn__store_detail(journal->store));
    }
    uint64_t last = found && kl == 8 ? cairn__load64_be(k) : 0;
    /* Run numbers are given in creation order: newest first. */
    for (uint64_t n = last; err == CAIRN_OK && !done && found; n--) {
        err = look_at(journal, txn, n, plan_id, exclude_run, out, &done);
        if (n == 0) {
            break;
        }
    }
    cairn__txn_end(txn);
    if (err != CAIRN_OK) {
        memset(out, 0, sizeof(*out));
        out->last_contiguous_seq = out->last_attempted_seq = -1;
    }
    return err;
}
