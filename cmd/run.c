/*
 * run.c - cairn run PLAN and cairn resume RUN: the thin runner.
 *
 * Progress goes to stderr (one line per operation, then the summary
 * block); with -o json / --json, one JSON object per event goes to stdout
 * instead, ending with {"event":"summary",...}.  `run` prints the run id
 * on stdout first in text mode, so that scripts can capture it.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

enum {
    OPT_MANUAL = CLI_OPT_FIRST_LOCAL,
    OPT_MAX_STEPS,
    OPT_SHUTDOWN,
    OPT_HEARTBEAT,
    OPT_QUIET,
    OPT_DRY_RUN,
    OPT_IF_NEEDED
};

/* Signals counted for the runner (CLI only). */
static volatile sig_atomic_t interrupts;

static void on_signal(int sig)
{
    (void)sig;
    if (interrupts < 1000) {
        interrupts++;
    }
}

/* SIGINT, SIGTERM and SIGHUP stop the run gracefully (a second one hard);
 * no SA_RESTART, so that blocking calls notice.  SIGPIPE is ignored: a
 * closed stdout must not kill the runner in the middle of a command. */
static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Orphans of a command's process group are reparented to us, so that
     * the runner can reap (and account for) them. */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

typedef struct run_cli {
    cli_ctx *ctx;
    int quiet;
    int heartbeat;  /* --heartbeat given: show heartbeat events */
    int open_line;  /* an op-start line waits for its end */
    int id_printed; /* the run id went to stdout */
    int is_run;
    const char *hook; /* --hook / $CAIRN_HOOK, or NULL */
    int if_needed;    /* resume --if-needed: a finished run is not an error */
    unsigned state_changes; /* state-change events seen */
    char stopped[1024];     /* reason of the runner's stopped event */
} run_cli;

/* ---- durations -------------------------------------------------------- */

/* A duration greater than zero (cairn_duration_parse()); 0 on success. */
static int parse_duration(const char *text, uint64_t *ns)
{
    return cairn_duration_parse(text, 0, ns, NULL, 0) == CAIRN_OK ? 0 : -1;
}

static void fmt_dur(uint64_t ns, char *out, size_t cap)
{
    unsigned long long ms = (unsigned long long)(ns / 1000000u);
    if (ms < 1000) {
        snprintf(out, cap, "%llums", ms);
    } else if (ms < 60000) {
        snprintf(out, cap, "%llu.%02llus", ms / 1000, ms % 1000 / 10);
    } else {
        snprintf(out, cap, "%llum%02llus", ms / 60000, ms % 60000 / 1000);
    }
}

/* ---- text events ------------------------------------------------------ */

static void close_line(run_cli *rc)
{
    if (rc->open_line) {
        fputc('\n', stderr);
        rc->open_line = 0;
    }
}

static void op_prefix(const cairn_run_event *ev)
{
    int width = ev->total >= 1000 ? (ev->total >= 10000 ? 5 : 4) : 3;
    /* The position from 1, so that the last one reads [N/N]. */
    fprintf(stderr, "[%*u/%u] %s (%s%s%s)", width, ev->seq + 1, ev->total,
            ev->op_id, cairn_kind_name(ev->kind), ev->target[0] ? " " : "",
            ev->target);
}

static void text_op_end(run_cli *rc, const cairn_run_event *ev)
{
    char took[32];
    if (!rc->open_line) {
        op_prefix(ev);
        fprintf(stderr, " attempt %u ... ", ev->attempt);
    }
    rc->open_line = 0;
    fmt_dur(ev->duration_ns, took, sizeof(took));
    if (ev->outcome == CAIRN_OUTCOME_COMPLETED) {
        fprintf(stderr, "completed %s\n", took);
        return;
    }
    fprintf(stderr, "%s (%s) %s: %s\n",
            cairn_op_state_name((cairn_op_state)ev->outcome),
            cairn_error_class_name(ev->error_class), took, ev->reason);
    /* Why: the last lines the command wrote to stderr. */
    (void)cli_text_tail(stderr, "        ", ev->stderr_tail);
}

static void text_dry_run(const cairn_run_event *ev)
{
    char t[32] = "none";
    printf("[%3u/%u] %s (%s%s%s):", ev->seq + 1, ev->total, ev->op_id,
           cairn_kind_name(ev->kind), ev->target[0] ? " " : "", ev->target);
    for (size_t i = 0; ev->argv != NULL && ev->argv[i] != NULL; i++) {
        putchar(' ');
        cli_put_escaped(stdout, ev->argv[i]);
    }
    if (ev->timeout_ns != 0) {
        fmt_dur(ev->timeout_ns, t, sizeof(t));
    }
    printf("; timeout %s%s%s\n", t, ev->reason[0] ? "; " : "", ev->reason);
}

static void text_event(run_cli *rc, const cairn_run_event *ev)
{
    char w[32];
    switch (ev->type) {
    case CAIRN_EVENT_OP_START:
        close_line(rc);
        op_prefix(ev);
        fprintf(stderr, "%s attempt %u ... ",
                ev->claim_kind == CAIRN_CLAIM_NORMAL
                    ? ""
                    : (ev->claim_kind == CAIRN_CLAIM_CONTAINMENT
                           ? " [containment]"
                           : " [cleanup]"),
                ev->attempt);
        rc->open_line = 1;
        break;
    case CAIRN_EVENT_OP_END:
        text_op_end(rc, ev);
        break;
    case CAIRN_EVENT_RETRY_WAIT:
        close_line(rc);
        fmt_dur(ev->wait_ns, w, sizeof(w));
        fprintf(stderr, "        retrying in %s (attempt %u)\n", w,
                ev->attempt);
        break;
    case CAIRN_EVENT_IN_DOUBT:
        close_line(rc);
        op_prefix(ev);
        fprintf(stderr, " IN DOUBT (attempt %u): %s%s%s\n", ev->attempt,
                ev->has_outcome ? "resolved " : "",
                ev->has_outcome
                    ? cairn_op_state_name((cairn_op_state)ev->outcome)
                    : "",
                ev->has_outcome ? "" : ev->reason);
        if (ev->has_outcome) {
            fprintf(stderr, "        %s\n", ev->reason);
        }
        break;
    case CAIRN_EVENT_PREFLIGHT_ACCEPTED:
        close_line(rc);
        fprintf(stderr, "preflight accepted (id %s)\n", ev->reason);
        break;
    case CAIRN_EVENT_CONTAINMENT:
    case CAIRN_EVENT_CLEANUP:
        close_line(rc);
        fprintf(stderr, "%s: %s (operation %u, %s)\n",
                cairn_run_event_name(ev->type), ev->reason, ev->seq, ev->op_id);
        break;
    case CAIRN_EVENT_HOOK_FAILED:
        close_line(rc);
        cli_warn("%s", ev->reason);
        break;
    case CAIRN_EVENT_DRY_RUN:
        text_dry_run(ev);
        break;
    case CAIRN_EVENT_HEARTBEAT:
        close_line(rc);
        op_prefix(ev);
        fmt_dur(ev->duration_ns, w, sizeof(w));
        fprintf(stderr, " %s%srunning for %s, ", ev->reason,
                ev->reason[0] ? " " : "", w);
        if (ev->has_output) {
            fmt_dur(ev->since_output_ns, w, sizeof(w));
            fprintf(stderr, "last output %s ago", w);
        } else {
            fputs("no output yet", stderr);
        }
        fprintf(stderr, " (stdout %llu B, stderr %llu B)\n",
                (unsigned long long)ev->out_bytes,
                (unsigned long long)ev->err_bytes);
        break;
    case CAIRN_EVENT_STATE_CHANGE:
    case CAIRN_EVENT_STOPPED:
        break;
    }
    fflush(stderr);
}

/* ---- JSON events ------------------------------------------------------ */

static json_t *jargv(char *const *argv)
{
    json_t *a = json_array();
    if (a == NULL) {
        cli_die_nomem();
    }
    for (size_t i = 0; argv != NULL && argv[i] != NULL; i++) {
        if (json_array_append_new(a, cli_jstr(argv[i])) != 0) {
            cli_die_nomem();
        }
    }
    return a;
}

static json_t *jms(uint64_t ns)
{
    return cli_ju64(ns / 1000000u);
}

static void json_op_fields(json_t *o, const cairn_run_event *ev)
{
    cli_jset(o, "seq", cli_ju64(ev->seq));
    cli_jset(o, "id", cli_jstr(ev->op_id));
    cli_jset(o, "kind", cli_jstr(cairn_kind_name(ev->kind)));
    cli_jset(o, "target", cli_jstr_or_null(ev->target));
    if (ev->attempt != 0) {
        cli_jset(o, "attempt", cli_ju64(ev->attempt));
    }
    cli_jset(o, "claim", cli_jstr(cairn_claim_kind_name(ev->claim_kind)));
}

static void json_end_fields(json_t *o, const cairn_run_event *ev)
{
    cli_jset(o, "outcome",
             cli_jstr(cairn_op_state_name((cairn_op_state)ev->outcome)));
    cli_jset(o, "class",
             ev->error_class == CAIRN_CLASS_NONE
                 ? json_null()
                 : cli_jstr(cairn_error_class_name(ev->error_class)));
    cli_jset(o, "reason", cli_jstr_or_null(ev->reason));
    if (ev->type != CAIRN_EVENT_OP_END) {
        return;
    }
    cli_jset(o, "exit_code",
             ev->exited ? json_integer(ev->exit_code) : json_null());
    cli_jset(o, "signal",
             ev->signaled ? json_integer(ev->term_signal) : json_null());
    cli_jset(o, "timed_out", json_boolean(ev->timed_out));
    cli_jset(o, "interrupted", json_boolean(ev->interrupted));
    cli_jset(o, "duration_ms", jms(ev->duration_ns));
    if (ev->outcome != CAIRN_OUTCOME_COMPLETED) {
        cli_jset(o, "stderr_tail", cli_jstr(ev->stderr_tail));
    }
}

static void json_event(const cairn_run_event *ev)
{
    json_t *o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cli_jset(o, "event", cli_jstr(cairn_run_event_name(ev->type)));
    cli_jset(o, "run_id", cli_jstr_or_null(ev->run_id));
    cli_jset(o, "elapsed_ms", jms(ev->elapsed_ns));
    if (ev->has_op) {
        json_op_fields(o, ev);
    }
    if (ev->type == CAIRN_EVENT_OP_START || ev->type == CAIRN_EVENT_DRY_RUN) {
        cli_jset(o, "argv", jargv(ev->argv));
        cli_jset(o, "timeout_ms",
                 ev->timeout_ns ? jms(ev->timeout_ns) : json_null());
        cli_jset(o, "max_attempts", cli_ju64(ev->max_attempts));
    }
    if (ev->has_outcome) {
        json_end_fields(o, ev);
    } else if (ev->type == CAIRN_EVENT_PREFLIGHT_ACCEPTED) {
        cli_jset(o, "preflight_id", cli_jstr(ev->reason));
    } else if (ev->reason[0] != '\0') {
        cli_jset(o, "reason", cli_jstr(ev->reason));
    }
    if (ev->type == CAIRN_EVENT_RETRY_WAIT) {
        cli_jset(o, "wait_ms", jms(ev->wait_ns));
    }
    if (ev->type == CAIRN_EVENT_HEARTBEAT) {
        cli_jset(o, "attempt", cli_ju64(ev->attempt));
        cli_jset(o, "running_ms", jms(ev->duration_ns));
        cli_jset(o, "stdout_bytes", cli_ju64(ev->out_bytes));
        cli_jset(o, "stderr_bytes", cli_ju64(ev->err_bytes));
        cli_jset(o, "since_output_ms",
                 ev->has_output ? jms(ev->since_output_ns) : json_null());
    }
    if (ev->type == CAIRN_EVENT_DRY_RUN) {
        cli_jset(o, "backoff_ms", ev->wait_ns ? jms(ev->wait_ns) : json_null());
    }
    if (ev->type == CAIRN_EVENT_STATE_CHANGE && ev->summary != NULL) {
        const cairn_summary *s = ev->summary;
        cli_jset(o, "state", cli_jstr(cairn_run_state_name(s->state)));
        cli_jset(o, "stopped_reason",
                 cli_jstr(cairn_stopped_reason_name(s->stopped_reason)));
        cli_jset(o, "next_action",
                 cli_jstr(cairn_next_action_name(s->next_action)));
        cli_jset(o, "summary", cli_json_summary(s));
    }
    cli_jprint(o);
    fflush(stdout);
}

static void show_event(run_cli *rc, const cairn_run_event *ev);

/* The hook of a run state change: as for every transition (cli_hook.c); its
 * failure is a hook-failed event, never an error of the run. */
static void run_hook(run_cli *rc, const cairn_run_event *ev)
{
    char detail[1024], reason[1100];
    cairn_run_event failed;
    if (rc->hook == NULL || ev->summary == NULL ||
        cli_hook_run(rc->ctx, rc->hook, ev->summary,
                     rc->is_run ? "run" : "resume", 0, 0, &interrupts, detail,
                     sizeof(detail)) == 0) {
        return;
    }
    snprintf(reason, sizeof(reason), "hook: %s", detail);
    memset(&failed, 0, sizeof(failed));
    failed.type = CAIRN_EVENT_HOOK_FAILED;
    failed.run_id = ev->run_id;
    failed.total = ev->total;
    failed.elapsed_ns = ev->elapsed_ns;
    failed.reason = reason;
    show_event(rc, &failed);
}

/* Does @p ev follow a write to the journal?  The "no signing key"
 * warning waits for the first one: a refused resume wrote nothing. */
static int writes(run_cli *rc, const cairn_run_event *ev)
{
    switch (ev->type) {
    case CAIRN_EVENT_OP_START:
    case CAIRN_EVENT_OP_END:
    case CAIRN_EVENT_IN_DOUBT:
    case CAIRN_EVENT_PREFLIGHT_ACCEPTED:
    case CAIRN_EVENT_CONTAINMENT:
    case CAIRN_EVENT_CLEANUP:
        return 1;
    case CAIRN_EVENT_STATE_CHANGE:
        /* The first one only reports the state the run was found in. */
        return rc->is_run || rc->state_changes++ > 0;
    case CAIRN_EVENT_RETRY_WAIT:
    case CAIRN_EVENT_HOOK_FAILED:
    case CAIRN_EVENT_DRY_RUN:
    case CAIRN_EVENT_HEARTBEAT:
    case CAIRN_EVENT_STOPPED:
        return 0;
    }
    return 0;
}

static void on_event(void *vctx, const cairn_run_event *ev)
{
    run_cli *rc = vctx;
    if (rc->is_run && !rc->id_printed && rc->ctx->format == CLI_TEXT &&
        ev->run_id[0] != '\0' && ev->type != CAIRN_EVENT_DRY_RUN) {
        printf("%s\n", ev->run_id);
        fflush(stdout);
        rc->id_printed = 1;
    }
    if (ev->type == CAIRN_EVENT_STOPPED) {
        snprintf(rc->stopped, sizeof(rc->stopped), "%s", ev->reason);
    }
    if (writes(rc, ev)) {
        cli_warn_unsigned(rc->ctx);
    }
    show_event(rc, ev);
    if (ev->type == CAIRN_EVENT_STATE_CHANGE) {
        run_hook(rc, ev);
    }
}

static void show_event(run_cli *rc, const cairn_run_event *ev)
{
    if (rc->quiet || (ev->type == CAIRN_EVENT_HEARTBEAT && !rc->heartbeat)) {
        return;
    }
    if (rc->ctx->format == CLI_JSON) {
        json_event(ev);
    } else {
        text_event(rc, ev);
    }
}

/* ---- the end ---------------------------------------------------------- */

static void print_summary(run_cli *rc, const cairn_summary *s, cairn_err result,
                          int code, const char *message)
{
    if (s == NULL) {
        return;
    }
    if (rc->ctx->format == CLI_JSON) {
        json_t *o = json_object();
        if (o == NULL) {
            cli_die_nomem();
        }
        cli_jset(o, "event", cli_jstr("summary"));
        json_t *fields = cli_json_summary(s);
        if (json_object_update(o, fields) != 0) {
            cli_die_nomem();
        }
        json_decref(fields);
        cli_jset(o, "result", cli_jstr(cairn_errname(result)));
        cli_jset(o, "exit_code", json_integer(code));
        cli_jset(o, "message", cli_jstr_or_null(message));
        cli_jprint(o);
    } else {
        close_line(rc);
        fputc('\n', stderr);
        cli_text_summary(stderr, s);
    }
}

/* The exit code of a resume of a run that had already ended
 * (CAIRN_EFINISHED): 7 when it still needs an operator (a target left
 * stopped, an operation in doubt), else 0 with --if-needed and 3
 * ("nothing to do": not a usage error) without. */
static int finished_code(const run_cli *rc, const cairn_summary *s)
{
    if (s != NULL && (s->restart_required || s->n_in_doubt > 0)) {
        return cairn_exit_code(CAIRN_EATTENTION);
    }
    return rc->if_needed ? CLI_EXIT_OK : CLI_EXIT_GATE;
}

static int last_line(const run_cli *rc, cairn_err err, const char *run_id,
                     int code, const char *message, const char *state);

/* Report the runner's result and return the exit code (or die). */
static int finish(run_cli *rc, cairn_err err, const char *run_id)
{
    cli_ctx *ctx = rc->ctx;
    cairn_summary *s = NULL;
    char message[1024] = "";
    int code = err == CAIRN_OK ? CLI_EXIT_OK : cairn_exit_code(err);
    if (err == CAIRN_OK) {
        snprintf(message, sizeof(message), "%s", rc->stopped);
    } else if (ctx->journal != NULL) {
        snprintf(message, sizeof(message), "%s",
                 cairn_journal_errdetail(ctx->journal));
    }
    close_line(rc);
    if (rc->is_run && !rc->id_printed && ctx->format == CLI_TEXT &&
        run_id[0] != '\0' && err != CAIRN_EEXIST) {
        printf("%s\n", run_id);
        rc->id_printed = 1;
    }
    if (rc->is_run && run_id[0] != '\0' && err != CAIRN_EEXIST) {
        cli_warn_unsigned(ctx); /* the run was created */
    }
    if (run_id[0] == '\0' || ctx->journal == NULL ||
        cairn_status_opts(ctx->journal, run_id, CAIRN_STATUS_BRIEF, &s) !=
            CAIRN_OK) {
        s = NULL;
    }
    if (err == CAIRN_EFINISHED && !rc->is_run) {
        code = finished_code(rc, s);
    }
    /* --if-needed with nothing to do: one line, no summary block. */
    if (!(err == CAIRN_EFINISHED && code == CLI_EXIT_OK &&
          ctx->format == CLI_TEXT)) {
        print_summary(rc, s, err, code, message);
    }
    const char *state = s != NULL ? cairn_run_state_name(s->state) : "ended";
    cairn_summary_free(s);
    return last_line(rc, err, run_id, code, message, state);
}

/* The last line: what happened (or die with it); returns the exit code.
 * @p state names the run's state (a static string). */
static int last_line(const run_cli *rc, cairn_err err, const char *run_id,
                     int code, const char *message, const char *state)
{
    const cli_ctx *ctx = rc->ctx;
    const char *what = "run failed";
    if (err == CAIRN_EFAILED &&
        strcmp(state, cairn_run_state_name(CAIRN_RUN_TIMED_OUT)) == 0) {
        what = "run timed out";
    }
    if (err == CAIRN_OK) {
        if (message[0] != '\0' && ctx->format == CLI_TEXT) {
            fprintf(stderr, "cairn: %s\n", message); /* max steps */
        }
        return CLI_EXIT_OK;
    }
    if (err == CAIRN_EFINISHED && code == CLI_EXIT_OK) {
        if (ctx->format == CLI_TEXT) {
            fprintf(stderr, "cairn: %s: nothing to do: the run is %s\n", run_id,
                    state);
        }
        return CLI_EXIT_OK;
    }
    if (err == CAIRN_EFINISHED && code != cairn_exit_code(err)) {
        cli_die_code(code, cairn_errname(err), run_id, "%s: %s: %s", run_id,
                     cairn_strerror(err), message);
    }
    if (err == CAIRN_EFAILED) {
        cli_die_code(code, cairn_errname(err), run_id, "%s: %s: %s", run_id,
                     what, message[0] ? message : cairn_strerror(err));
    }
    cli_die_err(err, run_id[0] ? run_id : ctx->cmd->name,
                message[0] ? message : NULL);
}

/* ---- options ---------------------------------------------------------- */

static void parse_opts(cli_ctx *ctx, int argc, char **argv, int is_run,
                       cairn_runner_opts *o, run_cli *rc)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        CLI_LONG_REMEMBER,
        {"manual-accept", no_argument, NULL, OPT_MANUAL},
        {"max-steps", required_argument, NULL, OPT_MAX_STEPS},
        {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN},
        {"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
        CLI_LONG_HOOK,
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"if-needed", no_argument, NULL, OPT_IF_NEEDED},
        {"group-readable", no_argument, NULL, CLI_OPT_GROUP_READABLE},
        {0}};
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON "q", longopts,
                            NULL)) != -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if ((c == OPT_MANUAL || c == OPT_DRY_RUN) && !is_run) {
            cli_usage_error(ctx, "%s is an option of `cairn run`",
                            c == OPT_MANUAL ? "--manual-accept" : "--dry-run");
        }
        if (c == OPT_IF_NEEDED && is_run) {
            cli_usage_error(ctx, "--if-needed is an option of `cairn resume`");
        }
        switch (c) {
        case OPT_MANUAL:
            o->manual_accept = 1;
            break;
        case OPT_MAX_STEPS:
            o->max_steps = cli_parse_u32(ctx, "--max-steps", optarg);
            if (o->max_steps == 0) {
                cli_usage_error(ctx, "--max-steps: must be at least 1");
            }
            break;
        case OPT_HEARTBEAT:
            if (parse_duration(optarg, &o->heartbeat_ns) != 0) {
                cli_usage_error(ctx,
                                "--heartbeat: '%s' is not a duration (30s, "
                                "1m, 500ms)",
                                optarg);
            }
            rc->heartbeat = 1;
            break;
        case OPT_SHUTDOWN:
            if (parse_duration(optarg, &o->shutdown_timeout_ns) != 0) {
                cli_usage_error(ctx,
                                "--shutdown-timeout: '%s' is not a "
                                "duration (30s, 1m, 500ms)",
                                optarg);
            }
            break;
        case 'q':
        case OPT_QUIET:
            rc->quiet = 1;
            break;
        case OPT_DRY_RUN:
            o->dry_run = 1;
            break;
        case OPT_IF_NEEDED:
            rc->if_needed = 1;
            break;
        default:
            cli_usage_error(ctx, "unexpected option");
        }
    }
}

static void setup(cli_ctx *ctx, run_cli *rc, cairn_runner_opts *o)
{
    rc->ctx = ctx;
    rc->hook = cli_hook(ctx);
    if (ctx->unsigned_warning == CLI_UNSIGNED_EXIT) {
        ctx->unsigned_warning = CLI_UNSIGNED_WRITE;
    }
    o->actor = cli_actor(ctx);
    o->interrupts = &interrupts;
    o->on_event = on_event;
    o->event_ctx = rc;
    o->pass_environ = environ;
    install_signals();
}

int cmd_run(cli_ctx *ctx, int argc, char **argv)
{
    cairn_runner_opts o;
    run_cli rc;
    cairn_plan *plan = NULL;
    char run_id[CAIRN_MAX_ID + 1] = "";
    char detail[1024] = "";
    memset(&o, 0, sizeof(o));
    memset(&rc, 0, sizeof(rc));
    rc.is_run = 1;
    parse_opts(ctx, argc, argv, 1, &o, &rc);
    const char *path = cli_one_arg(ctx, argc, argv, "PLAN");
    cairn_err err = cli_read_plan(path, &plan, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        cli_die_err(err, path, detail);
    }
    if (o.dry_run) {
        /* Write nothing: look into an existing journal only. */
        cairn_journal_opts jo;
        if (cli_journal_opts(&jo, CAIRN_OPEN_READONLY, NULL, 0) != 0 ||
            cairn_journal_open_opts(cli_journal_dir(ctx), &jo, &ctx->journal,
                                    NULL, 0) != CAIRN_OK) {
            ctx->journal = NULL;
        }
    } else {
        cli_open(ctx);
    }
    setup(ctx, &rc, &o);
    err = cairn_run_plan(ctx->journal, plan, &o, run_id, sizeof(run_id));
    cairn_plan_free(plan);
    return finish(&rc, err, run_id);
}

int cmd_resume(cli_ctx *ctx, int argc, char **argv)
{
    cairn_runner_opts o;
    run_cli rc;
    char run_id[CAIRN_MAX_ID + 1];
    memset(&o, 0, sizeof(o));
    memset(&rc, 0, sizeof(rc));
    parse_opts(ctx, argc, argv, 0, &o, &rc);
    const char *run = cli_one_arg(ctx, argc, argv, "RUN");
    if (strlen(run) > CAIRN_MAX_ID) {
        cli_usage_error(ctx, "run id longer than %d bytes", CAIRN_MAX_ID);
    }
    snprintf(run_id, sizeof(run_id), "%s", run);
    cli_open(ctx);
    setup(ctx, &rc, &o);
    cairn_err err = cairn_run_resume(ctx->journal, run_id, &o);
    if (err == CAIRN_EKEYMISMATCH) {
        cli_die_run(ctx, err, run_id);
    }
    return finish(&rc, err, run_id);
}
