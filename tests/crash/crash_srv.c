/*
 * crash_srv.c - a journal writer in a child process that takes commands
 * over a pipe (scenarios 6, 8 and 9 need writers that stay open between
 * steps), and a raw-LMDB count of stale reader slots.
 *
 * Commands, one line each; every one is answered by one line:
 *   steps N   N transitions on the server's own runs ("<prefix>-<x>-<g>")
 *             -> "ok <data.mdb bytes> <map bytes>" or "err <name>"
 *   lock RUN  cairn_run_lock -> "ok" or "err <name>"
 *   fork      fork three children (one _exit()s, one exec()s /bin/true,
 *             one exit()s), wait for them -> "ok"
 *   quit      close the journal and exit
 */
#include "crash.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct srv_state {
    cr_work w;
    char prefix[32];
    unsigned gen[2];
} srv_state;

static void reply(int fd, const char *word, const char *name,
                  unsigned long long x, unsigned long long y)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s %s %llu %llu\n", word, name, x, y);
    if (n > 0) {
        (void)cr_write_all(fd, line, (size_t)n);
    }
}

static void do_steps(srv_state *s, unsigned n, int out)
{
    cairn_err err = CAIRN_OK;
    for (unsigned i = 0; i < n && err == CAIRN_OK; i++) {
        unsigned x = (unsigned)cr_below(&s->w.rng, 2);
        char run[64];
        int done = 0;
        snprintf(run, sizeof(run), "%s-%u-%u", s->prefix, x, s->gen[x]);
        err = cr_work_step(&s->w, run, &done);
        s->gen[x] += done ? 1u : 0u;
    }
    if (err != CAIRN_OK) {
        reply(out, "err", cairn_errname(err), 0, 0);
        return;
    }
    cairn_journal_info info;
    char path[4200];
    snprintf(path, sizeof(path), "%s/data.mdb", s->w.dir);
    uint64_t map =
        cairn_journal_info_get(s->w.j, &info) == CAIRN_OK ? info.map_size : 0;
    reply(out, "ok", "-", (unsigned long long)cr_file_size(path),
          (unsigned long long)map);
}

static void do_fork(int out)
{
    pid_t p[3];
    fflush(stdout);
    for (int i = 0; i < 3; i++) {
        p[i] = fork();
        if (p[i] == 0) {
            if (i == 0) {
                _exit(0);
            }
            if (i == 1) {
                execl("/bin/true", "true", (char *)NULL);
                _exit(127);
            }
            exit(0);
        }
    }
    for (int i = 0; i < 3; i++) {
        int st;
        waitpid(p[i], &st, 0);
    }
    reply(out, "ok", "-", 0, 0);
}

static void serve(srv_state *s, int in, int out)
{
    FILE *f = fdopen(in, "r");
    char line[256];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "steps ", 6) == 0) {
            do_steps(s, (unsigned)strtoul(line + 6, NULL, 10), out);
        } else if (strncmp(line, "lock ", 5) == 0) {
            cairn_err err = cairn_run_lock(s->w.j, line + 5);
            reply(out, err == CAIRN_OK ? "ok" : "err", cairn_errname(err), 0,
                  0);
        } else if (strcmp(line, "fork") == 0) {
            do_fork(out);
        } else {
            break;
        }
    }
    cairn_journal_close(s->w.j);
    _exit(0);
}

int cr_srv_start(cr_ctx *c, cr_srv *srv, const char *dir, const char *ack,
                 const char *prefix, uint64_t seed)
{
    int cmd[2], rep[2];
    if (pipe(cmd) != 0 || pipe(rep) != 0) {
        return -1;
    }
    fflush(stdout);
    srv->pid = fork();
    if (srv->pid == 0) {
        srv_state s;
        memset(&s, 0, sizeof(s));
        close(cmd[1]);
        close(rep[0]);
        s.w.dir = dir;
        s.w.rng = seed;
        s.w.big = 1;
        s.w.map_size = c->srv_map_size;
        s.w.signer = cr_load_signer(c->sec);
        s.w.ack_fd = open(ack, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        snprintf(s.prefix, sizeof(s.prefix), "%s", prefix);
        if (s.w.ack_fd < 0 || cr_work_open(&s.w) != CAIRN_OK) {
            _exit(3);
        }
        serve(&s, cmd[0], rep[1]);
    }
    close(cmd[0]);
    close(rep[1]);
    srv->cmd = cmd[1];
    srv->rep = rep[0];
    return srv->pid < 0 ? -1 : 0;
}

int cr_srv_cmd(cr_srv *srv, const char *cmd, char *out, size_t len)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s\n", cmd);
    out[0] = '\0';
    if (n <= 0 || cr_write_all(srv->cmd, line, (size_t)n) != 0) {
        return -1;
    }
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t r = read(srv->rep, out + got, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        if (out[got] == '\n') {
            break;
        }
        got++;
    }
    out[got] = '\0';
    return strncmp(out, "ok", 2) == 0 ? 0 : -1;
}

void cr_srv_stop(cr_srv *srv, int force)
{
    if (srv->pid <= 0) {
        return;
    }
    if (force) {
        kill(srv->pid, SIGKILL);
    } else {
        (void)!write(srv->cmd, "quit\n", 5);
    }
    close(srv->cmd);
    close(srv->rep);
    int st;
    while (waitpid(srv->pid, &st, 0) < 0 && errno == EINTR) {
    }
    srv->pid = -1;
}

typedef struct stale_ctx {
    int stale, live;
} stale_ctx;

static int reader_line(const char *msg, void *vctx)
{
    stale_ctx *s = vctx;
    long pid = 0;
    unsigned long long thread, txnid;
    if (sscanf(msg, "%ld %llx %llu", &pid, &thread, &txnid) == 3 && pid > 0) {
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            s->stale++;
        } else {
            s->live++;
        }
    }
    return 0;
}

int cr_stale_readers(const char *dir)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        MDB_env *env = NULL;
        stale_ctx s = {0, 0};
        if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 8) != 0 ||
            mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0644) != 0 ||
            mdb_reader_list(env, reader_line, &s) < 0) {
            _exit(255);
        }
        mdb_env_close(env);
        _exit(s.stale < 250 ? s.stale : 250);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) && WEXITSTATUS(st) != 255 ? WEXITSTATUS(st) : -1;
}
