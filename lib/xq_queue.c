/*
 * xq_queue.c - the shared commit queue's protocol (see xq.h and
 * xq_shm.c for the file): a caller queues its payload in a slot and waits;
 * whoever finds no leader takes every queued slot (oldest first, the
 * slots of dead owners freed unwritten), writes them in one transaction
 * and hands each owner its result; an owner whose leader died adopts its
 * slot.  Everything here runs with the queue's mutex held, except the
 * leader's write transaction and an adopting owner's look into LMDB.
 */
#include "xq_int.h"

#include "sys.h"

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

/* Leader: the bounded wait for a fuller batch ($CAIRN_BATCH_WAIT_US). */
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
        if (s->owner != q->pid && cairn__xq_owner_gone(s->owner)) {
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
static int lead(cairn_xq *q, cairn_journal *j, const xq_slot *mine)
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
    cairn__xq_hand_off(q); /* the next leader, if anything is queued */
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
    *rc = cairn__xq_lock(q);
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
    int rc = cairn__xq_lock(q);
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
            rc = lead(q, j, s);
        } else {
            rc = cairn__xq_wait(q, &s->wake);
        }
    }
    if (rc != 0) {
        /* The robust mutex cannot be recovered (never expected): the
         * transition's fate is unknown to this process. */
        return cairn__jfail(j, CAIRN_EIO, "commit queue: %s", strerror(rc));
    }
    if (q->sh->slot_waiters > 0) {
        cairn__xq_wake(&q->sh->seq); /* a slot is free */
    }
    pthread_mutex_unlock(&q->sh->mu);
    return CAIRN_OK;
}
