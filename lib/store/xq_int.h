/*
 * xq_int.h - the shared file of the commit queue (xq_shm.c) as the
 * queue protocol (commit/xq_queue.c) sees it: its layout, liveness,
 * waking and waiting.  See xq.h.
 */
#ifndef CAIRN_XQ_INT_H
#define CAIRN_XQ_INT_H

#include "store/xq.h"

#include <pthread.h>
#include <sys/types.h>

#define CAIRN__XQ_DETAIL 256

/* ---- the shared file (xq_shm.c) --------------------------------------- */

#define XQ_MAGIC "cairnxq1"
#define XQ_VERSION 3u /* bump with any change of the layout below */
#define XQ_SLOTS 256u
#define XQ_SLOT_BYTES (64u * 1024u)
#define XQ_POLL_MS 100 /* how often a waiter checks that the leader lives */
/* Longest wait for the queue's mutex (held for a few instructions at a
 * time): past it the queue is not joined, or the transition fails. */
#define XQ_LOCK_BOUND_S 10

enum { S_FREE = 0, S_QUEUED, S_TAKEN, S_DONE, S_ORPHAN, S_ADOPTING };

/* Liveness is never judged by pid here: every slot in use is held by its
 * owner thread through a robust mutex (life), and a leader holds lead_mu
 * for as long as it has slots TAKEN.  A trylock answers EBUSY while the
 * holder thread lives and EOWNERDEAD once it died, whatever happened to
 * its pid (zombie, reuse, another namespace). */
typedef struct xq_slot {
    pthread_mutex_t life; /* held by the owner from queueing to collecting */
    uint32_t state;
    int32_t err;
    int32_t stale;
    uint32_t len;
    int32_t owner; /* pid */
    uint32_t wake; /* futex word: bumped when the owner should look */
    uint64_t ticket;
    uint64_t pos;
    char detail[CAIRN__XQ_DETAIL];
} xq_slot;

typedef struct xq_shared {
    char magic[8];
    uint32_t version, slots, slot_bytes, data_off;
    uint32_t header_bytes, pad1; /* sizeof(xq_shared) of its maker */
    uint8_t boot_id[CAIRN_BOOT_ID_BYTES];
    uint64_t pid_ns; /* the PID namespace whose pids the slots hold */
    pthread_mutex_t mu;
    uint32_t seq;          /* futex word: a slot freed, or queue grew */
    uint32_t slot_waiters; /* threads waiting for a free slot */
    uint32_t leader_waits; /* the leader waits for a fuller batch */
    uint32_t pad0;
    pthread_mutex_t lead_mu; /* held by the leader while it has slots */
    int32_t leader;          /* pid of the leading process, 0: none */
    uint32_t pad;
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
    unsigned batch_max, wait_us;
    uint64_t commits, records, stale; /* led by this process (sh->mu) */
    int test_die; /* tests set it (test_xq.c): 1 before, 2 after the commit */
    uint64_t last_sweep;      /* mono ns (under sh->mu) */
    uint32_t ready[XQ_SLOTS]; /* bytes of each slot known to have blocks */
};

/* Liveness, waking and waiting (xq_shm.c). */
/** The owner thread of a slot in use has died (its life mutex says so). */
CAIRN_INTERNAL int cairn__xq_owner_dead(xq_slot *s);
/** Bump futex word @p word and wake whoever sleeps on it.  Mutex held. */
CAIRN_INTERNAL void cairn__xq_wake(uint32_t *word);
/** Wake the owner of the oldest queued slot: the next leader. */
CAIRN_INTERNAL void cairn__xq_hand_off(cairn_xq *q);
/** A dead leader's slots become ORPHAN; dead owners' results are freed.
 *  Mutex held. */
CAIRN_INTERNAL void cairn__xq_sweep(cairn_xq *q);
/** Take the robust mutex (a dead holder's state is swept). 0 or errno. */
CAIRN_INTERNAL int cairn__xq_lock(cairn_xq *q);
/** Release the mutex, sleep until @p word moves or @p ns passed, take
 *  the mutex again. */
CAIRN_INTERNAL int cairn__xq_wait_change(cairn_xq *q, uint32_t *word,
                                         uint64_t ns);
/** Wait up to XQ_POLL_MS for @p word to move, sweeping every
 *  XQ_POLL_MS. */
CAIRN_INTERNAL int cairn__xq_wait(cairn_xq *q, uint32_t *word);

#endif
