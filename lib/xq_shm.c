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
#include "xq_int.h"

#include "sys.h"

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

#define XQ_MAGIC "cairnxq1"
#define XQ_VERSION 1u
#define XQ_SLOTS 256u
#define XQ_SLOT_BYTES (64u * 1024u)
#define XQ_POLL_MS 100 /* how often a waiter checks that the leader lives */

enum { S_FREE = 0, S_QUEUED, S_TAKEN, S_DONE, S_ORPHAN };

typedef struct xq_slot {
    uint32_t state;
    int32_t err;
    int32_t stale;
    uint32_t len;
    int32_t owner; /* pid */
    uint32_t pad;
    uint64_t ticket;
    uint64_t pos;
    char detail[CAIRN__XQ_DETAIL];
} xq_slot;

typedef struct xq_shared {
    char magic[8];
    uint32_t version, slots, slot_bytes, data_off;
    uint8_t boot_id[CAIRN_BOOT_ID_BYTES];
    pthread_mutex_t mu;
    uint32_t seq; /* futex word: bumped, under mu, at every change */
    uint32_t pad0;
    int32_t leader; /* pid, 0: none */
    uint32_t pad;
    uint64_t leader_start;
    uint64_t next_ticket;
    xq_slot slot[XQ_SLOTS];
} xq_shared;

#define XQ_DATA_OFF ((sizeof(xq_shared) + (size_t)4095) & ~(size_t)4095)
#define XQ_FILE_BYTES (XQ_DATA_OFF + (size_t)XQ_SLOTS * XQ_SLOT_BYTES)

struct cairn_xq {
    int fd;
    xq_shared *sh;
    uint8_t *data;
    pid_t pid;
    uint64_t start; /* this process's start time */
    unsigned batch_max, wait_us;
    uint64_t commits, records, stale; /* led by this process (sh->mu) */
    int test_die;        /* $CAIRN_TEST_XQ_DIE: 1 before, 2 after the commit */
    uint64_t last_sweep; /* mono ns (under sh->mu) */
};

/* ---- opening -------------------------------------------------------- */

static int geometry_ok(const xq_shared *sh, const uint8_t boot[])
{
    return memcmp(sh->magic, XQ_MAGIC, 8) == 0 && sh->version == XQ_VERSION &&
           sh->slots == XQ_SLOTS && sh->slot_bytes == XQ_SLOT_BYTES &&
           sh->data_off == XQ_DATA_OFF &&
           memcmp(sh->boot_id, boot, CAIRN_BOOT_ID_BYTES) == 0;
}

static cairn_err init_shared(xq_shared *sh, const uint8_t boot[])
{
    pthread_mutexattr_t ma;
    memset(sh, 0, sizeof(*sh));
    int rc = pthread_mutexattr_init(&ma);
    if (rc == 0) {
        rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
        rc = rc ? rc : pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
        rc = rc ? rc : pthread_mutex_init(&sh->mu, &ma);
        pthread_mutexattr_destroy(&ma);
    }
    if (rc != 0) {
        return CAIRN_EIO;
    }
    sh->version = XQ_VERSION;
    sh->slots = XQ_SLOTS;
    sh->slot_bytes = XQ_SLOT_BYTES;
    sh->data_off = (uint32_t)XQ_DATA_OFF;
    sh->next_ticket = 1;
    memcpy(sh->boot_id, boot, CAIRN_BOOT_ID_BYTES);
    /* Last: a process that dies initialising leaves no magic, and the
     * next one (under the same flock) starts again. */
    memcpy(sh->magic, XQ_MAGIC, 8);
    return CAIRN_OK;
}

/* Size, map and (under the flock) initialise when needed. */
static cairn_err map_file(cairn_xq *q, const char *path, char *detail,
                          size_t detail_len)
{
    uint8_t boot[CAIRN_BOOT_ID_BYTES];
    struct stat st;
    cairn_err err = cairn__boot_id(boot);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s: cannot read the boot id", path);
        return err;
    }
    if (flock(q->fd, LOCK_EX) != 0 || fstat(q->fd, &st) != 0 ||
        ((size_t)st.st_size != XQ_FILE_BYTES &&
         ftruncate(q->fd, (off_t)XQ_FILE_BYTES) != 0)) {
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(errno));
        return CAIRN_EIO;
    }
    void *m =
        mmap(NULL, XQ_FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0);
    if (m == MAP_FAILED) {
        cairn__fmt(detail, detail_len, "%s: mmap: %s", path, strerror(errno));
        return CAIRN_EIO;
    }
    q->sh = m;
    q->data = (uint8_t *)m + XQ_DATA_OFF;
    if (!geometry_ok(q->sh, boot)) {
        err = init_shared(q->sh, boot);
        if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s: cannot initialise", path);
        }
    }
    (void)flock(q->fd, LOCK_UN);
    return err;
}

static unsigned env_unsigned(const char *name, unsigned lo, unsigned hi,
                             unsigned dflt)
{
    const char *s = getenv(name);
    char *end = NULL;
    if (s == NULL || *s == '\0') {
        return dflt;
    }
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    return errno != 0 || *end != '\0' || v < lo || v > hi ? dflt : (unsigned)v;
}

cairn_err cairn__xq_open(const char *dir, cairn_xq **out, char *detail,
                         size_t detail_len)
{
    char path[4096], data[4096];
    struct stat st;
    const char *share = getenv("CAIRN_SHARED_COMMIT");
    *out = NULL;
    if (share != NULL && strcmp(share, "0") == 0) {
        cairn__fmt(detail, detail_len, "CAIRN_SHARED_COMMIT=0");
        return CAIRN_EINVAL;
    }
    cairn_xq *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return CAIRN_ENOMEM;
    }
    snprintf(path, sizeof(path), "%s/commit.shm", dir);
    snprintf(data, sizeof(data), "%s/data.mdb", dir);
    mode_t mode = stat(data, &st) == 0 ? (st.st_mode & 0666) : 0600;
    q->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
    if (q->fd < 0) {
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(errno));
        free(q);
        return CAIRN_EIO;
    }
    cairn_err err = map_file(q, path, detail, detail_len);
    if (err == CAIRN_OK) {
        q->pid = getpid();
        err = cairn__proc_start_time(q->pid, &q->start);
    }
    if (err != CAIRN_OK) {
        cairn__xq_close(q);
        return err;
    }
    q->batch_max = env_unsigned("CAIRN_BATCH_MAX", 1, XQ_SLOTS, XQ_SLOTS);
    q->wait_us = env_unsigned("CAIRN_BATCH_WAIT_US", 0, 100000, 0);
    const char *die = getenv("CAIRN_TEST_XQ_DIE");
    q->test_die = die == NULL                  ? 0
                  : strcmp(die, "before") == 0 ? 1
                  : strcmp(die, "after") == 0  ? 2
                                               : 0;
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

size_t cairn__xq_slot_bytes(const cairn_xq *q)
{
    (void)q;
    return XQ_SLOT_BYTES;
}

void cairn__xq_counts(const cairn_xq *q, uint64_t *commits, uint64_t *records,
                      uint64_t *stale)
{
    *commits = q->commits;
    *records = q->records;
    *stale = q->stale;
}

/* ---- liveness and recovery (mutex held) ------------------------------ */

/* Cheap (one syscall, on the leader's path): the pid no longer exists.
 * A zombie or a reused pid passes for alive here. */
static int owner_gone(pid_t pid)
{
    return pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH);
}

/* Thorough (a waiter's periodic check): gone, a zombie, or the pid now
 * names another process. */
static int leader_gone(const xq_shared *sh)
{
    return !cairn__proc_alive((uint32_t)sh->leader, sh->leader_start,
                              sh->boot_id, "");
}

/* Waiting is a futex on sh->seq, not a pthread condition variable: a
 * process killed inside pthread_cond_wait() or _broadcast() can leave a
 * shared condition variable's internal lock held for good; a futex word
 * has no lock to leave behind. */
static void wake_all(cairn_xq *q)
{
    __atomic_add_fetch(&q->sh->seq, 1, __ATOMIC_SEQ_CST);
    (void)syscall(SYS_futex, &q->sh->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* A dead leader's slots become ORPHAN; a dead owner's finished slot is
 * freed. */
static void sweep(cairn_xq *q)
{
    xq_shared *sh = q->sh;
    int dead_leader = sh->leader != 0 && leader_gone(sh);
    for (unsigned i = 0; i < XQ_SLOTS; i++) {
        xq_slot *s = &sh->slot[i];
        if (s->state == S_TAKEN && dead_leader) {
            s->state = S_ORPHAN;
        }
        if ((s->state == S_DONE || s->state == S_ORPHAN) &&
            owner_gone(s->owner)) {
            s->state = S_FREE;
        }
    }
    if (dead_leader) {
        sh->leader = 0;
        wake_all(q);
    }
}

static int after_lock(cairn_xq *q, int rc)
{
    if (rc == EOWNERDEAD) {
        /* A process died holding the mutex: every update is ordered so
         * that a half-done one reads as not done; sweep the rest. */
        pthread_mutex_consistent(&q->sh->mu);
        sweep(q);
        rc = 0;
    }
    return rc;
}

static int xq_lock(cairn_xq *q)
{
    return after_lock(q, pthread_mutex_lock(&q->sh->mu));
}

/* Release the mutex, sleep until a change or @p ns, take it again. */
static int wait_change(cairn_xq *q, uint64_t ns)
{
    struct timespec rel = {(time_t)(ns / 1000000000u),
                           (long)(ns % 1000000000u)};
    uint32_t seen = __atomic_load_n(&q->sh->seq, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&q->sh->mu);
    (void)syscall(SYS_futex, &q->sh->seq, FUTEX_WAIT, seen, &rel, NULL, 0);
    return xq_lock(q);
}

/* Wait up to XQ_POLL_MS for a change; at most every XQ_POLL_MS, also
 * check that the leader lives (however busy the queue is). */
static int xq_wait(cairn_xq *q)
{
    int rc = wait_change(q, (uint64_t)XQ_POLL_MS * 1000000u);
    uint64_t now = cairn__mono_ns();
    if (rc == 0 && now - q->last_sweep >= (uint64_t)XQ_POLL_MS * 1000000u) {
        q->last_sweep = now;
        sweep(q);
    }
    return rc;
}

/* ---- queueing (mutex held) ------------------------------------------- */

/* A free slot, waiting (and sweeping) while every slot is in use. */
static int alloc_slot(cairn_xq *q, xq_slot **out)
{
    for (;;) {
        for (unsigned i = 0; i < XQ_SLOTS; i++) {
            if (q->sh->slot[i].state == S_FREE) {
                *out = &q->sh->slot[i];
                return 0;
            }
        }
        int rc = xq_wait(q);
        if (rc != 0) {
            return rc;
        }
    }
}

static uint8_t *slot_data(const cairn_xq *q, const xq_slot *s)
{
    return q->data + (size_t)(s - q->sh->slot) * XQ_SLOT_BYTES;
}

static void enqueue(cairn_xq *q, xq_slot *s)
{
    s->ticket = q->sh->next_ticket++;
    s->state = S_QUEUED; /* last: the slot is complete */
    wake_all(q);
}

static size_t count_queued(const cairn_xq *q)
{
    size_t n = 0;
    for (unsigned i = 0; i < XQ_SLOTS; i++) {
        n += q->sh->slot[i].state == S_QUEUED;
    }
    return n;
}

/* Leader: the bounded wait for a fuller batch ($CAIRN_BATCH_WAIT_US). */
static int wait_for_batch(cairn_xq *q)
{
    uint64_t until = cairn__mono_ns() + (uint64_t)q->wait_us * 1000u;
    int rc = 0;
    while (rc == 0 && count_queued(q) < q->batch_max) {
        uint64_t now = cairn__mono_ns();
        if (now >= until) {
            break;
        }
        rc = wait_change(q, until - now);
    }
    return rc;
}

/* Leader: take up to batch_max queued slots, oldest ticket first; a slot
 * whose owner died is freed unwritten. */
static size_t take(cairn_xq *q, xq_slot **taken)
{
    size_t n = 0;
    for (unsigned i = 0; i < XQ_SLOTS; i++) {
        xq_slot *s = &q->sh->slot[i];
        if (s->state != S_QUEUED) {
            continue;
        }
        if (s->owner != q->pid && owner_gone(s->owner)) {
            s->state = S_FREE;
            continue;
        }
        size_t k = n++;
        while (k > 0 && taken[k - 1]->ticket > s->ticket) {
            taken[k] = taken[k - 1];
            k--;
        }
        taken[k] = s;
    }
    n = n < q->batch_max ? n : q->batch_max;
    for (size_t i = 0; i < n; i++) {
        taken[i]->state = S_TAKEN;
    }
    return n;
}

/* Lead one batch.  Called and returns with the mutex held. */
static int lead(cairn_xq *q, cairn_journal *j)
{
    xq_slot *taken[XQ_SLOTS];
    cairn_xq_item items[XQ_SLOTS];
    xq_shared *sh = q->sh;
    sh->leader_start = q->start;
    sh->leader = q->pid; /* before any slot is TAKEN */
    int rc = q->wait_us > 0 ? wait_for_batch(q) : 0;
    if (rc != 0) {
        return rc; /* the mutex is lost: nothing more can be done */
    }
    size_t n = take(q, taken);
    if (n > 0) {
        pthread_mutex_unlock(&sh->mu);
        for (size_t i = 0; i < n; i++) {
            memset(&items[i], 0, sizeof(items[i]));
            items[i].data = slot_data(q, taken[i]);
            items[i].len = taken[i]->len;
        }
        /* Test hook (tests/test_xq.c): a leader that dies holding the
         * slots of other processes, before or after its commit. */
        if (q->test_die == 1 && n > 1) {
            _exit(9);
        }
        cairn__xq_write_batch(j, items, n);
        if (q->test_die == 2 && n > 1) {
            _exit(9);
        }
        rc = xq_lock(q);
        if (rc != 0) {
            return rc;
        }
        for (size_t i = 0; i < n; i++) {
            xq_slot *s = taken[i];
            s->err = (int32_t)items[i].err;
            s->stale = items[i].stale;
            s->pos = items[i].pos;
            memcpy(s->detail, items[i].detail, sizeof(s->detail));
            s->state = S_DONE;
            q->records += items[i].err == CAIRN_OK && !items[i].stale;
            q->stale += items[i].stale != 0;
        }
        q->commits++;
    }
    sh->leader = 0;
    wake_all(q);
    return rc;
}

/* The slot's result into @p out; the slot is free again. */
static void collect(xq_slot *s, cairn_xq_item *out)
{
    out->err = (cairn_err)s->err;
    out->stale = s->stale;
    out->pos = s->pos;
    memcpy(out->detail, s->detail, sizeof(out->detail));
    out->detail[sizeof(out->detail) - 1] = '\0';
    s->state = S_FREE;
}

/* An orphaned slot: committed by the dead leader (then make it durable
 * here) or queued again.  Called and returns with the mutex held; 1 when
 * the result is in @p out. */
static int adopt(cairn_xq *q, cairn_journal *j, xq_slot *s, cairn_xq_item *out,
                 int *rc)
{
    uint64_t pos = 0;
    int found = 0;
    s->state = S_TAKEN; /* ours while we look: no leader takes it */
    pthread_mutex_unlock(&q->sh->mu);
    cairn_err err =
        cairn__xq_committed(j, slot_data(q, s), s->len, &pos, &found);
    *rc = xq_lock(q);
    if (*rc != 0) {
        return 1; /* the mutex is lost */
    }
    if (err != CAIRN_OK || found) {
        s->err = (int32_t)err;
        s->stale = 0;
        s->pos = pos;
        cairn__fmt(s->detail, sizeof(s->detail), "%s",
                   err == CAIRN_OK ? "" : cairn__jdetail(j));
        collect(s, out);
        return 1;
    }
    enqueue(q, s);
    return 0;
}

cairn_err cairn__xq_submit(cairn_xq *q, cairn_journal *j,
                           const uint8_t *payload, size_t len,
                           cairn_xq_item *out)
{
    xq_slot *s = NULL;
    if (len > XQ_SLOT_BYTES) {
        return CAIRN_EINVAL;
    }
    int rc = xq_lock(q);
    if (rc == 0) {
        rc = alloc_slot(q, &s);
    }
    if (rc != 0) {
        return cairn__jfail(j, CAIRN_EIO, "commit queue: %s", strerror(rc));
    }
    memcpy(slot_data(q, s), payload, len);
    s->len = (uint32_t)len;
    s->owner = q->pid;
    enqueue(q, s);
    while (rc == 0) {
        if (s->state == S_DONE) {
            collect(s, out);
            break;
        }
        if (s->state == S_ORPHAN) {
            if (adopt(q, j, s, out, &rc)) {
                break;
            }
        } else if (s->state == S_QUEUED && q->sh->leader == 0) {
            rc = lead(q, j);
        } else {
            rc = xq_wait(q);
        }
    }
    if (rc != 0) {
        /* The robust mutex cannot be recovered (never expected): the
         * transition's fate is unknown to this process. */
        return cairn__jfail(j, CAIRN_EIO, "commit queue: %s", strerror(rc));
    }
    wake_all(q); /* a slot is free */
    pthread_mutex_unlock(&q->sh->mu);
    return CAIRN_OK;
}
