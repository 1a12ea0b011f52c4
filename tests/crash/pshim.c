/*
 * pshim.c - LD_PRELOAD scheduling perturber for the crash suite's
 * --perturb mode (tests/crash/crash_perturb.c, docs/DURABILITY.md).
 *
 * Rare interleavings (a writer killed between two steps of a commit, an
 * opener killed inside LMDB's lock-table initialisation) become common
 * when the windows between those steps are wider.  This shim widens them
 * without changing what any call does: around the calls that publish
 * state -- open/openat (LMDB opens data.mdb inside its lock-table
 * initialisation), pwrite/pwrite64/write/writev (LMDB's pages and meta page),
 * fdatasync/fsync, pthread_mutex_lock/unlock (LMDB's writer and reader
 * mutexes, the shared commit queue's), flock and fcntl (file locks) --
 * it yields the processor or sleeps for a short random time, and now and
 * then makes a sync slow, as a busy disk does.
 *
 * Environment:
 *   CRASH_PERTURB_SEED   mixed with the pid (default: time); every process
 *                        and thread draws its own sequence
 *   CRASH_PERTURB_PCT    percent of calls perturbed (default 40)
 *   CRASH_PERTURB_MAX_US longest sleep, microseconds (default 2000)
 * It never fails a call and never changes errno.  The suite turns it on
 * and off per scenario with crash_perturb_set() (found with dlsym), and
 * sets CRASH_PERTURB_PCT for the programs it starts.
 *
 * Kills at publication points: a process that called
 * crash_perturb_kill(early, later) (the kill scenario's writers do, after
 * fork) SIGKILLs itself right after a perturbed call, with probability
 * early/1000 for each of the KILL_EARLY_CALLS such calls that follow its
 * first open of a "*.mdb" file (opening the journal: LMDB's lock-table
 * initialisation, the first commits) and later/1000 after that; never
 * before it.  Half of these are kills (SIGKILL), half are freezes
 * (SIGSTOP): a frozen process keeps whatever it holds (a half-built LMDB
 * lock table, a writer mutex, a queue slot) while the others pile up
 * behind it, until the suite's SIGKILL at its chosen instant ends it,
 * which is the shape of the bug of DURABILITY.md section 7.  A process
 * killed by its own hand is indistinguishable from one killed by the
 * suite: the call before was performed, nothing after it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef int (*int_fn)(int);
typedef int (*flock_fn)(int, int);
typedef int (*fcntl_fn)(int, int, ...);
typedef int (*mutex_fn)(pthread_mutex_t *);

static struct {
    uint64_t seed;
    unsigned pct, max_us;
    unsigned kill_early, kill_later; /* per mille, this process */
    int armed;                       /* a *.mdb file was opened */
    unsigned long calls;             /* perturbed calls since then */
    open_fn open_, open64_;
    openat_fn openat_, openat64_;
    pwrite_fn pwrite_, pwrite64_;
    write_fn write_;
    writev_fn writev_;
    int_fn fdatasync_, fsync_;
    flock_fn flock_;
    fcntl_fn fcntl_;
    mutex_fn lock_, unlock_;
} P;

static __thread uint64_t rng;

#define NEXT(field, name)                                                      \
    do {                                                                       \
        void *sym_ = dlsym(RTLD_NEXT, name);                                   \
        memcpy(&P.field, &sym_, sizeof(sym_));                                 \
    } while (0)

static unsigned env_num(const char *name, unsigned dflt, unsigned max)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        return dflt;
    }
    unsigned long n = strtoul(v, NULL, 10);
    return n > max ? max : (unsigned)n;
}

static void pshim_resolve(void)
{
    NEXT(open_, "open");
    NEXT(open64_, "open64");
    NEXT(openat_, "openat");
    NEXT(openat64_, "openat64");
    NEXT(pwrite_, "pwrite");
    NEXT(pwrite64_, "pwrite64");
    NEXT(write_, "write");
    NEXT(writev_, "writev");
    NEXT(fdatasync_, "fdatasync");
    NEXT(fsync_, "fsync");
    NEXT(flock_, "flock");
    NEXT(fcntl_, "fcntl");
    NEXT(lock_, "pthread_mutex_lock");
    NEXT(unlock_, "pthread_mutex_unlock");
    const char *s = getenv("CRASH_PERTURB_SEED");
    P.seed = s != NULL ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    P.pct = env_num("CRASH_PERTURB_PCT", 40, 100);
    P.max_us = env_num("CRASH_PERTURB_MAX_US", 2000, 1000000);
}

__attribute__((constructor)) static void pshim_init(void)
{
    if (P.unlock_ == NULL) {
        pshim_resolve();
    }
}

/* The suite's switch (crash_perturb.c): percent of calls perturbed. */
__attribute__((visibility("default"))) void crash_perturb_set(unsigned pct);
void crash_perturb_set(unsigned pct)
{
    __atomic_store_n(&P.pct, pct > 100 ? 100 : pct, __ATOMIC_SEQ_CST);
}

#define KILL_EARLY_CALLS 60

/* The kill scenario's switch: self-kill rates of this process. */
__attribute__((visibility("default"))) void
crash_perturb_kill(unsigned early, unsigned later);
void crash_perturb_kill(unsigned early, unsigned later)
{
    P.kill_early = early > 1000 ? 1000 : early;
    P.kill_later = later > 1000 ? 1000 : later;
    P.calls = 0;
    P.armed = 0;
    /* A forked child inherits its parent's sequence: draw its own. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    rng = (P.seed ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec) | 1u;
}

static void arm(const char *path)
{
    size_t n = path != NULL ? strlen(path) : 0;
    if (n >= 4 && strcmp(path + n - 4, ".mdb") == 0) {
        P.armed = 1;
    }
}

static uint64_t draw(void)
{
    if (rng == 0) {
        rng = (P.seed ^ ((uint64_t)getpid() << 32) ^
               (uint64_t)(uintptr_t)&rng) |
              1u;
    }
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void nap(unsigned us)
{
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Maybe yield or sleep; @p slow: a sync, which is sometimes made slow. */
static void jitter(int slow)
{
    if (P.unlock_ == NULL) {
        pshim_resolve(); /* called before the constructor ran */
    }
    unsigned pct = __atomic_load_n(&P.pct, __ATOMIC_RELAXED);
    if (pct == 0) {
        return;
    }
    int saved = errno;
    uint64_t r = draw();
    unsigned roll = (unsigned)(r % 100u);
    if (roll < pct) {
        if ((r >> 8) % 3u == 0 || P.max_us == 0) {
            sched_yield();
        } else {
            nap((unsigned)((r >> 16) % (P.max_us + 1u)));
        }
    }
    if (slow && (r >> 40) % 8u == 0) {
        nap(P.max_us * 4u); /* a busy disk's flush */
    }
    unsigned kill = !P.armed                      ? 0
                    : P.calls++ < KILL_EARLY_CALLS ? P.kill_early
                                                   : P.kill_later;
    if (kill > 0 && (unsigned)((r >> 24) % 1000u) < kill) {
        raise((r >> 50) & 1u ? SIGSTOP : SIGKILL);
    }
    errno = saved;
}

static mode_t mode_arg(int flags, va_list ap)
{
    if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
        return (mode_t)va_arg(ap, int);
    }
    return 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    jitter(0);
    int fd = P.open_(path, flags, mode);
    if (fd >= 0) {
        arm(path);
    }
    jitter(0);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    jitter(0);
    int fd = P.open64_(path, flags, mode);
    if (fd >= 0) {
        arm(path);
    }
    jitter(0);
    return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    jitter(0);
    int fd = P.openat_(dirfd, path, flags, mode);
    if (fd >= 0) {
        arm(path);
    }
    jitter(0);
    return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    jitter(0);
    int fd = P.openat64_(dirfd, path, flags, mode);
    if (fd >= 0) {
        arm(path);
    }
    jitter(0);
    return fd;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    jitter(0);
    ssize_t r = P.pwrite_(fd, buf, n, off);
    jitter(0);
    return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    jitter(0);
    ssize_t r = P.pwrite64_(fd, buf, n, off);
    jitter(0);
    return r;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    jitter(0);
    return P.write_(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    jitter(0);
    ssize_t r = P.writev_(fd, iov, cnt);
    jitter(0);
    return r;
}

int fdatasync(int fd)
{
    jitter(1);
    int r = P.fdatasync_(fd);
    jitter(0);
    return r;
}

int fsync(int fd)
{
    jitter(1);
    int r = P.fsync_(fd);
    jitter(0);
    return r;
}

int flock(int fd, int op)
{
    jitter(0);
    int r = P.flock_(fd, op);
    jitter(0);
    return r;
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    int locking = cmd == F_SETLK || cmd == F_SETLKW || cmd == F_OFD_SETLK ||
                  cmd == F_OFD_SETLKW;
    if (locking) {
        jitter(0);
    }
    int r = P.fcntl_(fd, cmd, arg);
    if (locking) {
        jitter(0);
    }
    return r;
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
    jitter(0);
    return P.lock_(m);
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
    if (P.unlock_ == NULL) {
        pshim_resolve();
    }
    int r = P.unlock_(m);
    jitter(0);
    return r;
}
