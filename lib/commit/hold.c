/*
 * hold.c - cairn_hold() and cairn_release(): HOLD and RELEASE records on a
 * run's own chain, committed like every transition (the state machine,
 * lib/state/transition.c, decides whether they apply).
 */
#include "commit/commit.h"

#include <string.h>

typedef struct hold_ctx {
    cairn_record_type type;
    uint64_t until_ns;
    const cairn_actor_info *who;
} hold_ctx;

static cairn_err build_hold(cairn_journal *j, cairn_state *st,
                            cairn_record *rec, void *vctx, char *detail,
                            size_t detail_len)
{
    const hold_ctx *c = vctx;
    (void)j;
    (void)st;
    rec->type = c->type;
    rec->until_ns = c->type == CAIRN_REC_HOLD ? c->until_ns : 0;
    cairn_err err =
        cairn__record_set_str(&rec->actor, c->who ? c->who->actor : NULL);
    if (err == CAIRN_OK) {
        err = cairn__record_set_str(&rec->reason, c->who->reason);
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "%s: out of memory",
                           cairn_record_type_name(c->type));
    }
    return CAIRN_OK;
}

static cairn_err hold_or_release(cairn_journal *journal, const char *run_id,
                                 cairn_record_type type, uint64_t until_ns,
                                 const cairn_actor_info *who)
{
    if (journal == NULL || run_id == NULL) {
        return CAIRN_EINVAL;
    }
    const char *name = cairn_record_type_name(type);
    if (who == NULL || who->reason == NULL || who->reason[0] == '\0') {
        return cairn__jfail(journal, CAIRN_EREASON, "a %s needs a reason",
                            name);
    }
    if (strlen(who->reason) > CAIRN_MAX_HOLD_REASON) {
        return cairn__jfail(journal, CAIRN_EINVAL,
                            "%s reason: longer than %d bytes", name,
                            CAIRN_MAX_HOLD_REASON);
    }
    hold_ctx c = {type, until_ns, who};
    return cairn__journal_append(journal, run_id, build_hold, &c, NULL);
}

cairn_err cairn_hold(cairn_journal *journal, const char *run_id,
                     uint64_t until_ns, const cairn_actor_info *who)
{
    return hold_or_release(journal, run_id, CAIRN_REC_HOLD, until_ns, who);
}

cairn_err cairn_release(cairn_journal *journal, const char *run_id,
                        const cairn_actor_info *who)
{
    return hold_or_release(journal, run_id, CAIRN_REC_RELEASE, 0, who);
}
