/*
 * group.c - group commit inside one handle, and the entry point of every
 * transition (cairn__journal_append_batch).
 *
 * A caller looks its run up and takes the run's lock reference in its own
 * thread.  A lone transition then goes through the queue shared with the
 * other processes writing the journal (xq.h), which prepares it in this
 * thread and commits it with whatever else is queued.  Batches of several
 * requests, transitions too big for a shared slot, and handles without a
 * shared queue are queued here, under sync->mu: when no batch is being
 * committed the caller becomes the leader, takes up to batch_max queued
 * requests (after an optional bounded wait for more), runs one write
 * transaction over them (group_batch.c) with the mutex released, then
 * marks each request decided and wakes the threads that own them (each
 * waits on its own condition variable), and the owner of the next queued
 * request, which leads the next batch.  A caller returns only once the
 * commit holding its record returned.
 */
#include "journal/journal.h"

#include "base/bytes.h"
#include "store/xq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BATCH_MAX 256u
#define MAX_BATCH_MAX 4096u
#define MAX_WAIT_US 100000u

static unsigned env_unsigned(const char *name, unsigned lo, unsigned hi,
                             unsigned dflt)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') {
        return dflt;
    }
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        return dflt;
    }
    return (unsigned)v;
}

static cairn_err init_conds(cairn_jsync *s)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        return CAIRN_ENOMEM;
    }
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) {
        rc = pthread_cond_init(&s->queue_cv, &attr);
    }
    pthread_condattr_destroy(&attr);
    return rc == 0 ? CAIRN_OK : CAIRN_ENOMEM;
}

cairn_err cairn__jsync_open(cairn_journal *j)
{
    cairn_jsync *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return CAIRN_ENOMEM;
    }
    if (pthread_mutex_init(&s->locks_mu, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return CAIRN_ENOMEM;
    }
    if (pthread_mutex_init(&s->names_mu, NULL) != 0) {
        pthread_mutex_destroy(&s->locks_mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return CAIRN_ENOMEM;
    }
    if (pthread_mutex_init(&s->prep_mu, NULL) != 0) {
        pthread_mutex_destroy(&s->names_mu);
        pthread_mutex_destroy(&s->locks_mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return CAIRN_ENOMEM;
    }
    if (init_conds(s) != CAIRN_OK) {
        pthread_mutex_destroy(&s->prep_mu);
        pthread_mutex_destroy(&s->names_mu);
        pthread_mutex_destroy(&s->locks_mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return CAIRN_ENOMEM;
    }
    s->batch_max =
        env_unsigned("CAIRN_BATCH_MAX", 1, MAX_BATCH_MAX, DEFAULT_BATCH_MAX);
    s->wait_us = env_unsigned("CAIRN_BATCH_WAIT_US", 0, MAX_WAIT_US, 0);
    j->sync = s;
    return CAIRN_OK;
}

void cairn__jsync_close(cairn_journal *j)
{
    cairn_jsync *s = j->sync;
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_slots; i++) {
        free(s->slots[i]);
    }
    free(s->slots);
    for (size_t i = 0; i < CAIRN__NAME_SLOTS; i++) {
        free(s->names[i].run_id);
    }
    pthread_mutex_destroy(&s->prep_mu);
    pthread_mutex_destroy(&s->names_mu);
    pthread_cond_destroy(&s->queue_cv);
    pthread_mutex_destroy(&s->locks_mu);
    pthread_mutex_destroy(&s->mu);
    free(s);
    j->sync = NULL;
}

void cairn__publish_detail(cairn_journal *j, const char *text)
{
    pthread_mutex_lock(&j->sync->mu);
    cairn__fmt(j->detail, sizeof(j->detail), "%s", text);
    pthread_mutex_unlock(&j->sync->mu);
}

/* ---- the name cache (under names_mu) ------------------------------- */

static size_t name_hash(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h & (CAIRN__NAME_SLOTS - 1);
}

static int name_get(cairn_jsync *s, const char *id, uint64_t *run_num)
{
    int hit = 0;
    pthread_mutex_lock(&s->names_mu);
    for (size_t i = name_hash(id), k = 0; k < CAIRN__NAME_SLOTS; k++) {
        cairn_name_entry *e = &s->names[(i + k) & (CAIRN__NAME_SLOTS - 1)];
        if (e->run_id == NULL) {
            break;
        }
        if (strcmp(e->run_id, id) == 0) {
            *run_num = e->run_num;
            hit = 1;
            break;
        }
    }
    pthread_mutex_unlock(&s->names_mu);
    return hit;
}

/* Remember a name (best effort: a full cache starts over). */
static void name_put(cairn_jsync *s, const char *id, uint64_t run_num)
{
    char *copy = strdup(id);
    if (copy == NULL) {
        return;
    }
    pthread_mutex_lock(&s->names_mu);
    if (s->n_names >= CAIRN__NAME_SLOTS * 3 / 4) {
        for (size_t i = 0; i < CAIRN__NAME_SLOTS; i++) {
            free(s->names[i].run_id);
            s->names[i].run_id = NULL;
        }
        s->n_names = 0;
    }
    size_t i = name_hash(id);
    while (s->names[i].run_id != NULL && strcmp(s->names[i].run_id, id) != 0) {
        i = (i + 1) & (CAIRN__NAME_SLOTS - 1);
    }
    if (s->names[i].run_id == NULL) {
        s->names[i].run_id = copy;
        s->names[i].run_num = run_num;
        s->n_names++;
        copy = NULL;
    }
    pthread_mutex_unlock(&s->names_mu);
    free(copy);
}

static cairn_err lookup_store(cairn_journal *j, const char *run_id, size_t n,
                              uint64_t *run_num, char *detail,
                              size_t detail_len)
{
    cairn_txn *txn = NULL;
    cairn_err err = cairn__store_read(j->store, &txn);
    const uint8_t *v = NULL;
    size_t vl = 0;
    int found = 0;
    if (err == CAIRN_OK) {
        err = cairn__txn_get(txn, CAIRN_DBI_NAMES, run_id, n, &v, &vl, &found);
    }
    if (err == CAIRN_OK && found && vl == 8) {
        *run_num = cairn__load64_be(v);
    }
    cairn__txn_end(txn);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s", cairn__store_detail(j->store));
    } else if (!found) {
        cairn__fmt(detail, detail_len, "no run \"%s\"", run_id);
        err = CAIRN_ENORUN;
    } else if (vl != 8) {
        cairn__fmt(detail, detail_len, "run \"%s\": bad name entry", run_id);
        err = CAIRN_ECORRUPT;
    }
    return err;
}

cairn_err cairn__lookup_outside(cairn_journal *j, const char *run_id,
                                uint64_t *run_num, char *detail,
                                size_t detail_len)
{
    *run_num = 0;
    size_t n = strlen(run_id);
    if (n == 0 || n > CAIRN_MAX_ID) {
        cairn__fmt(detail, detail_len, "no run \"%.*s\"",
                   (int)(n > 64 ? 64 : n), run_id);
        return CAIRN_ENORUN;
    }
    if (name_get(j->sync, run_id, run_num)) {
        return CAIRN_OK;
    }
    cairn_err err = lookup_store(j, run_id, n, run_num, detail, detail_len);
    if (err == CAIRN_OK) {
        name_put(j->sync, run_id, *run_num);
    }
    return err;
}

/* The caller's part before queueing: writable handle, run number, lock
 * reference.  On failure the request is decided here. */
static void prepare(cairn_journal *j, cairn_append_req *r)
{
    r->err = CAIRN_OK;
    r->wrote = 0;
    r->detail[0] = '\0';
    r->run_num = 0;
    r->locked = 0;
    r->done = 0;
    r->waiter = NULL;
    r->next = NULL;
    if (r->after != NULL) {
        memset(r->after, 0, sizeof(*r->after));
    }
    if (j->readonly) {
        cairn__fmt(r->detail, sizeof(r->detail), "journal opened read-only");
        r->err = CAIRN_EINVAL;
    } else if (cairn__store_fatal(j->store)) {
        cairn__fmt(r->detail, sizeof(r->detail),
                   "a commit failed earlier: close and reopen the journal");
        r->err = CAIRN_EFATAL;
    } else if (r->run_id == NULL || r->build == NULL) {
        cairn__fmt(r->detail, sizeof(r->detail), "bad append request");
        r->err = CAIRN_EINVAL;
    } else {
        r->err = cairn__lookup_outside(j, r->run_id, &r->run_num, r->detail,
                                       sizeof(r->detail));
    }
    if (r->err == CAIRN_OK) {
        r->err =
            cairn__run_lock_get(j, r->run_num, 0, r->detail, sizeof(r->detail));
        r->locked = r->err == CAIRN_OK;
    }
    r->done = r->err != CAIRN_OK;
}

/* Leader: wait (bounded) until the queue holds a full batch. */
static void wait_for_batch(cairn_jsync *s)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)s->wait_us * 1000u;
    until.tv_sec += (time_t)(ns / 1000000000u);
    until.tv_nsec = (long)(ns % 1000000000u);
    s->leader_waiting = 1;
    while (s->queued < s->batch_max) {
        if (pthread_cond_timedwait(&s->queue_cv, &s->mu, &until) == ETIMEDOUT) {
            break;
        }
    }
    s->leader_waiting = 0;
}

/* Wake the thread waiting on @p w unless it is the caller (under mu). */
static void wake(cairn_waiter *w, const cairn_waiter *self)
{
    if (w != NULL && w != self) {
        pthread_cond_signal(&w->cv);
    }
}

/* Lead one batch.  Called and returns with sync->mu held. */
static void lead(cairn_journal *j, cairn_waiter *self)
{
    cairn_jsync *s = j->sync;
    s->committing = 1;
    if (s->wait_us > 0 && s->queued < s->batch_max) {
        wait_for_batch(s);
    }
    cairn_append_req *first = s->head, *last = NULL;
    size_t n = 0;
    for (cairn_append_req *r = first; r != NULL && n < s->batch_max;
         r = r->next) {
        last = r;
        n++;
    }
    s->head = last->next;
    if (s->head == NULL) {
        s->tail = NULL;
    }
    s->queued -= n;
    last->next = NULL;
    pthread_mutex_unlock(&s->mu);
    cairn__batch_commit(j, first, n);
    pthread_mutex_lock(&s->mu);
    /* Each owner waits for done under mu, so its request and its waiter
     * stay valid until mu is released.  Wake the owners of this batch,
     * and the owner of the next queued request: it leads the next one. */
    const cairn_waiter *woken = self;
    for (cairn_append_req *r = first; r != NULL; r = r->next) {
        r->done = 1;
        if (r->waiter != woken) {
            wake(r->waiter, self);
            woken = r->waiter;
        }
    }
    s->committing = 0;
    if (s->head != NULL) {
        wake(s->head->waiter, self);
    }
}

static int all_done(const cairn_append_req *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!reqs[i].done) {
            return 0;
        }
    }
    return 1;
}

/* Queue the prepared requests and wait until each is decided, leading
 * batches whenever no other thread does. */
static void queue_and_wait(cairn_journal *j, cairn_append_req *reqs, size_t n)
{
    cairn_jsync *s = j->sync;
    cairn_waiter self;
    if (pthread_cond_init(&self.cv, NULL) != 0) {
        for (size_t i = 0; i < n; i++) {
            if (!reqs[i].done) {
                reqs[i].err = CAIRN_ENOMEM;
                cairn__fmt(reqs[i].detail, sizeof(reqs[i].detail),
                           "group commit: cannot make a condition variable");
                reqs[i].done = 1;
            }
        }
        return;
    }
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].done) {
            continue;
        }
        reqs[i].waiter = &self;
        if (s->tail != NULL) {
            s->tail->next = &reqs[i];
        } else {
            s->head = &reqs[i];
        }
        s->tail = &reqs[i];
        s->queued++;
    }
    if (s->leader_waiting && s->queued >= s->batch_max) {
        pthread_cond_signal(&s->queue_cv);
    }
    /* Every undecided request is queued (then head != NULL) or in the
     * batch being committed: this thread is woken when that batch is
     * decided, or when its request heads the queue. */
    while (!all_done(reqs, n)) {
        if (!s->committing && s->head != NULL) {
            lead(j, &self);
        } else {
            pthread_cond_wait(&self.cv, &s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&self.cv);
}

cairn_err cairn__journal_append_batch(cairn_journal *j, cairn_append_req *reqs,
                                      size_t n)
{
    if (j == NULL || (reqs == NULL && n > 0)) {
        return CAIRN_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        prepare(j, &reqs[i]);
    }
    /* A lone transition goes through the queue shared with the other
     * processes (xq.h) unless it does not fit a slot. */
    if (n == 1 && j->xq != NULL && !reqs[0].done &&
        cairn__xq_append(j, &reqs[0])) {
        reqs[0].done = 1;
    }
    if (n != 1 || !reqs[0].done) {
        queue_and_wait(j, reqs, n);
    }
    cairn_err first = CAIRN_OK;
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].locked) {
            cairn__run_lock_put(j, reqs[i].run_num, 0);
            reqs[i].locked = 0;
        }
        if (reqs[i].err != CAIRN_OK && first == CAIRN_OK) {
            first = reqs[i].err;
            if (reqs[i].detail[0] == '\0') {
                cairn__fmt(reqs[i].detail, sizeof(reqs[i].detail), "%s",
                           cairn_strerror(first));
            }
            cairn__publish_detail(j, reqs[i].detail);
        }
    }
    return first;
}

cairn_err cairn__journal_append(cairn_journal *j, const char *run_id,
                                cairn_build_fn build, void *ctx,
                                cairn_state *after)
{
    cairn_append_req r;
    r.run_id = run_id;
    r.build = build;
    r.ctx = ctx;
    r.after = after;
    return cairn__journal_append_batch(j, &r, 1);
}
