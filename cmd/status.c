/*
 * status.c - cairn status RUN: the resume summary, and the --require-* gates.
 */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

enum { OPT_REQ_COMPLETE = CLI_OPT_FIRST_LOCAL, OPT_REQ_NO_ATTENTION };

/* Plans of at most this many operations (every plan before the limit was
 * raised) still get a "failed:" line for each failed operation; larger
 * ones for the next operation only (a brief summary names no other). */
#define STATUS_ALL_FAILED_MAX 4096u

/* Failed operations @p s holds. */
static uint32_t failed_held(const cairn_summary *s)
{
    uint32_t n = 0;

    for (size_t i = 0; i < s->n_ops; i++) {
        n += s->ops[i].state == CAIRN_OP_FAILED;
    }
    return n;
}

/* The summary status shows: brief (its cost does not grow with the
 * plan), or whole when a small plan has failed operations it lacks. */
static cairn_err load_summary(cli_ctx *ctx, const char *run, cairn_summary **s)
{
    cairn_err err = cairn_status_opts(ctx->journal, run, CAIRN_STATUS_BRIEF, s);
    if (err == CAIRN_OK && (*s)->ops_partial &&
        (*s)->total <= STATUS_ALL_FAILED_MAX &&
        failed_held(*s) < (*s)->counts[CAIRN_OP_FAILED]) {
        cairn_summary_free(*s);
        *s = NULL;
        err = cairn_status(ctx->journal, run, s);
    }
    return err;
}

/* Append to @p buf (a fixed buffer, silently cut when full). */
__attribute__((format(printf, 3, 4))) static void add(char *buf, size_t cap,
                                                      const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= cap) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(buf + used, cap - used, fmt, ap);
    va_end(ap);
}

static void warn_in_doubt(const cairn_summary *s)
{
    char text[4096] = "";
    size_t i;

    if (s->n_in_doubt == 0 || s->next_action == CAIRN_NEXT_WAIT_COMMAND) {
        return;
    }
    add(text, sizeof(text), "run %s has %zu operation%s in doubt:", s->run_id,
        s->n_in_doubt, s->n_in_doubt == 1 ? "" : "s");
    for (i = 0; i < s->n_in_doubt; i++) {
        const char *id = cli_op_id(s, s->in_doubt[i]);
        add(text, sizeof(text), " #%u (%s)", s->in_doubt[i],
            id != NULL ? id : "?");
    }
    add(text, sizeof(text), "; decide each with `cairn resolve`");
    cli_warn("%s", text);
}

static void why_not(const cairn_summary *s, const char *gate, int abandoned)
{
    char text[4096] = "", where[CAIRN_MAX_ID + 16];

    snprintf(where, sizeof(where), "status %s", s->run_id);
    add(text, sizeof(text), "%s: %s not met: state %s, next action %s", where,
        gate, cairn_run_state_name(s->state),
        cairn_next_action_name(s->next_action));
    if (s->n_in_doubt > 0) {
        add(text, sizeof(text), ", %zu in doubt", s->n_in_doubt);
    }
    if (abandoned) {
        add(text, sizeof(text), ", abandoned (a writer died working on it)");
    }
    if (s->restart_required) {
        size_t i;
        add(text, sizeof(text), ", restart required for");
        for (i = 0; i < s->n_restart_targets; i++) {
            add(text, sizeof(text), "%s %s", i > 0 ? "," : "",
                s->restart_targets[i]);
        }
    }
    cli_report(CLI_EXIT_GATE, "CLI_EGATE", where, NULL, "%s", text);
}

/* Apply the gates; returns 0 or CLI_EXIT_GATE.  An abandoned run (a
 * writer died working on it) needs attention whatever its state says. */
static int gates(const cairn_summary *s, const cairn_run_holder *h,
                 int complete, int no_attention)
{
    int abandoned = h->activity == CAIRN_ACTIVITY_ABANDONED;
    int rc = CLI_EXIT_OK;

    if (complete && !(s->state == CAIRN_RUN_COMPLETED && !s->restart_required &&
                      s->n_in_doubt == 0)) {
        why_not(s, "--require-complete", abandoned);
        rc = CLI_EXIT_GATE;
    }
    if (no_attention && (s->state == CAIRN_RUN_NEEDS_ATTENTION ||
                         s->state == CAIRN_RUN_FAILED || s->n_in_doubt > 0 ||
                         s->restart_required || abandoned)) {
        why_not(s, "--require-no-attention", abandoned);
        rc = CLI_EXIT_GATE;
    }
    return rc;
}

int cmd_status(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        {"require-complete", no_argument, NULL, OPT_REQ_COMPLETE},
        {"require-no-attention", no_argument, NULL, OPT_REQ_NO_ATTENTION},
        {0}};
    cairn_summary *s = NULL;
    int complete = 0, no_attention = 0;
    const char *run;
    cairn_err err;
    int c, rc;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_REQ_COMPLETE) {
            complete = 1;
        } else if (c == OPT_REQ_NO_ATTENTION) {
            no_attention = 1;
        }
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    cli_open(ctx);
    err = load_summary(ctx, run, &s);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    /* A command (tree) of the run still lives: never advise resolving. */
    int alive = 0;
    char what[1600] = "";
    if (cairn_run_command_alive(ctx->journal, run, &alive, what,
                                sizeof(what)) != CAIRN_OK) {
        alive = 0;
    }
    if (alive && s->next_action == CAIRN_NEXT_RESOLVE_IN_DOUBT) {
        s->next_action = CAIRN_NEXT_WAIT_COMMAND;
    }
    /* Who works on it: while a process holds the run, nothing is to be
     * resumed or resolved by hand. */
    cairn_run_holder h;
    err = cairn_run_activity(ctx->journal, s, &h);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    if (h.activity == CAIRN_ACTIVITY_ACTIVE &&
        s->next_action != CAIRN_NEXT_DONE) {
        s->next_action = CAIRN_NEXT_WAIT_RUNNER;
    }
    /* A pruned run: what was removed, when, by whom, where the bundle is
     * (its tombstone; status itself reads the stub alone). */
    cairn_tombstone *tomb = NULL;
    if (s->pruned &&
        (err = cairn_prune_tombstone(ctx->journal, run, &tomb)) != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    if (ctx->format == CLI_JSON) {
        json_t *o = cli_json_summary(s);
        cli_jset(o, "tombstone",
                 tomb != NULL ? cli_json_tombstone(tomb) : json_null());
        cli_jset(o, "command_running", json_boolean(alive));
        cli_jset(o, "command", alive ? cli_jstr(what) : json_null());
        cli_json_activity(o, &h);
        cli_jprint(o);
    } else {
        cli_why why;
        cli_text_summary(stdout, s);
        if (tomb != NULL) {
            cli_text_tombstone(stdout, tomb);
        }
        /* Why: the failed and in-doubt operations' last stderr lines. */
        if (cli_why_load(ctx->journal, s, -1, &why) == CAIRN_OK) {
            cli_why_text(stdout, s, &why, 1);
        }
        cli_why_free(&why);
        uint32_t unshown = s->counts[CAIRN_OP_FAILED] - failed_held(s);
        if (unshown > 0) {
            printf("failed:      %u more failed operation%s: `cairn show "
                   "%s` lists every operation\n",
                   unshown, unshown == 1 ? "" : "s", s->run_id);
        }
        cli_text_activity(stdout, s, &h);
        if (alive) {
            fputs("command:     still running: ", stdout);
            cli_put_escaped(stdout, what);
            fputc('\n', stdout);
        }
    }
    warn_in_doubt(s);
    rc = gates(s, &h, complete, no_attention);
    cairn_tombstone_free(tomb);
    cairn_summary_free(s);
    return rc;
}
