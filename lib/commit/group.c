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
#include "commit/commit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
