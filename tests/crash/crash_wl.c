/*
 * crash_wl.c - workloads exec'd under the shims ("crash --work KIND"),
 * and the driver's side that starts them.
 *
 *   sweep    open (create) the journal, then STEPS transitions over two
 *            runs; after an error: if the fault hit a commit (a write,
 *            meta write or sync on data.mdb) the same handle must refuse
 *            the next write with CAIRN_EFATAL; then close, reopen and go
 *            on (a one-shot fault: the reopen must work).
 *   recover  open an existing journal read-write, verify and replay every
 *            run, then STEPS transitions (the recovery path of scenario
 *            10).
 * Exit status: 0 done; 3 the journal could not be opened twice in a row;
 * 2 bad usage.
 */
#include "crash.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct wl_args {
    const char *kind, *dir, *ack, *sec, *pub;
    uint64_t seed;
    unsigned steps;
    unsigned runs;
} wl_args;

typedef void (*arm_fn)(void);
typedef int (*fired_fn)(char *, size_t);

/* Find a shim's function (absent when the shim is not loaded). */
static void *shim_sym(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

static void arm_shims(void)
{
    const char *names[] = {"crashshim_arm", "crashmshim_arm"};
    for (size_t i = 0; i < 2; i++) {
        void *p = shim_sym(names[i]);
        if (p != NULL) {
            arm_fn f;
            memcpy(&f, &p, sizeof(p));
            f();
        }
    }
}

/* Did the I/O shim fail a call inside a commit? */
static int commit_fault(void)
{
    void *p = shim_sym("crashshim_fired");
    char kind[16] = "";
    if (p == NULL) {
        return 0;
    }
    fired_fn f;
    memcpy(&f, &p, sizeof(p));
    if (!f(kind, sizeof(kind))) {
        return 0;
    }
    return strcmp(kind, "write") == 0 || strcmp(kind, "meta") == 0 ||
           strcmp(kind, "sync") == 0;
}

static int parse(int argc, char **argv, wl_args *a)
{
    memset(a, 0, sizeof(*a));
    a->runs = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--work") == 0) {
            a->kind = v;
        } else if (strcmp(k, "--dir") == 0) {
            a->dir = v;
        } else if (strcmp(k, "--ack") == 0) {
            a->ack = v;
        } else if (strcmp(k, "--sec") == 0) {
            a->sec = v;
        } else if (strcmp(k, "--pub") == 0) {
            a->pub = v;
        } else if (strcmp(k, "--seed") == 0) {
            a->seed = strtoull(v, NULL, 10);
        } else if (strcmp(k, "--steps") == 0) {
            a->steps = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(k, "--runs") == 0) {
            a->runs = (unsigned)strtoul(v, NULL, 10);
        } else {
            return -1;
        }
    }
    return a->kind && a->dir && a->ack && a->sec && a->runs > 0 ? 0 : -1;
}

static int reopen(cr_work *w)
{
    cairn_journal_close(w->j);
    w->j = NULL;
    if (cr_work_open(w) == CAIRN_OK) {
        return 0;
    }
    /* One-shot faults: a second open must work. */
    return cr_work_open(w) == CAIRN_OK ? 0 : -1;
}

/* After a failed commit the same handle must refuse the next write. */
static void check_fatal(cr_work *w, const char *run)
{
    int done = 0;
    cairn_err err = cr_work_step(w, run, &done);
    if (!done && err != CAIRN_EFATAL) {
        cr_ack_line(w->ack_fd,
                    "X %s: after a failed commit the handle "
                    "answered %s, not CAIRN_EFATAL",
                    run, cairn_errname(err));
    }
}

static int steps(cr_work *w, const wl_args *a)
{
    char runs[8][32];
    unsigned n = a->runs < 8 ? a->runs : 8;
    for (unsigned i = 0; i < n; i++) {
        snprintf(runs[i], sizeof(runs[i]), "w%u", i);
    }
    unsigned gen[8] = {0};
    for (unsigned s = 0; s < a->steps; s++) {
        unsigned k = (unsigned)cr_below(&w->rng, n);
        char run[48];
        snprintf(run, sizeof(run), "%s-%u", runs[k], gen[k]);
        int done = 0;
        cairn_err err = cr_work_step(w, run, &done);
        if (done) {
            gen[k]++;
            continue;
        }
        if (err == CAIRN_OK) {
            continue;
        }
        if (commit_fault() && err != CAIRN_EFATAL) {
            check_fatal(w, run);
        }
        if (reopen(w) != 0) {
            return 3;
        }
    }
    return 0;
}

typedef struct verify_ctx {
    cr_work *w;
    cairn_pubkey *pk;
} verify_ctx;

static int verify_one(void *vctx, const char *run)
{
    verify_ctx *v = vctx;
    cairn_verify_report rep;
    cairn_err err = cairn_verify_run(v->w->j, run, v->pk, &rep);
    if (err == CAIRN_OK && rep.verdict != CAIRN_VERDICT_VERIFIED) {
        cr_ack_line(v->w->ack_fd, "X %s: %s on recovery: %s", run,
                    cairn_verdict_name(rep.verdict), rep.reason);
    }
    err = cairn_replay_check(v->w->j, run);
    if (err == CAIRN_ECORRUPT) {
        cr_ack_line(v->w->ack_fd, "X %s: replay differs on recovery: %s", run,
                    cairn_journal_errdetail(v->w->j));
    }
    return 0;
}

static int recover(cr_work *w, const wl_args *a)
{
    verify_ctx v = {w, NULL};
    char detail[256];
    if (a->pub == NULL ||
        cairn_pubkey_load(a->pub, &v.pk, detail, sizeof(detail)) != CAIRN_OK) {
        return 2;
    }
    arm_shims();
    if (cr_work_open(w) != CAIRN_OK && reopen(w) != 0) {
        cairn_pubkey_free(v.pk);
        return 3;
    }
    if (cairn_run_each(w->j, verify_one, &v) != CAIRN_OK) {
        cr_ack_line(w->ack_fd, "E - %s listing runs on recovery",
                    cairn_errname(CAIRN_ESTORE));
    }
    cairn_pubkey_free(v.pk);
    return steps(w, a);
}

int cr_work_main(int argc, char **argv)
{
    wl_args a;
    if (parse(argc, argv, &a) != 0) {
        fprintf(stderr, "crash: bad --work arguments\n");
        return 2;
    }
    cr_work w;
    memset(&w, 0, sizeof(w));
    w.dir = a.dir;
    w.rng = a.seed;
    w.big = 1;
    w.ack_fd = open(a.ack, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (w.ack_fd < 0) {
        return 2;
    }
    cairn_signer *signer = cr_load_signer(a.sec);
    w.signer = signer;
    int rc;
    if (strcmp(a.kind, "recover") == 0) {
        rc = recover(&w, &a);
    } else {
        arm_shims();
        rc =
            cr_work_open(&w) == CAIRN_OK || reopen(&w) == 0 ? steps(&w, &a) : 3;
    }
    cairn_journal_close(w.j);
    cairn_signer_free(signer);
    close(w.ack_fd);
    return rc;
}

static void workload_argv(cr_ctx *c, const char *kind, const char *dir,
                          const char *ack, uint64_t seed, unsigned nsteps,
                          const char *wrapper, cr_argv *argv)
{
    cr_argv_init(argv);
    if (wrapper != NULL) {
        cr_argv_add(argv, "%s", "/usr/bin/valgrind");
        cr_argv_add(argv, "%s", "-q");
        cr_argv_add(argv, "%s", "--leak-check=full");
        cr_argv_add(argv, "%s", "--errors-for-leak-kinds=definite,indirect");
        cr_argv_add(argv, "%s", "--error-exitcode=99");
    }
    cr_argv_add(argv, "%s", c->exe);
    cr_argv_add(argv, "--work");
    cr_argv_add(argv, "%s", kind);
    cr_argv_add(argv, "--dir");
    cr_argv_add(argv, "%s", dir);
    cr_argv_add(argv, "--ack");
    cr_argv_add(argv, "%s", ack);
    cr_argv_add(argv, "--sec");
    cr_argv_add(argv, "%s", c->sec);
    cr_argv_add(argv, "--pub");
    cr_argv_add(argv, "%s", c->pub);
    cr_argv_add(argv, "--seed");
    cr_argv_add(argv, "%llu", (unsigned long long)seed);
    cr_argv_add(argv, "--steps");
    cr_argv_add(argv, "%u", nsteps);
}

int cr_run_workload(cr_ctx *c, const char *kind, const char *dir,
                    const char *ack, uint64_t seed, unsigned nsteps,
                    char *const *env, const char *wrapper)
{
    cr_argv argv, extra;
    workload_argv(c, kind, dir, ack, seed, nsteps, wrapper, &argv);
    cr_argv_init(&extra);
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        cr_argv_add(&extra, "%s", env[i]);
    }
    const char *old = getenv("ASAN_OPTIONS");
    if (c->asan) {
        /* The shims come before libasan in the library list. */
        cr_argv_add(&extra, "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
                    old != NULL ? old : "", old != NULL ? ":" : "");
    }
    return cr_spawn(argv.v, extra.v, 120.0, 0);
}

pid_t cr_start_workload(cr_ctx *c, const char *kind, const char *dir,
                        const char *ack, uint64_t seed, unsigned nsteps)
{
    cr_argv argv;
    workload_argv(c, kind, dir, ack, seed, nsteps, NULL, &argv);
    return cr_start(argv.v, NULL, 0);
}
