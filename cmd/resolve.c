/*
 * resolve.c - cairn resolve RUN --op SEQ --outcome O --reason R: an operator
 * decision on an in-doubt operation (pending, and its claimer is gone).
 */
#include "cli.h"

int cmd_resolve(cli_ctx *ctx, int argc, char **argv)
{
    cli_receipt_args a;
    cairn_actor_info who = {NULL, NULL};
    cairn_err err;

    cli_receipt_parse(ctx, argc, argv,
                      CLI_RECEIPT_OUTPUT | CLI_RECEIPT_CLASS |
                          CLI_RECEIPT_OUTCOME | CLI_RECEIPT_NEEDS_REASON,
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
    cli_open_for_write(ctx);
    who.actor = cli_actor(ctx);
    who.reason = a.r.reason;
    err = cairn_resolve(ctx->journal, a.run, &a.r, &who);
    cli_kvs_free(&a.outputs);
    cli_kvs_free(&a.evidence);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, a.run);
    }
    return CLI_EXIT_OK;
}
