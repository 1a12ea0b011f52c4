/*
 * crash_recover.c - scenario 7 (allocation failure at every N, and a
 * Valgrind run in the long mode) and scenario 10 (kills and faults during
 * recovery and verification: random SIGKILLs of the recovery workload and
 * of `cairn verify`, then a kill sweep and an EIO sweep over the recovery
 * path, each followed by the audit).
 */
#include "crash.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A journal made by the plain workload, to start recovery runs from. */
static int make_template(cr_ctx *c, char *dir, size_t len)
{
    char ack[4200];
    cr_mkdir_fresh(c, "template", dir, len);
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    int status = cr_run_workload(c, "sweep", dir, ack, c->seed, 16, NULL, NULL);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cr_violation(c, "the template workload failed (0x%x)",
                     (unsigned)status);
        return -1;
    }
    return 0;
}

static int copy_template(cr_ctx *c, const char *tmpl, char *dir, size_t len,
                         char *ack, size_t alen)
{
    char from[4200], to[4200];
    cr_mkdir_fresh(c, "recover", dir, len);
    snprintf(ack, alen, "%s.ack", dir);
    snprintf(from, sizeof(from), "%s/data.mdb", tmpl);
    snprintf(to, sizeof(to), "%s/data.mdb", dir);
    if (cr_copy_file(from, to) != 0) {
        return -1;
    }
    snprintf(from, sizeof(from), "%s.ack", tmpl);
    return cr_copy_file(from, ack);
}

static void kill_at(pid_t pid, double delay_s, int *status)
{
    double t0 = cr_now();
    while (cr_now() - t0 < delay_s) {
        if (waitpid(pid, status, WNOHANG) == pid) {
            return;
        }
        usleep(100);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
}

/* `cairn verify --all` killed at a random instant, then the audit. */
static unsigned kill_verify(cr_ctx *c, const char *dir, const char *ack,
                            uint64_t *rng)
{
    cr_argv argv;
    int status = 0;
    if (!c->cli_verify) {
        return 0;
    }
    cr_cli_verify_argv(c, dir, &argv);
    pid_t pid = cr_start(argv.v, NULL, CR_STD_NULL);
    if (pid < 0) {
        return 0;
    }
    kill_at(pid, (double)cr_below(rng, 30000) / 1e6, &status);
    return cr_audit_log(c, dir, ack, "after killing cairn verify");
}

/* Random SIGKILLs of the recovery workload (and of `cairn verify`). */
static void random_kills(cr_ctx *c, const char *tmpl, uint64_t n)
{
    uint64_t rng = c->seed ^ 0x7265636fu;
    double dur = 0;
    for (uint64_t i = 0; i < n; i++) {
        char dir[4096], ack[4200], where[64];
        int status = 0;
        if (copy_template(c, tmpl, dir, sizeof(dir), ack, sizeof(ack))) {
            cr_violation(c, "cannot copy the template journal");
            return;
        }
        double t0 = cr_now();
        pid_t pid = cr_start_workload(c, "recover", dir, ack, c->seed + i, 14);
        double when =
            i == 0 ? 60.0 : (double)cr_below(&rng, 1000) / 1000 * dur * 1.2;
        kill_at(pid, when, &status);
        if (i == 0) {
            dur = cr_now() - t0; /* the first run measures the length */
        }
        snprintf(where, sizeof(where), "recovery kill %llu at %.1f ms",
                 (unsigned long long)i, when * 1000);
        unsigned v = cr_audit_log(c, dir, ack, where);
        v += kill_verify(c, dir, ack, &rng);
        v += v == 0 ? cr_check_live(c, dir, "recover", ack) != 0 : 0;
        c->cur->iterations++;
        cr_cleanup_dir(c, dir, v > 0);
    }
}

void cr_scen_recover(cr_ctx *c)
{
    char tmpl[4096];
    if (make_template(c, tmpl, sizeof(tmpl)) != 0) {
        return;
    }
    random_kills(c, tmpl, cr_scaled(c, 40, 4));
    unsigned max = c->asan ? 20 : 80;
    const cr_sweep list[] = {
        {"recover-kill", "kill", NULL, "recover", 6, c->seed, tmpl, NULL, max},
        {"recover-eio", "eio", NULL, "recover", 6, c->seed, tmpl, "CAIRN_EIO",
         max},
    };
    uint64_t kills = c->cur->iterations;
    cr_sweep_all(c, list, sizeof(list) / sizeof(list[0]));
    char note[sizeof(c->cur->note)];
    snprintf(note, sizeof(note), "%s", c->cur->note);
    snprintf(c->cur->note, sizeof(c->cur->note), "%llu random kills; %.200s",
             (unsigned long long)kills, note);
    c->cur->iterations += kills;
    cr_cleanup_dir(c, tmpl, 0);
}

static void valgrind_run(cr_ctx *c)
{
    char dir[4096], ack[4200], st[64];
    if (access("/usr/bin/valgrind", X_OK) != 0) {
        cr_note(c, "valgrind not installed: leak run skipped");
        return;
    }
    cr_mkdir_fresh(c, "valgrind", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    int status =
        cr_run_workload(c, "sweep", dir, ack, c->seed, 14, NULL, "valgrind");
    cr_status_text(status, st, sizeof(st));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cr_violation(c, "valgrind --leak-check=full on the workload: %s", st);
    } else {
        cr_note(c, "valgrind --leak-check=full on the workload: clean");
    }
    cr_cleanup_dir(c, dir, status != 0);
}

/* Errors in the ack file @p ack other than CAIRN_ENOMEM: the count, the
 * first such line into @p first. */
static unsigned not_enomem(const char *ack, char *first, size_t len)
{
    char *text = cr_slurp(ack, NULL), *save = NULL;
    unsigned n = 0;
    first[0] = '\0';
    for (char *l = text != NULL ? strtok_r(text, "\n", &save) : NULL; l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        char run[200], name[64];
        if (sscanf(l, "E %199s %63s", run, name) == 2 &&
            strcmp(name, "CAIRN_ENOMEM") != 0 && n++ == 0) {
            snprintf(first, len, "%s", l);
        }
    }
    free(text);
    return n;
}

/* Every read of the boot id fails for lack of memory (the handle then
 * has none cached, so each record's stamp reads it again): transitions
 * must fail with CAIRN_ENOMEM, never another error (oom-bootid). */
static void bootid_run(cr_ctx *c)
{
    char dir[4096], ack[4200], first[512];
    cr_argv env;
    cr_mkdir_fresh(c, "bootid", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    cr_argv_init(&env);
    cr_argv_add(&env, "LD_PRELOAD=%s", c->mshim);
    cr_argv_add(&env, "CRASH_MSHIM_PATH=/proc/sys/kernel/random/boot_id");
    cr_argv_add(&env, "CRASH_MSHIM_OUT=%s", ack);
    int status = cr_run_workload(c, "sweep", dir, ack, c->seed, 6, env.v, NULL);
    unsigned v = 0, bad = not_enomem(ack, first, sizeof(first));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char st[64];
        cr_status_text(status, st, sizeof(st));
        cr_violation(c, "boot id unreadable: workload %s", st);
        v++;
    }
    if (bad > 0) {
        cr_violation_known(c, "oom-bootid",
                           "boot id unreadable for lack of memory: %u "
                           "transitions failed with another error than "
                           "CAIRN_ENOMEM, first: %s",
                           bad, first);
        v++;
    }
    v += cr_audit_log(c, dir, ack, "boot id unreadable");
    c->cur->iterations++;
    cr_note(c, "boot id unreadable (every read fails to allocate): %s",
            v == 0 ? "CAIRN_ENOMEM, journal clean" : "wrong");
    cr_cleanup_dir(c, dir, v > 0);
}

void cr_scen_alloc(cr_ctx *c)
{
    if (c->asan) {
        c->cur->skipped = 1;
        snprintf(c->cur->note, sizeof(c->cur->note),
                 "AddressSanitizer replaces malloc: run it in the plain "
                 "build");
        return;
    }
    const cr_sweep list[] = {
        {"malloc", NULL, NULL, "sweep", 10, c->seed, NULL, "CAIRN_ENOMEM", 300},
    };
    cr_sweep_all(c, list, 1);
    bootid_run(c);
    if (c->scale > 1) {
        valgrind_run(c);
    }
}
