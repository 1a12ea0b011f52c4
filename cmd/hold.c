/*
 * hold.c - cairn hold RUN --reason TEXT [--until TIME|DUR] and cairn
 * release RUN --reason TEXT: keep a run from retention, or lift that
 * (HOLD and RELEASE records, signed like every transition).
 */
#include "cli.h"

enum { OPT_REASON = CLI_OPT_FIRST_LOCAL, OPT_UNTIL };

/* Both commands: parse, open, call, report. */
static int hold_or_release(cli_ctx *ctx, int argc, char **argv, int hold)
{
    static const struct option hold_opts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        CLI_LONG_HOOK,
        {"reason", required_argument, NULL, OPT_REASON},
        {"until", required_argument, NULL, OPT_UNTIL},
        {0}};
    static const struct option release_opts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        CLI_LONG_HOOK,
        {"reason", required_argument, NULL, OPT_REASON},
        {0}};
    cairn_actor_info who = {NULL, NULL};
    uint64_t until_ns = 0;
    const char *run;
    cairn_err err;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON,
                            hold ? hold_opts : release_opts, NULL)) != -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_REASON) {
            who.reason = optarg;
        } else if (c == OPT_UNTIL) {
            if (cli_parse_until(optarg, cli_now_ns(), &until_ns) != 0 ||
                until_ns <= cli_now_ns()) {
                cli_usage_error(ctx,
                                "--until: '%s' is not a future time (RFC "
                                "3339 UTC, or a duration from now: 30d, 12h)",
                                optarg);
            }
        } else {
            cli_usage_error(ctx, "unexpected option");
        }
    }
    if (who.reason == NULL || who.reason[0] == '\0') {
        cli_usage_error(ctx, "--reason TEXT is required");
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    cli_open(ctx);
    who.actor = cli_actor(ctx);
    err = hold ? cairn_hold(ctx->journal, run, until_ns, &who)
               : cairn_release(ctx->journal, run, &who);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    cli_hook_fire(ctx, run, 0, 0);
    return CLI_EXIT_OK;
}

int cmd_hold(cli_ctx *ctx, int argc, char **argv)
{
    return hold_or_release(ctx, argc, argv, 1);
}

int cmd_release(cli_ctx *ctx, int argc, char **argv)
{
    return hold_or_release(ctx, argc, argv, 0);
}
