/*
 * runner_cmd.c - run one command of an operation (its command or its
 * probe) in a clean environment with a fresh $CAIRN_OUTPUT file, then
 * read the outputs and turn the result into evidence pairs.
 */
#include "runner/runner.h"

#include "base/crypto.h"
#include "journal/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const passthrough[] = {"PATH", "HOME",   "USER", "LOGNAME",
                                          "LANG", "LC_ALL", "TZ",   "TMPDIR"};

/* printf into a malloc'd string; NULL when out of memory. */
__attribute__((format(printf, 1, 0))) static char *vstrf(const char *fmt,
                                                         va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *s = NULL;
    if (n >= 0 && (s = malloc((size_t)n + 1)) != NULL) {
        vsnprintf(s, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    return s;
}

static cairn_err env_put(runner_env *env, char *entry)
{
    if (entry == NULL) {
        return CAIRN_ENOMEM;
    }
    if (env->n >= RUNNER_ENV_MAX) {
        free(entry);
        return CAIRN_EINVAL;
    }
    env->v[env->n++] = entry;
    env->v[env->n] = NULL;
    return CAIRN_OK;
}

void cairn__runner_env_free(runner_env *env)
{
    for (size_t i = 0; i < env->n; i++) {
        free(env->v[i]);
    }
    env->n = 0;
    env->v[0] = NULL;
}

cairn_err cairn__runner_env_add(runner_env *env, const char *key,
                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *value = vstrf(fmt, ap);
    va_end(ap);
    if (value == NULL) {
        return CAIRN_ENOMEM;
    }
    size_t klen = strlen(key), vlen = strlen(value), len;
    char *entry = NULL;
    if (cairn__add_size(klen, vlen, &len) == 0 &&
        cairn__add_size(len, 2, &len) == 0 && (entry = malloc(len)) != NULL) {
        memcpy(entry, key, klen);
        entry[klen] = '=';
        memcpy(entry + klen + 1, value, vlen + 1);
    }
    free(value);
    return env_put(env, entry);
}

/* The one place lib/ reads the environment (scripts/check-env.sh): the
 * runner's own PATH, HOME ... pass on to the commands it spawns, as
 * cairn.h documents.  This builds a child's environment; it configures
 * nothing in the library (settings are options: cairn_journal_opts). */
cairn_err cairn__runner_env_init(runner_env *env)
{
    env->n = 0;
    env->v[0] = NULL;
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(passthrough); i++) {
        const char *v = getenv(passthrough[i]);
        if (v == NULL) {
            continue;
        }
        cairn_err err = cairn__runner_env_add(env, passthrough[i], "%s", v);
        if (err != CAIRN_OK) {
            cairn__runner_env_free(env);
            return err;
        }
    }
    return CAIRN_OK;
}

/* Append a pair whose value is already malloc'd (taken over). */
static cairn_err kv_put(cairn_kvlist *list, const char *key, char *value)
{
    char *k = strdup(key);
    cairn_kv *v = NULL;
    size_t bytes;
    if (k != NULL && value != NULL && list->n < CAIRN_MAX_KV &&
        cairn__mul_size(list->n + 1, sizeof(cairn_kv), &bytes) == 0) {
        v = realloc(list->v, bytes);
    }
    if (v == NULL) {
        free(k);
        free(value);
        return CAIRN_ENOMEM;
    }
    list->v = v;
    list->v[list->n].key = k;
    list->v[list->n].value = value;
    list->n++;
    return CAIRN_OK;
}

cairn_err cairn__kv_addf(cairn_kvlist *list, const char *key, const char *fmt,
                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *value = vstrf(fmt, ap);
    va_end(ap);
    return kv_put(list, key, value);
}

const char *cairn__runner_output_problem(const cairn_plan_op *op,
                                         const cairn_kvlist *outputs, char *why,
                                         size_t why_len)
{
    char rule_why[512];
    for (size_t i = 0; i < op->n_requires; i++) {
        const cairn_output_rule *rule =
            op->require_rules != NULL ? &op->require_rules[i] : NULL;
        size_t k = 0;
        while (k < outputs->n &&
               strcmp(outputs->v[k].key, op->requires[i]) != 0) {
            k++;
        }
        if (k == outputs->n) {
            cairn__fmt(why, why_len, "required output \"%s\" is missing",
                       op->requires[i]);
            return op->requires[i];
        }
        if (cairn__output_check(rule, outputs->v[k].value, rule_why,
                                sizeof(rule_why)) != 0) {
            cairn__fmt(why, why_len, "required output \"%s\" %s",
                       op->requires[i], rule_why);
            return op->requires[i];
        }
    }
    return NULL;
}

/* A tail as a value: verbatim, or escaped when it holds a NUL byte (a
 * value cannot). */
static char *tail_value(const char *tail, size_t len)
{
    if (memchr(tail, '\0', len) == NULL) {
        return strdup(tail);
    }
    static const char digits[] = "0123456789abcdef";
    char *out = malloc(len * 4 + 1); /* len <= RUNNER_TAIL_MAX */
    size_t o = 0;
    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)tail[i];
        if (c == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

static cairn_err add_stream(cairn_kvlist *ev, const char *name,
                            const cairn_stream_capture *c)
{
    char key[32], hex[2 * CAIRN_HASH_BYTES + 1];
    uint8_t sha[CAIRN_HASH_BYTES];
    if (c->tail != NULL) {
        memcpy(sha, c->sha256, sizeof(sha));
    } else {
        cairn__sha256("", 0, sha); /* the command never ran */
    }
    cairn__hex(sha, sizeof(sha), hex);
    cairn__fmt(key, sizeof(key), "%s_bytes", name);
    cairn_err err =
        cairn__kv_addf(ev, key, "%llu", (unsigned long long)c->bytes);
    cairn__fmt(key, sizeof(key), "%s_sha256", name);
    if (err == CAIRN_OK) {
        err = cairn__kv_addf(ev, key, "%s", hex);
    }
    cairn__fmt(key, sizeof(key), "%s_tail", name);
    if (err == CAIRN_OK) {
        err = kv_put(ev, key,
                     c->tail != NULL ? tail_value(c->tail, c->tail_len)
                                     : strdup(""));
    }
    return err;
}

static cairn_err build_evidence(runner_result *out)
{
    const cairn_exec_result *res = &out->res;
    cairn_kvlist *ev = &out->evidence;
    cairn_err err = CAIRN_OK;
    if (out->exec_err != CAIRN_OK) {
        err = cairn__kv_addf(ev, "spawn_error", "%s", out->detail);
    } else if (res->exited) {
        err = cairn__kv_addf(ev, "exit_code", "%d", res->exit_code);
    } else {
        err = cairn__kv_addf(ev, "signal", "%d", res->term_signal);
    }
    if (err == CAIRN_OK) {
        err = cairn__kv_addf(ev, "duration_ms", "%llu",
                             (unsigned long long)(res->duration_ns / 1000000));
    }
    if (err == CAIRN_OK) {
        err = cairn__kv_addf(ev, "timed_out", "%d", res->timed_out ? 1 : 0);
    }
    if (err == CAIRN_OK && res->interrupted) {
        err = cairn__kv_addf(ev, "interrupted", "1");
    }
    if (err == CAIRN_OK) {
        err = add_stream(ev, "stdout", &res->out);
    }
    if (err == CAIRN_OK) {
        err = add_stream(ev, "stderr", &res->err);
    }
    return err;
}

/* Parse what the command left in its output file, read through the
 * descriptor we created (never reopened by name).  CAIRN_ENOMEM is the
 * only error; a bad file sets output_bad. */
static cairn_err read_outputs(int fd, runner_result *out)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    const char *bad = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        bad = "not a regular file";
    } else if ((uint64_t)st.st_size > RUNNER_OUTPUT_MAX) {
        bad = "larger than 1 MiB";
    } else if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        return CAIRN_ENOMEM;
    }
    while (bad == NULL && len < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + len, (size_t)st.st_size - len, (off_t)len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            bad = n < 0 ? strerror(errno) : "shrank while read";
            break;
        }
        len += (size_t)n;
    }
    cairn_err err = CAIRN_OK;
    if (bad == NULL) {
        char detail[400];
        err = cairn__outputs_parse(buf, len, &out->outputs, detail,
                                   sizeof(detail));
        if (err == CAIRN_EINVAL) {
            bad = detail;
            err = CAIRN_OK;
            out->output_bad = 1;
            cairn__fmt(out->output_detail, sizeof(out->output_detail),
                       "$CAIRN_OUTPUT: %s", bad);
        }
    } else {
        out->output_bad = 1;
        cairn__fmt(out->output_detail, sizeof(out->output_detail),
                   "$CAIRN_OUTPUT: %s", bad);
    }
    free(buf);
    return err;
}

/* CAIRN_PREV_*: where the plan's previous runs stopped (cairn_watermark;
 * computed once per runner call, this run left out). */
static cairn_err add_prev(cairn_runner *r, runner_env *env)
{
    if (!r->have_prev) {
        cairn_err err = cairn_watermark_get(r->j, cairn_plan_id(r->plan),
                                            r->run_id, &r->prev);
        if (err != CAIRN_OK) {
            return err;
        }
        r->have_prev = 1;
    }
    const cairn_watermark *w = &r->prev;
    cairn_err err = CAIRN_OK;
#define ADD(k, ...)                                                            \
    if (err == CAIRN_OK) {                                                     \
        err = cairn__runner_env_add(env, k, __VA_ARGS__);                      \
    }
    ADD("CAIRN_PREV_RUN_ID", "%s", w->attempted_run_id);
    ADD("CAIRN_PREV_LAST_CONTIGUOUS_SEQ", "%lld",
        (long long)w->last_contiguous_seq);
    ADD("CAIRN_PREV_LAST_ATTEMPTED_SEQ", "%lld",
        (long long)w->last_attempted_seq);
    ADD("CAIRN_PREV_LAST_CONTIGUOUS_ID", "%s", w->last_contiguous_id);
    ADD("CAIRN_PREV_LAST_ATTEMPTED_ID", "%s", w->last_attempted_id);
    ADD("CAIRN_PREV_COMPLETED_RUN_ID", "%s", w->completed_run_id);
#undef ADD
    return err;
}

/* The command's environment: the clean base, the plan's settings, then
 * the runner's CAIRN_* variables.  A settings failure (env_file) is the
 * command's, not the runner's: out->exec_err CAIRN_ECHILD with the why. */
static cairn_err command_env(cairn_runner *r, const runner_cmd *cmd,
                             const char *output, runner_env *env,
                             runner_result *out)
{
    cairn_err err = cairn__runner_env_init(env);
    const cairn_plan_op *op = cmd->op;
    if (err == CAIRN_OK) {
        err = cairn__runner_settings_env(r, op, env, out->detail,
                                         sizeof(out->detail));
        if (err == CAIRN_EIO || err == CAIRN_EINVAL) {
            out->exec_err = CAIRN_ECHILD;
            return CAIRN_OK;
        }
    }
#define ADD(k, ...)                                                            \
    if (err == CAIRN_OK) {                                                     \
        err = cairn__runner_env_add(env, k, __VA_ARGS__);                      \
    }
    ADD("CAIRN_RUN_ID", "%s", r->run_id);
    ADD("CAIRN_OP_ID", "%s", op->id);
    ADD("CAIRN_OP_SEQ", "%u", cmd->seq);
    ADD("CAIRN_OP_KIND", "%s", cairn_kind_name(op->kind));
    if (op->target != NULL) {
        ADD("CAIRN_TARGET", "%s", op->target);
    }
    ADD("CAIRN_ATTEMPT", "%u", cmd->attempt);
    ADD("CAIRN_JOURNAL", "%s", r->jdir);
    ADD("CAIRN_OUTPUT", "%s", output);
    if (cmd->lock_fd >= 0 && !cairn__runner_cmd_daemon(cmd)) {
        ADD("CAIRN_LOCK_FD", "%d", cmd->lock_fd);
    }
    if (cmd->probe) {
        ADD("CAIRN_PROBE", "1");
    }
#undef ADD
    if (err == CAIRN_OK) {
        err = add_prev(r, env);
    }
    return err;
}

typedef struct beat_ctx {
    cairn_runner *r;
    const runner_cmd *cmd;
} beat_ctx;

/* A heartbeat: refresh the lock's note, tell the caller. */
static void on_progress(void *vctx, const cairn_exec_progress *pr)
{
    beat_ctx *b = vctx;
    if (b->cmd->lock_fd >= 0) {
        cairn__runner_lock_note(b->r, b->cmd->lock_fd, b->cmd, pr);
    }
    cairn_run_event ev;
    cairn__runner_op_event(b->r, &ev, CAIRN_EVENT_HEARTBEAT, b->cmd->seq);
    ev.attempt = b->cmd->attempt;
    ev.duration_ns = pr->elapsed_ns;
    ev.out_bytes = pr->out_bytes;
    ev.err_bytes = pr->err_bytes;
    ev.has_output = pr->has_output;
    ev.since_output_ns = pr->since_output_ns;
    ev.reason = b->cmd->probe   ? "probe"
                : b->cmd->ready ? "readiness check"
                                : "";
    cairn__runner_emit(b->r, &ev);
}

static void fill_spec(const cairn_runner *r, const runner_cmd *cmd, char **envp,
                      char *cwd_buf, size_t cwd_cap, cairn_exec_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->argv = cmd->probe   ? cmd->op->probe.v
                 : cmd->ready ? cmd->op->ready.v
                              : cmd->op->run.v;
    spec->envp = envp;
    spec->cwd = cairn__runner_cwd(r, cmd->op, cwd_buf, cwd_cap);
    spec->timeout_ns = cmd->timeout_ns;
    spec->grace_ns = r->opts.kill_grace_ns;
    spec->tail_max = RUNNER_TAIL_MAX;
    spec->daemon = cairn__runner_cmd_daemon(cmd);
    /* A daemon keeps what it inherits: it never gets the lifetime lock. */
    spec->keep_fd = spec->daemon ? -1 : cmd->lock_fd;
    spec->output_dir_fd = r->tmp_fd;
    spec->interrupts = r->opts.interrupts;
    spec->shutdown_ns = r->opts.shutdown_timeout_ns;
}

int cairn__runner_cmd_daemon(const runner_cmd *cmd)
{
    return cmd->op->daemon && !cmd->probe && !cmd->ready;
}

cairn_err cairn__runner_exec(cairn_runner *r, const runner_cmd *cmd,
                             runner_result *out)
{
    memset(out, 0, sizeof(*out));
    char path[RUNNER_PATH_MAX];
    int out_fd = -1;
    if (cairn__runner_output_file(r, path, sizeof(path), &out_fd) != CAIRN_OK) {
        return cairn__jfail(r->j, CAIRN_EIO,
                            "cannot create a $CAIRN_OUTPUT file %s: %s", path,
                            strerror(errno));
    }
    runner_env env;
    char cwd[RUNNER_PATH_MAX];
    cairn_err err = command_env(r, cmd, path, &env, out);
    if (err == CAIRN_OK && out->exec_err == CAIRN_OK) {
        cairn_exec_spec spec;
        fill_spec(r, cmd, env.v, cwd, sizeof(cwd), &spec);
        int fds[2] = {-1, -1};
        static const char *const kinds[2] = {"stdout", "stderr"};
        for (int i = 0; i < 2 && out->exec_err == CAIRN_OK; i++) {
            if (cairn__runner_tmp_file(r, kinds[i], r->out_name[i],
                                       sizeof(r->out_name[i]),
                                       &fds[i]) != CAIRN_OK) {
                fds[i] = -1; /* exec falls back to an unnamed file */
                r->out_name[i][0] = '\0';
            }
        }
        spec.out_fd = fds[0];
        spec.err_fd = fds[1];
        if (cmd->lock_fd >= 0) {
            cairn__runner_lock_note(r, cmd->lock_fd, cmd, NULL);
        }
        beat_ctx beat = {r, cmd};
        spec.on_progress = on_progress;
        spec.progress_ctx = &beat;
        spec.progress_ns = r->opts.heartbeat_ns;
        out->exec_err =
            cairn__exec_run(&spec, &out->res, out->detail, sizeof(out->detail));
        out->deadline_capped = cmd->deadline_capped;
        if (out->exec_err == CAIRN_OK && out->res.exited &&
            out->res.exit_code == 0 && !out->res.timed_out &&
            !out->res.interrupted) {
            err = read_outputs(out_fd, out);
        }
        for (int i = 0; i < 2; i++) {
            cairn__runner_tmp_unlink(r, r->out_name[i]);
            r->out_name[i][0] = '\0';
            if (fds[i] >= 0) {
                close(fds[i]);
            }
        }
    }
    cairn__runner_output_done(r, path, out_fd);
    cairn__runner_env_free(&env);
    if (err == CAIRN_OK) {
        err = build_evidence(out);
    }
    if (err != CAIRN_OK) {
        cairn__runner_result_free(out);
        return cairn__jfail(r->j, err, "runner: %s", cairn_strerror(err));
    }
    return CAIRN_OK;
}

void cairn__runner_result_free(runner_result *res)
{
    if (res == NULL) {
        return;
    }
    cairn__exec_result_free(&res->res);
    cairn__kvlist_free(&res->outputs);
    cairn__kvlist_free(&res->evidence);
}
