/*
 * crash_lock.c - scenario 8, second half: a second writer on a run, fds
 * 0-2 closed at start (CLI and library), fork after open; and the
 * scenario's entry point.  The first half is crash_procs.c.
 */
#include "crash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int cli_run(cr_ctx *c, const char *dir, const char *a1, const char *a2,
                   const char *a3, char *const *env, int close_std)
{
    cr_argv argv;
    cr_argv_init(&argv);
    cr_argv_add(&argv, "%s", c->cli);
    cr_argv_add(&argv, "-J");
    cr_argv_add(&argv, "%s", dir);
    const char *args[3] = {a1, a2, a3};
    for (int i = 0; i < 3; i++) {
        if (args[i] != NULL) {
            cr_argv_add(&argv, "%s", args[i]);
        }
    }
    if (strcmp(a1, "status") != 0) {
        cr_argv_add(&argv, "--secret-key");
        cr_argv_add(&argv, "%s", c->sec);
    }
    int st = cr_spawn(argv.v, env, 30.0, close_std);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void part_second(cr_ctx *c)
{
    char dir[4096], ack[4200], run[64], cmd[96], out[256];
    cr_srv a;
    cr_mkdir_fresh(c, "second", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    if (cr_prepare_runs(c, dir, ack, "x", run, sizeof(run)) != 0 ||
        cr_srv_start(c, &a, dir, ack, "y", c->seed) != 0) {
        cr_violation(c, "second: setup failed");
        return;
    }
    snprintf(cmd, sizeof(cmd), "lock %s", run);
    int locked = cr_srv_cmd(&a, cmd, out, sizeof(out)) == 0;
    int api = cr_step_result(cr_start_step(c, dir, ack, run, NULL));
    int cli =
        c->cli[0] ? cli_run(c, dir, "claim", run, NULL, NULL, CR_STD_NULL) : 5;
    cr_srv_stop(&a, 1);
    int after = cr_step_result(cr_start_step(c, dir, ack, run, NULL));
    cr_note(c,
            "second: while held: API %s, CLI exit %d; after the "
            "holder's death: %s",
            api >= 0 ? cairn_errname((cairn_err)api) : "died", cli,
            after >= 0 ? cairn_errname((cairn_err)after) : "died");
    if (!locked || api != CAIRN_ELOCKED || cli != 5 || after != CAIRN_OK) {
        cr_violation(c, "second: a second writer was not refused with "
                        "CAIRN_ELOCKED / exit 5, or not let in after the "
                        "holder died");
    }
    unsigned v = cr_audit_log(c, dir, ack, "second writer");
    cr_cleanup_dir(c, dir, v > 0);
}

/* The "L path fd" lines of the fd-check shim: any journal file on 0-2? */
static int low_fds(const char *events, int *seen)
{
    char *text = cr_slurp(events, NULL);
    int low = 0;
    *seen = 0;
    for (char *l = text; l != NULL && *l != '\0';) {
        char path[4096];
        int fd;
        if (sscanf(l, "L %4095s %d", path, &fd) == 2) {
            (*seen)++;
            low += fd <= 2;
        }
        l = strchr(l, '\n');
        l = l != NULL ? l + 1 : NULL;
    }
    free(text);
    return low;
}

static unsigned fds_cli(cr_ctx *c, const char *dir, const char *ack)
{
    char plan[4200], events[4200];
    cr_argv env;
    snprintf(plan, sizeof(plan), "%s.plan.json", dir);
    snprintf(events, sizeof(events), "%s.fds", dir);
    FILE *f = fopen(plan, "w");
    if (f == NULL) {
        return 1;
    }
    fprintf(f, "{\"cairn_plan\":1,\"plan_id\":\"fd\",\"run_id\":\"fdrun\","
               "\"operations\":[{\"id\":\"a\",\"kind\":\"preflight\"},"
               "{\"id\":\"b\",\"kind\":\"task\"}]}\n");
    fclose(f);
    cr_argv_init(&env);
    cr_argv_add(&env, "LD_PRELOAD=%s", c->shim);
    cr_argv_add(&env, "CRASH_SHIM_DIR=%s", dir);
    cr_argv_add(&env, "CRASH_SHIM_FDCHECK=1");
    cr_argv_add(&env, "CRASH_SHIM_OUT=%s", events);
    if (c->asan) {
        cr_argv_add(&env, "ASAN_OPTIONS=verify_asan_link_order=0");
    }
    int fd = open(ack, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    cr_ack_line(fd, "I fdrun 3");
    close(fd);
    int rc[4];
    rc[0] = cli_run(c, dir, "create", plan, NULL, env.v, CR_STD_CLOSED);
    rc[1] = cli_run(c, dir, "claim", "fdrun", NULL, env.v, CR_STD_CLOSED);
    rc[2] =
        cli_run(c, dir, "complete", "fdrun", "--op=0", env.v, CR_STD_CLOSED);
    rc[3] = cli_run(c, dir, "status", "fdrun", NULL, env.v, CR_STD_CLOSED);
    int seen = 0, low = low_fds(events, &seen);
    cr_note(c,
            "fds: CLI with 0-2 closed: create %d, claim %d, complete %d, "
            "status %d; %d journal opens, %d on fd 0-2",
            rc[0], rc[1], rc[2], rc[3], seen, low);
    if (rc[0] || rc[1] || rc[2] || rc[3] || seen == 0 || low > 0) {
        cr_violation(c, "fds: the CLI with fds 0-2 closed failed or put a "
                        "journal file on fd 0-2");
        return 1;
    }
    return 0;
}

/* The library in a child whose fds 0-2 are closed. */
static unsigned fds_lib(cr_ctx *c, const char *dir, const char *ack)
{
    int p[2];
    if (pipe(p) != 0) {
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        cr_work w;
        int done = 0, low = 0;
        memset(&w, 0, sizeof(w));
        w.dir = dir;
        w.rng = c->seed;
        w.ack_fd = open(ack, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        w.signer = cr_load_signer(c->sec);
        close(0);
        close(1);
        close(2);
        cairn_err err = cr_work_open(&w);
        if (err == CAIRN_OK) {
            err = cr_work_step(&w, "fdlib", &done);
        }
        for (int fd = 0; fd <= 2; fd++) {
            char link[64], target[4096] = "";
            snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
            ssize_t n = readlink(link, target, sizeof(target) - 1);
            target[n > 0 ? n : 0] = '\0';
            low += strstr(target, ".mdb") != NULL;
        }
        char r = (char)(err == CAIRN_OK && low == 0 ? 'y' : 'n');
        (void)!write(p[1], &r, 1);
        cairn_journal_close(w.j);
        _exit(0);
    }
    close(p[1]);
    char r = 'n';
    if (read(p[0], &r, 1) != 1) {
        r = 'n';
    }
    close(p[0]);
    waitpid(pid, NULL, 0);
    if (r != 'y') {
        cr_violation(c, "fds: the library with fds 0-2 closed failed or "
                        "put a journal file on fd 0-2");
        return 1;
    }
    return 0;
}

static void part_fds(cr_ctx *c)
{
    char dir[4096], ack[4200], run[64];
    cr_mkdir_fresh(c, "fds", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    unsigned v = cr_prepare_runs(c, dir, ack, "f", run, sizeof(run)) != 0;
    v += fds_lib(c, dir, ack);
    if (c->cli[0] != '\0') {
        v += fds_cli(c, dir, ack);
    } else {
        cr_note(c, "fds: no CLI ($CAIRN or --cli): CLI part skipped");
    }
    v += cr_audit_log(c, dir, ack, "fds 0-2 closed");
    cr_cleanup_dir(c, dir, v > 0);
}

/* cairn_run_lock() from another process; its result. */
static int try_lock(const char *dir, const char *run)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        cairn_journal *j = NULL;
        char detail[256];
        cairn_err err = cairn_journal_open(dir, 0, &j, detail, sizeof(detail));
        if (err == CAIRN_OK) {
            err = cairn_run_lock(j, run);
        }
        cairn_journal_close(j);
        _exit((int)err);
    }
    return cr_step_result(pid);
}

static void part_fork(cr_ctx *c)
{
    char dir[4096], ack[4200], run[64], cmd[96], out[256];
    cr_srv p;
    cr_mkdir_fresh(c, "fork", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    if (cr_srv_start(c, &p, dir, ack, "k", c->seed) != 0 ||
        cr_srv_cmd(&p, "steps 6", out, sizeof(out)) != 0) {
        cr_violation(c, "fork: setup failed");
        return;
    }
    snprintf(run, sizeof(run), "k-0-0");
    snprintf(cmd, sizeof(cmd), "lock %s", run);
    if (cr_srv_cmd(&p, cmd, out, sizeof(out)) != 0) {
        snprintf(run, sizeof(run), "k-1-0");
        snprintf(cmd, sizeof(cmd), "lock %s", run);
        (void)cr_srv_cmd(&p, cmd, out, sizeof(out));
    }
    int forked = cr_srv_cmd(&p, "fork", out, sizeof(out)) == 0;
    int after = cr_srv_cmd(&p, "steps 8", out, sizeof(out)) == 0;
    int other = try_lock(dir, run);
    cr_srv_stop(&p, 0);
    cr_note(c,
            "fork: children exited; parent handle %s; cairn_run_lock "
            "of its locked run %s elsewhere: %s",
            after ? "works" : "FAILED", run,
            other >= 0 ? cairn_errname((cairn_err)other) : "died");
    if (!forked || !after || other != CAIRN_ELOCKED) {
        cr_violation(c, "fork: after children of an open handle exited, the "
                        "parent's handle or run lock stopped working");
    }
    unsigned v = cr_audit_log(c, dir, ack, "fork after open");
    cr_cleanup_dir(c, dir, v > 0);
}

void cr_scen_procs(cr_ctx *c)
{
    cr_part_stale(c);
    cr_part_wlock(c);
    part_second(c);
    part_fds(c);
    part_fork(c);
    c->cur->iterations = 5;
    snprintf(c->cur->note, sizeof(c->cur->note),
             "stale reader, dead lock holder, second writer, fds 0-2, "
             "fork after open");
}
