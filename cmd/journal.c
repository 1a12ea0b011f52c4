/*
 * journal.c - find and open the journal directory.
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

void cli_open_journal(cli_ctx *ctx, unsigned flags)
{
    const char *dir = cli_journal_dir(ctx);
    char detail[1024] = "";
    char what[4200];
    cairn_err err;

    if ((flags & CAIRN_OPEN_CREATE) != 0) {
        make_parents(dir);
        flags |= ctx->group_readable ? CAIRN_OPEN_GROUP_READABLE : 0u;
    }
    flags |= ctx->strict ? CAIRN_OPEN_STRICT : 0u;
    err = cairn_journal_open(dir, flags, &ctx->journal, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        ctx->journal = NULL;
        snprintf(what, sizeof(what), "journal %s", dir);
        cli_die_err(err, what, detail);
    }
    if (cairn_journal_warnings(ctx->journal, detail, sizeof(detail)) != 0) {
        cli_warn("journal %s: %s (--strict refuses it)", dir, detail);
    }
    if (ctx->signer != NULL) {
        cairn_journal_set_signer(ctx->journal, ctx->signer);
    }
    cli_resolve_run(ctx);
}

void cli_open_for_write(cli_ctx *ctx)
{
    cli_load_signer(ctx);
    cli_open_journal(ctx, 0);
}
