/*
 * retry.c - cairn retry RUN --op SEQ --reason TEXT: failed -> ready.
 */
#include "cli.h"

enum { OPT_OP = CLI_OPT_FIRST_LOCAL, OPT_REASON };

int cmd_retry(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        CLI_LONG_HOOK,
        {"op", required_argument, NULL, OPT_OP},
        {"reason", required_argument, NULL, OPT_REASON},
        {0}};
    cairn_actor_info who = {NULL, NULL};
    uint32_t op = 0;
    int have_op = 0;
    const char *run;
    cairn_err err;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_OP) {
            op = cli_parse_u32(ctx, "--op", optarg);
            have_op = 1;
        } else if (c == OPT_REASON) {
            who.reason = optarg;
        }
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    if (!have_op) {
        cli_usage_error(ctx, "--op SEQ is required");
    }
    if (who.reason == NULL || who.reason[0] == '\0') {
        cli_usage_error(ctx, "--reason TEXT is required");
    }
    cli_open(ctx);
    who.actor = cli_actor(ctx);
    err = cairn_retry(ctx->journal, run, op, &who);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    cli_hook_fire(ctx, run, 1, op);
    return CLI_EXIT_OK;
}
