/*
 * cli_hook.c - the hook of every transition the CLI makes: `--hook CMD`, else
 * $CAIRN_HOOK.  The command comes from the operator's command line or
 * environment, never from the journal directory.  It runs once after each
 * successful transition of a primitive (create, accept-preflight, claim,
 * complete, fail, skip, retry, resolve, cancel) and on each run state
 * change of `run` and `resume`, with the same variables and the same
 * JSON event (CAIRN_EVENT_JSON) whoever made the change.  A failed hook is
 * a warning: the transition is already durable.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

const char *cli_hook(const cli_ctx *ctx)
{
    const char *hook = ctx->hook_set ? ctx->hook : getenv("CAIRN_HOOK");
    return hook != NULL && hook[0] != '\0' ? hook : NULL;
}

json_t *cli_hook_event(const cairn_summary *s, const char *transition,
                       const char *actor, int has_op, uint32_t seq)
{
    json_t *o = json_object();
    json_t *op = json_null();
    if (o == NULL) {
        cli_die_nomem();
    }
    cli_jset(o, "event", cli_jstr("state-change"));
    cli_jset(o, "run_id", cli_jstr(s->run_id));
    cli_jset(o, "transition", cli_jstr(transition));
    cli_jset(o, "actor", cli_jstr_or_null(actor));
    if (has_op && cairn_summary_op(s, seq) != NULL) {
        op = cli_json_op(cairn_summary_op(s, seq));
    }
    cli_jset(o, "op", op);
    cli_jset(o, "state", cli_jstr(cairn_run_state_name(s->state)));
    cli_jset(o, "stopped_reason",
             cli_jstr(cairn_stopped_reason_name(s->stopped_reason)));
    cli_jset(o, "next_action",
             cli_jstr(cairn_next_action_name(s->next_action)));
    cli_jset(o, "summary", cli_json_summary(s));
    return o;
}

int cli_hook_run(cli_ctx *ctx, const char *hook, const cairn_summary *s,
                 const char *transition, int has_op, uint32_t seq,
                 const volatile sig_atomic_t *interrupts, char *detail,
                 size_t detail_len)
{
    cairn_hook_info info;
    const char *actor = cli_actor(ctx);
    json_t *ev = cli_hook_event(s, transition, actor, has_op, seq);
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (text == NULL) {
        cli_die_nomem();
    }
    memset(&info, 0, sizeof(info));
    info.transition = transition;
    info.actor = actor;
    info.has_op = has_op;
    info.seq = seq;
    info.event_json = text;
    info.interrupts = interrupts;
    cairn_err err =
        cairn_hook_run(ctx->journal, hook, s, &info, detail, detail_len);
    free(text);
    return err == CAIRN_OK ? 0 : -1;
}

void cli_hook_fire(cli_ctx *ctx, const char *run, int has_op, uint32_t seq)
{
    const char *hook = cli_hook(ctx);
    cairn_summary *s = NULL;
    char detail[1024];

    if (hook == NULL) {
        return;
    }
    cairn_err err = cairn_status(ctx->journal, run, &s);
    if (err != CAIRN_OK) {
        cli_warn("hook: not run: status %s: %s", run, cairn_strerror(err));
        return;
    }
    if (cli_hook_run(ctx, hook, s, ctx->cmd->name, has_op, seq, NULL, detail,
                     sizeof(detail)) != 0) {
        cli_warn("hook: %s", detail);
    }
    cairn_summary_free(s);
}
