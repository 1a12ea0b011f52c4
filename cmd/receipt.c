/*
 * receipt.c - cairn complete / fail / skip: the outcome of a pending attempt,
 * and the option parsing they share with cairn resolve.
 */
#include "cli.h"

#include <string.h>

enum {
    OPT_OP = CLI_OPT_FIRST_LOCAL,
    OPT_ATTEMPT,
    OPT_ID,
    OPT_REASON,
    OPT_CLASS,
    OPT_OUTCOME,
    OPT_OUTPUT,
    OPT_EVIDENCE,
    OPT_FORCE
};

static void parse_class(const cli_ctx *ctx, const char *word,
                        cli_receipt_args *a)
{
    if (strcmp(word, "retryable") == 0) {
        a->r.error_class = CAIRN_CLASS_RETRYABLE;
    } else if (strcmp(word, "terminal") == 0) {
        a->r.error_class = CAIRN_CLASS_TERMINAL;
    } else {
        cli_usage_error(ctx, "--class: '%s' is not retryable or terminal",
                        word);
    }
    a->have_class = 1;
}

static void parse_outcome(const cli_ctx *ctx, const char *word,
                          cli_receipt_args *a)
{
    if (strcmp(word, "completed") == 0) {
        a->r.outcome = CAIRN_OUTCOME_COMPLETED;
    } else if (strcmp(word, "failed") == 0) {
        a->r.outcome = CAIRN_OUTCOME_FAILED;
    } else if (strcmp(word, "skipped") == 0) {
        a->r.outcome = CAIRN_OUTCOME_SKIPPED;
    } else {
        cli_usage_error(
            ctx, "--outcome: '%s' is not completed, failed or skipped", word);
    }
    a->have_outcome = 1;
}

/* Refuse an option the command does not take. */
static void allowed(const cli_ctx *ctx, unsigned allow, unsigned bit,
                    const char *opt)
{
    if ((allow & bit) == 0) {
        cli_usage_error(ctx, "%s does not apply to %s", opt, ctx->cmd->name);
    }
}

static void receipt_option(cli_ctx *ctx, int c, char *arg, unsigned allow,
                           cli_receipt_args *a)
{
    switch (c) {
    case OPT_OP:
        a->r.seq = cli_parse_u32(ctx, "--op", arg);
        a->have_op = 1;
        break;
    case OPT_ATTEMPT:
        a->r.attempt = cli_parse_u32(ctx, "--attempt", arg);
        if (a->r.attempt == 0) {
            cli_usage_error(ctx, "--attempt: attempts count from 1");
        }
        break;
    case OPT_ID:
        a->r.op_id = arg;
        break;
    case OPT_REASON:
        a->r.reason = arg;
        break;
    case OPT_CLASS:
        allowed(ctx, allow, CLI_RECEIPT_CLASS, "--class");
        parse_class(ctx, arg, a);
        break;
    case OPT_OUTCOME:
        allowed(ctx, allow, CLI_RECEIPT_OUTCOME, "--outcome");
        parse_outcome(ctx, arg, a);
        break;
    case OPT_OUTPUT:
        allowed(ctx, allow, CLI_RECEIPT_OUTPUT, "--output");
        cli_kvs_add(ctx, &a->outputs, "--output", arg);
        break;
    case OPT_FORCE:
        allowed(ctx, allow, CLI_RECEIPT_FORCE, "--force");
        a->force = 1;
        break;
    case OPT_EVIDENCE:
        cli_kvs_add(ctx, &a->evidence, "--evidence", arg);
        break;
    default:
        break;
    }
}

void cli_receipt_parse(cli_ctx *ctx, int argc, char **argv, unsigned allow,
                       cli_receipt_args *a)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        CLI_LONG_REMEMBER,
        CLI_LONG_HOOK,
        {"op", required_argument, NULL, OPT_OP},
        {"attempt", required_argument, NULL, OPT_ATTEMPT},
        {"id", required_argument, NULL, OPT_ID},
        {"reason", required_argument, NULL, OPT_REASON},
        {"class", required_argument, NULL, OPT_CLASS},
        {"outcome", required_argument, NULL, OPT_OUTCOME},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"evidence", required_argument, NULL, OPT_EVIDENCE},
        {"force", no_argument, NULL, OPT_FORCE},
        {0}};
    int c;

    memset(a, 0, sizeof(*a));
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (!cli_common_option(ctx, c, optarg, argv)) {
            receipt_option(ctx, c, optarg, allow, a);
        }
    }
    a->run = cli_one_arg(ctx, argc, argv, "RUN");
    if (!a->have_op) {
        cli_usage_error(ctx, "--op SEQ is required");
    }
    if ((allow & CLI_RECEIPT_NEEDS_REASON) != 0 &&
        (a->r.reason == NULL || a->r.reason[0] == '\0')) {
        cli_usage_error(ctx, "--reason TEXT is required");
    }
    a->r.outputs = a->outputs.v;
    a->r.n_outputs = a->outputs.n;
    a->r.evidence = a->evidence.v;
    a->r.n_evidence = a->evidence.n;
}

/* complete, fail and skip differ only in the outcome and the options. */
static int record(cli_ctx *ctx, int argc, char **argv, cairn_outcome outcome,
                  unsigned allow)
{
    cli_receipt_args a;
    cairn_actor_info who = {NULL, NULL};
    cairn_err err;

    cli_receipt_parse(ctx, argc, argv, allow, &a);
    a.r.outcome = outcome;
    if (outcome == CAIRN_OUTCOME_FAILED && !a.have_class) {
        a.r.error_class = CAIRN_CLASS_TERMINAL;
    }
    cli_open(ctx);
    who.actor = cli_actor(ctx);
    who.reason = a.r.reason;
    err = cairn_receipt_record(ctx->journal, a.run, &a.r, &who);
    cli_kvs_free(&a.outputs);
    cli_kvs_free(&a.evidence);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, a.run);
    }
    cli_hook_fire(ctx, a.run, 1, a.r.seq);
    return CLI_EXIT_OK;
}

int cmd_complete(cli_ctx *ctx, int argc, char **argv)
{
    return record(ctx, argc, argv, CAIRN_OUTCOME_COMPLETED, CLI_RECEIPT_OUTPUT);
}

int cmd_fail(cli_ctx *ctx, int argc, char **argv)
{
    return record(ctx, argc, argv, CAIRN_OUTCOME_FAILED,
                  CLI_RECEIPT_CLASS | CLI_RECEIPT_NEEDS_REASON);
}

int cmd_skip(cli_ctx *ctx, int argc, char **argv)
{
    return record(ctx, argc, argv, CAIRN_OUTCOME_SKIPPED,
                  CLI_RECEIPT_NEEDS_REASON);
}
