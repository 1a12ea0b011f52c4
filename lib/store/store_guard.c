/*
 * store_guard.c - two guards around LMDB's lock table (lock.mdb), both
 * for issue 11 and docs/DURABILITY.md section 7:
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
#include "base/sys.h"
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* How long an open waits for another process's mdb_env_open(). */
#define GATE_WAIT_MS 60000

/* The open gate (see the top of this file): an exclusive flock on the
 * journal directory, polled so that a holder that never lets go (a
 * stopped process, a hostile one) ends in an error, not a hang.  Returns
 * the descriptor to close after mdb_env_open(); -2 when the directory
 * may not be read by this user (no gate then: the write check still
 * guards writes); -1 with s->detail set on any other failure, and when
 * the wait timed out. */
int cairn__store_gate_enter(cairn_store *s, const char *dir)
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

/* The write check (see the top of this file): a write transaction must
 * follow the newest meta page of data.mdb.  Holding the writer mutex, the
 * lock table's id and the meta pages agree unless the table is stale. */
cairn_err cairn__store_check_write_base(cairn_store *store, MDB_txn *txn)
{
    MDB_envinfo info;
    int rc = mdb_env_info(store->env, &info);
    if (rc != MDB_SUCCESS) {
        return cairn__store_map_rc(store, "mdb_env_info", rc);
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
