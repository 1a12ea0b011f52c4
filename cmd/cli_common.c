/*
 * cli_common.c - error reporting, exit, option parsing helpers and the actor.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The invocation whose resources cli_exit() releases (CLI only: the
 * library has no mutable file-scope state). */
static cli_ctx *exit_ctx;

void cli_init(cli_ctx *ctx)
{
    exit_ctx = ctx;
}

void cli_exit(int code)
{
    if (exit_ctx != NULL && code == CLI_EXIT_OK &&
        exit_ctx->unsigned_warning == CLI_UNSIGNED_EXIT) {
        cli_warn_unsigned(exit_ctx);
    }
    /* A writer may have committed before it failed (a run that stopped
     * on a failed operation): remember forward; not after a refusal for
     * tampering, whose message says it all. */
    if (exit_ctx != NULL && exit_ctx->remember_armed &&
        exit_ctx->journal != NULL &&
        (code == CLI_EXIT_OK || ((exit_ctx->cmd->flags & CLI_WRITES) != 0 &&
                                 code != cairn_exit_code(CAIRN_ETAMPERED)))) {
        exit_ctx->remember_armed = 0;
        cli_remember_now(exit_ctx, NULL);
    }
    if (exit_ctx != NULL) {
        cairn_journal_close(exit_ctx->journal);
        exit_ctx->journal = NULL;
        cairn_signer_free(exit_ctx->signer);
        exit_ctx->signer = NULL;
        free(exit_ctx->journal_dir);
        exit_ctx->journal_dir = NULL;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "cairn: stdout: %s\n", strerror(errno));
        if (code == 0) {
            code = CLI_EXIT_ERROR;
        }
    }
    exit(code);
}

/* One message line on stderr.  Messages carry text from files, the
 * journal and other processes (lock holders, paths, details): every
 * control byte is written as \xNN so none reaches the terminal. */
static void put_text(const char *prefix, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;

    fflush(stdout);
    fputs(prefix, stderr);
    for (; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            fprintf(stderr, "\\x%02x", *p);
        } else {
            fputc(*p, stderr);
        }
    }
    fputc('\n', stderr);
}

/* With -o json, one JSON object per line on stderr instead. */
static int json_errors(void)
{
    return exit_ctx != NULL && exit_ctx->format == CLI_JSON;
}

static void put_json(json_t *o)
{
    char *text =
        json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    fflush(stdout);
    if (text == NULL) {
        fputs("{\"error\":{\"code\":\"CAIRN_ENOMEM\",\"exit\":1,"
              "\"message\":\"out of memory\",\"where\":null}}\n",
              stderr);
        return;
    }
    fputs(text, stderr);
    fputc('\n', stderr);
    free(text);
}

const char *cli_code_name(int code)
{
    switch (code) {
    case CLI_EXIT_USAGE:
        return "CLI_EUSAGE";
    case CLI_EXIT_GATE:
        return "CLI_EGATE";
    case CLI_EXIT_INTR:
        return "CAIRN_EINTR";
    default:
        return "CLI_EERROR";
    }
}

void cli_report(int exit_code, const char *code, const char *where,
                const char *hint, const char *fmt, ...)
{
    char text[8192];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (!json_errors()) {
        put_text("cairn: ", text);
        if (hint != NULL && hint[0] != '\0') {
            put_text("cairn: ", hint);
        }
        return;
    }
    json_t *e = json_object(), *o = json_object();
    if (e == NULL || o == NULL ||
        json_object_set_new(e, "code", cli_jstr(code)) != 0 ||
        json_object_set_new(e, "exit", json_integer(exit_code)) != 0 ||
        json_object_set_new(e, "message", cli_jstr(text)) != 0 ||
        json_object_set_new(e, "where", cli_jstr(where)) != 0 ||
        (hint != NULL && hint[0] != '\0' &&
         json_object_set_new(e, "hint", cli_jstr(hint)) != 0)) {
        json_decref(e);
        json_decref(o);
        put_json(NULL);
        return;
    }
    json_object_set_new(o, "error", e);
    put_json(o);
}

void cli_die(int code, const char *fmt, ...)
{
    char text[8192];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cli_report(code, cli_code_name(code), NULL, NULL, "%s", text);
    cli_exit(code);
}

void cli_die_code(int exit_code, const char *code, const char *where,
                  const char *fmt, ...)
{
    char text[8192];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cli_report(exit_code, code, where, NULL, "%s", text);
    cli_exit(exit_code);
}

void cli_warn(const char *fmt, ...)
{
    char text[8192];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (!json_errors()) {
        put_text("cairn: warning: ", text);
        return;
    }
    json_t *w = json_object(), *o = json_object();
    if (w == NULL || o == NULL ||
        json_object_set_new(w, "message", cli_jstr(text)) != 0 ||
        json_object_set_new(o, "warning", w) != 0) {
        json_decref(w);
        json_decref(o);
        return;
    }
    put_json(o);
}

void cli_die_nomem(void)
{
    cli_die_code(CLI_EXIT_ERROR, "CAIRN_ENOMEM", NULL, "out of memory");
}

/* "<what>: <strerror(err)>[: <detail>]" with @p hint, then exit. */
__attribute__((noreturn)) static void die_err_hint(cairn_err err,
                                                   const char *what,
                                                   const char *detail,
                                                   const char *hint)
{
    size_t n = strlen(what);
    int code = cairn_exit_code(err);

    /* Do not repeat "what: " when the detail starts with it. */
    if (detail != NULL && strncmp(detail, what, n) == 0 && detail[n] == ':' &&
        detail[n + 1] == ' ') {
        detail += n + 2;
    }
    if (detail != NULL && detail[0] != '\0') {
        cli_report(code, cairn_errname(err), what, hint, "%s: %s: %s", what,
                   cairn_strerror(err), detail);
    } else {
        cli_report(code, cairn_errname(err), what, hint, "%s: %s", what,
                   cairn_strerror(err));
    }
    cli_exit(code);
}

void cli_die_err(cairn_err err, const char *what, const char *detail)
{
    die_err_hint(err, what, detail, NULL);
}

/* Explain which key a run is bound to after CAIRN_EKEYMISMATCH. */
static void key_hint(cli_ctx *ctx, const char *run, char *out, size_t cap)
{
    cairn_summary *s = NULL;
    char ours[17] = "";
    char theirs[17];

    out[0] = '\0';
    if (run == NULL || ctx->journal == NULL ||
        cairn_status_opts(ctx->journal, run, CAIRN_STATUS_BRIEF, &s) !=
            CAIRN_OK) {
        return;
    }
    if (ctx->signer != NULL) {
        uint8_t id[CAIRN_KEY_ID_BYTES];
        cairn_signer_key_id(ctx->signer, id);
        cli_key_id_hex(id, ours);
    }
    cli_key_id_hex(s->key_id, theirs);
    if (!s->signed_run) {
        snprintf(out, cap,
                 "run %s was created unsigned and stays unsigned: "
                 "write to it without --secret-key and CAIRN_SECRET_KEY",
                 run);
    } else if (ctx->signer == NULL) {
        snprintf(out, cap,
                 "run %s is bound to key id %s: pass its secret key "
                 "with --secret-key or CAIRN_SECRET_KEY",
                 run, theirs);
    } else if (strcmp(ours, theirs) != 0) {
        snprintf(out, cap,
                 "run %s is bound to key id %s, but the key given "
                 "has key id %s",
                 run, theirs, ours);
    } /* else: the run's own key, retired by a key rotation: the detail
         names the rotation */
    cairn_summary_free(s);
}

void cli_die_run(cli_ctx *ctx, cairn_err err, const char *run)
{
    char what[CAIRN_MAX_ID + 64];
    char detail[1024] = "";

    if (ctx->journal != NULL) {
        snprintf(detail, sizeof(detail), "%s",
                 cairn_journal_errdetail(ctx->journal));
    }
    if (run != NULL) {
        snprintf(what, sizeof(what), "%s %s", ctx->cmd->name, run);
    } else {
        snprintf(what, sizeof(what), "%s", ctx->cmd->name);
    }
    if (err == CAIRN_EKEYMISMATCH) {
        char hint[CAIRN_MAX_ID + 200];
        key_hint(ctx, run, hint, sizeof(hint));
        die_err_hint(err, what, detail, hint);
    }
    cli_die_err(err, what, detail);
}

/* Commands that make transitions, and so run the hook (cli_hook.c). */
static int makes_transitions(const cli_command *cmd)
{
    static const char *const names[] = {
        "create", "accept-preflight", "claim", "complete", "fail", "skip",
        "retry",  "resolve",          "cancel"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(cmd->name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

void cli_print_usage(const cli_command *cmd, FILE *out)
{
    fputs(cmd->usage, out);
    if (makes_transitions(cmd)) {
        fputs("\n--hook CMD: run `sh -c CMD` after the transition (default:\n"
              "$CAIRN_HOOK; '' none), with CAIRN_RUN_STATE, "
              "CAIRN_TRANSITION,\nCAIRN_EVENT_JSON ... set.  See cairn(1) "
              "HOOKS.\n",
              out);
    }
    if ((cmd->flags & CLI_REMEMBERS) != 0 || strcmp(cmd->name, "verify") == 0) {
        fputs("\n--checkpoints DIR: the remembered checkpoints (default:\n"
              "$CAIRN_CHECKPOINTS, else $XDG_STATE_HOME/cairn-checkpoints);\n"
              "a journal rolled back, forked or replaced since is refused\n"
              "(exit 4).  --no-remember: neither check nor remember.\n",
              out);
    }
    fputs("\nCommon options: -J/--journal DIR, -o/--format text|json, --json,"
          "\n--strict, -h/--help.  See cairn(1).\n",
          out);
}

void cli_usage_error(const cli_ctx *ctx, const char *fmt, ...)
{
    char text[8192];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cli_report(CLI_EXIT_USAGE, "CLI_EUSAGE", ctx->cmd->name, NULL, "%s: %s",
               ctx->cmd->name, text);
    if (ctx->format != CLI_JSON) {
        cli_print_usage(ctx->cmd, stderr);
    }
    cli_exit(CLI_EXIT_USAGE);
}

void cli_getopt_reset(void)
{
    optind = 0; /* GNU: full re-initialisation */
    opterr = 0; /* we report errors ourselves */
}

int cli_set_format(cli_ctx *ctx, const char *word)
{
    if (strcmp(word, "text") == 0) {
        ctx->format = CLI_TEXT;
    } else if (strcmp(word, "json") == 0) {
        ctx->format = CLI_JSON;
    } else {
        return -1;
    }
    return 0;
}

/* The word getopt stopped at, for error messages. */
static const char *bad_option(char **argv)
{
    if (optind > 0 && argv[optind - 1] != NULL) {
        return argv[optind - 1];
    }
    return "?";
}

int cli_common_option(cli_ctx *ctx, int c, const char *arg, char **argv)
{
    switch (c) {
    case 'h':
        cli_print_usage(ctx->cmd, stdout);
        cli_exit(CLI_EXIT_OK);
    case 'J':
        ctx->journal_opt = arg;
        return 1;
    case 'o':
        if (cli_set_format(ctx, arg) != 0) {
            cli_usage_error(ctx, "unknown output format '%s' (text, json)",
                            arg);
        }
        return 1;
    case CLI_OPT_JSON:
        ctx->format = CLI_JSON;
        return 1;
    case CLI_OPT_SECRET_KEY:
        ctx->secret_key = arg;
        return 1;
    case CLI_OPT_ACTOR:
        ctx->actor = arg;
        return 1;
    case CLI_OPT_CHECKPOINTS:
        if (arg[0] == '\0') {
            cli_usage_error(ctx, "--checkpoints: empty directory name");
        }
        ctx->checkpoints_opt = arg;
        return 1;
    case CLI_OPT_NO_REMEMBER:
        ctx->no_remember = 1;
        return 1;
    case CLI_OPT_STRICT:
        ctx->strict = 1;
        return 1;
    case CLI_OPT_GROUP_READABLE:
        ctx->group_readable = 1;
        return 1;
    case CLI_OPT_HOOK:
        ctx->hook = arg;
        ctx->hook_set = 1;
        return 1;
    case CLI_OPT_PASSWORD_FILE:
        ctx->password_file = arg;
        return 1;
    case CLI_OPT_PASSWORD_FD:
        ctx->password_fd = (int)cli_parse_u32(ctx, "--password-fd", arg);
        if (ctx->password_fd > 1024 * 1024) {
            cli_usage_error(ctx, "--password-fd: '%s' is not a descriptor",
                            arg);
        }
        return 1;
    case ':':
        cli_usage_error(ctx, "option '%s' needs an argument", bad_option(argv));
    case '?':
        if (optopt > 0 && optopt < 0x80 && optopt != '?') {
            cli_usage_error(ctx, "unknown option '-%c'", optopt);
        }
        cli_usage_error(ctx, "unknown or malformed option '%s'",
                        bad_option(argv));
    default:
        return 0;
    }
}

const char *cli_one_arg(cli_ctx *ctx, int argc, char **argv, const char *what)
{
    if (optind >= argc) {
        cli_usage_error(ctx, "missing %s", what);
    }
    if (optind + 1 < argc) {
        cli_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
    }
    if (argv[optind][0] == '\0') {
        cli_usage_error(ctx, "empty %s", what);
    }
    if (strcmp(what, "RUN") == 0 && strlen(argv[optind]) <= CAIRN_MAX_ID) {
        snprintf(ctx->run, sizeof(ctx->run), "%s", argv[optind]);
        ctx->run_pending = 1;
        return ctx->run;
    }
    return argv[optind];
}

void cli_no_args(const cli_ctx *ctx, int argc, char **argv)
{
    if (optind < argc) {
        cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
    }
}

uint32_t cli_parse_u32(const cli_ctx *ctx, const char *opt, const char *text)
{
    char *end = NULL;
    unsigned long long v;

    if (text[0] < '0' || text[0] > '9') {
        cli_usage_error(ctx, "%s: '%s' is not a non-negative integer", opt,
                        text);
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT32_MAX) {
        cli_usage_error(ctx, "%s: '%s' is not an integer in 0..%u", opt, text,
                        (unsigned)UINT32_MAX);
    }
    return (uint32_t)v;
}

const char *cli_actor(const cli_ctx *ctx)
{
    const char *env;
    const struct passwd *pw;

    if (ctx->actor != NULL) {
        return ctx->actor[0] != '\0' ? ctx->actor : NULL;
    }
    env = getenv("CAIRN_ACTOR");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    env = getenv("USER");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    pw = getpwuid(getuid());
    if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0') {
        return pw->pw_name;
    }
    return NULL;
}

void cli_kvs_add(const cli_ctx *ctx, cli_kvs *list, const char *opt, char *text)
{
    char *eq = strchr(text, '=');

    if (eq == NULL) {
        cli_usage_error(ctx, "%s: '%s' is not key=value", opt, text);
    }
    if (eq == text) {
        cli_usage_error(ctx, "%s: '%s' has an empty key", opt, text);
    }
    if (list->n >= CAIRN_MAX_KV) {
        cli_usage_error(ctx, "%s: at most %u pairs", opt,
                        (unsigned)CAIRN_MAX_KV);
    }
    if (list->n == list->cap) {
        size_t cap = list->cap == 0 ? 8 : list->cap * 2;
        cairn_kv *v;
        v = realloc(list->v, cap * sizeof(*v));
        if (v == NULL) {
            cli_die_nomem();
        }
        list->v = v;
        list->cap = cap;
    }
    *eq = '\0';
    list->v[list->n].key = text;
    list->v[list->n].value = eq + 1;
    list->n++;
}

void cli_kvs_free(cli_kvs *list)
{
    free(list->v);
    list->v = NULL;
    list->n = list->cap = 0;
}
