/*
 * crash_kill.c - scenario 1: SIGKILL at random instants of several writer
 * processes doing mixed transitions on several runs at once (T1).  Each
 * child opens its own handle (fork first, then open), works on two runs of
 * its own and logs every intent and acknowledgement.  After each round of
 * kills: the audit (I2, I4, I5), the ack log check (I1, I3) and a liveness
 * check (I6: reopen, append, link).  The journal directory is replaced
 * every ROTATE rounds to keep the audits short.
 */
#include "crash.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 3
#define ROTATE 25
#define MAX_DELAY_US 40000

typedef struct gen_ctx {
    const char *prefix;
    unsigned gen;
} gen_ctx;

/* The newest generation of runs "<prefix><g>" in the journal. */
static int gen_fn(void *vctx, const char *run)
{
    gen_ctx *g = vctx;
    size_t n = strlen(g->prefix);
    if (strncmp(run, g->prefix, n) == 0) {
        unsigned v = (unsigned)strtoul(run + n, NULL, 10);
        g->gen = v > g->gen ? v : g->gen;
    }
    return 0;
}

void cr_writer_loop(cr_ctx *c, const char *dir, const char *ack, uint64_t seed,
                    unsigned k)
{
    cr_work w;
    memset(&w, 0, sizeof(w));
    w.dir = dir;
    w.rng = seed;
    w.big = 1;
    /* About one writer in three commits on its own (the group batch of
     * its handle) beside the others sharing commits through commit.shm,
     * so that both commit paths write rows and op trees under the
     * kills. */
    w.own_commits = seed % 3 == 0;
    w.ack_fd = open(ack, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    w.signer = cr_load_signer(c->sec);
    if (w.ack_fd < 0 || cr_work_open(&w) != CAIRN_OK) {
        _exit(3);
    }
    char prefix[2][32];
    unsigned gen[2];
    for (unsigned x = 0; x < 2; x++) {
        snprintf(prefix[x], sizeof(prefix[x]), "c%u-%u-", k, x);
        gen_ctx g = {prefix[x], 0};
        if (cairn_run_each(w.j, gen_fn, &g) != CAIRN_OK) {
            _exit(3);
        }
        gen[x] = g.gen;
    }
    for (;;) {
        unsigned x = (unsigned)cr_below(&w.rng, 2);
        char run[64];
        int done = 0;
        snprintf(run, sizeof(run), "%s%u", prefix[x], gen[x]);
        cairn_err err = cr_work_step(&w, run, &done);
        if (done) {
            gen[x]++;
        } else if (err != CAIRN_OK) {
            cr_ack_line(w.ack_fd, "X %s: unexpected %s: %s", run,
                        cairn_errname(err), cairn_journal_errdetail(w.j));
            _exit(4);
        }
    }
}

/* Run ids named by I lines after byte @p from of the ack log. */
static char **touched_runs(const char *ack, off_t from)
{
    size_t len = 0, n = 0;
    char *text = cr_slurp(ack, &len);
    char **out = calloc(64, sizeof(char *));
    if (text == NULL || out == NULL) {
        free(text);
        return out;
    }
    char *save = NULL;
    for (char *l = strtok_r(text + (from < (off_t)len ? from : 0), "\n", &save);
         l != NULL && n < 63; l = strtok_r(NULL, "\n", &save)) {
        char run[CAIRN_MAX_ID + 1];
        if (sscanf(l, "I %128s", run) != 1 || strcmp(run, "-") == 0) {
            continue;
        }
        int seen = 0;
        for (size_t i = 0; i < n; i++) {
            seen |= strcmp(out[i], run) == 0;
        }
        if (!seen) {
            out[n++] = strdup(run);
        }
    }
    free(text);
    return out;
}

static void free_list(char **list)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        free(list[i]);
    }
    free(list);
}

/* Kill the children at random instants; returns how many died by it.
 * Perturbed, every call is slower, so the writers get longer: every other
 * round up to 200 ms, the others up to 20 ms (while they still open the
 * journal; DURABILITY.md section 7). */
static unsigned kill_round(cr_ctx *c, const pid_t *pids, uint64_t *rng)
{
    unsigned delay[CHILDREN], killed = 0;
    unsigned span = !c->perturb              ? MAX_DELAY_US
                    : cr_below(rng, 2) == 0 ? 19000
                                            : 199000;
    for (unsigned k = 0; k < CHILDREN; k++) {
        delay[k] = 1000 + (unsigned)cr_below(rng, span);
    }
    double t0 = cr_now();
    for (unsigned done = 0; done < CHILDREN;) {
        done = 0;
        for (unsigned k = 0; k < CHILDREN; k++) {
            if (delay[k] == 0) {
                done++;
            } else if ((cr_now() - t0) * 1e6 >= delay[k]) {
                kill(pids[k], SIGKILL);
                delay[k] = 0;
            }
        }
        usleep(200);
    }
    for (unsigned k = 0; k < CHILDREN; k++) {
        int status = 0;
        while (waitpid(pids[k], &status, 0) < 0 && errno == EINTR) {
        }
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
            killed++;
        } else {
            char st[64];
            cr_status_text(status, st, sizeof(st));
            cr_violation(c, "writer %u ended by itself (%s)", k, st);
        }
    }
    return killed;
}

static unsigned judge(cr_ctx *c, const char *dir, const char *ack, off_t from,
                      int full, unsigned round)
{
    char **verify = full ? NULL : touched_runs(ack, from);
    cr_snap snap;
    cr_log log;
    char where[64];
    snprintf(where, sizeof(where), "round %u", round);
    cr_audit(c, dir, full ? 0 : CR_AUDIT_QUICK, verify, &snap);
    cr_log_load(ack, &log);
    unsigned v = cr_check_acks(c, &snap, &log, where);
    if (full && v == 0) {
        v += cr_cli_verify(c, dir, where);
    }
    cr_snap_free(&snap);
    cr_log_free(&log);
    free_list(verify);
    return v;
}

void cr_scen_kill(cr_ctx *c)
{
    uint64_t rounds = cr_scaled(c, 70, 4);
    uint64_t rng = c->seed ^ 0x6b696c6cu;
    char dir[4096] = "", ack[4200] = "";
    unsigned bad = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        if (r % ROTATE == 0) {
            if (dir[0] != '\0') {
                bad += judge(c, dir, ack, 0, 1, (unsigned)r);
                cr_cleanup_dir(c, dir, bad > 0);
            }
            cr_mkdir_fresh(c, "kill", dir, sizeof(dir));
            snprintf(ack, sizeof(ack), "%s.ack", dir);
        }
        off_t from = cr_file_size(ack);
        pid_t pids[CHILDREN];
        unsigned cpu = (unsigned)cr_below(&rng, 64);
        fflush(stdout);
        for (unsigned k = 0; k < CHILDREN; k++) {
            pids[k] = fork();
            if (pids[k] == 0) {
                cr_perturb_writer(c, cpu);
                cr_writer_loop(c, dir, ack, c->seed * 1000003u + r * 31u + k,
                               k);
            }
        }
        c->cur->iterations += kill_round(c, pids, &rng);
        bad +=
            judge(c, dir, ack, from < 0 ? 0 : from, r % 10 == 9, (unsigned)r);
        char tag[32];
        snprintf(tag, sizeof(tag), "%llu", (unsigned long long)r);
        bad += cr_check_live(c, dir, tag, ack) != 0;
    }
    bad += judge(c, dir, ack, 0, 1, (unsigned)rounds);
    cr_cleanup_dir(c, dir, bad > 0);
    snprintf(c->cur->note, sizeof(c->cur->note),
             "%llu rounds of %d writers, full audit every 10 rounds; "
             "slowest reopen %.3f s",
             (unsigned long long)rounds, CHILDREN, c->cur->slowest_reopen);
}
