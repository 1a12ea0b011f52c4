/*
 * cli_journal.c - find and open the journal directory.
 */
#include "cli.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p;

    if (la > 65536 || lb > 65536) {
        return NULL;
    }
    p = malloc(la + lb + 2);
    if (p == NULL) {
        cli_die_nomem();
    }
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

static const char *home_dir(void)
{
    const char *home = getenv("HOME");
    const struct passwd *pw;

    if (home != NULL && home[0] != '\0') {
        return home;
    }
    pw = getpwuid(getuid());
    if (pw != NULL && pw->pw_dir != NULL && pw->pw_dir[0] != '\0') {
        return pw->pw_dir;
    }
    return NULL;
}

const char *cli_journal_dir(cli_ctx *ctx)
{
    const char *env;
    char *dir = NULL;

    if (ctx->journal_dir != NULL) {
        return ctx->journal_dir;
    }
    if (ctx->journal_opt != NULL) {
        if (ctx->journal_opt[0] == '\0') {
            cli_die(CLI_EXIT_USAGE, "-J/--journal: empty directory name");
        }
        dir = strdup(ctx->journal_opt);
    } else if ((env = getenv("CAIRN_DIR")) != NULL && env[0] != '\0') {
        dir = strdup(env);
    } else if ((env = getenv("XDG_STATE_HOME")) != NULL && env[0] == '/') {
        dir = join(env, "cairn");
    } else if ((env = home_dir()) != NULL) {
        dir = join(env, ".local/state/cairn");
    } else {
        cli_die(CLI_EXIT_USAGE, "no journal directory: pass -J DIR or set "
                                "CAIRN_DIR (HOME is not set)");
    }
    if (dir == NULL) {
        cli_die(CLI_EXIT_USAGE, "journal directory name too long or out of "
                                "memory");
    }
    ctx->journal_dir = dir;
    return dir;
}

/* mkdir -p of every parent of @p path (not the last component). */
static void make_parents(const char *path)
{
    char *buf = strdup(path);
    char *p;

    if (buf == NULL) {
        cli_die_nomem();
    }
    for (p = buf + 1; *p != '\0'; p++) {
        struct stat st;
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (stat(buf, &st) != 0) {
            if (errno != ENOENT || (mkdir(buf, 0700) != 0 && errno != EEXIST)) {
                int e = errno;
                char what[4200];
                snprintf(what, sizeof(what), "journal %s: cannot create %s",
                         path, buf);
                free(buf);
                cli_die(CLI_EXIT_ERROR, "%s: %s", what, strerror(e));
            }
        }
        *p = '/';
    }
    free(buf);
}

/* A decimal unsigned value of environment variable @p name: 1 and *out;
 * 0 when unset or empty; -1 when it is not a number in lo..hi. */
static int env_number(const char *name, uint64_t lo, uint64_t hi, uint64_t *out)
{
    const char *s = getenv(name);
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo ||
        v > hi) {
        return -1;
    }
    *out = v;
    return 1;
}

int cli_journal_opts(cairn_journal_opts *opts, unsigned flags, char *detail,
                     size_t detail_len)
{
    const char *share = getenv("CAIRN_SHARED_COMMIT");
    uint64_t v = 0;
    cairn_journal_opts o = CAIRN_JOURNAL_OPTS_INIT;

    o.flags = flags;
    if (share != NULL && strcmp(share, "0") == 0) {
        o.flags |= CAIRN_OPEN_NO_SHARED_COMMIT;
    }
    /* Batch tuning outside its range is ignored (the default applies). */
    if (env_number("CAIRN_BATCH_MAX", 1, CAIRN_BATCH_MAX_LIMIT, &v) == 1) {
        o.batch_max = (unsigned)v;
    }
    if (env_number("CAIRN_BATCH_WAIT_US", 0, CAIRN_BATCH_WAIT_US_MAX, &v) ==
        1) {
        o.batch_wait_us = (unsigned)v;
    }
    /* A map size is refused rather than guessed. */
    switch (env_number("CAIRN_MAP_SIZE", CAIRN_MAP_SIZE_MIN, CAIRN_MAP_SIZE_MAX,
                       &v)) {
    case 1:
        o.map_size = v;
        break;
    case 0:
        break;
    default:
        snprintf(detail, detail_len,
                 "CAIRN_MAP_SIZE=%s: not a size in bytes from %llu to %llu",
                 getenv("CAIRN_MAP_SIZE"),
                 (unsigned long long)CAIRN_MAP_SIZE_MIN,
                 (unsigned long long)CAIRN_MAP_SIZE_MAX);
        return -1;
    }
    *opts = o;
    return 0;
}

/* Opening an existing journal failed: say so plainly when the directory,
 * or the journal in it, does not exist (exit 1, CLI_ENOJOURNAL). */
void cli_die_if_no_journal(const char *dir)
{
    struct stat st;
    char *data;

    if (stat(dir, &st) != 0 && errno == ENOENT) {
        cli_die_code(CLI_EXIT_ERROR, "CLI_ENOJOURNAL", dir,
                     "%s: no such journal (directory does not exist)", dir);
    }
    if (!S_ISDIR(st.st_mode)) {
        return;
    }
    data = join(dir, "data.mdb");
    if (data != NULL && stat(data, &st) != 0 && errno == ENOENT) {
        free(data);
        cli_die_code(CLI_EXIT_ERROR, "CLI_ENOJOURNAL", dir,
                     "%s: no such journal (the directory holds no data.mdb)",
                     dir);
    }
    free(data);
}

void cli_open_journal(cli_ctx *ctx, unsigned flags)
{
    const char *dir = cli_journal_dir(ctx);
    char detail[1024] = "";
    char what[4200];
    cairn_journal_opts opts;
    cairn_err err;

    if ((flags & CAIRN_OPEN_CREATE) != 0) {
        make_parents(dir);
        flags |= ctx->group_readable ? CAIRN_OPEN_GROUP_READABLE : 0u;
    }
    flags |= ctx->strict ? CAIRN_OPEN_STRICT : 0u;
    err = cli_journal_opts(&opts, flags, detail, sizeof(detail)) != 0
              ? CAIRN_EINVAL
              : cairn_journal_open_opts(dir, &opts, &ctx->journal, detail,
                                        sizeof(detail));
    if (err != CAIRN_OK) {
        ctx->journal = NULL;
        if (err == CAIRN_EIO && (flags & CAIRN_OPEN_CREATE) == 0) {
            cli_die_if_no_journal(dir);
        }
        snprintf(what, sizeof(what), "journal %s", dir);
        cli_die_err(err, what, detail);
    }
    if (cairn_journal_warnings(ctx->journal, detail, sizeof(detail)) != 0) {
        cli_warn("journal %s: %s (--strict refuses it)", dir, detail);
    }
    if (ctx->signer != NULL) {
        cairn_journal_set_signer(ctx->journal, ctx->signer);
    }
    if ((ctx->cmd->flags & CLI_REMEMBERS) != 0) {
        cli_remember_check(ctx);
    }
    cli_resolve_run(ctx);
}

void cli_open(cli_ctx *ctx)
{
    unsigned flags = ctx->cmd->flags;

    if ((flags & CLI_WRITES) != 0) {
        cli_load_signer(ctx);
        cli_open_journal(ctx, (flags & CLI_CREATES) ? CAIRN_OPEN_CREATE : 0u);
    } else if ((flags & CLI_READS) != 0) {
        cli_open_journal(ctx, CAIRN_OPEN_READONLY);
    } else {
        cli_die(CLI_EXIT_ERROR, "%s: opens no journal (command table)",
                ctx->cmd->name);
    }
}

/* ---- remembered checkpoints ---------------------------------------------- */

char *cli_checkpoints_dir(const cli_ctx *ctx)
{
    const char *env;

    if (ctx->no_remember) {
        return NULL;
    }
    if (ctx->checkpoints_opt != NULL) {
        return strdup(ctx->checkpoints_opt);
    }
    if ((env = getenv("CAIRN_CHECKPOINTS")) != NULL && env[0] != '\0') {
        return strdup(env);
    }
    if ((env = getenv("XDG_STATE_HOME")) != NULL && env[0] == '/') {
        return join(env, "cairn-checkpoints");
    }
    if ((env = home_dir()) != NULL) {
        return join(env, ".local/state/cairn-checkpoints");
    }
    return NULL;
}

void cli_remember_check(cli_ctx *ctx)
{
    char detail[2048] = "", what[4200];
    char *dir = cli_checkpoints_dir(ctx);
    cairn_err err;

    if (dir == NULL) {
        return;
    }
    err = cairn_checkpoint_check_remembered(ctx->journal, dir, NULL, detail,
                                            sizeof(detail));
    free(dir);
    if (err == CAIRN_EVERSION) {
        return; /* format 1: no head to remember (writers refuse it) */
    }
    if (err != CAIRN_OK) {
        snprintf(what, sizeof(what), "journal %s", ctx->journal_dir);
        cli_die_err(err, what,
                    detail[0] != '\0' ? detail : "remembered checkpoint");
    }
    ctx->remember_armed = 1;
}

void cli_remember_now(cli_ctx *ctx, const cairn_pubkey *key)
{
    char detail[2048] = "";
    char *dir = cli_checkpoints_dir(ctx);
    cairn_err err;

    if (dir == NULL || ctx->journal == NULL) {
        free(dir);
        return;
    }
    err = cairn_checkpoint_remember(ctx->journal, dir, key, NULL, detail,
                                    sizeof(detail));
    free(dir);
    if (err != CAIRN_OK && err != CAIRN_EINCOMPLETE && err != CAIRN_EVERSION) {
        cli_warn("journal %s: the checkpoint was not remembered: %s: %s",
                 ctx->journal_dir, cairn_strerror(err), detail);
    }
}
