/*
 * journal_sync.c - the handle's thread synchronisation (cairn_jsync: made
 * and freed with the handle, with the batch settings of group commit,
 * whose protocol is commit/group.c's) and the handle's failure detail,
 * copied out per calling thread.
 */
#include "journal/journal.h"

#include "base/sys.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

cairn_err cairn__jfail(cairn_journal *j, cairn_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(j->detail, sizeof(j->detail), fmt, ap);
    va_end(ap);
    return err;
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
    if (pthread_mutex_init(&s->head_mu, NULL) != 0) {
        pthread_mutex_destroy(&s->names_mu);
        pthread_mutex_destroy(&s->locks_mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return CAIRN_ENOMEM;
    }
    if (init_conds(s) != CAIRN_OK) {
        pthread_mutex_destroy(&s->head_mu);
        pthread_mutex_destroy(&s->names_mu);
        pthread_mutex_destroy(&s->locks_mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return CAIRN_ENOMEM;
    }
    s->batch_max = j->opts.batch_max;   /* checked at open */
    s->wait_us = j->opts.batch_wait_us; /* checked at open */
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
    pthread_mutex_destroy(&s->head_mu);
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

/* The calling thread's slot (created on first use); NULL when out of
 * memory or when too many threads asked.  Under sync->mu. */
static cairn_detail_slot *thread_slot(cairn_jsync *s)
{
    pthread_t self = pthread_self();
    for (size_t i = 0; i < s->n_slots; i++) {
        if (pthread_equal(s->slots[i]->thread, self)) {
            return s->slots[i];
        }
    }
    if (s->n_slots >= 1024) {
        return NULL;
    }
    cairn_detail_slot **n =
        realloc(s->slots, (s->n_slots + 1) * sizeof(*s->slots));
    if (n == NULL) {
        return NULL;
    }
    s->slots = n;
    cairn_detail_slot *slot = calloc(1, sizeof(*slot));
    if (slot == NULL) {
        return NULL;
    }
    slot->thread = self;
    s->slots[s->n_slots++] = slot;
    return slot;
}

const char *cairn_journal_errdetail(const cairn_journal *journal)
{
    if (journal == NULL) {
        return "";
    }
    /* A copy for the calling thread, taken under the lock that threads
     * publishing a transition's failure hold. */
    cairn_jsync *s = journal->sync;
    pthread_mutex_lock(&s->mu);
    cairn_detail_slot *slot = thread_slot(s);
    if (slot != NULL) {
        memcpy(slot->text, journal->detail, sizeof(slot->text));
    }
    pthread_mutex_unlock(&s->mu);
    return slot != NULL ? slot->text : journal->detail;
}
