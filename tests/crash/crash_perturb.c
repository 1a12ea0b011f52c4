/*
 * crash_perturb.c - the suite's --perturb mode ($CAIRN_CRASH_PERTURB=1):
 * make rare interleavings common instead of waiting for luck (issue 11,
 * docs/DURABILITY.md section 7).
 *
 * - The suite re-executes itself with pshim.so preloaded.  In the kill
 *   scenario, where writer processes race and die, every process
 *   it forks or runs (writers, the CLI, the audits) yields or sleeps at
 *   random around writes, syncs, mutexes and file locks, and some syncs
 *   are slow; the deterministic sweeps run unperturbed.
 * - During those scenarios it keeps a load beside itself: two CPU-bound
 *   processes and one that writes and fdatasyncs 4 MiB in a loop, so that
 *   a 2-core machine is oversubscribed and the disk's flushes queue.
 * - The kill scenario pins each round's writers to one CPU (chosen at
 *   random), so that they preempt each other inside their commits, and
 *   lets pshim.so kill them at publication points: right after a write,
 *   a sync, a mutex or file lock, an open (often while they open the
 *   journal), besides the suite's kills at random instants.
 * The load ends with the suite (and, should the suite die, with it:
 * PR_SET_PDEATHSIG).
 */
#include "crash.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define ACTIVE_ENV "CRASH_PERTURB_ACTIVE"

int cr_perturb_exec(cr_ctx *c, char **argv)
{
    if (!c->perturb || getenv(ACTIVE_ENV) != NULL) {
        return 0;
    }
    char pre[8300], seed[32], asan[4200];
    const char *old = getenv("LD_PRELOAD");
    snprintf(pre, sizeof(pre), "%s%s%s", c->pshim, old && *old ? ":" : "",
             old && *old ? old : "");
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)c->seed);
    const char *oa = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0",
             oa && *oa ? oa : "", oa && *oa ? ":" : "");
    if (access(c->pshim, R_OK) != 0) {
        fprintf(stderr, "crash: --perturb: %s: %s\n", c->pshim,
                strerror(errno));
        return -1;
    }
    setenv("LD_PRELOAD", pre, 1);
    setenv("CRASH_PERTURB_SEED", seed, 1);
    setenv("CAIRN_CRASH_SEED", seed, 1);
    setenv("ASAN_OPTIONS", asan, 1);
    setenv(ACTIVE_ENV, "1", 1);
    fflush(stdout);
    execv(c->exe, argv);
    fprintf(stderr, "crash: --perturb: exec %s: %s\n", c->exe,
            strerror(errno));
    return -1;
}

static void hog(void)
{
    volatile unsigned long x = 0;
    for (;;) {
        x++;
    }
}

static void neighbour(const char *root)
{
    char path[4200];
    static char buf[1 << 20];
    memset(buf, 'n', sizeof(buf));
    snprintf(path, sizeof(path), "%s/fsync-neighbour", root);
    for (;;) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            _exit(0);
        }
        for (int i = 0; i < 4; i++) {
            if (write(fd, buf, sizeof(buf)) < 0) {
                break;
            }
        }
        (void)fdatasync(fd);
        close(fd);
    }
}

/* Percent of calls perturbed, in this process and those it starts. */
static void set_pct(unsigned pct)
{
    char v[16];
    snprintf(v, sizeof(v), "%u", pct);
    setenv("CRASH_PERTURB_PCT", v, 1);
    void *sym = dlsym(RTLD_DEFAULT, "crash_perturb_set");
    void (*set)(unsigned) = NULL;
    memcpy(&set, &sym, sizeof(sym));
    if (set != NULL) {
        set(pct);
    }
}

int cr_perturb_wanted(const cr_ctx *c, const char *scenario)
{
    if (!c->perturb) {
        return 0;
    }
    /* The kill scenario only: the sweeps are deterministic, and the
     * scenarios that start a process per step (procs, recover) take
     * fifty times longer perturbed for no interleaving that kill does
     * not reach. */
    return strcmp(scenario, "kill") == 0;
}

void cr_perturb_start(cr_ctx *c)
{
    if (!c->perturb) {
        return;
    }
    set_pct(40);
    for (int i = 0; i < CR_LOAD_PROCS; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1) {
                _exit(0);
            }
            if (i == CR_LOAD_PROCS - 1) {
                neighbour(c->root);
            }
            hog();
        }
        c->load[i] = pid;
    }
    printf("  perturbed: pshim.so in every process, 2 CPU-bound loads, "
           "1 fdatasync-bound load, writers pinned to one CPU\n");
}

void cr_perturb_stop(cr_ctx *c)
{
    if (c->perturb) {
        set_pct(0);
    }
    for (int i = 0; i < CR_LOAD_PROCS; i++) {
        if (c->load[i] > 0) {
            kill(c->load[i], SIGKILL);
            while (waitpid(c->load[i], NULL, 0) < 0 && errno == EINTR) {
            }
            c->load[i] = 0;
        }
    }
}

void cr_perturb_writer(const cr_ctx *c, unsigned cpu)
{
    if (!c->perturb) {
        return;
    }
    void *sym = dlsym(RTLD_DEFAULT, "crash_perturb_kill");
    void (*kill_at)(unsigned, unsigned) = NULL;
    memcpy(&kill_at, &sym, sizeof(sym));
    if (kill_at != NULL) {
        kill_at(CR_KILL_EARLY, CR_KILL_LATER);
    }
    cpu_set_t set;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    CPU_ZERO(&set);
    CPU_SET(n > 0 ? cpu % (unsigned)n : 0u, &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
}
