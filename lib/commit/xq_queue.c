/*
 * xq_queue.c - the shared commit queue's protocol (see xq.h and
 * xq_shm.c for the file): a caller queues its payload in a slot and waits;
 * whoever finds no leader takes every queued slot (oldest first, the
 * slots of dead owners freed unwritten), writes them in one transaction
 * and hands each owner its result; an owner whose leader died adopts its
 * slot.  Everything here runs with the queue's mutex held, except the
 * leader's write transaction and an adopting owner's look into LMDB.
 */
#include "commit/xq_queue.h"

#include "commit/xq_write.h"

#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

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
        q->sh->slot_waiters++;
        int rc = cairn__xq_wait(q, &q->sh->seq);
        q->sh->slot_waiters--;
        if (rc != 0) {
            return rc;
        }
    }
}

static uint8_t *slot_data(const cairn_xq *q, const xq_slot *s)
{
    return q->data + (size_t)(s - q->sh->slot) * XQ_SLOT_BYTES;
}

/* The file's blocks under the first @p len bytes of slot @p s exist:
 * writing through the mapping into a hole of a full file system would
 * kill the process with SIGBUS.  posix_fallocate once per slot and size
 * (blocks stay: only an unused queue is ever re-sized). */
static int slot_blocks(cairn_xq *q, const xq_slot *s, size_t len)
{
    size_t i = (size_t)(s - q->sh->slot);
    if (len <= q->ready[i]) {
        return 1;
    }
    size_t want = (len + 4095u) & ~(size_t)4095u;
    off_t off = (off_t)(XQ_DATA_OFF + i * (size_t)XQ_SLOT_BYTES);
    if (posix_fallocate(q->fd, off, (off_t)want) != 0) {
        return 0;
    }
    q->ready[i] = (uint32_t)want;
    return 1;
}

static void enqueue(cairn_xq *q, xq_slot *s)
{
    s->ticket = q->sh->next_ticket++;
    s->state = S_QUEUED; /* last: the slot is complete */
    if (q->sh->leader_waits) {
        cairn__xq_wake(&q->sh->seq);
    }
}

static size_t count_queued(const cairn_xq *q)
{
    size_t n = 0;
    for (unsigned i = 0; i < XQ_SLOTS; i++) {
        n += q->sh->slot[i].state == S_QUEUED;
    }
    return n;
}

/* Leader: the bounded wait for a fuller batch (batch_wait_us,
 * cairn_journal_opts). */
static int wait_for_batch(cairn_xq *q)
{
    uint64_t until = cairn__mono_ns() + (uint64_t)q->wait_us * 1000u;
    int rc = 0;
    q->sh->leader_waits = 1;
    while (rc == 0 && count_queued(q) < q->batch_max) {
        uint64_t now = cairn__mono_ns();
        if (now >= until) {
            break;
        }
        rc = cairn__xq_wait_change(q, &q->sh->seq, until - now);
    }
    q->sh->leader_waits = 0;
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
        if (cairn__xq_owner_dead(s)) {
            s->state = S_FREE; /* its caller died: never written */
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
static int lead(cairn_xq *q, cairn_journal *j, const xq_slot *mine)
{
    xq_slot *taken[XQ_SLOTS];
    cairn_xq_item items[XQ_SLOTS];
    xq_shared *sh = q->sh;
    /* Held until the results are in the slots: while this thread lives,
     * nobody takes its slots for orphans (xq_int.h). */
    int rc = pthread_mutex_lock(&sh->lead_mu);
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&sh->lead_mu);
        rc = 0;
    }
    if (rc != 0) {
        return rc;
    }
    sh->leader = q->pid; /* before any slot is TAKEN */
    rc = q->wait_us > 0 ? wait_for_batch(q) : 0;
    if (rc != 0) {
        return rc; /* the mutex is lost: nothing more can be done */
    }
    size_t n = take(q, taken);
    if (n > 0) {
        pthread_mutex_unlock(&sh->mu);
        for (size_t i = 0; i < n; i++) {
            memset(&items[i], 0, sizeof(items[i]));
            items[i].data = slot_data(q, taken[i]);
            /* Shared memory: a length past the slot parses as nothing. */
            items[i].len = taken[i]->len <= XQ_SLOT_BYTES ? taken[i]->len : 0u;
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
        rc = cairn__xq_lock(q);
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
            if (s != mine) {
                cairn__xq_wake(&s->wake);
            }
            q->records += items[i].err == CAIRN_OK && !items[i].stale;
            q->stale += items[i].stale != 0;
        }
        q->commits++;
    }
    sh->leader = 0;
    pthread_mutex_unlock(&sh->lead_mu);
    cairn__xq_hand_off(q); /* the next leader, if anything is queued */
    return rc;
}

/* The slot's result into @p out; the slot is free again.  Values from
 * shared memory are checked: an error code cairn does not have is
 * reported as a corrupt queue. */
static void collect(xq_slot *s, cairn_xq_item *out)
{
    out->err = s->err >= 0 && s->err < (int32_t)CAIRN_ERR_COUNT_
                   ? (cairn_err)s->err
                   : CAIRN_ECORRUPT;
    out->stale = s->stale != 0;
    out->pos = s->pos;
    memcpy(out->detail, s->detail, sizeof(out->detail));
    out->detail[sizeof(out->detail) - 1] = '\0';
    s->state = S_FREE;
    pthread_mutex_unlock(&s->life);
}

/* An orphaned slot: committed by the dead leader (then make it durable
 * here) or queued again.  Called and returns with the mutex held; 1 when
 * the result is in @p out. */
static int adopt(cairn_xq *q, cairn_journal *j, xq_slot *s, cairn_xq_item *out,
                 int *rc)
{
    uint64_t pos = 0;
    int found = 0;
    s->state = S_ADOPTING; /* ours while we look: no leader takes it */
    size_t len = s->len <= XQ_SLOT_BYTES ? s->len : 0u;
    pthread_mutex_unlock(&q->sh->mu);
    cairn_err err =
        cairn__xq_committed(j->store, slot_data(q, s), len, &pos, &found);
    *rc = cairn__xq_lock(q);
    if (*rc != 0) {
        return 1; /* the mutex is lost */
    }
    if (err != CAIRN_OK || found) {
        s->err = (int32_t)err;
        s->stale = 0;
        s->pos = pos;
        cairn__fmt(s->detail, sizeof(s->detail), "%s",
                   err == CAIRN_OK ? "" : cairn__store_detail(j->store));
        collect(s, out);
        return 1;
    }
    enqueue(q, s);
    return 0;
}

/* Take slot @p s for this thread: its life mutex says the owner lives. */
static int own(xq_slot *s)
{
    int rc = pthread_mutex_lock(&s->life);
    if (rc == EOWNERDEAD) { /* a dead owner's, never swept: ours now */
        pthread_mutex_consistent(&s->life);
        rc = 0;
    }
    return rc;
}

/* Wait for @p s to be decided, leading when nobody does.  Mutex held. */
static int await(cairn_xq *q, cairn_journal *j, xq_slot *s, cairn_xq_item *out)
{
    int rc = 0;
    while (rc == 0) {
        switch (s->state) {
        case S_DONE:
            collect(s, out);
            return 0;
        case S_ORPHAN:
            if (adopt(q, j, s, out, &rc)) {
                return rc;
            }
            break;
        case S_QUEUED:
            if (q->sh->leader == 0 && cairn__store_fatal(j->store)) {
                /* A handle that failed a commit must not lead others'
                 * transitions: this one fails alone. */
                s->state = S_FREE;
                pthread_mutex_unlock(&s->life);
                out->err = CAIRN_EFATAL;
                cairn__fmt(out->detail, sizeof(out->detail),
                           "a commit failed earlier: close and reopen the "
                           "journal");
                return 0;
            }
            rc = q->sh->leader == 0 ? lead(q, j, s)
                                    : cairn__xq_wait(q, &s->wake);
            break;
        case S_TAKEN:
        case S_ADOPTING:
            rc = cairn__xq_wait(q, &s->wake);
            break;
        default: /* FREE or garbage: the shared file was overwritten */
            out->err = CAIRN_EIO;
            cairn__fmt(out->detail, sizeof(out->detail),
                       "commit queue: slot lost (commit.shm overwritten?)");
            return 0;
        }
    }
    return rc;
}

cairn_err cairn__xq_submit(cairn_xq *q, cairn_journal *j,
                           const uint8_t *payload, size_t len,
                           cairn_xq_item *out)
{
    xq_slot *s = NULL;
    if (len > XQ_SLOT_BYTES) {
        return CAIRN_EINVAL;
    }
    int rc = cairn__xq_lock(q);
    if (rc == 0) {
        rc = alloc_slot(q, &s);
    }
    if (rc == 0 && !slot_blocks(q, s, len)) {
        pthread_mutex_unlock(&q->sh->mu);
        return CAIRN_EINVAL;
    }
    rc = rc == 0 ? own(s) : rc;
    if (rc != 0) {
        cairn__fmt(out->detail, sizeof(out->detail), "commit queue: %s",
                   strerror(rc));
        return CAIRN_EIO; /* nothing was queued */
    }
    memcpy(slot_data(q, s), payload, len);
    s->len = (uint32_t)len;
    s->owner = q->pid;
    enqueue(q, s);
    rc = await(q, j, s, out);
    if (rc != 0) {
        /* The robust mutex cannot be recovered (never expected): the
         * transition's fate is unknown to this process. */
        cairn__fmt(out->detail, sizeof(out->detail),
                   "commit queue: %s: the transition's fate is unknown",
                   strerror(rc));
        return CAIRN_EIO;
    }
    if (q->sh->slot_waiters > 0) {
        cairn__xq_wake(&q->sh->seq); /* a slot is free */
    }
    pthread_mutex_unlock(&q->sh->mu);
    return CAIRN_OK;
}
