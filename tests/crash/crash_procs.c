/*
 * crash_procs.c - scenario 8: processes around the journal (the second
 * half, and the entry point, are in crash_lock.c).
 *   stale   a reader killed inside a read transaction pins pages; the next
 *           open clears its slot and the file stops growing
 *   wlock   a process killed while holding LMDB's write lock: the waiting
 *           writer proceeds within 1 s (robust mutex)
 *   second  a second writer on a run is refused (CAIRN_ELOCKED; the CLI
 *           exits 5), and proceeds once the holder died
 *   fds     the CLI and the library started with fds 0-2 closed: data.mdb
 *           and lock.mdb never land on 0-2, and the journal verifies
 *   fork    fork after open: children that _exit, exec and exit leave the
 *           parent's handle and run lock working
 * Each part ends with the audit and the ack log checks.
 */
#include "crash.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int cr_wait_byte(int fd, double timeout_s)
{
    struct pollfd p = {fd, POLLIN, 0};
    char b;
    if (poll(&p, 1, (int)(timeout_s * 1000)) <= 0) {
        return -1;
    }
    return read(fd, &b, 1) == 1 ? 0 : -1;
}

static int reader_cb(void *ctx, const cairn_record_view *v)
{
    (void)v;
    int fd = *(int *)ctx;
    (void)!write(fd, "r", 1);
    for (;;) {
        pause();
    }
    return 1;
}

/* A child holding a read transaction (inside cairn_record_each). */
static pid_t start_reader(cr_ctx *c, const char *dir, const char *run)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        cairn_journal *j = NULL;
        char detail[256];
        close(p[0]);
        if (cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                               sizeof(detail)) != CAIRN_OK ||
            cairn_record_each(j, run, 0, reader_cb, &p[1]) != CAIRN_OK) {
            _exit(3);
        }
        _exit(4);
    }
    close(p[1]);
    int rc = cr_wait_byte(p[0], 10);
    close(p[0]);
    if (rc != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    (void)c;
    return pid;
}

static long grow_by(cr_srv *w, unsigned steps)
{
    char cmd[32], out[256], word[8], name[64];
    unsigned long long before = 0, after = 0, map = 0;
    snprintf(cmd, sizeof(cmd), "steps %u", 1);
    if (cr_srv_cmd(w, cmd, out, sizeof(out)) != 0 ||
        sscanf(out, "%7s %63s %llu %llu", word, name, &before, &map) != 4) {
        return -1;
    }
    snprintf(cmd, sizeof(cmd), "steps %u", steps);
    if (cr_srv_cmd(w, cmd, out, sizeof(out)) != 0 ||
        sscanf(out, "%7s %63s %llu %llu", word, name, &after, &map) != 4) {
        return -1;
    }
    return (long)(after - before);
}

/* Open and close a handle in a child: clears stale reader slots. */
static int open_once(const char *dir)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        cairn_journal *j = NULL;
        char detail[256];
        cairn_err err = cairn_journal_open(dir, CAIRN_OPEN_READONLY, &j, detail,
                                           sizeof(detail));
        cairn_journal_close(j);
        _exit(err == CAIRN_OK ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

void cr_part_stale(cr_ctx *c)
{
    char dir[4096], ack[4200];
    cr_srv w;
    cr_mkdir_fresh(c, "stale", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    unsigned k = (unsigned)cr_scaled(c, 150, 3);
    if (cr_srv_start(c, &w, dir, ack, "s", c->seed) != 0) {
        cr_violation(c, "stale: cannot start the writer");
        return;
    }
    long g0 = grow_by(&w, k);
    pid_t r = start_reader(c, dir, "s-0-0");
    if (r < 0) {
        r = start_reader(c, dir, "s-1-0");
    }
    kill(r, SIGKILL);
    waitpid(r, NULL, 0);
    int stale_before = cr_stale_readers(dir);
    long g1 = grow_by(&w, k);
    int opened = open_once(dir);
    int stale_after = cr_stale_readers(dir);
    long g2 = grow_by(&w, k);
    cr_srv_stop(&w, 0);
    cr_note(c,
            "stale: growth over %u commits: %ld B before, %ld B pinned "
            "by the dead reader, %ld B after the next open; stale slots "
            "%d -> %d",
            k, g0, g1, g2, stale_before, stale_after);
    if (r < 0 || g0 < 0 || g1 < 0 || g2 < 0 || opened != 0 ||
        stale_before < 1) {
        cr_violation(c,
                     "stale: setup failed (reader %d, open %d, stale "
                     "slots %d)",
                     (int)r, opened, stale_before);
    } else if (stale_after != 0) {
        cr_violation(c, "stale: %d stale reader slots left after an open",
                     stale_after);
    } else if (g2 > g0 * 2 + 65536 || g2 * 2 > g1) {
        cr_violation(c,
                     "stale: growth not bounded after the stale slot "
                     "was cleared (%ld B, %ld B when pinned)",
                     g2, g1);
    }
    unsigned v = cr_audit_log(c, dir, ack, "stale reader");
    cr_cleanup_dir(c, dir, v > 0);
}

/* A raw-LMDB child that holds the write transaction until killed. */
static pid_t start_lock_holder(const char *dir)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        MDB_env *env = NULL;
        MDB_txn *txn = NULL;
        close(p[0]);
        if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 8) != 0 ||
            mdb_env_set_mapsize(env, (size_t)256 << 20) != 0 ||
            mdb_env_open(env, dir, MDB_NOTLS, 0644) != 0 ||
            mdb_txn_begin(env, NULL, 0, &txn) != 0) {
            _exit(3);
        }
        (void)!write(p[1], "h", 1);
        for (;;) {
            pause();
        }
    }
    close(p[1]);
    int rc = cr_wait_byte(p[0], 10);
    close(p[0]);
    return rc == 0 ? pid : -1;
}

/* A child that opens and makes one transition; it writes the time it
 * finished (CLOCK_MONOTONIC seconds) to @p fd.  Exit: the cairn_err. */
static void one_step_child(cr_ctx *c, const char *dir, const char *ack,
                           const char *run, int fd)
{
    cr_work w;
    int done = 0;
    memset(&w, 0, sizeof(w));
    w.dir = dir;
    w.rng = c->seed;
    w.ack_fd = open(ack, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    w.signer = cr_load_signer(c->sec);
    cairn_err err = cr_work_open(&w);
    if (err == CAIRN_OK) {
        err = cr_work_step(&w, run, &done);
    }
    double t = cr_now();
    if (fd >= 0) {
        (void)!write(fd, &t, sizeof(t));
    }
    cairn_journal_close(w.j);
    _exit((int)err);
}

pid_t cr_start_step(cr_ctx *c, const char *dir, const char *ack,
                    const char *run, int *fd_out)
{
    int p[2] = {-1, -1};
    if (fd_out != NULL && pipe(p) != 0) {
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (p[0] >= 0) {
            close(p[0]);
        }
        one_step_child(c, dir, ack, run, p[1]);
    }
    if (fd_out != NULL) {
        close(p[1]);
        *fd_out = p[0];
    }
    return pid;
}

int cr_step_result(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct probe {
    cr_work *w;
    const char *prefix;
    char run[CAIRN_MAX_ID + 1];
} probe;

static int probe_fn(void *ctx, const char *run)
{
    probe *p = ctx;
    size_t n = strlen(p->prefix);
    if (strncmp(run, p->prefix, n) != 0 || run[n] != '-' ||
        !cr_work_can_step(p->w, run)) {
        return 0;
    }
    snprintf(p->run, sizeof(p->run), "%s", run);
    return 1;
}

/* In a child: a run named "<prefix>-..." that the next step would move
 * (read-only); 0 when one was found. */
static int movable_run(cr_ctx *c, const char *dir, const char *prefix,
                       char *run, size_t len)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        cr_work w;
        char detail[256];
        close(p[0]);
        memset(&w, 0, sizeof(w));
        w.rng = c->seed;
        probe pr = {&w, prefix, ""};
        if (cairn_journal_open(dir, CAIRN_OPEN_READONLY, &w.j, detail,
                               sizeof(detail)) == CAIRN_OK) {
            (void)!cairn_run_each(w.j, probe_fn, &pr);
        }
        (void)!write(p[1], pr.run, strlen(pr.run));
        cairn_journal_close(w.j);
        _exit(0);
    }
    close(p[1]);
    char buf[CAIRN_MAX_ID + 1] = "";
    ssize_t r = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    waitpid(pid, NULL, 0);
    buf[r > 0 ? r : 0] = '\0';
    snprintf(run, len, "%s", buf);
    return buf[0] != '\0' ? 0 : -1;
}

int cr_prepare_runs(cr_ctx *c, const char *dir, const char *ack,
                    const char *prefix, char *run, size_t len)
{
    cr_srv w;
    char out[256];
    if (cr_srv_start(c, &w, dir, ack, prefix, c->seed) != 0 ||
        cr_srv_cmd(&w, "steps 6", out, sizeof(out)) != 0) {
        cr_srv_stop(&w, 1);
        return -1;
    }
    int rc = -1;
    for (int tries = 0; tries < 20 && rc != 0; tries++) {
        rc = movable_run(c, dir, prefix, run, len);
        if (rc != 0 && cr_srv_cmd(&w, "steps 1", out, sizeof(out)) != 0) {
            break;
        }
    }
    cr_srv_stop(&w, 0);
    return rc;
}

void cr_part_wlock(cr_ctx *c)
{
    char dir[4096], ack[4200], run[64];
    int fd = -1;
    double t_done = 0;
    cr_mkdir_fresh(c, "wlock", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    pid_t holder = -1, waiter = -1;
    if (cr_prepare_runs(c, dir, ack, "l", run, sizeof(run)) == 0) {
        holder = start_lock_holder(dir);
    }
    if (holder > 0) {
        waiter = cr_start_step(c, dir, ack, run, &fd);
    }
    if (waiter < 0) {
        cr_violation(c, "wlock: setup failed");
        return;
    }
    int blocked = cr_wait_byte(fd, 0.3) != 0;
    double t_kill = cr_now();
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10000) == 1 && read(fd, &t_done, sizeof(t_done)) == 8) {
        t_done -= t_kill;
    } else {
        t_done = -1;
    }
    close(fd);
    int err = cr_step_result(waiter);
    cr_note(c,
            "wlock: writer blocked %s, proceeded %.3f s after the "
            "holder's death (%s)",
            blocked ? "yes" : "NO", t_done,
            err >= 0 ? cairn_errname((cairn_err)err) : "died");
    /* How fast it proceeds is a figure (above), not a verdict: on a
     * loaded machine it can take long.  That it proceeds at all is. */
    if (!blocked || err != CAIRN_OK || t_done < 0) {
        cr_violation(c, "wlock: the waiting writer did not proceed after "
                        "the lock holder's death (waited 10 s)");
    }
    unsigned v = cr_audit_log(c, dir, ack, "dead write-lock holder");
    cr_cleanup_dir(c, dir, v > 0);
}
