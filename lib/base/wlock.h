/*
 * wlock.h - the journal-wide writer exclusion (wlock.c): DIR/writers.lock,
 * held with flock(2) shared by every writable journal handle for its whole
 * life and exclusively by `cairn compact` (docs/DURABILITY.md, "Compaction").
 * The kernel releases it when its holder dies, so a crash never leaves the
 * journal excluded.  The file is opened relative to the journal directory's
 * descriptor, never through a symbolic link, and checked as a regular file of
 * ours (docs/SECURITY.md section 6).  Its content is advisory: the pid of the
 * compaction holding it, for the message a refused writer prints.
 */
#ifndef CAIRN_WLOCK_H
#define CAIRN_WLOCK_H

#include "base/common.h"

#include <sys/stat.h>
#include <sys/types.h>

/** The file's name in the journal directory. */
#define CAIRN__WRITERS_LOCK "writers.lock"

/**
 * Open (creating it with @p mode) writers.lock in the directory open as
 * @p dfd (named @p dir in messages) and flock it without waiting: shared
 * for a writer, exclusive (@p exclusive) for a compaction, which then
 * writes its pid into the file.  The lock lives as long as *fd is open.
 * @return CAIRN_OK with *fd; CAIRN_ELOCKED (detail: who holds it: the
 *         compaction's pid for a writer, a writer's pid for a compaction);
 *         CAIRN_EUNSAFE (a symbolic link, not a regular file, not ours);
 *         CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__writers_lock(int dfd, const char *dir,
                                             mode_t mode, int exclusive,
                                             int *fd, char *detail,
                                             size_t detail_len);

/**
 * Convert the shared lock a writable handle holds on @p fd (named @p dir
 * in messages) to an exclusive one without waiting (@p exclusive), or
 * back to shared: what a key rotation does for its commit, so that no
 * other writer is open while the key changes.
 * @return CAIRN_OK; CAIRN_ELOCKED (another process holds it: detail names
 *         it when /proc tells); CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__writers_relock(int fd, const char *dir,
                                               int exclusive, char *detail,
                                               size_t detail_len);

/** Release a lock cairn__writers_lock() took (@p fd < 0: nothing); an
 *  exclusive one first empties its note. */
CAIRN_INTERNAL void cairn__writers_unlock(int fd, int exclusive);

#endif
