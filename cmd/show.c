/*
 * show.c - cairn show RUN [--op SEQ]: a run and its operations, or one
 * operation with every record about it.
 */
#include "cli.h"

enum { OPT_OP = CLI_OPT_FIRST_LOCAL };

typedef struct op_records {
    const cli_ctx *ctx;
    const cairn_summary *s;
    uint32_t op;
    json_t *arr; /* JSON mode */
} op_records;

static int about_op(const cairn_record_view *r, uint32_t op)
{
    switch (r->type) {
    case CAIRN_REC_CLAIM:
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RETRY:
    case CAIRN_REC_RESOLVE:
        return r->op == op;
    case CAIRN_REC_CREATE:
    case CAIRN_REC_ACCEPT:
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
    case CAIRN_REC_PRUNE:
    case CAIRN_REC_HOLD:
    case CAIRN_REC_RELEASE:
    case CAIRN_REC_ROTATE:
        return 0;
    }
    return 0;
}

static int each_record(void *arg, const cairn_record_view *r)
{
    op_records *o = arg;

    if (!about_op(r, o->op)) {
        return 0;
    }
    if (o->arr != NULL) {
        if (json_array_append_new(o->arr, cli_json_record(r, o->s)) != 0) {
            cli_die_nomem();
        }
    } else {
        cli_text_record(stdout, r, o->s);
    }
    return 0;
}

/* The text form ends with the last stderr lines of the latest attempt
 * that journaled any. */
static void show_why(cli_ctx *ctx, const cairn_summary *s, uint32_t op)
{
    cli_why why;

    if (cli_why_load(ctx->journal, s, op, &why) == CAIRN_OK &&
        why.ops[op].tail != NULL) {
        printf("\nstderr of attempt %u (last lines):\n",
               why.ops[op].tail_attempt);
        (void)cli_text_tail(stdout, "  ", why.ops[op].tail);
    }
    cli_why_free(&why);
}

static void show_op(cli_ctx *ctx, const cairn_summary *s, uint32_t op)
{
    op_records o = {ctx, s, op, NULL};
    json_t *doc = NULL;
    cairn_err err;

    if (op >= s->n_ops) {
        cli_die(cairn_exit_code(CAIRN_ENOOP),
                "show %s: %s: --op %u (the "
                "run has %zu operations)",
                s->run_id, cairn_strerror(CAIRN_ENOOP), op, s->n_ops);
    }
    if (ctx->format == CLI_JSON) {
        doc = json_object();
        o.arr = json_array();
        if (doc == NULL || o.arr == NULL) {
            cli_die_nomem();
        }
        cli_jset(doc, "run", cli_json_summary(s));
        cli_jset(doc, "op", cli_json_op(&s->ops[op]));
    } else {
        cli_text_summary(stdout, s);
        fputc('\n', stdout);
        cairn_summary tmp = *s;
        tmp.ops = &s->ops[op];
        tmp.n_ops = 1;
        cli_text_ops(stdout, &tmp);
        printf("\nrecords about #%u %s:\n", op, s->ops[op].id);
    }
    err = cairn_record_each(ctx->journal, s->run_id, 0, each_record, &o);
    if (err != CAIRN_OK) {
        json_decref(o.arr);
        json_decref(doc);
        cli_die_run(ctx, err, s->run_id);
    }
    if (doc != NULL) {
        cli_jset(doc, "records", o.arr);
        cli_jprint(doc);
        return;
    }
    show_why(ctx, s, op);
}

static void show_run(const cli_ctx *ctx, const cairn_summary *s)
{
    json_t *doc, *ops;
    size_t i;

    if (ctx->format != CLI_JSON) {
        cli_text_summary(stdout, s);
        fputc('\n', stdout);
        cli_text_ops(stdout, s);
        return;
    }
    doc = json_object();
    ops = json_array();
    if (doc == NULL || ops == NULL) {
        cli_die_nomem();
    }
    cli_jset(doc, "run", cli_json_summary(s));
    for (i = 0; i < s->n_ops; i++) {
        if (json_array_append_new(ops, cli_json_op(&s->ops[i])) != 0) {
            cli_die_nomem();
        }
    }
    cli_jset(doc, "ops", ops);
    cli_jprint(doc);
}

int cmd_show(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON, {"op", required_argument, NULL, OPT_OP}, {0}};
    cairn_summary *s = NULL;
    int64_t op = -1;
    const char *run;
    cairn_err err;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (!cli_common_option(ctx, c, optarg, argv) && c == OPT_OP) {
            op = cli_parse_u32(ctx, "--op", optarg);
        }
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    cli_open(ctx);
    err = cairn_status(ctx->journal, run, &s);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    if (op >= 0) {
        show_op(ctx, s, (uint32_t)op);
    } else {
        show_run(ctx, s);
    }
    cairn_summary_free(s);
    return CLI_EXIT_OK;
}
