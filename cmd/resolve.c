/*
 * resolve.c - cairn resolve RUN --op SEQ --outcome O --reason R: an operator
 * decision on an in-doubt operation (pending, and its claimer is gone).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* The operation's command (tree) still runs: refuse (exit 5), or with
 * --force journal that the decision was forced.  *reason_out: the reason
 * to record (malloc'd when forced, else NULL). */
static void check_command(cli_ctx *ctx, cli_receipt_args *a, char **reason_out,
                          char **ev_out)
{
    int alive = 0;
    char what[1600] = "";
    cairn_err err = cairn_run_command_alive(ctx->journal, a->run, &alive, what,
                                            sizeof(what));
    *reason_out = NULL;
    *ev_out = NULL;
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, a->run);
    }
    if (!alive) {
        return;
    }
    if (!a->force) {
        cli_die(cairn_exit_code(CAIRN_ELOCKED),
                "resolve %s: the operation's command still runs (%s): wait "
                "for it to end, then `cairn resume`; --force records a "
                "decision anyway",
                a->run, what);
    }
    size_t n = strlen(what) + strlen(a->r.reason) + 64;
    char *reason = malloc(n);
    char *ev = malloc(strlen(what) + 32);
    if (reason == NULL || ev == NULL) {
        cli_die_nomem();
    }
    snprintf(reason, n, "forced while its command still ran: %s", a->r.reason);
    snprintf(ev, strlen(what) + 32, "forced_command_alive=%s", what);
    cli_kvs_add(ctx, &a->evidence, "--force", ev); /* keeps pointers */
    *ev_out = ev;
    a->r.evidence = a->evidence.v;
    a->r.n_evidence = a->evidence.n;
    a->r.reason = reason;
    *reason_out = reason;
}

int cmd_resolve(cli_ctx *ctx, int argc, char **argv)
{
    cli_receipt_args a;
    cairn_actor_info who = {NULL, NULL};
    cairn_err err;

    cli_receipt_parse(ctx, argc, argv,
                      CLI_RECEIPT_OUTPUT | CLI_RECEIPT_CLASS |
                          CLI_RECEIPT_OUTCOME | CLI_RECEIPT_NEEDS_REASON |
                          CLI_RECEIPT_FORCE,
                      &a);
    if (!a.have_outcome) {
        cli_usage_error(ctx, "--outcome completed|failed|skipped is required");
    }
    if (a.have_class && a.r.outcome != CAIRN_OUTCOME_FAILED) {
        cli_usage_error(ctx, "--class applies only to --outcome failed");
    }
    if (a.r.outcome == CAIRN_OUTCOME_FAILED && !a.have_class) {
        a.r.error_class = CAIRN_CLASS_TERMINAL;
    }
    cli_open(ctx);
    char *forced = NULL, *forced_ev = NULL;
    check_command(ctx, &a, &forced, &forced_ev);
    who.actor = cli_actor(ctx);
    who.reason = a.r.reason;
    err = cairn_resolve(ctx->journal, a.run, &a.r, &who);
    cli_kvs_free(&a.evidence);
    free(forced);
    free(forced_ev);
    cli_kvs_free(&a.outputs);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, a.run);
    }
    cli_hook_fire(ctx, a.run, 1, a.r.seq);
    return CLI_EXIT_OK;
}
