/*
 * watermark.c - cairn watermark PLAN_ID: where the previous runs of a plan
 * stopped (cairn_watermark_get()), for an incremental plan generator.
 */
#include "cli.h"

#include <string.h>

static void print_pos(const char *what, int64_t seq, const char *id)
{
    if (seq < 0) {
        printf("  %-16s none\n", what);
    } else {
        printf("  %-16s #%lld (%s)\n", what, (long long)seq, id);
    }
}

static void print_text(const char *plan_id, const cairn_watermark *w)
{
    char when[40];
    printf("plan:             %s\n", plan_id);
    if (!w->has_attempted) {
        printf("last attempted:   none (no run of this plan claimed an "
               "operation)\n");
    } else {
        cli_time(w->attempted_updated_ns, when, sizeof(when));
        printf("last attempted:   %s (%s, updated %s)\n", w->attempted_run_id,
               cairn_run_state_name(w->attempted_state), when);
        print_pos("contiguous done:", w->last_contiguous_seq,
                  w->last_contiguous_id);
        print_pos("last attempted:", w->last_attempted_seq,
                  w->last_attempted_id);
    }
    if (!w->has_completed) {
        printf("last completed:   none\n");
    } else {
        cli_time(w->completed_updated_ns, when, sizeof(when));
        printf("last completed:   %s (completed %s)\n", w->completed_run_id,
               when);
    }
}

static json_t *to_json(const char *plan_id, const cairn_watermark *w)
{
    json_t *o = json_object(), *a = json_null(), *c = json_null();
    if (o == NULL) {
        cli_die_nomem();
    }
    if (w->has_attempted) {
        a = json_object();
        if (a == NULL) {
            cli_die_nomem();
        }
        cli_jset(a, "run_id", cli_jstr(w->attempted_run_id));
        cli_jset(a, "state",
                 cli_jstr(cairn_run_state_name(w->attempted_state)));
        cli_jset(a, "last_contiguous_seq",
                 json_integer((json_int_t)w->last_contiguous_seq));
        cli_jset(a, "last_contiguous_id",
                 cli_jstr_or_null(w->last_contiguous_id));
        cli_jset(a, "last_attempted_seq",
                 json_integer((json_int_t)w->last_attempted_seq));
        cli_jset(a, "last_attempted_id",
                 cli_jstr_or_null(w->last_attempted_id));
        cli_jset(a, "updated", cli_jtime(w->attempted_updated_ns));
    }
    if (w->has_completed) {
        c = json_object();
        if (c == NULL) {
            cli_die_nomem();
        }
        cli_jset(c, "run_id", cli_jstr(w->completed_run_id));
        cli_jset(c, "updated", cli_jtime(w->completed_updated_ns));
    }
    cli_jset(o, "plan_id", cli_jstr(plan_id));
    cli_jset(o, "last_attempted", a);
    cli_jset(o, "last_completed", c);
    return o;
}

int cmd_watermark(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_LONG_COMMON, {0}};
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        (void)cli_common_option(ctx, c, optarg, argv);
    }
    if (optind >= argc) {
        cli_usage_error(ctx, "missing PLAN_ID");
    }
    if (optind + 1 < argc) {
        cli_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
    }
    const char *plan_id = argv[optind];
    cli_open(ctx);
    cairn_watermark w;
    cairn_err err = cairn_watermark_get(ctx->journal, plan_id, NULL, &w);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, NULL);
    }
    if (ctx->format == CLI_JSON) {
        cli_jprint(to_json(plan_id, &w));
    } else {
        print_text(plan_id, &w);
    }
    return CLI_EXIT_OK;
}
