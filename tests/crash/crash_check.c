/*
 * crash_check.c - judging an audit against the ack log (I1, I3, I7 as far
 * as the log shows it) and the liveness check I6.
 */
#include "crash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned check_run_acks(cr_ctx *c, const cr_snap *snap,
                               const cr_run_log *r, const char *where)
{
    const cr_snap_run *s = cr_snap_find(snap, r->id);
    for (size_t i = 0; i < r->n_acks; i++) {
        const cr_ack *a = &r->acks[i];
        if (s == NULL) {
            cr_violation(c, "%s: I1: run %s (acked seq %llu) is missing", where,
                         r->id, (unsigned long long)a->seq);
            return 1;
        }
        if (a->seq >= s->n) {
            cr_violation(c,
                         "%s: I1: run %s: acked seq %llu lost (the run "
                         "holds %llu records)",
                         where, r->id, (unsigned long long)a->seq,
                         (unsigned long long)s->n);
            return 1;
        }
        if (memcmp(a->hash, s->hash[a->seq], CAIRN_HASH_BYTES) != 0) {
            char want[2 * CAIRN_HASH_BYTES + 1], got[2 * CAIRN_HASH_BYTES + 1];
            for (size_t k = 0; k < CAIRN_HASH_BYTES; k++) {
                snprintf(want + 2 * k, 3, "%02x", a->hash[k]);
                snprintf(got + 2 * k, 3, "%02x", s->hash[a->seq][k]);
            }
            cr_violation(c,
                         "%s: I1: run %s: acked seq %llu differs from "
                         "the record found (acked %s, found %s)",
                         where, r->id, (unsigned long long)a->seq, want, got);
            return 1;
        }
    }
    return 0;
}

static unsigned check_prefix(cr_ctx *c, const cr_snap *snap, const cr_log *log,
                             const char *where)
{
    unsigned v = 0;
    for (size_t i = 0; i < snap->n_runs; i++) {
        const cr_snap_run *s = &snap->runs[i];
        const cr_run_log *r = NULL;
        for (size_t k = 0; k < log->n_runs; k++) {
            if (strcmp(log->runs[k].id, s->id) == 0) {
                r = &log->runs[k];
            }
        }
        if (r == NULL || s->n > r->max_intent) {
            cr_violation(c,
                         "%s: I3: run %s holds %llu records, only %llu "
                         "were attempted",
                         where, s->id, (unsigned long long)s->n,
                         (unsigned long long)(r ? r->max_intent : 0));
            v++;
        }
    }
    return v;
}

static unsigned check_log_flags(cr_ctx *c, const cr_snap *snap,
                                const cr_log *log, const char *where)
{
    unsigned v = 0;
    if (log->anomalies > 0) {
        cr_violation(c,
                     "%s: the workload saw %llu impossible results, "
                     "first: %s",
                     where, (unsigned long long)log->anomalies,
                     log->first_anomaly);
        v++;
    }
    if (log->tagged > 0) {
        cr_violation_known(c, log->tag,
                           "%s: the workload saw %llu wrong answers, first: "
                           "%s",
                           where, (unsigned long long)log->tagged,
                           log->first_tagged);
        v++;
    }
    if (log->ack_after_fault > 0) {
        cr_violation(c,
                     "%s: I7: CAIRN_OK returned for a transition whose "
                     "I/O failed: %s",
                     where, log->ack_after_fault_text);
        v++;
    }
    if (log->kill_prev_meta && strcmp(log->kill_run, "-") != 0) {
        const cr_snap_run *s = cr_snap_find(snap, log->kill_run);
        if (s == NULL || s->n < log->kill_intent) {
            cr_violation(c,
                         "%s: killed right after the meta write, yet "
                         "run %s lacks record %llu",
                         where, log->kill_run,
                         (unsigned long long)(log->kill_intent - 1));
            v++;
        }
    }
    return v;
}

unsigned cr_check_acks(cr_ctx *c, const cr_snap *snap, const cr_log *log,
                       const char *where)
{
    unsigned v = 0;
    if (!snap->ok) {
        if (snap->opened || log->open_acked || log->n_acks > 0) {
            cr_violation(c, "%s: audit failed: %s", where, snap->why);
            return 1;
        }
        if (!snap->absent) {
            cr_violation(c,
                         "%s: a data.mdb is in place but does not open, "
                         "though nothing was acknowledged (a torn "
                         "creation): %s",
                         where, snap->why);
            return 1;
        }
        return 0; /* a creation cut short: no journal, nothing promised */
    }
    for (size_t i = 0; i < log->n_runs; i++) {
        v += check_run_acks(c, snap, &log->runs[i], where);
    }
    v += log->skip_i3 ? 0 : check_prefix(c, snap, log, where);
    v += check_log_flags(c, snap, log, where);
    v += v == 0 ? cr_check_tree(c, snap, log, where) : 0;
    return v;
}

void cr_cli_verify_argv(const cr_ctx *c, const char *dir, cr_argv *argv)
{
    cr_argv_init(argv);
    cr_argv_add(argv, "%s", c->cli);
    cr_argv_add(argv, "-J");
    cr_argv_add(argv, "%s", dir);
    cr_argv_add(argv, "verify");
    cr_argv_add(argv, "--all");
    cr_argv_add(argv, "--key");
    cr_argv_add(argv, "%s", c->pub);
    cr_argv_add(argv, "--checkpoints");
    cr_argv_add(argv, "%s.ckpt", dir);
}

unsigned cr_cli_verify(cr_ctx *c, const char *dir, const char *where)
{
    if (!c->cli_verify) {
        return 0;
    }
    cr_argv argv;
    cr_cli_verify_argv(c, dir, &argv);
    int st = cr_spawn(argv.v, NULL, 120.0, CR_STD_NULL);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        return 0;
    }
    char text[64];
    cr_status_text(st, text, sizeof(text));
    cr_violation(c, "%s: cairn verify --all --key on %s: %s (want exit 0, "
                    "VERIFIED)",
                 where, dir, text);
    return 1;
}

unsigned cr_audit_log(cr_ctx *c, const char *dir, const char *ack,
                      const char *where)
{
    cr_snap snap;
    cr_log log;
    cr_audit(c, dir, 0, NULL, &snap);
    cr_log_load(ack, &log);
    unsigned v = cr_check_acks(c, &snap, &log, where);
    if (v == 0 && snap.ok) {
        v += cr_cli_verify(c, dir, where);
    }
    cr_snap_free(&snap);
    cr_log_free(&log);
    return v;
}

/* ---- I6 --------------------------------------------------------------- */

typedef struct live {
    cr_work *w;
    char run[CAIRN_MAX_ID + 1];
    uint64_t n;
    uint8_t head[CAIRN_HASH_BYTES];
} live;

static int find_movable(void *ctx, const char *run)
{
    live *l = ctx;
    cairn_summary *s = NULL;
    if (cairn_status(l->w->j, run, &s) != CAIRN_OK) {
        return 0;
    }
    int movable =
        s->state != CAIRN_RUN_COMPLETED && s->state != CAIRN_RUN_CANCELLED &&
        s->state != CAIRN_RUN_TIMED_OUT && s->state != CAIRN_RUN_FAILED;
    if (movable) {
        snprintf(l->run, sizeof(l->run), "%s", run);
        l->n = s->records;
        memcpy(l->head, s->head, CAIRN_HASH_BYTES);
    }
    cairn_summary_free(s);
    return movable;
}

static int prev_fn(void *ctx, const cairn_record_view *v)
{
    memcpy(ctx, v->prev, CAIRN_HASH_BYTES);
    return 1;
}

/* The liveness check proper, in a child; the reopen's duration goes to
 * @p time_fd (a figure, never a verdict: a loaded machine is slow). */
static int live_child(cr_ctx *c, const char *dir, const char *tag,
                      const char *ack, int time_fd)
{
    cr_work w;
    memset(&w, 0, sizeof(w));
    w.dir = dir;
    w.rng = c->seed;
    w.ack_fd = open(ack, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    cairn_signer *signer = cr_load_signer(c->sec);
    w.signer = signer;
    double t0 = cr_now();
    if (w.ack_fd < 0 || cr_work_open(&w) != CAIRN_OK) {
        fprintf(stderr, "I6: reopen read-write failed\n");
        return 1;
    }
    double open_s = cr_now() - t0;
    (void)!write(time_fd, &open_s, sizeof(open_s));
    live l = {&w, "", 0, {0}};
    int rc = 0, done = 0;
    if (cairn_run_each(w.j, find_movable, &l) == CAIRN_OK && l.run[0]) {
        uint8_t prev[CAIRN_HASH_BYTES];
        cairn_err err = cr_work_step(&w, l.run, &done);
        if (err != CAIRN_OK ||
            cairn_record_each(w.j, l.run, l.n, prev_fn, prev) != CAIRN_OK ||
            memcmp(prev, l.head, CAIRN_HASH_BYTES) != 0) {
            fprintf(stderr,
                    "I6: append to %s after recovery: %s, or it "
                    "does not link to the old head\n",
                    l.run, cairn_errname(err));
            rc = 1;
        }
    } else {
        char run[64];
        snprintf(run, sizeof(run), "live-%s", tag);
        if (cr_work_create(&w, run) != CAIRN_OK) {
            fprintf(stderr, "I6: create %s after recovery failed\n", run);
            rc = 1;
        }
    }
    cairn_journal_close(w.j);
    cairn_signer_free(signer);
    return rc;
}

int cr_check_live(cr_ctx *c, const char *dir, const char *tag, const char *ack)
{
    int tp[2];
    fflush(stdout);
    fflush(stderr);
    if (pipe(tp) != 0) {
        cr_violation(c, "I6: pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        cr_violation(c, "I6: fork: %s", strerror(errno));
        close(tp[0]);
        close(tp[1]);
        return -1;
    }
    if (pid == 0) {
        close(tp[0]);
        _exit(live_child(c, dir, tag, ack, tp[1]));
    }
    close(tp[1]);
    double open_s = 0;
    if (read(tp[0], &open_s, sizeof(open_s)) == (ssize_t)sizeof(open_s) &&
        open_s > c->cur->slowest_reopen) {
        c->cur->slowest_reopen = open_s;
    }
    close(tp[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char st[64];
        cr_status_text(status, st, sizeof(st));
        cr_violation(c, "I6: liveness check on %s failed (%s)", dir, st);
        return -1;
    }
    return 0;
}
