/*
 * cli.c - error reporting, exit, option parsing helpers and the actor.
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
__attribute__((format(printf, 2, 0))) static void
put_message(const char *prefix, const char *fmt, va_list ap)
{
    char text[8192];
    const unsigned char *p = (const unsigned char *)text;

    fflush(stdout);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
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

void cli_die(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    put_message("cairn: ", fmt, ap);
    va_end(ap);
    cli_exit(code);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    put_message("cairn: warning: ", fmt, ap);
    va_end(ap);
}

void cli_die_nomem(void)
{
    cli_die(CLI_EXIT_ERROR, "out of memory");
}

void cli_die_err(cairn_err err, const char *what, const char *detail)
{
    size_t n = strlen(what);

    /* Do not repeat "what: " when the detail starts with it. */
    if (detail != NULL && strncmp(detail, what, n) == 0 && detail[n] == ':' &&
        detail[n + 1] == ' ') {
        detail += n + 2;
    }
    if (detail != NULL && detail[0] != '\0') {
        cli_die(cairn_exit_code(err), "%s: %s: %s", what, cairn_strerror(err),
                detail);
    }
    cli_die(cairn_exit_code(err), "%s: %s", what, cairn_strerror(err));
}

/* Explain which key a run is bound to after CAIRN_EKEYMISMATCH. */
static void key_hint(cli_ctx *ctx, const char *run)
{
    cairn_summary *s = NULL;
    char ours[17] = "";
    char theirs[17];

    if (run == NULL || ctx->journal == NULL ||
        cairn_status(ctx->journal, run, &s) != CAIRN_OK) {
        return;
    }
    if (ctx->signer != NULL) {
        uint8_t id[CAIRN_KEY_ID_BYTES];
        cairn_signer_key_id(ctx->signer, id);
        cli_key_id_hex(id, ours);
    }
    cli_key_id_hex(s->key_id, theirs);
    if (!s->signed_run) {
        fprintf(stderr,
                "cairn: run %s was created unsigned and stays unsigned: "
                "write to it without --secret-key and CAIRN_SECRET_KEY\n",
                run);
    } else if (ctx->signer == NULL) {
        fprintf(stderr,
                "cairn: run %s is bound to key id %s: pass its secret key "
                "with --secret-key or CAIRN_SECRET_KEY\n",
                run, theirs);
    } else {
        fprintf(stderr,
                "cairn: run %s is bound to key id %s, but the key given "
                "has key id %s\n",
                run, theirs, ours);
    }
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
        fflush(stdout);
        if (detail[0] != '\0') {
            fprintf(stderr, "cairn: %s: %s: %s\n", what, cairn_strerror(err),
                    detail);
        } else {
            fprintf(stderr, "cairn: %s: %s\n", what, cairn_strerror(err));
        }
        key_hint(ctx, run);
        cli_exit(cairn_exit_code(err));
    }
    cli_die_err(err, what, detail);
}

void cli_print_usage(const cli_command *cmd, FILE *out)
{
    fputs(cmd->usage, out);
    fputs("\nCommon options: -J/--journal DIR, -o/--format text|json, --json,"
          "\n--strict, -h/--help.  See cairn(1).\n",
          out);
}

void cli_usage_error(const cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "cairn: %s: ", ctx->cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cli_print_usage(ctx->cmd, stderr);
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
    case CLI_OPT_STRICT:
        ctx->strict = 1;
        return 1;
    case CLI_OPT_GROUP_READABLE:
        ctx->group_readable = 1;
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
