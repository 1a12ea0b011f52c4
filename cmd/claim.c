/*
 * claim.c - cairn claim RUN: mark an operation pending before its effect.
 */
#include "cli.h"

#include <unistd.h>

enum { OPT_OP = CLI_OPT_FIRST_LOCAL, OPT_HOLDER, OPT_CONTAINMENT, OPT_CLEANUP };

static void print_claim(const cli_ctx *ctx, const cairn_claim_result *r)
{
    json_t *o;

    if (ctx->format != CLI_JSON) {
        printf("%u\n", r->seq);
        return;
    }
    o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cli_jset(o, "seq", cli_ju64(r->seq));
    cli_jset(o, "id", cli_jstr(r->id));
    cli_jset(o, "attempt", cli_ju64(r->attempt));
    cli_jprint(o);
}

int cmd_claim(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        CLI_LONG_REMEMBER,
        CLI_LONG_HOOK,
        {"op", required_argument, NULL, OPT_OP},
        {"holder-pid", required_argument, NULL, OPT_HOLDER},
        {"containment", no_argument, NULL, OPT_CONTAINMENT},
        {"cleanup", no_argument, NULL, OPT_CLEANUP},
        {0}};
    cairn_actor_info who = {NULL, NULL};
    cairn_claim_kind kind = CAIRN_CLAIM_NORMAL;
    cairn_holder holder = {0, 0};
    cairn_claim_result result;
    int64_t op = -1;
    const char *run;
    cairn_err err;
    int c, kinds = 0;

    /* The process doing the work is, by default, the one that ran us. */
    holder.pid = (uint32_t)getppid();
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        switch (c) {
        case OPT_OP:
            op = cli_parse_u32(ctx, "--op", optarg);
            break;
        case OPT_HOLDER:
            holder.pid = cli_parse_u32(ctx, "--holder-pid", optarg);
            if (holder.pid == 0) {
                cli_usage_error(ctx, "--holder-pid: 0 is not a process");
            }
            break;
        case OPT_CONTAINMENT:
            kind = CAIRN_CLAIM_CONTAINMENT;
            kinds++;
            break;
        case OPT_CLEANUP:
            kind = CAIRN_CLAIM_CLEANUP;
            kinds++;
            break;
        default:
            break;
        }
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    if (kinds > 1) {
        cli_usage_error(ctx, "--containment and --cleanup exclude each "
                             "other");
    }
    cli_open(ctx);
    who.actor = cli_actor(ctx);
    err = cairn_claim(ctx->journal, run, op, kind, &holder, &who, &result);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    print_claim(ctx, &result);
    cli_hook_fire(ctx, run, 1, result.seq);
    return CLI_EXIT_OK;
}
