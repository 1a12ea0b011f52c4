/*
 * shim.h - shared state of the LD_PRELOAD shim (shim.c: set-up, counting,
 * opens; shim_io.c: writes, syncs and the write log).  See shim.c.
 */
#ifndef CRASH_SHIM_H
#define CRASH_SHIM_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 4096

#define MAX_FILES 64

enum { FD_NONE = 0, FD_DATA, FD_DSYNC, FD_LOCK, FD_OTHER, FD_JDIR, FD_ACK };
enum {
    K_OPEN = 1,
    K_WRITE = 2,
    K_META = 4,
    K_SYNC = 8,
    K_LINK = 16,
    K_FALLOC = 32,
    K_ALL = 63
};
enum { M_COUNT, M_KILL, M_EIO, M_ENOSPC, M_SHORT, M_LOG };

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef int (*sync_fn)(int);
typedef int (*close_fn)(int);
typedef off_t (*lseek_fn)(int, off_t, int);
typedef int (*link_fn)(const char *, const char *);
typedef int (*linkat_fn)(int, const char *, int, const char *, int);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned);
typedef int (*falloc_fn)(int, off_t, off_t);
typedef int (*fallocate_fn)(int, int, off_t, off_t);

/* A data.mdb inode seen by the logger: its number in the write log. */
typedef struct shim_file {
    dev_t dev;
    ino_t ino;
} shim_file;

typedef struct shim_state {
    int ready;
    int mode;
    unsigned kinds;
    long target;
    long count;
    int armed;
    int acted;
    int prev_kind;
    int fired_kind;
    char dir[1024];
    size_t dir_len;
    char ack[1024];
    int out_fd;
    int log_fd;
    int fdcheck;
    char stop[64]; /* CRASH_SHIM_STOP: SIGSTOP after opening DIR/<stop> */
    int stopped;
    unsigned char fds[MAX_FD];
    unsigned char fid[MAX_FD]; /* file number of a data.mdb descriptor */
    shim_file files[MAX_FILES];
    int n_files;
    open_fn open_, open64_;
    openat_fn openat_, openat64_;
    write_fn write_;
    pwrite_fn pwrite_, pwrite64_;
    writev_fn writev_;
    sync_fn fsync_, fdatasync_;
    close_fn close_;
    lseek_fn lseek_;
    link_fn link_, rename_;
    linkat_fn linkat_;
    renameat_fn renameat_;
    renameat2_fn renameat2_;
    falloc_fn posix_fallocate_, posix_fallocate64_;
    fallocate_fn fallocate_, fallocate64_;
} shim_state;

#define SHIM_HIDDEN __attribute__((visibility("hidden")))
extern SHIM_HIDDEN shim_state crash_shim;
#define S crash_shim

/** Look the real functions up (dlsym RTLD_NEXT). */
SHIM_HIDDEN void shim_resolve(void);
/** Count one call of @p kind; the action to take for it. */
SHIM_HIDDEN int shim_tick(int kind);
/** After performing a call: kill when @p act says so. */
SHIM_HIDDEN void shim_after(int act, int kind);
/** errno for a failing action; returns -1. */
SHIM_HIDDEN int shim_fail(int act);
/** Classify @p path (absolute) for open flags @p flags: FD_*. */
SHIM_HIDDEN int shim_classify(const char *path, int flags);
/** The full path @p path names relative to directory descriptor @p dirfd
 *  (AT_FDCWD: @p path itself), with a /proc/self/fd/N or /proc/thread-self/fd/N prefix replaced by
 *  what N is: the library opens journal files relative to the journal
 *  directory's descriptor, and hands LMDB /proc/thread-self/fd/N of it.  Into
 *  @p buf; returns @p path when there is nothing to resolve. */
SHIM_HIDDEN const char *shim_full_path(int dirfd, const char *path, char *buf,
                                       size_t cap);
/** Whether @p path is the journal's own DIR/data.mdb. */
SHIM_HIDDEN int shim_is_journal(const char *path);
/** The write-log number of the data.mdb inode (@p dev, @p ino): 1, 2, ...
 *  in order of first sight; 0 when the table is full. */
SHIM_HIDDEN unsigned shim_file_no(dev_t dev, ino_t ino);
/** Append one record to the write log (mode log; see shim.c). */
SHIM_HIDDEN void shim_log(char type, unsigned fno, uint64_t off,
                          const void *buf, size_t len);
/** Log a publication of DIR/data.mdb (now present) coming from @p from
 *  ("" when it was created in place). */
SHIM_HIDDEN void shim_log_publish(const char *from);

static inline int shim_cls_of(int fd)
{
    return fd >= 0 && fd < MAX_FD ? S.fds[fd] : FD_NONE;
}

#endif
