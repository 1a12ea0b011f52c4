/*
 * runner_daemon.c - operations that may leave processes behind on purpose
 * (a plan's "daemon": true, the default for kind start): what they left
 * (found in /proc: the command's process group or session, processes
 * reparented to the runner, and their descendants) goes into the
 * receipt's evidence; a readiness check is retried until it passes or
 * its timeout; adopted processes that exit are reaped so that they do not
 * linger as zombies of the runner (which would look alive to pid checks
 * such as pg_ctl's).
 */
#include "runner/runner.h"

#include "base/sys.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROC_SCAN_MAX 4096 /* processes looked at */

typedef struct proc_info {
    pid_t pid, ppid, pgid, sid;
    char state;
    char comm[32];
} proc_info;

static int read_stat(const char *pid, proc_info *p)
{
    char path[64], *text = NULL;
    size_t len = 0;
    cairn__fmt(path, sizeof(path), "/proc/%s/stat", pid);
    if (cairn__read_file(path, 4096, &text, &len, NULL, 0) != CAIRN_OK) {
        return -1;
    }
    const char *open = strchr(text, '(');
    const char *close = strrchr(text, ')');
    long ppid, pgid, sid;
    int ok = open != NULL && close != NULL && close > open &&
             sscanf(close + 1, " %c %ld %ld %ld", &p->state, &ppid, &pgid,
                    &sid) == 4;
    if (ok) {
        size_t n = (size_t)(close - open - 1);
        if (n >= sizeof(p->comm)) {
            n = sizeof(p->comm) - 1;
        }
        memcpy(p->comm, open + 1, n);
        p->comm[n] = '\0';
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)p->comm[i] < 0x20 || p->comm[i] == ' ' ||
                p->comm[i] == 0x7f) {
                p->comm[i] = '?';
            }
        }
        p->pid = (pid_t)atol(pid);
        p->ppid = (pid_t)ppid;
        p->pgid = (pid_t)pgid;
        p->sid = (pid_t)sid;
    }
    free(text);
    return ok ? 0 : -1;
}

/* Every process of the system (at most PROC_SCAN_MAX); *n set. */
static proc_info *scan(size_t *n)
{
    *n = 0;
    DIR *d = opendir("/proc");
    proc_info *all = d != NULL ? calloc(PROC_SCAN_MAX, sizeof(*all)) : NULL;
    if (all == NULL) {
        if (d != NULL) {
            closedir(d);
        }
        return NULL;
    }
    const struct dirent *e;
    while (*n < PROC_SCAN_MAX && (e = readdir(d)) != NULL) {
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
            read_stat(e->d_name, &all[*n]) == 0) {
            (*n)++;
        }
    }
    closedir(d);
    return all;
}

static int known(const cairn_runner *r, pid_t pid)
{
    for (size_t i = 0; i < r->n_daemons; i++) {
        if (r->daemons[i] == pid) {
            return 1;
        }
    }
    return 0;
}

cairn_err cairn__runner_daemon_record(cairn_runner *r, pid_t leader,
                                      cairn_kvlist *evidence)
{
    size_t n;
    proc_info *all = scan(&n);
    if (all == NULL) {
        return cairn__kv_addf(evidence, "daemon_pids", "?");
    }
    pid_t self = getpid();
    unsigned char *mark = calloc(n + 1, 1);
    if (mark == NULL) {
        free(all);
        return CAIRN_ENOMEM;
    }
    /* The command's group or session, or adopted by us and new; then
     * whatever descends from those, to a fixed point. */
    for (size_t i = 0; i < n; i++) {
        const proc_info *p = &all[i];
        mark[i] = p->state != 'Z' && p->pid != self &&
                  (p->pgid == leader || p->sid == leader ||
                   (p->ppid == self && !known(r, p->pid)));
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; !mark[i] && k < n; k++) {
                if (mark[k] && all[i].ppid == all[k].pid &&
                    all[i].state != 'Z') {
                    mark[i] = 1;
                    changed = 1;
                }
            }
        }
    }
    char text[2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!mark[i]) {
            continue;
        }
        if (r->n_daemons < RUNNER_DAEMONS_MAX && !known(r, all[i].pid)) {
            r->daemons[r->n_daemons++] = all[i].pid;
        }
        if (used + 64 < sizeof(text)) {
            cairn__fmt(text + used, sizeof(text) - used, "%s%d/%d/%s",
                       used ? " " : "", (int)all[i].pid, (int)all[i].pgid,
                       all[i].comm);
            used += strlen(text + used);
        }
    }
    free(mark);
    free(all);
    return cairn__kv_addf(evidence, "daemon_pids", "%s", used ? text : "none");
}

void cairn__runner_reap_adopted(cairn_runner *r)
{
    size_t n;
    proc_info *all = scan(&n);
    pid_t self = getpid();
    for (size_t i = 0; all != NULL && i < n; i++) {
        if (all[i].ppid == self && all[i].state == 'Z') {
            (void)waitpid(all[i].pid, NULL, WNOHANG);
        }
    }
    free(all);
    (void)r;
}

/* Sleep @p ns unless a signal comes (returns 1 then). */
static int pause_for(const cairn_runner *r, uint64_t ns)
{
    uint64_t end = cairn__mono_ns() + ns;
    for (;;) {
        uint64_t now = cairn__mono_ns();
        if (cairn__runner_interrupted(r)) {
            return 1;
        }
        if (now >= end) {
            return 0;
        }
        uint64_t slice = end - now < 20000000ull ? end - now : 20000000ull;
        struct timespec ts = {0, (long)slice};
        nanosleep(&ts, NULL);
    }
}

cairn_err cairn__runner_ready(cairn_runner *r, const runner_cmd *start,
                              int *ready, char *why, size_t why_len)
{
    const cairn_plan_op *op = start->op;
    uint64_t begin = cairn__mono_ns();
    uint64_t limit = op->ready_timeout_ns;
    char last[600] = "it never ran";
    *ready = 0;
    for (uint32_t tries = 1;; tries++) {
        uint64_t used = cairn__mono_ns() - begin;
        runner_cmd cmd = *start;
        cmd.ready = 1;
        cmd.lock_fd = -1;
        cmd.timeout_ns = used < limit ? limit - used : 1;
        runner_result rr;
        cairn_err err = cairn__runner_exec(r, &cmd, &rr);
        if (err != CAIRN_OK) {
            return err;
        }
        const cairn_exec_result *res = &rr.res;
        if (rr.exec_err == CAIRN_OK && res->exited && res->exit_code == 0) {
            *ready = 1;
        } else if (rr.exec_err != CAIRN_OK) {
            cairn__fmt(last, sizeof(last), "%s", rr.detail);
        } else if (res->exited) {
            cairn__fmt(last, sizeof(last), "exit status %d", res->exit_code);
        } else {
            cairn__fmt(last, sizeof(last), "signal %d%s", res->term_signal,
                       res->timed_out ? " (timed out)" : "");
        }
        cairn__runner_result_free(&rr);
        cairn__runner_reap_adopted(r);
        if (*ready) {
            return CAIRN_OK;
        }
        used = cairn__mono_ns() - begin;
        char t[32];
        cairn__runner_fmt_ns(limit, t, sizeof(t));
        cairn__fmt(why, why_len,
                   "readiness check did not pass within %s (%u tries, last: "
                   "%s)",
                   t, tries, last);
        if (rr.exec_err == CAIRN_ECHILD || used >= limit ||
            pause_for(r, op->ready_interval_ns < limit - used
                             ? op->ready_interval_ns
                             : limit - used)) {
            return CAIRN_OK;
        }
    }
}
