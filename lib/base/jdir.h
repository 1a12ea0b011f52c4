/*
 * jdir.h - files in a journal directory, opened relative to a directory
 * descriptor without following symbolic links and checked with fstat for
 * type and owner before use (docs/SECURITY.md, "Local attacker").
 *
 * The reference owner is the caller's effective uid: the directory and
 * every file cairn opens in it must belong to it (root is not exempt: a
 * root process acting in a directory another user controls is exactly
 * what these checks refuse).  Refusals are CAIRN_EUNSAFE with a detail
 * naming the file.
 */
#ifndef CAIRN_JDIR_H
#define CAIRN_JDIR_H

#include "base/common.h"

#include <sys/stat.h>
#include <sys/types.h>

/** Mode of new files in an existing journal, from @p data_st (the fstat
 *  of its data.mdb): 0600, or 0640 when data.mdb grants its group read
 *  access (created with CAIRN_OPEN_GROUP_READABLE). */
CAIRN_INTERNAL mode_t cairn__jdir_file_mode(const struct stat *data_st);
/** Mode of new subdirectories (locks/): 0700, or 0750 likewise. */
CAIRN_INTERNAL mode_t cairn__jdir_dir_mode(const struct stat *data_st);

/**
 * Check an fstat result: a directory (@p want_dir) or a regular file,
 * owned by the effective uid.  @p dir and @p name name it in the detail
 * (@p name NULL: the directory itself).
 * @return CAIRN_OK; CAIRN_EUNSAFE.
 */
CAIRN_INTERNAL cairn_err cairn__jdir_check(const struct stat *st, int want_dir,
                                           const char *dir, const char *name,
                                           char *detail, size_t detail_len);

/** Is @p st writable by group or others?  Then describe it in @p detail
 *  (when empty) and return the CAIRN_LOOSE_* bit for it, else 0. */
CAIRN_INTERNAL unsigned cairn__jdir_loose(const struct stat *st, int is_dir,
                                          const char *dir, const char *name,
                                          char *detail, size_t detail_len);

/**
 * Open the journal directory @p dir itself (O_DIRECTORY; the path the
 * user named is followed) and check it: a directory of the effective uid.
 * @return CAIRN_OK with *dfd and *st; CAIRN_EIO (cannot open: detail has
 *         errno); CAIRN_EUNSAFE.
 */
CAIRN_INTERNAL cairn_err cairn__jdir_open(const char *dir, int *dfd,
                                          struct stat *st, char *detail,
                                          size_t detail_len);

/**
 * openat(@p dfd, @p name) with O_NOFOLLOW|O_CLOEXEC (and O_DIRECTORY when
 * @p want_dir, O_NONBLOCK otherwise, so that a FIFO never blocks), then
 * cairn__jdir_check().  A symbolic link is refused, never followed.
 * @return CAIRN_OK with *fd (and *st when not NULL); CAIRN_EUNSAFE;
 *         CAIRN_EIO (errno in detail; *err_no gets it when not NULL, e.g.
 *         ENOENT).
 */
CAIRN_INTERNAL cairn_err cairn__jdir_openat(int dfd, const char *dir,
                                            const char *name, int flags,
                                            mode_t mode, int want_dir, int *fd,
                                            struct stat *st, int *err_no,
                                            char *detail, size_t detail_len);

/**
 * fstatat(@p dfd, @p name, AT_SYMLINK_NOFOLLOW), then cairn__jdir_check()
 * when it exists (*exists 0 and CAIRN_OK when absent).
 */
CAIRN_INTERNAL cairn_err cairn__jdir_stat(int dfd, const char *dir,
                                          const char *name, int want_dir,
                                          struct stat *st, int *exists,
                                          char *detail, size_t detail_len);

/** mkdirat(@p name, @p mode) unless it exists, then open and check it as
 *  a directory (cairn__jdir_openat). */
CAIRN_INTERNAL cairn_err cairn__jdir_subdir(int dfd, const char *dir,
                                            const char *name, mode_t mode,
                                            int *fd, char *detail,
                                            size_t detail_len);

/**
 * Is file (@p dev, @p ino) mapped into this process (/proc/self/maps)?
 * 1 yes, 0 no, -1 cannot tell (no /proc).  Used after LMDB opened
 * lock.mdb by path, to see that it mapped the file that was checked.
 */
CAIRN_INTERNAL int cairn__jdir_mapped(dev_t dev, ino_t ino);

/** Copy @p len bytes of @p in into @p out (always NUL-terminated) with
 *  every byte outside printable ASCII written as \xNN: text read from a
 *  file must not carry terminal escapes to whoever prints it. */
CAIRN_INTERNAL void cairn__escape_text(const char *in, size_t len, char *out,
                                       size_t out_len);

#endif
