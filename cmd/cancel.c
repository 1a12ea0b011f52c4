/*
 * cancel.c - cairn cancel RUN [--reason R] [--timed-out]: end a run.
 */
#include "cli.h"

enum { OPT_REASON = CLI_OPT_FIRST_LOCAL, OPT_TIMED_OUT };

int cmd_cancel(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        {"reason", required_argument, NULL, OPT_REASON},
        {"timed-out", no_argument, NULL, OPT_TIMED_OUT},
        {0}};
    cairn_actor_info who = {NULL, NULL};
    int timed_out = 0;
    const char *run;
    cairn_err err;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_REASON) {
            who.reason = optarg;
        } else if (c == OPT_TIMED_OUT) {
            timed_out = 1;
        }
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    cli_open(ctx);
    who.actor = cli_actor(ctx);
    err = cairn_cancel(ctx->journal, run, timed_out, &who);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    return CLI_EXIT_OK;
}
