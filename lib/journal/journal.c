/*
 * journal.c - open and close a journal handle: the options, the meta a
 * journal must hold, and what the handle tells about itself.  Opening the
 * directory and its files with the owner checks is journal_files.c's; the
 * handle's thread synchronisation and failure detail are journal_sync.c's.
 */
#include "journal/journal.h"
#include "journal/head.h"
#include "store/xq.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/sys.h"
#include "base/wlock.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define META_FORMAT_KEY "format"
#define META_ID_KEY "journal_id"

static cairn_err read_meta(cairn_journal *j)
{
    cairn_txn *txn = NULL;
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    const uint8_t *v;
    size_t vl;
    int found;
    err = cairn__txn_get(txn, CAIRN_DBI_META, META_FORMAT_KEY,
                         strlen(META_FORMAT_KEY), &v, &vl, &found);
    if (err != CAIRN_OK) {
        err = cairn__jfail(j, err, "meta: %s", cairn__store_detail(j->store));
    } else if (!found || vl != 4) {
        err = cairn__jfail(j, CAIRN_ECORRUPT,
                           "not a cairn journal: meta "
                           "\"format\" missing or bad");
    } else if (err == CAIRN_OK &&
               (cairn__load32_be(v) < CAIRN_JOURNAL_FORMAT_MIN ||
                cairn__load32_be(v) > CAIRN_JOURNAL_FORMAT)) {
        err = cairn__jfail(j, CAIRN_EVERSION,
                           "journal format %u, this "
                           "cairn reads formats %d to %d",
                           cairn__load32_be(v), CAIRN_JOURNAL_FORMAT_MIN,
                           CAIRN_JOURNAL_FORMAT);
    } else if (err == CAIRN_OK) {
        j->format = cairn__load32_be(v);
        if (j->format >= 2 && (!cairn__store_has(j->store, CAIRN_DBI_TREE) ||
                               !cairn__store_has(j->store, CAIRN_DBI_SMAP))) {
            err = cairn__jfail(j, CAIRN_ECORRUPT,
                               "journal format %u without its \"tree\" and "
                               "\"smap\" databases",
                               j->format);
        }
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_get(txn, CAIRN_DBI_META, META_ID_KEY,
                             strlen(META_ID_KEY), &v, &vl, &found);
        if (err != CAIRN_OK) {
            err =
                cairn__jfail(j, err, "meta: %s", cairn__store_detail(j->store));
        } else if (!found || vl != CAIRN_JOURNAL_ID_BYTES) {
            err = cairn__jfail(j, CAIRN_ECORRUPT,
                               "meta \"journal_id\" "
                               "missing or bad");
        } else if (err == CAIRN_OK) {
            memcpy(j->journal_id, v, CAIRN_JOURNAL_ID_BYTES);
        }
    }
    cairn__txn_end(txn);
    return err;
}

#define OPEN_FLAGS                                                             \
    (CAIRN_OPEN_READONLY | CAIRN_OPEN_CREATE | CAIRN_OPEN_STRICT |             \
     CAIRN_OPEN_GROUP_READABLE | CAIRN_OPEN_SNAPSHOT |                         \
     CAIRN_OPEN_NO_SHARED_COMMIT)
cairn_err cairn_journal_open(const char *dir, unsigned flags,
                             cairn_journal **out, char *detail,
                             size_t detail_len)
{
    cairn_journal_opts opts = CAIRN_JOURNAL_OPTS_INIT;
    opts.flags = flags;
    return cairn_journal_open_opts(dir, &opts, out, detail, detail_len);
}

cairn_err cairn_journal_open_snapshot(const char *dir, const char *tmp_dir,
                                      cairn_journal **out, char *detail,
                                      size_t detail_len)
{
    cairn_journal_opts opts = CAIRN_JOURNAL_OPTS_INIT;
    opts.flags = CAIRN_OPEN_SNAPSHOT;
    opts.tmp_dir = tmp_dir;
    return cairn_journal_open_opts(dir, &opts, out, detail, detail_len);
}

cairn_err cairn_journal_open_opts(const char *dir,
                                  const cairn_journal_opts *opts,
                                  cairn_journal **out, char *detail,
                                  size_t detail_len)
{
    cairn__snapshot_opts snap = {0};
    if (opts != NULL && opts->size >= CAIRN__OPTS_V1_SIZE &&
        opts->size <= sizeof(*opts)) {
        snap.tmp_dir = opts->tmp_dir;
    }
    return cairn__journal_open(dir, opts, &snap, out, detail, detail_len);
}

/* @p in as this library's struct with every default filled in, or
 * CAIRN_EINVAL naming what is wrong. */
static cairn_err resolve_opts(const cairn_journal_opts *in,
                              cairn_journal_opts *o, char *detail,
                              size_t detail_len)
{
    memset(o, 0, sizeof(*o));
    if (in != NULL) {
        if (in->size < CAIRN__OPTS_V1_SIZE || in->size > sizeof(*o)) {
            cairn__fmt(detail, detail_len,
                       "cairn_journal_opts: size %zu (this library knows "
                       "%zu..%zu)",
                       in->size, (size_t)CAIRN__OPTS_V1_SIZE, sizeof(*o));
            return CAIRN_EINVAL;
        }
        memcpy(o, in, in->size);
    }
    o->size = sizeof(*o);
    o->tmp_dir = NULL; /* the snapshot's, passed on by the caller */
    if (o->map_size == 0) {
        o->map_size = CAIRN_MAP_SIZE_DEFAULT;
    } else if (o->map_size < CAIRN_MAP_SIZE_MIN ||
               o->map_size > CAIRN_MAP_SIZE_MAX) {
        cairn__fmt(detail, detail_len,
                   "map_size %llu: not a size in bytes from %llu to %llu",
                   (unsigned long long)o->map_size,
                   (unsigned long long)CAIRN_MAP_SIZE_MIN,
                   (unsigned long long)CAIRN_MAP_SIZE_MAX);
        return CAIRN_EINVAL;
    }
    if (o->batch_max == 0) {
        o->batch_max = CAIRN_BATCH_MAX_DEFAULT;
    } else if (o->batch_max > CAIRN_BATCH_MAX_LIMIT) {
        cairn__fmt(detail, detail_len, "batch_max %u: not from 1 to %u",
                   o->batch_max, CAIRN_BATCH_MAX_LIMIT);
        return CAIRN_EINVAL;
    }
    if (o->batch_wait_us > CAIRN_BATCH_WAIT_US_MAX) {
        cairn__fmt(detail, detail_len, "batch_wait_us %u: not from 0 to %u",
                   o->batch_wait_us, CAIRN_BATCH_WAIT_US_MAX);
        return CAIRN_EINVAL;
    }
    return CAIRN_OK;
}

cairn_err cairn__journal_open(const char *dir, const cairn_journal_opts *opts,
                              cairn__snapshot_opts *snap, cairn_journal **out,
                              char *detail, size_t detail_len)
{
    if (out == NULL) {
        return CAIRN_EINVAL;
    }
    *out = NULL;
    cairn_journal_opts o;
    cairn_err err = resolve_opts(opts, &o, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    unsigned flags = o.flags;
    if (dir == NULL || dir[0] == '\0' || (flags & ~OPEN_FLAGS) != 0 ||
        ((flags & CAIRN_OPEN_SNAPSHOT) && (flags & CAIRN_OPEN_CREATE))) {
        cairn__fmt(detail, detail_len, "bad directory or flags");
        return CAIRN_EINVAL;
    }
    if (flags & CAIRN_OPEN_SNAPSHOT) {
        flags |= CAIRN_OPEN_READONLY;
    }
    if (cairn__crypto_init() != CAIRN_OK) {
        return CAIRN_ECRYPTO;
    }
    /* Before any file is opened: no journal file may land on fd 0-2. */
    if (cairn__guard_std_fds() != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "cannot open /dev/null on fd 0-2");
        return CAIRN_EIO;
    }
    cairn_journal *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return CAIRN_ENOMEM;
    }
    j->dfd = -1;
    j->data_fd = -1;
    j->writers_fd = -1;
    j->opts = o;
    if ((j->dir = strdup(dir)) == NULL || cairn__jsync_open(j) != CAIRN_OK) {
        free(j->dir);
        free(j);
        return CAIRN_ENOMEM;
    }
    j->readonly = (flags & CAIRN_OPEN_READONLY) != 0;
    j->have_boot_id = cairn__boot_id(j->boot_id) == CAIRN_OK;
    if (!j->readonly) {
        j->self_pid = getpid();
        j->have_self_start =
            cairn__proc_start_time(j->self_pid, &j->self_start) == CAIRN_OK;
    }
    /* A snapshot is a private copy read without the journal's lock, for
     * readers who are not its owner: the owner checks do not apply. */
    err = (flags & CAIRN_OPEN_SNAPSHOT)
              ? cairn__store_open_snapshot(dir, snap, &j->store, detail,
                                           detail_len)
              : cairn__journal_open_store(j, flags, detail, detail_len);
    if (err == CAIRN_OK) {
        err = read_meta(j);
        if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s: %s", dir, j->detail);
        }
    }
    if (err != CAIRN_OK) {
        cairn_journal_close(j);
        return err;
    }
    if (!j->readonly && (flags & CAIRN_OPEN_NO_SHARED_COMMIT) == 0) {
        /* Without the shared queue the handle commits on its own; but a
         * commit.shm that is a symbolic link or not ours is refused. */
        char why[CAIRN__DETAIL_MAX];
        err = cairn__xq_open(j->dfd, dir, &j->data_st, j->sync->batch_max,
                             j->sync->wait_us, &j->xq, why, sizeof(why));
        if (err == CAIRN_EUNSAFE) {
            cairn__fmt(detail, detail_len, "%s", why);
            cairn_journal_close(j);
            return err;
        }
    }
    *out = j;
    return CAIRN_OK;
}

unsigned cairn_journal_warnings(const cairn_journal *journal, char *detail,
                                size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (journal == NULL) {
        return 0;
    }
    if (journal->warnings != 0) {
        cairn__fmt(detail, detail_len, "%s", journal->warn_detail);
    }
    return journal->warnings;
}

void cairn_journal_close(cairn_journal *journal)
{
    if (journal == NULL) {
        return;
    }
    for (size_t i = 0; i < journal->n_locks; i++) {
        cairn__run_unlock(journal->data_fd, journal->locks[i].run_num,
                          journal->locks[i].fd);
    }
    free(journal->locks);
    cairn__xq_close(journal->xq);
    cairn__jsync_close(journal);
    cairn__store_close(journal->store);
    /* Only after LMDB let go of the environment (jdir.h). */
    if (journal->data_fd >= 0) {
        close(journal->data_fd);
    }
    cairn__writers_unlock(journal->writers_fd, 0);
    if (journal->dfd >= 0) {
        close(journal->dfd);
    }
    free(journal->dir);
    free(journal);
}

void cairn_journal_id(const cairn_journal *journal,
                      uint8_t out[CAIRN_JOURNAL_ID_BYTES])
{
    memcpy(out, journal->journal_id, CAIRN_JOURNAL_ID_BYTES);
}

void cairn_journal_set_signer(cairn_journal *journal,
                              const cairn_signer *signer)
{
    journal->signer = signer;
    cairn__head_forget(journal); /* trust was under the old key */
}

int cairn__op_claimer_alive(const cairn_op_st *op)
{
    return cairn__proc_alive(op->holder_pid, op->holder_start, op->holder_boot,
                             op->host);
}
