/*
 * prune.c - cairn_prune(): a run's records replaced by its tombstone in
 * one durable write transaction (docs/FORMAT.md section 22).
 *
 * Inside the transaction, under the run's lock and the proven head: the
 * run's state is proven and must be prunable; each of its records is read
 * through `index`, checked (its seq, its chain link, its leaf hash against
 * the stored leaf of the log tree) and listed with its position and leaf
 * hash in the PRUNE record, built and signed through the one transition
 * builder every commit uses.  Then each record's value becomes the 8-byte
 * placeholder naming the run (its key stays, so `records` keeps one key
 * per position and the head's count holds), its `index` entry
 * and its checkpoint (if any) go, the PRUNE record, its index entry, the
 * stub and its checkpoint are stored, and the head is extended by the
 * PRUNE record's leaf and signed once.  Any failure aborts the whole
 * transaction: nothing is written.
 */
#include "commit/commit.h"
#include "journal/head.h"

#include "base/bytes.h"
#include "base/sys.h"

#include <stdlib.h>
#include <string.h>

typedef struct prune_ctx {
    cairn_journal *j;
    const char *run_id;
    const cairn_prune_info *info;
    const cairn_actor_info *who;
    cairn_append_req req;
    cairn_head head;
    uint64_t *positions;                 /* the run's records, by seq */
    uint8_t (*leaves)[CAIRN_HASH_BYTES]; /* their leaf hashes */
    cairn_prune_range *ranges;
    size_t n_ranges;
    uint64_t count;
    cairn__prune_hook hook; /* tests: called at each CAIRN__PRUNE_* stage */
    void *hook_ctx;
} prune_ctx;

static void stage(const prune_ctx *c, int at)
{
    if (c->hook != NULL) {
        c->hook(c->hook_ctx, at);
    }
}

static cairn_err set_str(char **dst, const char *src)
{
    return cairn__record_set_str(dst, src);
}

/* The PRUNE record's body (cairn_build_fn; stamped already). */
static cairn_err build_prune(cairn_journal *j, cairn_state *st,
                             cairn_record *rec, void *vctx, char *detail,
                             size_t detail_len)
{
    prune_ctx *c = vctx;
    const cairn_prune_info *in = c->info;
    (void)j;
    (void)detail;
    (void)detail_len;
    rec->type = CAIRN_REC_PRUNE;
    cairn__state_prune_facts(st, rec);
    memcpy(rec->bundle_sha256, in->bundle_sha256, CAIRN_HASH_BYTES);
    rec->bundle_bytes = in->bundle_bytes;
    memcpy(rec->prune_plan_sha256, in->plan_sha256, CAIRN_HASH_BYTES);
    rec->pruned_count = c->count;
    cairn_err err = set_str(&rec->run_id, st->run_id);
    const char *strs[] = {st->plan_id,
                          st->preflight_id,
                          in->rule,
                          in->reason,
                          in->policy,
                          in->location,
                          c->who != NULL ? c->who->actor : NULL};
    char **dst[] = {&rec->plan_id, &rec->preflight_id, &rec->rule, &rec->reason,
                    &rec->policy,  &rec->location,     &rec->actor};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (err == CAIRN_OK) {
            err = set_str(dst[i], strs[i]);
        }
    }
    if (err != CAIRN_OK) {
        return err;
    }
    /* The record owns copies: cairn__record_free() frees them. */
    rec->ranges = malloc(c->n_ranges * sizeof(*rec->ranges));
    rec->pruned_leaves = malloc((size_t)c->count * CAIRN_HASH_BYTES);
    if (rec->ranges == NULL || rec->pruned_leaves == NULL) {
        return CAIRN_ENOMEM;
    }
    memcpy(rec->ranges, c->ranges, c->n_ranges * sizeof(*rec->ranges));
    memcpy(rec->pruned_leaves, c->leaves, (size_t)c->count * CAIRN_HASH_BYTES);
    rec->n_ranges = c->n_ranges;
    return CAIRN_OK;
}

/* Read and check record @p seq of the run: found through `index`, seq
 * and chain link right, leaf hash equal to the stored tree leaf. */
static cairn_err read_one(prune_ctx *c, cairn_txn *txn, const cairn_state *st,
                          uint64_t seq, uint8_t prev[CAIRN_HASH_BYTES])
{
    char *detail = c->req.detail;
    size_t dl = sizeof(c->req.detail);
    uint64_t pos = 0;
    int found = 0;
    cairn_err err = cairn__index_get(c->j, txn, st->run_num, seq, &pos, &found);
    if (err == CAIRN_OK && (!found || pos == 0 || pos > c->head.size)) {
        return cairn__fail(detail, dl, CAIRN_ETAMPERED,
                           "run %s: record %llu is missing from the index",
                           st->run_id, (unsigned long long)seq);
    }
    cairn_record rec;
    uint8_t leaf[CAIRN_HASH_BYTES], stored[CAIRN_HASH_BYTES];
    if (err == CAIRN_OK) {
        err = cairn__read_record(c->j, txn, seq, pos, &rec, leaf);
        if (err != CAIRN_OK) {
            return cairn__fail(detail, dl, err, "%s", c->j->detail);
        }
        int ok = rec.run_num == st->run_num && rec.seq == seq &&
                 (seq == 0 || memcmp(rec.prev, prev, CAIRN_HASH_BYTES) == 0);
        cairn__record_free(&rec);
        cairn_nodes nodes = {txn, CAIRN_DBI_TREE};
        if (!ok || cairn__nodes_get(&nodes, 0, pos - 1, stored) != CAIRN_OK ||
            memcmp(stored, leaf, CAIRN_HASH_BYTES) != 0) {
            return cairn__fail(detail, dl, CAIRN_ETAMPERED,
                               "run %s: record %llu at position %llu does "
                               "not fit its chain or the log tree: run "
                               "`cairn verify`",
                               st->run_id, (unsigned long long)seq,
                               (unsigned long long)pos);
        }
    }
    if (err == CAIRN_OK) {
        c->positions[seq] = pos;
        memcpy(c->leaves[seq], leaf, CAIRN_HASH_BYTES);
        memcpy(prev, leaf, CAIRN_HASH_BYTES);
    }
    return err;
}

/* Every record of the run, checked, into positions/leaves/ranges. */
static cairn_err collect(prune_ctx *c, cairn_txn *txn, const cairn_state *st)
{
    uint8_t prev[CAIRN_HASH_BYTES];
    cairn_err err = CAIRN_OK;
    c->count = st->next_seq;
    c->n_ranges = 0;
    for (uint64_t seq = 0; seq < c->count && err == CAIRN_OK; seq++) {
        err = read_one(c, txn, st, seq, prev);
        if (err != CAIRN_OK) {
            break;
        }
        uint64_t pos = c->positions[seq];
        cairn_prune_range *last =
            c->n_ranges > 0 ? &c->ranges[c->n_ranges - 1] : NULL;
        if (seq > 0 && pos <= c->positions[seq - 1]) {
            err = cairn__fail(
                c->req.detail, sizeof(c->req.detail), CAIRN_ETAMPERED,
                "run %s: record %llu is not after record %llu", st->run_id,
                (unsigned long long)seq, (unsigned long long)(seq - 1));
        } else if (last != NULL && last->start + last->count == pos) {
            last->count++;
        } else {
            c->ranges[c->n_ranges].start = pos;
            c->ranges[c->n_ranges++].count = 1;
        }
    }
    if (err == CAIRN_OK && (memcmp(prev, st->head, CAIRN_HASH_BYTES) != 0 ||
                            c->positions[c->count - 1] != st->last_pos)) {
        err = cairn__fail(c->req.detail, sizeof(c->req.detail), CAIRN_ETAMPERED,
                          "run %s: its last record is not its state's head",
                          st->run_id);
    }
    return err;
}

/* Replace each pruned record by its placeholder (the run's number, 8
 * bytes), drop its index entry and its checkpoint. */
static cairn_err remove_records(prune_ctx *c, cairn_txn *txn, uint64_t run_num)
{
    cairn_err err = CAIRN_OK;
    uint8_t placeholder[8];
    cairn__store64_be(placeholder, run_num);
    for (uint64_t seq = 0; seq < c->count && err == CAIRN_OK; seq++) {
        uint8_t key[8], ikey[16];
        cairn__store64_be(key, c->positions[seq]);
        cairn__store64_be(ikey, run_num);
        cairn__store64_be(ikey + 8, seq);
        err = cairn__txn_put(txn, CAIRN_DBI_RECORDS, key, sizeof(key),
                             placeholder, sizeof(placeholder), 0);
        if (err == CAIRN_OK) {
            err =
                cairn__txn_del(txn, CAIRN_DBI_INDEX, ikey, sizeof(ikey), NULL);
        }
        if (err == CAIRN_OK) {
            err = cairn__txn_del(txn, CAIRN_DBI_CHECKPOINTS, key, sizeof(key),
                                 NULL);
        }
    }
    if (err != CAIRN_OK) {
        cairn__fmt(c->req.detail, sizeof(c->req.detail), "%s",
                   cairn__store_detail(c->j->store));
    }
    return err;
}

static cairn_err prune_write(prune_ctx *c, cairn_txn *txn, cairn_state *st,
                             const uint8_t old_leaf[CAIRN_HASH_BYTES])
{
    uint64_t pos = 0;
    cairn_transition t;
    char *detail = c->req.detail;
    size_t dl = sizeof(c->req.detail);
    cairn_state before; /* what cairn__runstate_put() deletes */
    memset(&before, 0, sizeof(before));
    before.run_num = st->run_num;
    before.n_ops = st->n_ops;
    before.pruned = st->pruned;
    cairn_err err = cairn__next_position(c->j->store, txn, &pos, detail, dl);
    if (err == CAIRN_OK) {
        err = cairn__transition_build(c->j, st, &c->req, NULL, pos, &t);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_run_leaf run;
    memset(&run, 0, sizeof(run));
    run.run_num = st->run_num;
    memcpy(run.old_leaf, old_leaf, CAIRN_HASH_BYTES);
    stage(c, CAIRN__PRUNE_BUILT);
    err = remove_records(c, txn, st->run_num);
    if (err == CAIRN_OK) {
        stage(c, CAIRN__PRUNE_REMOVED);
        err = cairn__commit_write(c->j, txn, &t, pos, &before, st, run.new_leaf,
                                  detail, dl);
    }
    if (err == CAIRN_OK) {
        err = cairn__head_write(c->j, txn, &c->head,
                                (const uint8_t(*)[CAIRN_HASH_BYTES])t.hash, 1,
                                &run, 1, detail, dl);
    }
    if (err == CAIRN_OK) {
        stage(c, CAIRN__PRUNE_HEAD);
    }
    cairn__transition_free(&t);
    return err;
}

static cairn_err prune_fn(cairn_txn *txn, void *vctx)
{
    prune_ctx *c = vctx;
    char *detail = c->req.detail;
    size_t dl = sizeof(c->req.detail);
    cairn_state st;
    uint8_t old_leaf[CAIRN_HASH_BYTES];
    detail[0] = '\0'; /* re-run from scratch after a map growth */
    memset(&st, 0, sizeof(st));
    cairn_err err = cairn__head_load(c->j, txn, &c->head, detail, dl);
    if (err == CAIRN_OK) {
        err = cairn__load_state_at(c->j, txn, &c->head, c->req.run_num, &st,
                                   old_leaf, detail, dl);
        if (err == CAIRN_OK) {
            err =
                cairn__state_is_run(&st, c->run_id, c->req.run_num, detail, dl);
        }
    }
    if (err == CAIRN_OK) {
        err = cairn__state_prunable(&st, cairn__wall_ns(), detail, dl);
    }
    if (err == CAIRN_OK) {
        c->positions = calloc((size_t)st.next_seq, sizeof(uint64_t));
        c->leaves = calloc((size_t)st.next_seq, CAIRN_HASH_BYTES);
        c->ranges = calloc((size_t)st.next_seq, sizeof(cairn_prune_range));
        if (c->positions == NULL || c->leaves == NULL || c->ranges == NULL) {
            err = cairn__fail(detail, dl, CAIRN_ENOMEM, "out of memory");
        }
    }
    if (err == CAIRN_OK) {
        err = collect(c, txn, &st);
    }
    if (err == CAIRN_OK) {
        err = prune_write(c, txn, &st, old_leaf);
    }
    free(c->positions);
    free(c->leaves);
    free(c->ranges);
    c->positions = NULL;
    c->leaves = NULL;
    c->ranges = NULL;
    cairn__state_free(&st);
    return err;
}

/* info's fields within their limits (the encoder checks them again). */
static cairn_err check_info(cairn_journal *j, const cairn_prune_info *in)
{
    struct {
        const char *name, *s;
        size_t min, max;
    } f[] = {{"rule", in->rule, 1, CAIRN_MAX_PRUNE_RULE},
             {"reason", in->reason, 1, CAIRN_MAX_PRUNE_REASON},
             {"policy", in->policy, 0, CAIRN_MAX_PRUNE_POLICY},
             {"location", in->location, 0, CAIRN_MAX_PRUNE_LOCATION}};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        size_t n = f[i].s == NULL ? 0 : strnlen(f[i].s, f[i].max + 1);
        if (n < f[i].min || n > f[i].max) {
            return cairn__jfail(j, CAIRN_EINVAL, "prune %s: %zu..%zu bytes",
                                f[i].name, f[i].min, f[i].max);
        }
    }
    return CAIRN_OK;
}

cairn_err cairn__prune(cairn_journal *journal, const char *run_id,
                       const cairn_prune_info *info,
                       const cairn_actor_info *who, cairn__prune_hook hook,
                       void *hook_ctx)
{
    if (journal == NULL || run_id == NULL || info == NULL) {
        return CAIRN_EINVAL;
    }
    journal->detail[0] = '\0';
    cairn_err err = check_info(journal, info);
    if (err != CAIRN_OK) {
        return err;
    }
    if (journal->readonly || cairn__store_fatal(journal->store)) {
        return cairn__jfail(journal,
                            journal->readonly ? CAIRN_EINVAL : CAIRN_EFATAL,
                            "journal not writable");
    }
    prune_ctx c;
    memset(&c, 0, sizeof(c));
    c.j = journal;
    c.run_id = run_id;
    c.info = info;
    c.who = who;
    c.req.run_id = run_id;
    c.req.build = build_prune;
    c.req.ctx = &c;
    c.hook = hook;
    c.hook_ctx = hook_ctx;
    err = cairn__lookup_outside(journal, run_id, &c.req.run_num, c.req.detail,
                                sizeof(c.req.detail));
    if (err == CAIRN_OK) {
        err = cairn__run_lock_get(journal, c.req.run_num, 0, c.req.detail,
                                  sizeof(c.req.detail));
        if (err == CAIRN_OK) {
            err = cairn__store_write(journal->store, prune_fn, &c);
            cairn__run_lock_put(journal, c.req.run_num, 0);
            if (err == CAIRN_OK) {
                stage(&c, CAIRN__PRUNE_COMMITTED);
            }
        }
    }
    if (err != CAIRN_OK) {
        if (c.req.detail[0] == '\0') {
            cairn__fmt(c.req.detail, sizeof(c.req.detail), "%s",
                       cairn__store_detail(journal->store));
        }
        cairn__publish_detail(journal, c.req.detail);
    }
    return err;
}

cairn_err cairn_prune(cairn_journal *journal, const char *run_id,
                      const cairn_prune_info *info, const cairn_actor_info *who)
{
    return cairn__prune(journal, run_id, info, who, NULL, NULL);
}
