/*
 * crash_sweep.c - "fail or kill at call N" sweeps (T2; scenarios 2, 4, 7
 * and part of 10).  A count run of the bounded workload under the shim
 * gives K, the number of counted calls; then the workload runs once for
 * each N = 1..K (every N at scale >= 2; at CI scale a stride keeps the
 * count near the budget), the shim acting at call N.  After each run:
 * the exit status (kill: died by SIGKILL; fail modes: finished normally,
 * having reopened after the fault), the audit, the ack log checks, the
 * first error after the fault, and I6.
 */
#include "crash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void make_env(cr_ctx *c, const cr_sweep *s, long n, const char *dir,
                     const char *ack, cr_argv *env)
{
    cr_argv_init(env);
    if (s->mode == NULL) {
        cr_argv_add(env, "LD_PRELOAD=%s", c->mshim);
        cr_argv_add(env, "CRASH_MSHIM_N=%ld", n);
        cr_argv_add(env, "CRASH_MSHIM_OUT=%s", ack);
        return;
    }
    cr_argv_add(env, "LD_PRELOAD=%s", c->shim);
    cr_argv_add(env, "CRASH_SHIM_DIR=%s", dir);
    cr_argv_add(env, "CRASH_SHIM_MODE=%s", n == 0 ? "count" : s->mode);
    cr_argv_add(env, "CRASH_SHIM_N=%ld", n);
    cr_argv_add(env, "CRASH_SHIM_OUT=%s", ack);
    if (s->kinds != NULL) {
        cr_argv_add(env, "CRASH_SHIM_KINDS=%s", s->kinds);
    }
}

/* Fresh directory (from the template when there is one). */
static int prepare(cr_ctx *c, const cr_sweep *s, char *dir, size_t dlen,
                   char *ack, size_t alen)
{
    cr_mkdir_fresh(c, "sweep", dir, dlen);
    snprintf(ack, alen, "%s.ack", dir);
    if (s->tmpl == NULL) {
        return 0;
    }
    char from[4200], to[4200];
    snprintf(from, sizeof(from), "%s/data.mdb", s->tmpl);
    snprintf(to, sizeof(to), "%s/data.mdb", dir);
    if (cr_copy_file(from, to) != 0) {
        return -1;
    }
    snprintf(from, sizeof(from), "%s.ack", s->tmpl);
    return cr_copy_file(from, ack);
}

static long count_calls(const char *ack)
{
    char *text = cr_slurp(ack, NULL);
    long n = -1;
    for (char *p = text; p != NULL && *p != '\0';) {
        if (p[0] == 'C' && p[1] == ' ') {
            n = strtol(p + 2, NULL, 10);
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    free(text);
    return n;
}

static int allowed(const char *want, const char *got)
{
    size_t n = strlen(got);
    if (n == 0) {
        return 0;
    }
    for (const char *p = want; (p = strstr(p, got)) != NULL; p++) {
        if ((p == want || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) {
            return 1;
        }
    }
    return 0;
}

static unsigned judge_exit(cr_ctx *c, int status, const cr_log *log,
                           const char *where)
{
    char st[64];
    cr_status_text(status, st, sizeof(st));
    int killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (log->killed > 0 ? killed : clean) {
        return 0;
    }
    cr_violation(c, "%s: workload %s%s%s", where, st,
                 log->last_error[0] ? "; its last error: " : "",
                 log->last_error);
    return 1;
}

/* Known wrong answers to an allocation failure (reported bugs). */
static const char *oom_tag(const cr_log *log)
{
    if (strcmp(log->first_fault_error, "CAIRN_EPLAN") == 0) {
        return "oom-plan";
    }
    if (strstr(log->last_error, "boot id") != NULL) {
        return "oom-bootid";
    }
    if (strcmp(log->first_fault_error, "CAIRN_ENOTINDOUBT") == 0) {
        return "oom-alive"; /* a live claimer was reported in doubt */
    }
    return NULL;
}

static unsigned judge_fault(cr_ctx *c, const cr_sweep *s, const cr_log *log,
                            const char *where)
{
    if (s->want == NULL || log->fired == 0 || log->ack_after_fault > 0) {
        return 0;
    }
    if (allowed(s->want, log->first_fault_error)) {
        return 0;
    }
    if (s->mode == NULL && log->first_fault_error[0] == '\0') {
        return 0; /* the allocation failure was absorbed */
    }
    const char *tag = s->mode == NULL ? oom_tag(log) : NULL;
    const char *got = log->first_fault_error[0] ? log->first_fault_error
                                                : "(no error at all)";
    if (tag != NULL) {
        cr_violation_known(c, tag,
                           "%s: a failed allocation answered by %s (%s), "
                           "not %s",
                           where, got, log->last_error, s->want);
        return 1;
    }
    cr_violation(c,
                 "%s: fault on a %s call answered by \"%s\", expected one "
                 "of %s",
                 where, log->fault_kind, got, s->want);
    return 1;
}

/* One run with the shim acting at call @p n; 1 if it acted. */
static int one(cr_ctx *c, const cr_sweep *s, long n, unsigned *bad)
{
    char dir[4096], ack[4200], where[64];
    cr_argv env;
    if (prepare(c, s, dir, sizeof(dir), ack, sizeof(ack)) != 0) {
        cr_violation(c, "%s: cannot copy the template journal", s->label);
        (*bad)++;
        return 0;
    }
    make_env(c, s, n, dir, ack, &env);
    int status =
        cr_run_workload(c, s->work, dir, ack, s->seed, s->steps, env.v, NULL);
    cr_log log;
    cr_snap snap;
    cr_log_load(ack, &log);
    int acted = log.fired > 0 || log.killed > 0;
    unsigned v = 0;
    snprintf(where, sizeof(where), "%s N=%ld", s->label, n);
    v += judge_exit(c, status, &log, where);
    v += judge_fault(c, s, &log, where);
    cr_audit(c, dir, 0, NULL, &snap);
    v += cr_check_acks(c, &snap, &log, where);
    int opened = snap.ok;
    cr_snap_free(&snap);
    cr_log_free(&log);
    if (v == 0 && acted) {
        v += cr_check_live(c, dir, "sweep", ack) != 0;
    }
    if (v == 0 && opened && acted) {
        v += cr_cli_verify(c, dir, where); /* after the reopen and append */
    }
    *bad += v;
    cr_cleanup_dir(c, dir, v > 0);
    return acted;
}

uint64_t cr_sweep_run(cr_ctx *c, const cr_sweep *s, long *k_out)
{
    char dir[4096], ack[4200];
    cr_argv env;
    unsigned bad = 0;
    if (prepare(c, s, dir, sizeof(dir), ack, sizeof(ack)) != 0) {
        cr_violation(c, "%s: cannot copy the template journal", s->label);
        return 0;
    }
    make_env(c, s, 0, dir, ack, &env);
    int status =
        cr_run_workload(c, s->work, dir, ack, s->seed, s->steps, env.v, NULL);
    long k = count_calls(ack);
    cr_cleanup_dir(c, dir, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || k <= 0) {
        cr_violation(c, "%s: the count run failed (status 0x%x, %ld calls)",
                     s->label, (unsigned)status, k);
        return 0;
    }
    long stride = 1;
    if (c->scale < 2 && s->max_runs > 0 && k > (long)s->max_runs) {
        stride = (k + s->max_runs - 1) / s->max_runs;
    }
    uint64_t runs = 0;
    long missed = 0;
    for (long n = 1; n <= k; n += stride) {
        runs++;
        missed += !one(c, s, n, &bad);
    }
    /* One past the end: the workload must complete untouched. */
    runs++;
    if (one(c, s, k + 1, &bad) || missed > 0) {
        cr_note(c,
                "%s: the workload is not deterministic (%ld of the "
                "first %ld calls not reached, call %ld reached)",
                s->label, missed, k, k + 1);
    }
    *k_out = k;
    return runs;
}

void cr_sweep_all(cr_ctx *c, const cr_sweep *list, size_t n)
{
    char note[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        long k = 0;
        double t0 = cr_now();
        c->cur->iterations += cr_sweep_run(c, &list[i], &k);
        cr_note(c, "%s: K=%ld calls, %.1f s", list[i].label, k, cr_now() - t0);
        int w = snprintf(note + used, sizeof(note) - used, "%s%s K=%ld",
                         i ? ", " : "", list[i].label, k);
        used += w > 0 && (size_t)w < sizeof(note) - used ? (size_t)w : 0;
    }
    snprintf(c->cur->note, sizeof(c->cur->note), "%s", note);
}

void cr_scen_syscall(cr_ctx *c)
{
    unsigned max = c->asan ? 25 : 120;
    const cr_sweep list[] = {
        {"kill", "kill", NULL, "sweep", 14, c->seed, NULL, NULL, max},
        {"eio", "eio", NULL, "sweep", 14, c->seed, NULL, "CAIRN_EIO", max},
        {"short", "short", "write,meta", "sweep", 14, c->seed, NULL,
         "CAIRN_EIO", max},
        {"enospc", "enospc", NULL, "sweep", 14, c->seed, NULL, "CAIRN_EIO",
         max},
    };
    cr_sweep_all(c, list, sizeof(list) / sizeof(list[0]));
}

void cr_scen_sync(cr_ctx *c)
{
    const cr_sweep list[] = {
        {"sync-eio", "eio", "sync", "sweep", 20, c->seed, NULL, "CAIRN_EIO", 0},
        {"meta-eio", "eio", "meta", "sweep", 20, c->seed, NULL, "CAIRN_EIO", 0},
        {"meta-short", "short", "meta", "sweep", 20, c->seed, NULL, "CAIRN_EIO",
         0},
        {"sync-enospc", "enospc", "sync", "sweep", 20, c->seed, NULL,
         "CAIRN_EIO", 0},
    };
    cr_sweep_all(c, list, sizeof(list) / sizeof(list[0]));
}
