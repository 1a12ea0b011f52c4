/*
 * prune_state.c - the state machine's side of pruning (docs/FORMAT.md
 * section 22): which runs may be pruned, the PRUNE record applied to a
 * run's state, and the stub a PRUNE record stands for.
 */
#include "state/state.h"

#include "base/bytes.h"

#include <stdlib.h>
#include <string.h>

#define FAIL(code, ...)                                                        \
    do {                                                                       \
        cairn__fmt(detail, detail_len, __VA_ARGS__);                           \
        return (code);                                                         \
    } while (0)

cairn_run_state cairn__state_run_state(const cairn_state *st)
{
    if (st->pruned) {
        return (cairn_run_state)st->final_state;
    }
    if (st->cancelled || st->timed_out) {
        return st->cancelled ? CAIRN_RUN_CANCELLED : CAIRN_RUN_TIMED_OUT;
    }
    if (cairn__state_all_done(st)) {
        return CAIRN_RUN_COMPLETED;
    }
    int64_t head = cairn__state_head(st);
    if (head >= 0 && st->ops[head].state == CAIRN_OP_FAILED) {
        return st->ops[head].last_class == CAIRN_CLASS_TERMINAL
                   ? CAIRN_RUN_FAILED
                   : CAIRN_RUN_NEEDS_ATTENTION;
    }
    if (!st->accepted && head < 0 && st->preflight_open == 0) {
        return CAIRN_RUN_AWAITING_PREFLIGHT;
    }
    return CAIRN_RUN_RUNNING;
}

uint8_t cairn__state_flags(const cairn_state *st)
{
    return (uint8_t)((st->accepted ? 1 : 0) | (st->signed_run ? 2 : 0) |
                     (st->cancelled ? 4 : 0) | (st->timed_out ? 8 : 0));
}

cairn_err cairn__state_prunable(const cairn_state *st, uint64_t now_ns,
                                char *detail, size_t detail_len)
{
    if (st->pruned) {
        FAIL(CAIRN_EPRUNED, "run %s was pruned already", st->run_id);
    }
    if (cairn__state_hold_active(st, now_ns)) {
        FAIL(CAIRN_EHELD, "run %s is held (%s): release it first", st->run_id,
             st->hold_reason);
    }
    if (st->op_counts[CAIRN_OP_PENDING] > 0) {
        uint32_t i = st->pending[0];
        FAIL(CAIRN_ESTATE,
             "run %s: operation %lu (%s) is pending or in doubt: "
             "resolve it first",
             st->run_id, (unsigned long)i, st->ops[i].id);
    }
    cairn_run_state rs = cairn__state_run_state(st);
    if (!cairn__prune_final_state_ok((unsigned)rs)) {
        FAIL(CAIRN_ESTATE,
             "run %s is %s, not ended (completed, failed, "
             "cancelled or timed out)",
             st->run_id, cairn_run_state_name(rs));
    }
    if (st->next_seq > CAIRN_MAX_PRUNE_RECORDS) {
        FAIL(CAIRN_ESTATE,
             "run %s has %llu records, more than a PRUNE "
             "record can list (%u)",
             st->run_id, (unsigned long long)st->next_seq,
             CAIRN_MAX_PRUNE_RECORDS);
    }
    return CAIRN_OK;
}

void cairn__state_prune_facts(const cairn_state *st, cairn_record *rec)
{
    memcpy(rec->plan_hash, st->plan_hash, CAIRN_HASH_BYTES);
    memcpy(rec->key_id, st->key_id, CAIRN_KEY_ID_BYTES);
    rec->state_flags = cairn__state_flags(st);
    rec->created_ns = st->created_ns;
    rec->final_state = (uint8_t)cairn__state_run_state(st);
    memcpy(rec->op_counts, st->op_counts, sizeof(rec->op_counts));
}

void cairn__state_stub(const cairn_record *rec,
                       const uint8_t hash[CAIRN_HASH_BYTES], uint64_t position,
                       cairn_state *st)
{
    memset(st, 0, sizeof(*st));
    st->run_num = rec->run_num;
    cairn__fmt(st->run_id, sizeof(st->run_id), "%s", rec->run_id);
    cairn__fmt(st->plan_id, sizeof(st->plan_id), "%s", rec->plan_id);
    memcpy(st->plan_hash, rec->plan_hash, CAIRN_HASH_BYTES);
    st->accepted = (rec->state_flags & 1) != 0;
    st->signed_run = (rec->state_flags & 2) != 0;
    st->cancelled = (rec->state_flags & 4) != 0;
    st->timed_out = (rec->state_flags & 8) != 0;
    memcpy(st->key_id, rec->key_id, CAIRN_KEY_ID_BYTES);
    cairn__fmt(st->preflight_id, sizeof(st->preflight_id), "%s",
               rec->preflight_id);
    st->next_seq = rec->seq + 1;
    memcpy(st->head, hash, CAIRN_HASH_BYTES);
    st->last_pos = position;
    st->created_ns = rec->created_ns;
    st->updated_ns = rec->wall_ns;
    st->pruned = 1;
    st->final_state = rec->final_state;
    memcpy(st->op_counts, rec->op_counts, sizeof(st->op_counts));
}

/* The PRUNE record must state the run's facts exactly. */
static cairn_err facts_match(const cairn_state *st, const cairn_record *rec,
                             char *detail, size_t detail_len)
{
    cairn_record want;
    memset(&want, 0, sizeof(want));
    cairn__state_prune_facts(st, &want);
    const char *what = NULL;
    if (strcmp(rec->run_id, st->run_id) != 0) {
        what = "run_id";
    } else if (strcmp(rec->plan_id, st->plan_id) != 0 ||
               memcmp(rec->plan_hash, want.plan_hash, CAIRN_HASH_BYTES)) {
        what = "plan";
    } else if (strcmp(rec->preflight_id, st->preflight_id) != 0) {
        what = "preflight_id";
    } else if (rec->state_flags != want.state_flags ||
               memcmp(rec->key_id, want.key_id, CAIRN_KEY_ID_BYTES) != 0) {
        what = "state_flags or key_id";
    } else if (rec->created_ns != want.created_ns) {
        what = "created_ns";
    } else if (rec->final_state != want.final_state) {
        what = "final_state";
    } else if (memcmp(rec->op_counts, want.op_counts, sizeof(want.op_counts)) !=
               0) {
        what = "op_counts";
    }
    if (what != NULL) {
        FAIL(CAIRN_ECORRUPT,
             "seq %llu: the prune record's %s is not the "
             "run's",
             (unsigned long long)rec->seq, what);
    }
    return CAIRN_OK;
}

cairn_err cairn__state_apply_prune(cairn_state *st, const cairn_record *rec,
                                   const uint8_t hash[CAIRN_HASH_BYTES],
                                   uint64_t position, char *detail,
                                   size_t detail_len)
{
    cairn_err err = cairn__state_prunable(st, rec->wall_ns, detail, detail_len);
    if (err == CAIRN_OK) {
        err = facts_match(st, rec, detail, detail_len);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__state_free(st);
    cairn__state_stub(rec, hash, position, st);
    return CAIRN_OK;
}
