/*
 * shim.h - shared state of the LD_PRELOAD shim (shim.c: set-up, counting,
 * opens; shim_io.c: writes, syncs and the write log).  See shim.c.
 */
#ifndef CRASH_SHIM_H
#define CRASH_SHIM_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 4096

enum { FD_NONE = 0, FD_DATA, FD_DSYNC, FD_LOCK, FD_OTHER, FD_ACK };
enum { K_OPEN = 1, K_WRITE = 2, K_META = 4, K_SYNC = 8 };
enum { M_COUNT, M_KILL, M_EIO, M_ENOSPC, M_SHORT, M_LOG };

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef int (*sync_fn)(int);
typedef int (*close_fn)(int);
typedef off_t (*lseek_fn)(int, off_t, int);
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
    unsigned char fds[MAX_FD];
    open_fn open_, open64_;
    openat_fn openat_, openat64_;
    write_fn write_;
    pwrite_fn pwrite_, pwrite64_;
    writev_fn writev_;
    sync_fn fsync_, fdatasync_;
    close_fn close_;
    lseek_fn lseek_;
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

static inline int shim_cls_of(int fd)
{
    return fd >= 0 && fd < MAX_FD ? S.fds[fd] : FD_NONE;
}

#endif
