/*
 * runner_settings.c - what a plan's settings give one command: its
 * environment (the clean base, then "pass_env", "env_file" and "env" of
 * the plan, then of the operation; later wins) and its working directory
 * (the operation's "cwd" against the plan's, which `cairn run` recorded
 * absolute).  An env_file is read when the command is spawned and never
 * journaled or shown: errors name the file and line, never a value.
 */
#include "runner/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_FILE_MAX (64u * 1024u)
#define ENV_FILE_VARS 128

/* Set @p name to the @p vlen bytes of @p value, replacing an earlier
 * entry of the same name. */
static cairn_err env_set(runner_env *env, const char *name, const char *value,
                         size_t vlen)
{
    size_t nlen = strlen(name);
    char *entry = malloc(nlen + vlen + 2);
    if (entry == NULL) {
        return CAIRN_ENOMEM;
    }
    memcpy(entry, name, nlen);
    entry[nlen] = '=';
    memcpy(entry + nlen + 1, value, vlen);
    entry[nlen + 1 + vlen] = '\0';
    for (size_t i = 0; i < env->n; i++) {
        if (strncmp(env->v[i], entry, nlen + 1) == 0) {
            free(env->v[i]);
            env->v[i] = entry;
            return CAIRN_OK;
        }
    }
    if (env->n >= RUNNER_ENV_MAX) {
        free(entry);
        return CAIRN_EINVAL;
    }
    env->v[env->n++] = entry;
    env->v[env->n] = NULL;
    return CAIRN_OK;
}

/* "<base>/<rel>" unless @p rel is absolute or @p base NULL. */
static void resolve(const char *base, const char *rel, char *out, size_t cap)
{
    if (rel[0] == '/' || base == NULL) {
        cairn__fmt(out, cap, "%s", rel);
    } else {
        size_t bl = strlen(base);
        cairn__fmt(out, cap, "%s%s%s", base,
                   bl > 0 && base[bl - 1] == '/' ? "" : "/", rel);
    }
}

const char *cairn__runner_cwd(const cairn_runner *r, const cairn_plan_op *op,
                              char *buf, size_t cap)
{
    const char *plan_cwd = r->plan->settings.cwd;
    if (op->settings.cwd == NULL) {
        return plan_cwd;
    }
    resolve(plan_cwd, op->settings.cwd, buf, cap);
    return buf;
}

/* Read the whole env_file through one descriptor (regular file, bounded). */
static cairn_err read_env_file(const char *path, char **out, size_t *len,
                               char *why, size_t why_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    *out = NULL;
    if (fd < 0) {
        cairn__fmt(why, why_len, "%s", strerror(errno));
        return CAIRN_EIO;
    }
    cairn_err err = CAIRN_OK;
    char *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cairn__fmt(why, why_len, "not a regular file");
        err = CAIRN_EIO;
    } else if ((uint64_t)st.st_size > ENV_FILE_MAX) {
        cairn__fmt(why, why_len, "larger than %u bytes", ENV_FILE_MAX);
        err = CAIRN_EIO;
    } else if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        err = CAIRN_ENOMEM;
    }
    while (err == CAIRN_OK && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            cairn__fmt(why, why_len, "%s",
                       n < 0 ? strerror(errno) : "shrank while read");
            err = CAIRN_EIO;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (err != CAIRN_OK) {
        free(buf);
        return err;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return CAIRN_OK;
}

cairn_err cairn__env_file_parse(char *buf, size_t len, runner_env *env,
                                char *why, size_t why_len)
{
    size_t line = 0, vars = 0;
    if (memchr(buf, '\0', len) != NULL) {
        cairn__fmt(why, why_len, "has a NUL byte");
        return CAIRN_EINVAL;
    }
    for (char *p = buf; p < buf + len;) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        char *end = nl != NULL ? nl : buf + len;
        line++;
        *end = '\0';
        if (p[0] != '\0' && p[0] != '#') {
            char *eq = strchr(p, '=');
            if (eq == NULL) {
                cairn__fmt(why, why_len, "line %zu: missing '='", line);
                return CAIRN_EINVAL;
            }
            *eq = '\0';
            if (!cairn__env_name_ok(p, strlen(p))) {
                cairn__fmt(why, why_len,
                           "line %zu: invalid variable name (expected "
                           "[A-Za-z_][A-Za-z0-9_]*, not CAIRN_*)",
                           line);
                return CAIRN_EINVAL;
            }
            if (++vars > ENV_FILE_VARS) {
                cairn__fmt(why, why_len, "more than %d variables",
                           ENV_FILE_VARS);
                return CAIRN_EINVAL;
            }
            cairn_err err = env_set(env, p, eq + 1, strlen(eq + 1));
            if (err != CAIRN_OK) {
                cairn__fmt(why, why_len, "%s", cairn_strerror(err));
                return err;
            }
        }
        p = end + 1;
    }
    return CAIRN_OK;
}

static cairn_err apply_env_file(const cairn_plan_settings *s,
                                const char *plan_cwd, runner_env *env,
                                char *detail, size_t detail_len)
{
    char path[RUNNER_PATH_MAX], why[256];
    char *text = NULL;
    size_t len = 0;
    resolve(plan_cwd, s->env_file, path, sizeof(path));
    cairn_err err = read_env_file(path, &text, &len, why, sizeof(why));
    if (err == CAIRN_OK) {
        err = cairn__env_file_parse(text, len, env, why, sizeof(why));
    }
    if (text != NULL) {
        memset(text, 0, len); /* secrets: do not leave them in the heap */
        free(text);
    }
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "env_file %s: %s", path, why);
    }
    return err;
}

/* The value of @p name in the caller's environment, or NULL. */
static const char *lookup(char *const *environ_, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; environ_ != NULL && environ_[i] != NULL; i++) {
        if (strncmp(environ_[i], name, n) == 0 && environ_[i][n] == '=') {
            return environ_[i] + n + 1;
        }
    }
    return NULL;
}

/* One level of settings (the plan's or the operation's). */
static cairn_err apply(const cairn_runner *r, const cairn_plan_settings *s,
                       runner_env *env, char *detail, size_t detail_len)
{
    const char *plan_cwd = r->plan->settings.cwd;
    cairn_err err = CAIRN_OK;
    for (size_t i = 0; err == CAIRN_OK && i < s->n_pass_env; i++) {
        const char *v = lookup(r->opts.pass_environ, s->pass_env[i]);
        if (v != NULL) {
            err = env_set(env, s->pass_env[i], v, strlen(v));
        }
    }
    if (err == CAIRN_OK && s->env_file != NULL) {
        err = apply_env_file(s, plan_cwd, env, detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    for (size_t i = 0; err == CAIRN_OK && i < s->n_env; i++) {
        err = env_set(env, s->env_names[i], s->env_values[i],
                      strlen(s->env_values[i]));
    }
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "environment: %s",
                   err == CAIRN_EINVAL ? "too many variables"
                                       : cairn_strerror(err));
    }
    return err;
}

cairn_err cairn__runner_settings_env(const cairn_runner *r,
                                     const cairn_plan_op *op, runner_env *env,
                                     char *detail, size_t detail_len)
{
    cairn_err err = apply(r, &r->plan->settings, env, detail, detail_len);
    if (err == CAIRN_OK) {
        err = apply(r, &op->settings, env, detail, detail_len);
    }
    return err;
}
