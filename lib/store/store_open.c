/*
 * store_open.c - opening a store (a journal's environment, a private
 * copy of one, a one-database store) and closing it.  Every open holds
 * the open gate (store_guard.c) across mdb_env_open().
 */
#include "base/sys.h"
#include "store/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_MAP_SIZE CAIRN_MAP_SIZE_DEFAULT
#define MAX_MAP_SIZE CAIRN_MAP_SIZE_MAX
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
        return cairn__store_map_rc(s, "mdb_txn_begin", rc);
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
            return cairn__store_map_rc(s, "mdb_dbi_open", rc);
        }
        return cairn__store_map_rc(s, "mdb_txn_commit", mdb_txn_commit(txn));
    }
    for (int i = 0; i < CAIRN_DBI_COUNT_; i++) {
        unsigned flags =
            create && !s->readonly && i != CAIRN_DBI_IMPORTS ? MDB_CREATE : 0;
        rc =
            mdb_dbi_open(txn, cairn__dbi_name((cairn_dbi)i), flags, &s->dbi[i]);
        if (rc == MDB_NOTFOUND && i >= CAIRN_DBI_FORMAT2_FIRST) {
            continue; /* a format-1 journal: the reader checks the format */
        }
        s->have[i] = rc == MDB_SUCCESS;
        if (rc != MDB_SUCCESS) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND) {
                cairn__fmt(s->detail, sizeof(s->detail),
                           "not a cairn journal: no \"%s\" database",
                           cairn__dbi_name((cairn_dbi)i));
                return CAIRN_ECORRUPT;
            }
            return cairn__store_map_rc(s, "mdb_dbi_open", rc);
        }
    }
    /* Committing (even a read-only txn) keeps the handles open for
     * later transactions; an abort would close them. */
    rc = mdb_txn_commit(txn);
    return cairn__store_map_rc(s, "mdb_txn_commit", rc);
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
        return cairn__store_map_rc(s, "mdb_env_create", rc);
    }
    unsigned flags = MDB_NOTLS | (s->readonly ? MDB_RDONLY : 0);
    if (s->private_copy) {
        /* One file nobody else opens: no lock file, no reader table. */
        flags |= MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR;
    }
    int gate = s->private_copy ? -2 : cairn__store_gate_enter(s, dir);
    if (gate == -1) {
        return CAIRN_EIO;
    }
    rc = mdb_env_open(s->env, dir, flags, mode);
    if (gate >= 0) {
        close(gate); /* the directory's: no lock of lock.mdb is touched */
    }
    if (rc != MDB_SUCCESS) {
        return cairn__store_map_rc(s, "mdb_env_open", rc);
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

/* A new store handle with its map lock, or NULL (out of memory). */
static cairn_store *store_new(void)
{
    cairn_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    if (pthread_rwlock_init(&s->maplock, NULL) != 0) {
        free(s);
        return NULL;
    }
    s->maplock_ready = 1;
    atomic_init(&s->fatal, 0);
    return s;
}

/* Open the environment of the new handle @p s and hand it out in *out;
 * on failure @p s is closed and the detail reads "@p what: why". */
static cairn_err finish_open(cairn_store *s, const char *dir, int create,
                             mode_t mode, const char *what, cairn_store **out,
                             char *detail, size_t detail_len)
{
    cairn_err err = env_open(s, dir, create, mode);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s: %s", what, s->detail);
        cairn__store_close(s);
        return err;
    }
    *out = s;
    return CAIRN_OK;
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
    cairn_store *s = store_new();
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    s->readonly = readonly;
    s->map_size = map_size;
    return finish_open(s, dir, create, mode, dir, out, detail, detail_len);
}

cairn_err cairn__store_open_private(const char *path, cairn_store **out,
                                    char *detail, size_t detail_len)
{
    *out = NULL;
    cairn_store *s = store_new();
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    s->readonly = 1;
    s->private_copy = 1;
    s->map_size = DEFAULT_MAP_SIZE; /* the copy's meta may raise it */
    return finish_open(s, path, 0, 0600, "private copy", out, detail,
                       detail_len);
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
    cairn_store *s = store_new();
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    s->map_size = CAIRN_MAP_SIZE_MIN * 16; /* 1 MiB; grows when full */
    if (cairn__strlcpy(s->kv_name, db_name, sizeof(s->kv_name)) != CAIRN_OK) {
        cairn__store_close(s);
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "database name too long");
    }
    return finish_open(s, dir, 1, mode, dir, out, detail, detail_len);
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
