/*
 * sys.h - clocks, boot id, host name, process identity and liveness, and
 * per-run writer locks (kernel-released flock with holder info).
 */
#ifndef CAIRN_SYS_H
#define CAIRN_SYS_H

#include "base/common.h"

#include <sys/stat.h>
#include <sys/types.h>

/** CLOCK_REALTIME in ns since the epoch. */
CAIRN_INTERNAL uint64_t cairn__wall_ns(void);
/** "2026-11-24T10:00:00Z (3m12s ago)": a wall time in UTC and its age
 *  against now; "an unknown time" for 0. */
CAIRN_INTERNAL void cairn__fmt_since(uint64_t wall_ns, char *out, size_t cap);
/** CLOCK_MONOTONIC in ns (meaningful with the boot id). */
CAIRN_INTERNAL uint64_t cairn__mono_ns(void);
/** This boot's id (/proc/sys/kernel/random/boot_id), 16 bytes. */
CAIRN_INTERNAL cairn_err cairn__boot_id(uint8_t out[CAIRN_BOOT_ID_BYTES]);
/** gethostname(), truncated to CAIRN_MAX_HOST bytes; "" if unknown. */
CAIRN_INTERNAL void cairn__hostname(char out[CAIRN_MAX_HOST + 1]);
/** Start time of @p pid in clock ticks after boot (/proc/PID/stat field
 *  22); CAIRN_EIO when the process does not exist. */
CAIRN_INTERNAL cairn_err cairn__proc_start_time(pid_t pid, uint64_t *out);
/**
 * Is the process (pid, start time) of boot @p boot on host @p host still
 * alive?  A different boot or host means gone... except that another host
 * cannot be checked: a claim from another host counts as alive (never
 * guess that a remote process died).
 */
CAIRN_INTERNAL int cairn__proc_alive(uint32_t pid, uint64_t start,
                                     const uint8_t boot[CAIRN_BOOT_ID_BYTES],
                                     const char *host);

/**
 * Is a flock held on the file (st_dev, st_ino) of @p st?  Read from
 * /proc/locks, without taking the lock (a try-lock would make a starting
 * writer refuse).  *pid gets the pid /proc/locks names as the holder (the
 * process that took it), or -1.
 * @return 1 held; 0 not held; -1 when /proc/locks cannot be read.
 */
CAIRN_INTERNAL int cairn__flock_holder(const struct stat *st, long long *pid);

/** Does process @p pid have a descriptor open on the file (st_dev,
 *  st_ino) of @p file?  Read from /proc/PID/fd; 0 also when that cannot
 *  be read (another user's process, or gone). */
CAIRN_INTERNAL int cairn__proc_has_open(uint32_t pid, const struct stat *file);

/** Make sure descriptors 0, 1 and 2 are open (on /dev/null if not), so
 *  that no database file can land on them. */
CAIRN_INTERNAL cairn_err cairn__guard_std_fds(void);

/**
 * Take the writer lock of run @p run_num in the journal directory open as
 * @p dfd (named @p dir in messages; @p mode_ref the fstat of its data.mdb,
 * for the modes of new files, cairn__jdir_file_mode) without waiting: an
 * open-file-description lock on run
 * @p run_num's byte of data.mdb through @p data_fd (a read-write
 * descriptor of the journal's data.mdb kept open for the handle's life;
 * removing a lock file cannot undo it), then flock(LOCK_EX|LOCK_NB) on
 * locks/run-<run_num>.lock (see cairn__lock_file), then the holder info
 * (pid, start time, boot id, host, since) written into that file.
 * @return CAIRN_OK with *fd_out; CAIRN_ELOCKED (detail: the holder, its
 *         text escaped); CAIRN_EUNSAFE; CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__run_lock(int dfd, const char *dir,
                                         const struct stat *mode_ref,
                                         int data_fd, uint64_t run_num,
                                         int *fd_out, char *detail,
                                         size_t detail_len);
/** Release what cairn__run_lock() took. */
CAIRN_INTERNAL void cairn__run_unlock(int data_fd, uint64_t run_num, int fd);
/**
 * Does a process hold run @p run_num's lock?  F_OFD_GETLK on the run's
 * byte of data.mdb, through @p data_fd (-1: data.mdb opened read-only
 * relative to @p dfd for the query), without taking anything.  A lock of
 * @p data_fd's own open file description does not count.
 * @return 1 held; 0 free; -1 when it cannot be asked.
 */
CAIRN_INTERNAL int cairn__run_lock_probe(int dfd, int data_fd,
                                         uint64_t run_num);
/**
 * The raw holder note of run @p run_num (locks/run-N.lock, opened
 * relative to @p dfd without following links and checked as
 * cairn__jdir_openat does) into @p text (at most @p cap - 1 bytes,
 * NUL-terminated; unescaped: parse it, never print it), its fstat into
 * *st.  A released lock has an empty note.
 * @return CAIRN_OK (*exists 0 when there is no such file); CAIRN_EUNSAFE;
 *         CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__run_lock_note(int dfd, const char *dir,
                                              uint64_t run_num, char *text,
                                              size_t cap, struct stat *st,
                                              int *exists);
/** The holder text of the run's lock file ("" if none) into out, every
 *  byte outside printable ASCII escaped as \xNN. */
CAIRN_INTERNAL void cairn__run_lock_holder(int dfd, const char *dir,
                                           uint64_t run_num, char *out,
                                           size_t out_len);
/** "pid 123 on host h since 2026-...Z (5s ago)" into @p out (NUL-
 *  terminated, truncated to @p cap) from the escaped holder text @p text
 *  (cairn__run_lock_holder()); @p text itself when it is not the line
 *  cairn__run_lock() writes. */
CAIRN_INTERNAL void cairn__run_lock_describe(const char *text, char *out,
                                             size_t cap);
/**
 * Lock DIR/locks/@p name exclusively without waiting.  locks/ and the
 * file are opened relative to @p dfd without following symbolic links
 * and must be ours (a directory, a regular file); after flock the path
 * must still name the locked inode, else (removed or replaced while it
 * was being locked) it is locked again on the file the path names now.
 * @return CAIRN_OK with *fd_out; CAIRN_ELOCKED (held; detail untouched);
 *         CAIRN_EUNSAFE; CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__lock_file(int dfd, const char *dir,
                                          const struct stat *mode_ref,
                                          const char *name, int *fd_out,
                                          char *detail, size_t detail_len);
/** The text in DIR/locks/@p name (at most 1 KiB, newlines as spaces,
 *  escaped as cairn__escape_text does); "" when unreadable. */
CAIRN_INTERNAL void cairn__lock_text(int dfd, const char *dir, const char *name,
                                     char *out, size_t out_len);

#endif
