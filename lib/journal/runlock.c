/*
 * runlock.c - the per-run writer locks held by a handle, shared by its
 * threads (reference counted under sync->locks_mu): a transition takes a
 * reference for its duration, cairn_run_lock() pins the lock until
 * cairn_run_unlock().
 */
#include "journal/journal.h"

#include "base/sys.h"

#include <stdlib.h>

/* Under sync->locks_mu. */
static cairn_held_lock *find_lock(cairn_journal *j, uint64_t run_num)
{
    for (size_t i = 0; i < j->n_locks; i++) {
        if (j->locks[i].run_num == run_num) {
            return &j->locks[i];
        }
    }
    return NULL;
}

/* Open the lock of a run the handle does not hold (under locks_mu). */
static cairn_err open_lock(cairn_journal *j, uint64_t run_num, int pin,
                           char *detail, size_t detail_len)
{
    cairn_held_lock *n =
        realloc(j->locks, (j->n_locks + 1) * sizeof(cairn_held_lock));
    if (n == NULL) {
        cairn__fmt(detail, detail_len, "run lock: out of memory");
        return CAIRN_ENOMEM;
    }
    j->locks = n;
    int fd = -1;
    char why[600];
    cairn_err err = cairn__run_lock(j->dfd, j->dir, &j->data_st, j->data_fd,
                                    run_num, &fd, why, sizeof(why));
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "run lock: %s", why);
        return err;
    }
    n[j->n_locks].run_num = run_num;
    n[j->n_locks].fd = fd;
    n[j->n_locks].users = pin ? 0 : 1;
    n[j->n_locks].pinned = pin;
    j->n_locks++;
    return CAIRN_OK;
}

cairn_err cairn__run_lock_get(cairn_journal *j, uint64_t run_num, int pin,
                              char *detail, size_t detail_len)
{
    cairn_err err = CAIRN_OK;
    pthread_mutex_lock(&j->sync->locks_mu);
    cairn_held_lock *l = find_lock(j, run_num);
    if (l != NULL && pin) {
        l->pinned = 1;
    } else if (l != NULL) {
        l->users++;
    } else {
        err = open_lock(j, run_num, pin, detail, detail_len);
    }
    pthread_mutex_unlock(&j->sync->locks_mu);
    return err;
}

void cairn__run_lock_put(cairn_journal *j, uint64_t run_num, int unpin)
{
    pthread_mutex_lock(&j->sync->locks_mu);
    cairn_held_lock *l = find_lock(j, run_num);
    if (l != NULL) {
        if (unpin) {
            l->pinned = 0;
        } else if (l->users > 0) {
            l->users--;
        }
        if (!l->pinned && l->users == 0) {
            cairn__run_unlock(j->data_fd, l->run_num, l->fd);
            *l = j->locks[j->n_locks - 1];
            j->n_locks--;
        }
    }
    pthread_mutex_unlock(&j->sync->locks_mu);
}

cairn_err cairn_run_lock(cairn_journal *journal, const char *run_id)
{
    if (journal == NULL || run_id == NULL) {
        return CAIRN_EINVAL;
    }
    uint64_t run_num;
    char detail[CAIRN__DETAIL_MAX];
    cairn_err err = cairn__lookup_outside(journal, run_id, &run_num, detail,
                                          sizeof(detail));
    if (err == CAIRN_OK) {
        err = cairn__run_lock_get(journal, run_num, 1, detail, sizeof(detail));
    }
    if (err != CAIRN_OK) {
        cairn__publish_detail(journal, detail);
    }
    return err;
}

void cairn_run_unlock(cairn_journal *journal, const char *run_id)
{
    uint64_t run_num;
    char detail[CAIRN__DETAIL_MAX];
    if (journal != NULL && run_id != NULL &&
        cairn__lookup_outside(journal, run_id, &run_num, detail,
                              sizeof(detail)) == CAIRN_OK) {
        cairn__run_lock_put(journal, run_num, 1);
    }
}

int cairn__run_lock_pinned(cairn_journal *j, uint64_t run_num)
{
    int pinned = 0;
    pthread_mutex_lock(&j->sync->locks_mu);
    cairn_held_lock *l = find_lock(j, run_num);
    if (l != NULL) {
        pinned = l->pinned;
    }
    pthread_mutex_unlock(&j->sync->locks_mu);
    return pinned;
}
