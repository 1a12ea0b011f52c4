/*
 * xq_shm.c - the commit queue shared by the processes writing a journal:
 * DIR/commit.shm, mapped by every writable handle (see xq.h).
 *
 * The file holds a header (a process-shared robust mutex, a futex word
 * bumped at every change, the leader's pid and start time, a ticket counter,
 * the boot it was initialised in) and XQ_SLOTS slots, each with XQ_SLOT_BYTES
 * of payload.  Its contents only matter while processes use it: it is
 * (re)initialised, under flock(2), whenever its magic, geometry or boot
 * id is not this boot's.  Everything below is done with the mutex held,
 * except the leader's write transaction and the owners' LMDB checks.
 *
 * Slot life: FREE -> QUEUED (owner copied its payload) -> TAKEN (a
 * leader holds it) -> DONE (result in the slot) -> FREE (owner took the
 * result).  A leader found dead turns its TAKEN slots ORPHAN; their
 * owners look in LMDB and either take a success or queue again.  A
 * QUEUED slot whose owner is dead is freed by the next leader, unwritten.
 */
#include "store/xq_int.h"

#include "base/jdir.h"
#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- opening -------------------------------------------------------- */

static int geometry_ok(const xq_shared *sh, const uint8_t boot[])
{
    return memcmp(sh->magic, XQ_MAGIC, 8) == 0 && sh->version == XQ_VERSION &&
           sh->slots == XQ_SLOTS && sh->slot_bytes == XQ_SLOT_BYTES &&
           sh->data_off == XQ_DATA_OFF &&
           sh->header_bytes == sizeof(xq_shared) &&
           memcmp(sh->boot_id, boot, CAIRN_BOOT_ID_BYTES) == 0;
}

/* This process's PID namespace (the inode number behind
 * /proc/self/ns/pid), 0 when it cannot be read. */
static uint64_t pid_namespace(void)
{
    char link[64];
    /* thread-self: /proc/self is unusable once the main thread exited */
    ssize_t n = readlink("/proc/thread-self/ns/pid", link, sizeof(link) - 1);
    if (n <= 0) {
        n = readlink("/proc/self/ns/pid", link, sizeof(link) - 1);
    }
    unsigned long long id = 0;
    if (n <= 0) {
        return 0;
    }
    link[n] = '\0';
    return sscanf(link, "pid:[%llu]", &id) == 1 ? (uint64_t)id : 0;
}

static int robust_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t ma;
    int rc = pthread_mutexattr_init(&ma);
    if (rc == 0) {
        rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
        rc = rc ? rc : pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
        rc = rc ? rc : pthread_mutex_init(m, &ma);
        pthread_mutexattr_destroy(&ma);
    }
    return rc;
}

static cairn_err init_shared(xq_shared *sh, const uint8_t boot[],
                             uint64_t pid_ns)
{
    memset(sh, 0, sizeof(*sh));
    int rc = robust_init(&sh->mu);
    rc = rc ? rc : robust_init(&sh->lead_mu);
    for (unsigned i = 0; rc == 0 && i < XQ_SLOTS; i++) {
        rc = robust_init(&sh->slot[i].life);
    }
    if (rc != 0) {
        return CAIRN_EIO;
    }
    sh->version = XQ_VERSION;
    sh->slots = XQ_SLOTS;
    sh->slot_bytes = XQ_SLOT_BYTES;
    sh->data_off = (uint32_t)XQ_DATA_OFF;
    sh->header_bytes = (uint32_t)sizeof(xq_shared);
    sh->next_ticket = 1;
    sh->pid_ns = pid_ns;
    memcpy(sh->boot_id, boot, CAIRN_BOOT_ID_BYTES);
    /* Last: a process that dies initialising leaves no magic, and the
     * next one (under the same locks) starts again. */
    memcpy(sh->magic, XQ_MAGIC, 8);
    return CAIRN_OK;
}

/* The lock that serialises joining and initialising: a write lock on
 * byte 0 (fcntl; independent of the flock below). */
static int init_lock(int fd, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_len = 1;
    int rc;
    while ((rc = fcntl(fd, F_SETLKW, &fl)) != 0 && errno == EINTR) {
    }
    return rc;
}

static cairn_err map_now(cairn_xq *q, const char *path, char *detail,
                         size_t detail_len)
{
    void *m =
        mmap(NULL, XQ_FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0);
    if (m == MAP_FAILED) {
        cairn__fmt(detail, detail_len, "%s: mmap: %s", path, strerror(errno));
        return CAIRN_EIO;
    }
    q->sh = m;
    q->data = (uint8_t *)m + XQ_DATA_OFF;
    return CAIRN_OK;
}

/* Make the queue new: nobody uses it (this process holds its flock
 * exclusively), so whatever the file says (another boot's queue, a
 * crashed version's, or forged owners and slots) belongs to nobody.
 * Under init_lock and the exclusive flock. */
static cairn_err renew(cairn_xq *q, const char *path, int sized,
                       const uint8_t boot[], uint64_t ns, char *detail,
                       size_t detail_len)
{
    cairn_err err = CAIRN_OK;
    if (!sized && (ftruncate(q->fd, (off_t)XQ_FILE_BYTES) != 0 ||
                   (err = map_now(q, path, detail, detail_len)) != CAIRN_OK)) {
        if (err == CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s: %s", path, strerror(errno));
        }
        return CAIRN_EIO;
    }
    int rc = posix_fallocate(q->fd, 0, (off_t)XQ_DATA_OFF);
    if (rc != 0) { /* the header's blocks, before the mapping writes it */
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(rc));
        return CAIRN_EIO;
    }
    err = init_shared(q->sh, boot, ns);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s: cannot initialise", path);
    }
    return err;
}

/* Take the queue's mutex within XQ_LOCK_BOUND_S: it is only ever held
 * for a few instructions, so a holder that keeps it longer is stopped,
 * or the bytes are not a mutex at all.  0 or an errno (ETIMEDOUT). */
static int bounded_lock(pthread_mutex_t *m)
{
    struct timespec until;
    if (clock_gettime(CLOCK_REALTIME, &until) != 0) {
        return errno;
    }
    until.tv_sec += XQ_LOCK_BOUND_S;
    int rc;
    while ((rc = pthread_mutex_timedlock(m, &until)) == EINTR) {
    }
    return rc;
}

/* Is robust mutex @p m free (or left by a dead holder, then made
 * consistent and released)? */
static int lock_free(pthread_mutex_t *m)
{
    int rc = pthread_mutex_trylock(m);
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(m);
    }
    if (rc == 0 || rc == EOWNERDEAD) {
        pthread_mutex_unlock(m);
        return 1;
    }
    return 0;
}

/* With the queue's mutex held, what every update keeps true: lead_mu is
 * free when no leader is recorded, a recorded leader that no longer
 * exists does not hold it, and a FREE slot's life mutex is free.  A
 * header that says otherwise (forged, or left by a bug) would make a
 * joiner wait for good. */
static int consistent(xq_shared *sh)
{
    if (sh->leader == 0 && !lock_free(&sh->lead_mu)) {
        return 0;
    }
    if (sh->leader != 0 && kill((pid_t)sh->leader, 0) != 0 && errno == ESRCH &&
        !lock_free(&sh->lead_mu)) {
        return 0;
    }
    for (unsigned i = 0; i < XQ_SLOTS; i++) {
        if (sh->slot[i].state == S_FREE && !lock_free(&sh->slot[i].life)) {
            return 0;
        }
    }
    return 1;
}

/* Join the queue (a shared flock held for as long as it is mapped says
 * "in use").  A queue nobody uses is always made new.  One in use is
 * joined when its header is this boot's, this version's and this PID
 * namespace's, its mutex can be taken within the bound and what it holds
 * is consistent; otherwise it is left alone and this handle commits on
 * its own.  Under init_lock. */
static cairn_err join(cairn_xq *q, const char *path, const uint8_t boot[],
                      char *detail, size_t detail_len)
{
    struct stat st;
    uint64_t ns = pid_namespace();
    if (fstat(q->fd, &st) != 0) {
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(errno));
        return CAIRN_EIO;
    }
    int sized = (size_t)st.st_size == XQ_FILE_BYTES;
    cairn_err err = sized ? map_now(q, path, detail, detail_len) : CAIRN_OK;
    if (err != CAIRN_OK) {
        return err;
    }
    if (ns != 0 && flock(q->fd, LOCK_EX | LOCK_NB) == 0) {
        err = renew(q, path, sized, boot, ns, detail, detail_len);
        /* Not atomic, but nobody can join meanwhile: joining takes
         * init_lock, which this process holds. */
        return err == CAIRN_OK && flock(q->fd, LOCK_SH) != 0 ? CAIRN_EIO : err;
    }
    if (!sized || ns == 0 || !geometry_ok(q->sh, boot) || q->sh->pid_ns != ns) {
        cairn__fmt(detail, detail_len,
                   "%s: in use by another cairn version or PID namespace",
                   path);
        return CAIRN_EINVAL;
    }
    int rc = bounded_lock(&q->sh->mu);
    if (rc != 0 && rc != EOWNERDEAD) {
        cairn__fmt(detail, detail_len,
                   "%s: in use, but its lock cannot be taken (%s)", path,
                   strerror(rc));
        return CAIRN_EINVAL;
    }
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&q->sh->mu);
    }
    int ok = consistent(q->sh);
    pthread_mutex_unlock(&q->sh->mu);
    if (!ok) {
        cairn__fmt(detail, detail_len,
                   "%s: in use, but its leader or slots are inconsistent",
                   path);
        return CAIRN_EINVAL;
    }
    return flock(q->fd, LOCK_SH) == 0 ? CAIRN_OK : CAIRN_EIO;
}

static cairn_err map_file(cairn_xq *q, const char *path, char *detail,
                          size_t detail_len)
{
    uint8_t boot[CAIRN_BOOT_ID_BYTES];
    cairn_err err = cairn__boot_id(boot);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s: cannot read the boot id", path);
        return err;
    }
    if (init_lock(q->fd, F_WRLCK) != 0) {
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(errno));
        return CAIRN_EIO;
    }
    err = join(q, path, boot, detail, detail_len);
    (void)init_lock(q->fd, F_UNLCK);
    return err;
}

cairn_err cairn__xq_open(int dfd, const char *dir, const struct stat *mode_ref,
                         unsigned batch_max, unsigned wait_us, cairn_xq **out,
                         char *detail, size_t detail_len)
{
    char path[4096];
    *out = NULL;
    cairn_xq *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return CAIRN_ENOMEM;
    }
    snprintf(path, sizeof(path), "%s/commit.shm", dir);
    /* Never through a symbolic link; a regular file of ours. */
    cairn_err err = cairn__jdir_openat(dfd, dir, "commit.shm", O_RDWR | O_CREAT,
                                       cairn__jdir_file_mode(mode_ref), 0,
                                       &q->fd, NULL, NULL, detail, detail_len);
    if (err != CAIRN_OK) {
        free(q);
        return err;
    }
    err = map_file(q, path, detail, detail_len);
    q->pid = getpid();
    if (err != CAIRN_OK) {
        cairn__xq_close(q);
        return err;
    }
    q->batch_max = batch_max < 1          ? 1
                   : batch_max > XQ_SLOTS ? XQ_SLOTS
                                          : batch_max;
    q->wait_us = wait_us;
    *out = q;
    return CAIRN_OK;
}

void cairn__xq_close(cairn_xq *q)
{
    if (q == NULL) {
        return;
    }
    if (q->sh != NULL) {
        munmap(q->sh, XQ_FILE_BYTES);
    }
    close(q->fd);
    free(q);
}

void cairn__xq_counts(const cairn_xq *q, uint64_t *commits, uint64_t *records,
                      uint64_t *stale)
{
    *commits = q->commits;
    *records = q->records;
    *stale = q->stale;
}

/* ---- liveness and recovery (mutex held) ------------------------------ */

/* Has the thread holding robust mutex @p m died?  EBUSY: it lives.
 * EOWNERDEAD: it died holding it (made consistent and released here).
 * Free: nobody holds it, which for a slot in use or a recorded leader
 * means its holder died before it took it. */
static int holder_dead(pthread_mutex_t *m)
{
    int rc = pthread_mutex_trylock(m);
    if (rc == EBUSY) {
        return 0;
    }
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(m);
    }
    if (rc == 0 || rc == EOWNERDEAD) {
        pthread_mutex_unlock(m);
    }
    return 1;
}

int cairn__xq_owner_dead(xq_slot *s)
{
    return holder_dead(&s->life);
}

/* Waiting is on futex words (sh->seq, each slot's wake), not pthread
 * condition variables: a process killed inside pthread_cond_wait() or
 * _broadcast() can leave a shared condition variable's internal lock
 * held for good; a futex word has no lock to leave behind.  Each owner
 * sleeps on its own slot's word, so a commit wakes only the owners of
 * its slots and the next leader, not every waiting process. */
void cairn__xq_wake(uint32_t *word)
{
    __atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
    (void)syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void cairn__xq_hand_off(cairn_xq *q)
{
    xq_slot *oldest = NULL;
    for (unsigned i = 0; i < XQ_SLOTS; i++) {
        xq_slot *s = &q->sh->slot[i];
        if (s->state == S_QUEUED &&
            (oldest == NULL || s->ticket < oldest->ticket)) {
            oldest = s;
        }
    }
    if (oldest != NULL) {
        cairn__xq_wake(&oldest->wake);
    }
}

/* A dead leader's slots become ORPHAN; a dead owner's slot, unless a
 * live leader holds it, is freed (a queued one unwritten). */
void cairn__xq_sweep(cairn_xq *q)
{
    xq_shared *sh = q->sh;
    int dead_leader = sh->leader != 0 && holder_dead(&sh->lead_mu);
    for (unsigned i = 0; i < XQ_SLOTS; i++) {
        xq_slot *s = &sh->slot[i];
        if (s->state == S_TAKEN && dead_leader) {
            s->state = S_ORPHAN;
            cairn__xq_wake(&s->wake);
        }
        /* A TAKEN slot belongs to a live leader, who will write into it. */
        if (s->state != S_FREE && s->state != S_TAKEN &&
            cairn__xq_owner_dead(s)) {
            s->state = S_FREE;
        }
    }
    if (dead_leader) {
        sh->leader = 0;
        cairn__xq_hand_off(q);
    }
}

static int after_lock(cairn_xq *q, int rc)
{
    if (rc == EOWNERDEAD) {
        /* A process died holding the mutex: every update is ordered so
         * that a half-done one reads as not done; cairn__xq_sweep the rest. */
        pthread_mutex_consistent(&q->sh->mu);
        cairn__xq_sweep(q);
        rc = 0;
    }
    return rc;
}

int cairn__xq_lock(cairn_xq *q)
{
    return after_lock(q, bounded_lock(&q->sh->mu));
}

int cairn__xq_wait_change(cairn_xq *q, uint32_t *word, uint64_t ns)
{
    struct timespec rel = {(time_t)(ns / 1000000000u),
                           (long)(ns % 1000000000u)};
    uint32_t seen = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&q->sh->mu);
    (void)syscall(SYS_futex, word, FUTEX_WAIT, seen, &rel, NULL, 0);
    return cairn__xq_lock(q);
}

/* At most every XQ_POLL_MS, also check that the leader lives (however
 * busy the queue is). */
int cairn__xq_wait(cairn_xq *q, uint32_t *word)
{
    int rc = cairn__xq_wait_change(q, word, (uint64_t)XQ_POLL_MS * 1000000u);
    uint64_t now = cairn__mono_ns();
    if (rc == 0 && now - q->last_sweep >= (uint64_t)XQ_POLL_MS * 1000000u) {
        q->last_sweep = now;
        cairn__xq_sweep(q);
    }
    return rc;
}
