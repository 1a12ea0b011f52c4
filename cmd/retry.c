/*
 * retry.c - cairn retry RUN --op SEQ --reason TEXT: failed -> ready;
 * cairn retry --all-failed --plan P --reason TEXT: the same for the first
 * failed operation of every run of plan P, one transition per run.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

enum { OPT_OP = CLI_OPT_FIRST_LOCAL, OPT_REASON, OPT_ALL_FAILED, OPT_PLAN };

/* The first failed operation of a run that has not ended, or NULL. */
static const cairn_op_view *first_failed(const cairn_summary *s)
{
    size_t i;

    if (s->state == CAIRN_RUN_CANCELLED || s->state == CAIRN_RUN_TIMED_OUT) {
        return NULL;
    }
    for (i = 0; i < s->n_ops; i++) {
        if (s->ops[i].state == CAIRN_OP_FAILED) {
            return &s->ops[i];
        }
    }
    return NULL;
}

static void report(cli_ctx *ctx, json_t *arr, const char *run,
                   const cairn_op_view *op, cairn_err err)
{
    const char *detail =
        err == CAIRN_OK ? "" : cairn_journal_errdetail(ctx->journal);

    if (arr != NULL) {
        json_t *o = json_object();
        if (o == NULL) {
            cli_die_nomem();
        }
        cli_jset(o, "run_id", cli_jstr(run));
        cli_jset(o, "op", cli_ju64(op->seq));
        cli_jset(o, "id", cli_jstr(op->id));
        cli_jset(o, "retried", json_boolean(err == CAIRN_OK));
        cli_jset(o, "error",
                 err == CAIRN_OK ? json_null() : cli_jstr(cairn_strerror(err)));
        cli_jset(o, "detail", cli_jstr_or_null(detail));
        if (json_array_append_new(arr, o) != 0) {
            cli_die_nomem();
        }
    } else if (err == CAIRN_OK) {
        printf("retried %s op #%u (%s)\n", run, op->seq, op->id);
    }
    if (err != CAIRN_OK) {
        fflush(stdout);
        fprintf(stderr, "cairn: retry %s: op #%u (%s): %s%s%s\n", run, op->seq,
                op->id, cairn_strerror(err), detail[0] != '\0' ? ": " : "",
                detail);
    }
}

/* Retry one run of @p plan if it has a failed operation; returns the
 * exit code (0 when there was nothing to do). */
static int retry_run(cli_ctx *ctx, const char *run, const char *plan,
                     const cairn_actor_info *who, json_t *arr, size_t *n)
{
    cairn_summary *s = NULL;
    const cairn_op_view *op;
    cairn_err err = cairn_status(ctx->journal, run, &s);
    int rc = CLI_EXIT_OK;

    if (err != CAIRN_OK) {
        fprintf(stderr, "cairn: retry %s: %s: %s\n", run, cairn_strerror(err),
                cairn_journal_errdetail(ctx->journal));
        return cairn_exit_code(err);
    }
    if (strcmp(s->plan_id, plan) == 0 && (op = first_failed(s)) != NULL) {
        err = cairn_retry(ctx->journal, run, op->seq, who);
        report(ctx, arr, run, op, err);
        rc = err == CAIRN_OK ? CLI_EXIT_OK : cairn_exit_code(err);
        (*n)++;
    }
    cairn_summary_free(s);
    return rc;
}

static int retry_all(cli_ctx *ctx, const char *plan,
                     const cairn_actor_info *who)
{
    cli_run_ids ids;
    json_t *arr = NULL;
    size_t i, n = 0;
    int rc = CLI_EXIT_OK;

    cli_run_ids_get(ctx, &ids);
    if (ctx->format == CLI_JSON && (arr = json_array()) == NULL) {
        cli_die_nomem();
    }
    for (i = 0; i < ids.n; i++) {
        int one = retry_run(ctx, ids.v[i], plan, who, arr, &n);
        if (rc == CLI_EXIT_OK) {
            rc = one;
        }
    }
    cli_run_ids_free(&ids);
    if (arr != NULL) {
        cli_jprint(arr);
    } else if (n == 0) {
        printf("no run of plan %s has a failed operation\n", plan);
    }
    return rc;
}

int cmd_retry(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        CLI_LONG_REMEMBER,
        CLI_LONG_HOOK,
        {"op", required_argument, NULL, OPT_OP},
        {"reason", required_argument, NULL, OPT_REASON},
        {"all-failed", no_argument, NULL, OPT_ALL_FAILED},
        {"plan", required_argument, NULL, OPT_PLAN},
        {0}};
    cairn_actor_info who = {NULL, NULL};
    uint32_t op = 0;
    int have_op = 0, all_failed = 0;
    const char *run, *plan = NULL;
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
        } else if (c == OPT_ALL_FAILED) {
            all_failed = 1;
        } else if (c == OPT_PLAN) {
            plan = optarg;
        }
    }
    if (all_failed) {
        cli_no_args(ctx, argc, argv);
        if (have_op) {
            cli_usage_error(ctx, "--op: not with --all-failed");
        }
        if (plan == NULL || plan[0] == '\0') {
            cli_usage_error(ctx, "--all-failed needs --plan PLAN");
        }
    } else if (plan != NULL) {
        cli_usage_error(ctx, "--plan: only with --all-failed");
    }
    if (all_failed) {
        if (who.reason == NULL || who.reason[0] == '\0') {
            cli_usage_error(ctx, "--reason TEXT is required");
        }
        cli_open(ctx);
        who.actor = cli_actor(ctx);
        return retry_all(ctx, plan, &who);
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
