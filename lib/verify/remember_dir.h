/*
 * remember_dir.h - the directory of remembered checkpoints (internal;
 * docs/FORMAT.md section 18.2), hostile-aware like a journal directory:
 * opened with O_NOFOLLOW, every file regular, owned by the caller and not
 * writable by group or others; files are read whole (bounded) and
 * replaced atomically (remember_dir.c).  What the files mean is
 * remember.c's.
 *
 * Files:  <hex id>.note    the checkpoint note, verbatim (the head)
 *         dir-<32 hex>     "<hex id>\n<journal directory>\n", named by
 *                          the first 16 bytes of SHA-256 of that path
 *         lock             flock()ed exclusively while a file is replaced
 */
#ifndef CAIRN_REMEMBER_DIR_H
#define CAIRN_REMEMBER_DIR_H

#include "verify/verify.h"

#include <limits.h>

#define CAIRN__REMEMBER_NOTE_SUFFIX ".note"
#define CAIRN__REMEMBER_MAP_PREFIX "dir-"
/** Largest file of the directory read. */
#define CAIRN__REMEMBER_FILE_MAX 4096u

/** The directory, opened for one journal. */
typedef struct cairn__remember_dir {
    const char *dir; /**< borrowed from the caller */
    int dfd;         /**< -1 when closed or absent */
    char id_hex[2 * CAIRN_JOURNAL_ID_BYTES + 1];
    /** "<hex id>.note" */
    char note_name[2 * CAIRN_JOURNAL_ID_BYTES +
                   sizeof(CAIRN__REMEMBER_NOTE_SUFFIX)];
    /** "dir-<32 hex>" of the journal directory */
    char map_name[sizeof(CAIRN__REMEMBER_MAP_PREFIX) + 32];
    char jdir[PATH_MAX]; /**< the journal directory, resolved */
} cairn__remember_dir;

/**
 * Open @p dir for journal @p j (its names into @p s); with @p create, make
 * it and its missing parents (0700).  *exists 0 when it does not exist
 * (and not @p create).  cairn__remember_dir_close() in every case.
 * @return CAIRN_OK; CAIRN_EUNSAFE (a link, not a directory, another
 *         owner, group- or other-writable); CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__remember_dir_open(cairn_journal *j,
                                                  const char *dir, int create,
                                                  cairn__remember_dir *s,
                                                  int *exists, char *detail,
                                                  size_t detail_len);
CAIRN_INTERNAL void cairn__remember_dir_close(cairn__remember_dir *s);

/**
 * Read file @p name whole (1..CAIRN__REMEMBER_FILE_MAX bytes) into @p buf
 * (that many bytes); *found 0 when it does not exist.
 * @return CAIRN_OK; CAIRN_EUNSAFE; CAIRN_ECORRUPT (its size); CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__remember_dir_read(const cairn__remember_dir *s,
                                                  const char *name, char *buf,
                                                  size_t *len, int *found,
                                                  char *detail,
                                                  size_t detail_len);

/** Replace file @p name by @p data: a temporary file, fsync, rename.
 *  @return CAIRN_OK; CAIRN_EIO. */
CAIRN_INTERNAL cairn_err cairn__remember_dir_write(const cairn__remember_dir *s,
                                                   const char *name,
                                                   const char *data, size_t len,
                                                   char *detail,
                                                   size_t detail_len);

/** fsync the directory.  @return CAIRN_OK; CAIRN_EIO. */
CAIRN_INTERNAL cairn_err cairn__remember_dir_sync(const cairn__remember_dir *s,
                                                  char *detail,
                                                  size_t detail_len);

/** flock() file "lock" exclusively (made when missing) into *fd (-1 when
 *  not opened; the caller closes it).  @return CAIRN_OK; CAIRN_EUNSAFE;
 *  CAIRN_EIO. */
CAIRN_INTERNAL cairn_err cairn__remember_dir_lock(const cairn__remember_dir *s,
                                                  int *fd, char *detail,
                                                  size_t detail_len);

#endif
