/*
 * store.c - the LMDB environment: the only file that includes lmdb.h and
 * the one place LMDB codes become cairn_err values.
 *
 * Two guards around LMDB's lock table (lock.mdb), both for issue 11 and
 * docs/DURABILITY.md section 7:
 *
 * - The open gate.  LMDB's first opener takes an exclusive fcntl lock on
 *   lock.mdb, rebuilds the table with transaction id 0, and stores the
 *   newest id only after it has read data.mdb; a second opener meanwhile
 *   waits for a shared lock.  When the first one dies inside that window
 *   the waiter wakes up holding a valid-looking table with id 0 (or an
 *   old one) and its write transactions start from an old meta page: their
 *   commits, and the ones they overwrite, are lost later.  cairn therefore
 *   holds an exclusive flock on the journal directory for the whole of
 *   mdb_env_open(), so that no cairn process ever waits on LMDB's lock
 *   while a table is half built: after a death inside the gate, the next
 *   opener finds nobody holding lock.mdb and rebuilds the table itself.
 * - The write check.  Every write transaction starts only when its id
 *   follows the newest meta page in data.mdb; otherwise the table is out
 *   of step (a process outside the gate, such as mdb_stat, died in the
 *   window) and the write is refused before it could overwrite anything.
 */
#include "store/store.h"
#include "base/sys.h"
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAP_SIZE CAIRN_MAP_SIZE_DEFAULT
#define MAX_MAP_SIZE CAIRN_MAP_SIZE_MAX
#define MAX_GROWTHS 40

static const char *const dbi_names[CAIRN_DBI_COUNT_] = {
    "meta", "names", "runs",    "records", "index", "checkpoints",
    "tree", "smap",  "imports", "oprows",  "otree",
};

struct cairn_store {
    MDB_env *env;
    MDB_dbi dbi[CAIRN_DBI_COUNT_];
    int have[CAIRN_DBI_COUNT_]; /* the database exists */
    int readonly;
    int private_copy; /* MDB_NOLOCK on a private copy (no lock file) */
    char kv_name[32]; /* cairn__store_open_kv(): its one database, or "" */
    atomic_int fatal;
    /* Threads of one process share the map: every transaction holds
     * maplock shared; changing the map size (grow, adopting another
     * process's size) holds it exclusively, since LMDB remaps then. */
    pthread_rwlock_t maplock;
    int maplock_ready;
    uint64_t map_size; /* under maplock */
    unsigned growths;  /* under maplock */
    char detail[512];
};

struct cairn_txn {
    cairn_store *store;
    MDB_txn *txn;
    int map_full; /* a put hit MDB_MAP_FULL: grow and rerun */
};

struct cairn_cursor {
    MDB_cursor *cur;
    cairn_store *store; /* for error mapping and details */
};

/* The single mapping from LMDB and errno values to cairn_err. */
static cairn_err map_rc(cairn_store *store, const char *what, int rc)
{
    if (rc == MDB_SUCCESS) {
        return CAIRN_OK;
    }
    cairn__fmt(store->detail, sizeof(store->detail), "%s: %s (%d)", what,
               mdb_strerror(rc), rc);
    switch (rc) {
    case ENOMEM:
        return CAIRN_ENOMEM;
    case EIO:
    case ENOSPC:
    case EACCES:
    case EPERM:
    case ENOENT:
    case EROFS:
    case EAGAIN:
        return CAIRN_EIO;
    case MDB_KEYEXIST:
        return CAIRN_EEXIST;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_BAD_DBI:
    case MDB_INCOMPATIBLE:
        return CAIRN_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return CAIRN_EVERSION;
    case MDB_PANIC:
        atomic_store(&store->fatal, 1);
        return CAIRN_EFATAL;
    default:
        return CAIRN_ESTORE;
    }
}

/* The one database of a store opened by cairn__store_open_kv(). */
static int open_kv_dbi(cairn_store *s, MDB_txn *txn, int create)
{
    unsigned flags = create && !s->readonly ? MDB_CREATE : 0;
    int rc = mdb_dbi_open(txn, s->kv_name, flags, &s->dbi[CAIRN_DBI_KV]);
    s->have[CAIRN_DBI_KV] = rc == MDB_SUCCESS;
    return rc;
}

static cairn_err open_dbis(cairn_store *s, int create)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &txn);
    if (rc != MDB_SUCCESS) {
        return map_rc(s, "mdb_txn_begin", rc);
    }
    if (s->kv_name[0] != '\0') {
        rc = open_kv_dbi(s, txn, create);
        if (rc != MDB_SUCCESS) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND) {
                cairn__fmt(s->detail, sizeof(s->detail), "no \"%s\" database",
                           s->kv_name);
                return CAIRN_ECORRUPT;
            }
            return map_rc(s, "mdb_dbi_open", rc);
        }
        return map_rc(s, "mdb_txn_commit", mdb_txn_commit(txn));
    }
    for (int i = 0; i < CAIRN_DBI_COUNT_; i++) {
        unsigned flags =
            create && !s->readonly && i != CAIRN_DBI_IMPORTS ? MDB_CREATE : 0;
        rc = mdb_dbi_open(txn, dbi_names[i], flags, &s->dbi[i]);
        if (rc == MDB_NOTFOUND && i >= CAIRN_DBI_FORMAT2_FIRST) {
            continue; /* a format-1 journal: the reader checks the format */
        }
        s->have[i] = rc == MDB_SUCCESS;
        if (rc != MDB_SUCCESS) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND) {
                cairn__fmt(s->detail, sizeof(s->detail),
                           "not a cairn journal: no \"%s\" database",
                           dbi_names[i]);
                return CAIRN_ECORRUPT;
            }
            return map_rc(s, "mdb_dbi_open", rc);
        }
    }
    /* Committing (even a read-only txn) keeps the handles open for
     * later transactions; an abort would close them. */
    rc = mdb_txn_commit(txn);
    return map_rc(s, "mdb_txn_commit", rc);
}

/* How long an open waits for another process's mdb_env_open(). */
#define GATE_WAIT_MS 60000

/* The open gate (see the top of this file): an exclusive flock on the
 * journal directory, polled so that a holder that never lets go (a
 * stopped process, a hostile one) ends in an error, not a hang.  Returns
 * the descriptor to close after mdb_env_open(); -2 when the directory
 * may not be read by this user (no gate then: the write check still
 * guards writes); -1 with s->detail set on any other failure, and when
 * the wait timed out. */
static int gate_enter(cairn_store *s, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) {
        return -2;
    }
    if (fd < 0) {
        cairn__fmt(s->detail, sizeof(s->detail), "open: %s", strerror(errno));
        return -1;
    }
    for (unsigned waited = 0;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            return fd;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            cairn__fmt(s->detail, sizeof(s->detail), "flock: %s",
                       strerror(errno));
            close(fd);
            return -1;
        }
        if (waited >= GATE_WAIT_MS) {
            close(fd);
            cairn__fmt(s->detail, sizeof(s->detail),
                       "another process has been opening this journal for "
                       "%u s (it holds the directory's flock): is it "
                       "stopped?",
                       GATE_WAIT_MS / 1000);
            return -1;
        }
        unsigned step = waited < 100 ? 2 : 20; /* ms */
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        waited += step;
    }
}

static cairn_err env_open(cairn_store *s, const char *dir, int create,
                          mode_t mode)
{
    int rc = mdb_env_create(&s->env);
    if (rc == MDB_SUCCESS) {
        rc = mdb_env_set_maxdbs(s->env, 16);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_env_set_mapsize(s->env, (size_t)s->map_size);
    }
    if (rc != MDB_SUCCESS) {
        return map_rc(s, "mdb_env_create", rc);
    }
    unsigned flags = MDB_NOTLS | (s->readonly ? MDB_RDONLY : 0);
    if (s->private_copy) {
        /* One file nobody else opens: no lock file, no reader table. */
        flags |= MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR;
    }
    int gate = s->private_copy ? -2 : gate_enter(s, dir);
    if (gate == -1) {
        return CAIRN_EIO;
    }
    rc = mdb_env_open(s->env, dir, flags, mode);
    if (gate >= 0) {
        close(gate); /* the directory's: no lock of lock.mdb is touched */
    }
    if (rc != MDB_SUCCESS) {
        return map_rc(s, "mdb_env_open", rc);
    }
    MDB_envinfo info;
    if (mdb_env_info(s->env, &info) == MDB_SUCCESS) {
        s->map_size = info.me_mapsize;
    }
    int dead = 0;
    if (!s->private_copy) {
        (void)mdb_reader_check(s->env, &dead);
    }
    return open_dbis(s, create);
}

cairn_err cairn__store_open(const char *dir, int readonly, int create,
                            mode_t mode, uint64_t map_size, cairn_store **out,
                            char *detail, size_t detail_len)
{
    *out = NULL;
    if (map_size == 0) {
        map_size = DEFAULT_MAP_SIZE;
    }
    if (map_size < CAIRN_MAP_SIZE_MIN || map_size > MAX_MAP_SIZE) {
        cairn__fmt(detail, detail_len,
                   "map size %llu: not a size in bytes from %llu to %llu",
                   (unsigned long long)map_size,
                   (unsigned long long)CAIRN_MAP_SIZE_MIN,
                   (unsigned long long)MAX_MAP_SIZE);
        return CAIRN_EINVAL;
    }
    if (cairn__guard_std_fds() != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "cannot guard descriptors 0-2");
        return CAIRN_EIO;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (!create || errno != ENOENT || mkdir(dir, 0700) != 0) {
            cairn__fmt(detail, detail_len, "%s: %s", dir, strerror(errno));
            return CAIRN_EIO;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        cairn__fmt(detail, detail_len, "%s: not a directory", dir);
        return CAIRN_EIO;
    }
    cairn_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    if (pthread_rwlock_init(&s->maplock, NULL) != 0) {
        free(s);
        return CAIRN_ENOMEM;
    }
    s->maplock_ready = 1;
    atomic_init(&s->fatal, 0);
    s->readonly = readonly;
    s->map_size = map_size;
    cairn_err err = env_open(s, dir, create, mode);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s: %s", dir, s->detail);
        cairn__store_close(s);
        return err;
    }
    *out = s;
    return CAIRN_OK;
}

cairn_err cairn__store_open_private(const char *path, cairn_store **out,
                                    char *detail, size_t detail_len)
{
    *out = NULL;
    cairn_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    if (pthread_rwlock_init(&s->maplock, NULL) != 0) {
        free(s);
        return CAIRN_ENOMEM;
    }
    s->maplock_ready = 1;
    atomic_init(&s->fatal, 0);
    s->readonly = 1;
    s->private_copy = 1;
    s->map_size = DEFAULT_MAP_SIZE; /* the copy's meta may raise it */
    cairn_err err = env_open(s, path, 0, 0600);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "private copy: %s", s->detail);
        cairn__store_close(s);
        return err;
    }
    *out = s;
    return CAIRN_OK;
}

cairn_err cairn__store_open_kv(const char *dir, const char *db_name,
                               mode_t mode, cairn_store **out, char *detail,
                               size_t detail_len)
{
    *out = NULL;
    if (db_name == NULL || db_name[0] == '\0') {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL, "no database");
    }
    if (cairn__guard_std_fds() != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "cannot guard descriptors 0-2");
        return CAIRN_EIO;
    }
    cairn_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    if (pthread_rwlock_init(&s->maplock, NULL) != 0) {
        free(s);
        return CAIRN_ENOMEM;
    }
    s->maplock_ready = 1;
    atomic_init(&s->fatal, 0);
    s->map_size = CAIRN_MAP_SIZE_MIN * 16; /* 1 MiB; grows when full */
    if (cairn__strlcpy(s->kv_name, db_name, sizeof(s->kv_name)) != CAIRN_OK) {
        cairn__store_close(s);
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "database name too long");
    }
    cairn_err err = env_open(s, dir, 1, mode);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s: %s", dir, s->detail);
        cairn__store_close(s);
        return err;
    }
    *out = s;
    return CAIRN_OK;
}

void cairn__store_close(cairn_store *store)
{
    if (store == NULL) {
        return;
    }
    if (store->env != NULL) {
        mdb_env_close(store->env);
    }
    if (store->maplock_ready) {
        pthread_rwlock_destroy(&store->maplock);
    }
    free(store);
}

cairn_err cairn__store_data_stat(cairn_store *store, struct stat *st)
{
    int fd = -1;
    int rc = mdb_env_get_fd(store->env, &fd);
    if (rc != MDB_SUCCESS) {
        return map_rc(store, "mdb_env_get_fd", rc);
    }
    if (fstat(fd, st) != 0) {
        return map_rc(store, "fstat data.mdb", errno);
    }
    return CAIRN_OK;
}

int cairn__store_nolock(cairn_store *store)
{
    unsigned flags = 0;
    return mdb_env_get_flags(store->env, &flags) == MDB_SUCCESS &&
           (flags & MDB_NOLOCK) != 0;
}

const char *cairn__store_detail(const cairn_store *store)
{
    return store->detail;
}

int cairn__store_fatal(const cairn_store *store)
{
    return atomic_load(&store->fatal);
}

void cairn__store_map_info(cairn_store *store, uint64_t *map_size,
                           unsigned *growths)
{
    pthread_rwlock_rdlock(&store->maplock);
    *map_size = store->map_size;
    *growths = store->growths;
    pthread_rwlock_unlock(&store->maplock);
}

void cairn__store_env_info(cairn_store *store, uint64_t *page_size,
                           uint64_t *last_txnid, uint64_t *last_page,
                           unsigned *readers)
{
    MDB_envinfo info;
    MDB_stat st;
    *page_size = *last_txnid = *last_page = 0;
    *readers = 0;
    if (mdb_env_info(store->env, &info) == MDB_SUCCESS) {
        *last_txnid = info.me_last_txnid;
        *last_page = info.me_last_pgno;
        *readers = info.me_numreaders;
    }
    if (mdb_env_stat(store->env, &st) == MDB_SUCCESS) {
        *page_size = st.ms_psize;
    }
}

/* Adopt the map size another process set (MDB_MAP_RESIZED). */
static int adopt_map_size(cairn_store *store)
{
    pthread_rwlock_wrlock(&store->maplock);
    int rc = mdb_env_set_mapsize(store->env, 0);
    MDB_envinfo info;
    if (rc == MDB_SUCCESS && mdb_env_info(store->env, &info) == 0) {
        store->map_size = info.me_mapsize;
    }
    pthread_rwlock_unlock(&store->maplock);
    return rc;
}

/* Begin a transaction holding maplock shared; on success the caller
 * releases it when the transaction ends. */
static int begin(cairn_store *store, unsigned flags, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&store->maplock);
    int rc = mdb_txn_begin(store->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size and retry. */
        pthread_rwlock_unlock(&store->maplock);
        rc = adopt_map_size(store);
        pthread_rwlock_rdlock(&store->maplock);
        if (rc == MDB_SUCCESS) {
            rc = mdb_txn_begin(store->env, NULL, flags, txn);
        }
    }
    if (rc != MDB_SUCCESS) {
        pthread_rwlock_unlock(&store->maplock);
    }
    return rc;
}

cairn_err cairn__store_read(cairn_store *store, cairn_txn **out)
{
    *out = NULL;
    cairn_txn *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return CAIRN_ENOMEM;
    }
    t->store = store;
    int rc = begin(store, MDB_RDONLY, &t->txn);
    if (rc != MDB_SUCCESS) {
        free(t);
        return map_rc(store, "mdb_txn_begin (read)", rc);
    }
    *out = t;
    return CAIRN_OK;
}

cairn_err cairn__store_sync(cairn_store *store)
{
    int rc = mdb_env_sync(store->env, 1);
    return rc == MDB_SUCCESS ? CAIRN_OK : map_rc(store, "mdb_env_sync", rc);
}

void cairn__txn_end(cairn_txn *txn)
{
    if (txn == NULL) {
        return;
    }
    if (txn->txn != NULL) {
        mdb_txn_abort(txn->txn);
        pthread_rwlock_unlock(&txn->store->maplock);
    }
    free(txn);
}

static cairn_err grow(cairn_store *store)
{
    cairn_err err = CAIRN_OK;
    pthread_rwlock_wrlock(&store->maplock);
    if (store->growths >= MAX_GROWTHS || store->map_size >= MAX_MAP_SIZE) {
        cairn__fmt(store->detail, sizeof(store->detail),
                   "map full at %llu bytes (limit reached)",
                   (unsigned long long)store->map_size);
        err = CAIRN_EIO;
    } else {
        uint64_t next = store->map_size * 2;
        int rc = mdb_env_set_mapsize(store->env, (size_t)next);
        if (rc != MDB_SUCCESS) {
            err = map_rc(store, "mdb_env_set_mapsize", rc);
        } else {
            store->map_size = next;
            store->growths++;
        }
    }
    pthread_rwlock_unlock(&store->maplock);
    return err;
}

/* The write check (see the top of this file): a write transaction must
 * follow the newest meta page of data.mdb.  Holding the writer mutex, the
 * lock table's id and the meta pages agree unless the table is stale. */
static cairn_err check_write_base(cairn_store *store, MDB_txn *txn)
{
    MDB_envinfo info;
    int rc = mdb_env_info(store->env, &info);
    if (rc != MDB_SUCCESS) {
        return map_rc(store, "mdb_env_info", rc);
    }
    uint64_t id = (uint64_t)mdb_txn_id(txn);
    if (id == (uint64_t)info.me_last_txnid + 1) {
        return CAIRN_OK;
    }
    cairn__fmt(store->detail, sizeof(store->detail),
               "lock.mdb is out of step with data.mdb (the next write would "
               "be transaction %llu, the newest commit is %llu): refusing to "
               "write; close every process using this journal, then reopen",
               (unsigned long long)id, (unsigned long long)info.me_last_txnid);
    atomic_store(&store->fatal, 1);
    return CAIRN_EFATAL;
}

/* One attempt: begin, run @p fn, commit.  *again is set when the map
 * must grow before the next attempt. */
static cairn_err write_once(cairn_store *store, cairn_write_fn fn, void *ctx,
                            int *again)
{
    *again = 0;
    cairn_txn t = {.store = store};
    int rc = begin(store, 0, &t.txn);
    if (rc != MDB_SUCCESS) {
        return map_rc(store, "mdb_txn_begin", rc);
    }
    cairn_err err = check_write_base(store, t.txn);
    if (err != CAIRN_OK) {
        mdb_txn_abort(t.txn);
        pthread_rwlock_unlock(&store->maplock);
        return err;
    }
    err = fn(&t, ctx);
    if (err != CAIRN_OK) {
        mdb_txn_abort(t.txn);
        *again = t.map_full;
    } else {
        /* mdb_txn_commit consumes the handle whatever it returns. */
        rc = mdb_txn_commit(t.txn);
        if (rc == MDB_MAP_FULL) {
            *again = 1;
        } else if (rc != MDB_SUCCESS) {
            err = map_rc(store, "mdb_txn_commit", rc);
            atomic_store(&store->fatal, 1);
        }
    }
    pthread_rwlock_unlock(&store->maplock);
    return err;
}

cairn_err cairn__store_write(cairn_store *store, cairn_write_fn fn, void *ctx)
{
    if (store->readonly) {
        cairn__fmt(store->detail, sizeof(store->detail),
                   "journal opened read-only");
        return CAIRN_EINVAL;
    }
    for (;;) {
        if (atomic_load(&store->fatal)) {
            return CAIRN_EFATAL;
        }
        int again = 0;
        cairn_err err = write_once(store, fn, ctx, &again);
        if (!again) {
            return err;
        }
        err = grow(store);
        if (err != CAIRN_OK) {
            return err;
        }
    }
}

static MDB_val val(const void *p, size_t n)
{
    MDB_val v = {.mv_size = n, .mv_data = (void *)(uintptr_t)p};
    return v;
}

/* A format-2 database a format-1 journal does not have. */
static cairn_err missing(cairn_store *s, cairn_dbi dbi)
{
    if (s->have[dbi]) {
        return CAIRN_OK;
    }
    cairn__fmt(s->detail, sizeof(s->detail),
               "no \"%s\" database (a format-1 journal)", dbi_names[dbi]);
    return CAIRN_ECORRUPT;
}

cairn_err cairn__txn_get(cairn_txn *txn, cairn_dbi dbi, const void *key,
                         size_t key_len, const uint8_t **v, size_t *vl,
                         int *found)
{
    MDB_val k = val(key, key_len), d;
    *v = NULL;
    *vl = 0;
    *found = 0;
    if (missing(txn->store, dbi) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    int rc = mdb_get(txn->txn, txn->store->dbi[dbi], &k, &d);
    if (rc == MDB_NOTFOUND) {
        return CAIRN_OK;
    }
    if (rc != MDB_SUCCESS) {
        return map_rc(txn->store, "mdb_get", rc);
    }
    *v = d.mv_data;
    *vl = d.mv_size;
    *found = 1;
    return CAIRN_OK;
}

cairn_err cairn__txn_put(cairn_txn *txn, cairn_dbi dbi, const void *key,
                         size_t key_len, const void *value, size_t val_len,
                         unsigned flags)
{
    MDB_val k = val(key, key_len), d = val(value, val_len);
    unsigned mf = ((flags & CAIRN_PUT_APPEND) ? MDB_APPEND : 0) |
                  ((flags & CAIRN_PUT_NOOVERWRITE) ? MDB_NOOVERWRITE : 0);
    if (missing(txn->store, dbi) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    int rc = mdb_put(txn->txn, txn->store->dbi[dbi], &k, &d, mf);
    if (rc == MDB_MAP_FULL) {
        txn->map_full = 1;
    }
    return map_rc(txn->store, "mdb_put", rc);
}

cairn_err cairn__txn_del(cairn_txn *txn, cairn_dbi dbi, const void *key,
                         size_t key_len, int *found)
{
    MDB_val k = val(key, key_len);
    if (found != NULL) {
        *found = 0;
    }
    if (missing(txn->store, dbi) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    int rc = mdb_del(txn->txn, txn->store->dbi[dbi], &k, NULL);
    if (rc == MDB_NOTFOUND) {
        return CAIRN_OK;
    }
    if (rc == MDB_SUCCESS && found != NULL) {
        *found = 1;
    }
    return map_rc(txn->store, "mdb_del", rc);
}

cairn_err cairn__txn_count(cairn_txn *txn, cairn_dbi dbi, uint64_t *count)
{
    MDB_stat st;
    *count = 0;
    if (missing(txn->store, dbi) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    int rc = mdb_stat(txn->txn, txn->store->dbi[dbi], &st);
    if (rc == MDB_SUCCESS) {
        *count = st.ms_entries;
    }
    return map_rc(txn->store, "mdb_stat", rc);
}

cairn_err cairn__cursor_open(cairn_txn *txn, cairn_dbi dbi, cairn_cursor **out)
{
    *out = NULL;
    if (missing(txn->store, dbi) != CAIRN_OK) {
        return CAIRN_ECORRUPT;
    }
    cairn_cursor *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return CAIRN_ENOMEM;
    }
    c->store = txn->store;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[dbi], &c->cur);
    if (rc != MDB_SUCCESS) {
        free(c);
        return map_rc(txn->store, "mdb_cursor_open", rc);
    }
    *out = c;
    return CAIRN_OK;
}

cairn_err cairn__cursor_open_main(cairn_txn *txn, cairn_cursor **out)
{
    MDB_dbi main_dbi;
    *out = NULL;
    int rc = mdb_dbi_open(txn->txn, NULL, 0, &main_dbi);
    if (rc != MDB_SUCCESS) {
        return map_rc(txn->store, "mdb_dbi_open (main)", rc);
    }
    cairn_cursor *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return CAIRN_ENOMEM;
    }
    c->store = txn->store;
    rc = mdb_cursor_open(txn->txn, main_dbi, &c->cur);
    if (rc != MDB_SUCCESS) {
        free(c);
        return map_rc(txn->store, "mdb_cursor_open (main)", rc);
    }
    *out = c;
    return CAIRN_OK;
}

int cairn__store_has(const cairn_store *store, cairn_dbi dbi)
{
    return (unsigned)dbi < CAIRN_DBI_COUNT_ && store->have[dbi];
}

const char *cairn__dbi_name(cairn_dbi dbi)
{
    return (unsigned)dbi < CAIRN_DBI_COUNT_ ? dbi_names[dbi] : "";
}

void cairn__cursor_close(cairn_cursor *cur)
{
    if (cur == NULL) {
        return;
    }
    mdb_cursor_close(cur->cur);
    free(cur);
}

static cairn_err cursor_get(cairn_cursor *cur, MDB_val *k, MDB_cursor_op op,
                            const uint8_t **kp, size_t *kl, const uint8_t **vp,
                            size_t *vl, int *found)
{
    MDB_val d;
    *found = 0;
    int rc = mdb_cursor_get(cur->cur, k, &d, op);
    if (rc == MDB_NOTFOUND) {
        return CAIRN_OK;
    }
    if (rc != MDB_SUCCESS) {
        return map_rc(cur->store, "mdb_cursor_get", rc);
    }
    *kp = k->mv_data;
    *kl = k->mv_size;
    if (vp != NULL) {
        *vp = d.mv_data;
        *vl = d.mv_size;
    }
    *found = 1;
    return CAIRN_OK;
}

cairn_err cairn__cursor_seek(cairn_cursor *cur, const void *key, size_t key_len,
                             const uint8_t **k, size_t *kl, const uint8_t **v,
                             size_t *vl, int *found)
{
    MDB_val kv = val(key, key_len);
    return cursor_get(cur, &kv, key ? MDB_SET_RANGE : MDB_FIRST, k, kl, v, vl,
                      found);
}

cairn_err cairn__cursor_find(cairn_cursor *cur, const void *key, size_t key_len,
                             const uint8_t **v, size_t *vl, int *found)
{
    MDB_val kv = val(key, key_len);
    const uint8_t *k;
    size_t kl;
    return cursor_get(cur, &kv, MDB_SET_KEY, &k, &kl, v, vl, found);
}

cairn_err cairn__cursor_next(cairn_cursor *cur, const uint8_t **k, size_t *kl,
                             const uint8_t **v, size_t *vl, int *found)
{
    MDB_val kv = {0, NULL};
    return cursor_get(cur, &kv, MDB_NEXT, k, kl, v, vl, found);
}

cairn_err cairn__txn_last_key(cairn_txn *txn, cairn_dbi dbi,
                              const uint8_t **key, size_t *key_len, int *found)
{
    cairn_cursor *c = NULL;
    cairn_err err = cairn__cursor_open(txn, dbi, &c);
    if (err != CAIRN_OK) {
        return err;
    }
    MDB_val kv = {0, NULL};
    err = cursor_get(c, &kv, MDB_LAST, key, key_len, NULL, NULL, found);
    cairn__cursor_close(c);
    return err;
}

/* ---- cairn migrate (commit/migrate.c) ---------------------------------- */

cairn_err cairn__store_copy_fd(cairn_store *store, int fd)
{
    pthread_rwlock_rdlock(&store->maplock);
    int rc = mdb_env_copyfd2(store->env, fd, 0);
    pthread_rwlock_unlock(&store->maplock);
    return map_rc(store, "mdb_env_copyfd2", rc);
}

cairn_err cairn__txn_create_format2(cairn_txn *txn)
{
    cairn_store *s = txn->store;
    for (int i = CAIRN_DBI_FORMAT2_FIRST; i < CAIRN_DBI_COUNT_; i++) {
        MDB_dbi dbi;
        if (i == CAIRN_DBI_IMPORTS) {
            continue; /* made by the first import */
        }
        MDB_stat st;
        int rc = mdb_dbi_open(txn->txn, dbi_names[i], MDB_CREATE, &dbi);
        if (rc == MDB_SUCCESS) {
            rc = mdb_stat(txn->txn, dbi, &st);
        }
        if (rc != MDB_SUCCESS) {
            return map_rc(s, "mdb_dbi_open", rc);
        }
        if (st.ms_entries != 0) {
            cairn__fmt(s->detail, sizeof(s->detail),
                       "database \"%s\" exists and is not empty", dbi_names[i]);
            return CAIRN_ECORRUPT;
        }
        s->dbi[i] = dbi;
        s->have[i] = 1;
    }
    return CAIRN_OK;
}

cairn_err cairn__txn_create_imports(cairn_txn *txn)
{
    cairn_store *s = txn->store;
    MDB_dbi dbi;
    /* Opened again each time: after an aborted attempt (a map growth
     * re-runs the write) a handle made in it is gone. */
    int rc =
        mdb_dbi_open(txn->txn, dbi_names[CAIRN_DBI_IMPORTS], MDB_CREATE, &dbi);
    if (rc != MDB_SUCCESS) {
        return map_rc(s, "mdb_dbi_open", rc);
    }
    s->dbi[CAIRN_DBI_IMPORTS] = dbi;
    s->have[CAIRN_DBI_IMPORTS] = 1;
    return CAIRN_OK;
}

void cairn__store_forget_imports(cairn_store *store, int had_before)
{
    if (!had_before) {
        store->have[CAIRN_DBI_IMPORTS] = 0;
    }
}

/* Compaction's LMDB side (store.h; the procedure is journal/compact.c's,
 * the rebuilding copy store_rebuild.c's). */

MDB_env *cairn__store_env(cairn_store *store)
{
    return store->env;
}

int cairn__store_begin_read_raw(cairn_store *store, MDB_txn **txn)
{
    return begin(store, MDB_RDONLY, txn);
}

void cairn__store_end_read_raw(cairn_store *store, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&store->maplock);
}

cairn_err cairn__store_map_rc(cairn_store *store, const char *what, int rc)
{
    return map_rc(store, what, rc);
}

int cairn__store_open_named(MDB_txn *txn, const MDB_val *name, MDB_dbi *dbi)
{
    char buf[512];
    if (name->mv_size == 0 || name->mv_size >= sizeof(buf) ||
        memchr(name->mv_data, '\0', name->mv_size) != NULL) {
        return MDB_INCOMPATIBLE;
    }
    memcpy(buf, name->mv_data, name->mv_size);
    buf[name->mv_size] = '\0';
    return mdb_dbi_open(txn, buf, 0, dbi);
}

cairn_err cairn__store_space(cairn_store *store, uint64_t *file_bytes,
                             uint64_t *page_size)
{
    MDB_stat st;
    struct stat fst;
    *file_bytes = *page_size = 0;
    int rc = mdb_env_stat(store->env, &st);
    if (rc != MDB_SUCCESS) {
        return map_rc(store, "mdb_env_stat", rc);
    }
    cairn_err err = cairn__store_data_stat(store, &fst);
    if (err != CAIRN_OK) {
        return err;
    }
    *page_size = st.ms_psize;
    *file_bytes = (uint64_t)fst.st_size;
    return CAIRN_OK;
}

/* Compare one database (@p da in @p ta, @p db in @p tb) entry by entry. */
static int same_db(MDB_txn *ta, MDB_dbi da, MDB_txn *tb, MDB_dbi db,
                   const char *name, char *detail, size_t detail_len)
{
    MDB_cursor *ca = NULL, *cb = NULL;
    MDB_val ka, va, kb, vb;
    uint64_t n = 0;
    int rc = mdb_cursor_open(ta, da, &ca);
    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(tb, db, &cb);
    }
    for (MDB_cursor_op op = MDB_FIRST; rc == MDB_SUCCESS; op = MDB_NEXT, n++) {
        int ra = mdb_cursor_get(ca, &ka, &va, op);
        int rb = mdb_cursor_get(cb, &kb, &vb, op);
        if (ra == MDB_NOTFOUND && rb == MDB_NOTFOUND) {
            break;
        }
        if (ra != MDB_SUCCESS && ra != MDB_NOTFOUND) {
            rc = ra;
        } else if (rb != MDB_SUCCESS && rb != MDB_NOTFOUND) {
            rc = rb;
        } else if (ra != rb || ka.mv_size != kb.mv_size ||
                   va.mv_size != vb.mv_size ||
                   memcmp(ka.mv_data, kb.mv_data, ka.mv_size) != 0 ||
                   memcmp(va.mv_data, vb.mv_data, va.mv_size) != 0) {
            cairn__fmt(detail, detail_len,
                       "database \"%s\": entry %llu differs in the copy", name,
                       (unsigned long long)n);
            rc = MDB_CORRUPTED;
            break;
        }
    }
    mdb_cursor_close(ca);
    mdb_cursor_close(cb);
    return rc;
}

/* Walk the main databases of @p ta and @p tb together. */
static int same_main(MDB_txn *ta, MDB_txn *tb, char *detail, size_t detail_len)
{
    MDB_dbi ma, mb;
    MDB_cursor *ca = NULL, *cb = NULL;
    int rc = mdb_dbi_open(ta, NULL, 0, &ma);
    if (rc == MDB_SUCCESS) {
        rc = mdb_dbi_open(tb, NULL, 0, &mb);
    }
    /* A named database's record in the main database differs in the copy
     * (its root page moved): the names must match, the content of each
     * database is compared entry by entry. */
    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(ta, ma, &ca);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(tb, mb, &cb);
    }
    for (MDB_cursor_op op = MDB_FIRST; rc == MDB_SUCCESS; op = MDB_NEXT) {
        MDB_val ka, va, kb, vb;
        MDB_dbi da, db;
        int ra = mdb_cursor_get(ca, &ka, &va, op);
        int rb = mdb_cursor_get(cb, &kb, &vb, op);
        if (ra == MDB_NOTFOUND && rb == MDB_NOTFOUND) {
            break;
        }
        if (ra != MDB_SUCCESS || rb != MDB_SUCCESS ||
            ka.mv_size != kb.mv_size ||
            memcmp(ka.mv_data, kb.mv_data, ka.mv_size) != 0) {
            cairn__fmt(detail, detail_len,
                       "the copy's list of databases differs");
            rc = ra != MDB_SUCCESS && ra != MDB_NOTFOUND ? ra : MDB_CORRUPTED;
            break;
        }
        char name[64];
        cairn__fmt(name, sizeof(name), "%.*s",
                   (int)(ka.mv_size < 60 ? ka.mv_size : 60),
                   (const char *)ka.mv_data);
        int named = cairn__store_open_named(ta, &ka, &da);
        if (named == MDB_SUCCESS &&
            (rc = cairn__store_open_named(tb, &kb, &db)) == 0) {
            rc = same_db(ta, da, tb, db, name, detail, detail_len);
        } else if (named == MDB_INCOMPATIBLE &&
                   (va.mv_size != vb.mv_size ||
                    memcmp(va.mv_data, vb.mv_data, va.mv_size) != 0)) {
            cairn__fmt(detail, detail_len, "main key \"%s\" differs", name);
            rc = MDB_CORRUPTED;
        } else if (named != MDB_SUCCESS && named != MDB_INCOMPATIBLE) {
            rc = named;
        }
    }
    mdb_cursor_close(ca);
    mdb_cursor_close(cb);
    return rc;
}

cairn_err cairn__store_same_content(cairn_store *a, cairn_store *b,
                                    char *detail, size_t detail_len)
{
    MDB_txn *ta = NULL, *tb = NULL;
    int rc = begin(a, MDB_RDONLY, &ta);
    if (rc != MDB_SUCCESS) {
        return map_rc(a, "mdb_txn_begin (read)", rc);
    }
    rc = begin(b, MDB_RDONLY, &tb);
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(ta);
        pthread_rwlock_unlock(&a->maplock);
        return map_rc(b, "mdb_txn_begin (read)", rc);
    }
    cairn__clear(detail, detail_len);
    rc = same_main(ta, tb, detail, detail_len);
    mdb_txn_abort(tb);
    pthread_rwlock_unlock(&b->maplock);
    mdb_txn_abort(ta);
    pthread_rwlock_unlock(&a->maplock);
    if (rc == MDB_CORRUPTED && detail != NULL && detail[0] != '\0') {
        return CAIRN_ECORRUPT;
    }
    cairn_err err = map_rc(a, "compare", rc);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s", a->detail);
    }
    return err;
}
