/*
 * shim.c - LD_PRELOAD fault injector and write logger for the crash suite
 * (tests/crash/, docs/DURABILITY.md).  Unmodified Debian liblmdb and
 * libcairn call libc through the PLT, so interposing open/openat/write/
 * pwrite/writev/fdatasync/fsync/close/link/rename/posix_fallocate reaches
 * every I/O call the journal makes.
 *
 * Tracked files: data.mdb, lock.mdb and anything else (but commit.shm,
 * the shared commit queue, which holds nothing durable) under
 * $CRASH_SHIM_DIR (the journal directory, absolute), the directory itself
 * and the temporary directories a new journal is built in
 * (DIR/.cairn-new-XXXXXX/data.mdb is a data.mdb too).  Counted calls (once
 * armed, see below):
 *   open    open/openat of a path under the directory
 *   write   write/pwrite/writev on data.mdb or lock.mdb (not O_DSYNC)
 *   meta    a write on an O_DSYNC descriptor of data.mdb (LMDB's meta page)
 *   sync    fdatasync/fsync on a tracked descriptor (directories included)
 *   link    link/linkat/rename/renameat/renameat2 from or to a path under
 *           the directory
 *   falloc  posix_fallocate/fallocate on data.mdb or lock.mdb
 * Writes to other files under the directory (the advisory holder text in
 * locks/run-N.lock) are never counted nor failed.
 *
 * Environment:
 *   CRASH_SHIM_DIR    the journal directory (required to track anything)
 *   CRASH_SHIM_MODE   count | kill | eio | enospc | short | log
 *   CRASH_SHIM_N      act on the N-th counted call (1-based, one shot)
 *   CRASH_SHIM_KINDS  comma list of counted kinds (default: all six)
 *   CRASH_SHIM_OUT    event file: "F kind n prev" (fault injected),
 *                     "K kind n prev" (killed after the call), "C n"
 *                     (calls counted, at exit) lines, appended
 *   CRASH_SHIM_LOG    (mode log) binary write log of data.mdb
 *   CRASH_SHIM_ACK    (mode log) the workload's ack file: each write to
 *                     it is copied into the log as an ACK record
 *   CRASH_SHIM_FDCHECK  when set, an "L path fd" line is written to the
 *                     event file for each open of data.mdb/lock.mdb
 *   CRASH_SHIM_STOP   a file name (e.g. data.mdb): the process stops itself
 *                     (SIGSTOP) right after its first successful open of
 *                     DIR/<name>, whatever the mode, so that a test can
 *                     act while it is frozen at that instant (then kill or
 *                     continue it); tests/cli/lock_init.sh
 * The workload arms counting with crashshim_arm() (found by dlsym); with
 * CRASH_SHIM_ARMED=1 counting starts at load.
 *
 * kill mode performs call N, then raise(SIGKILL); the fail modes do not
 * perform it and return -1 with EIO or ENOSPC (posix_fallocate returns
 * the number); short performs a write of half the bytes and returns that
 * count (the other calls fail with EIO).
 *
 * Log records (mode log), little-endian host order: u8 type, u8 file
 * number, 2 bytes zero, u32 length, u64 file offset, then length bytes.
 * Types:
 *   W  a write to a data.mdb (file number: its inode, see below)
 *   D  a write on an O_DSYNC descriptor (durable when it returned)
 *   B  barrier: a successful fdatasync/fsync of that data.mdb
 *   P  publication: DIR/data.mdb came into existence (a successful link
 *      or rename onto it, or an open that created it); the file number of
 *      the inode now there, the bytes: the path it came from, relative to
 *      DIR ("" when it was created in place)
 *   S  a successful fsync of the journal directory DIR itself
 *   A  an ack line (file number 0)
 * File numbers name data.mdb inodes (1, 2, ... in order of first open), so
 * that the writes made to DIR/.cairn-new-XXXXXX/data.mdb before it was
 * linked into place belong to the journal's file, and writes to any other
 * data.mdb do not.
 */
#include "shim.h"

SHIM_HIDDEN shim_state crash_shim;

/* dlsym's object pointer into a function pointer (POSIX allows it). */
#define NEXT(field, name)                                                      \
    do {                                                                       \
        void *sym_ = dlsym(RTLD_NEXT, name);                                   \
        memcpy(&S.field, &sym_, sizeof(sym_));                                 \
    } while (0)

static unsigned parse_kinds(const char *s)
{
    unsigned k = 0;
    if (s == NULL || *s == '\0') {
        return K_ALL;
    }
    k |= strstr(s, "open") ? K_OPEN : 0u;
    k |= strstr(s, "write") ? K_WRITE : 0u;
    k |= strstr(s, "meta") ? K_META : 0u;
    k |= strstr(s, "sync") ? K_SYNC : 0u;
    k |= strstr(s, "link") ? K_LINK : 0u;
    k |= strstr(s, "falloc") ? K_FALLOC : 0u;
    return k;
}

static int parse_mode(const char *s)
{
    static const char *const names[] = {"count",  "kill",  "eio",
                                        "enospc", "short", "log"};
    for (int i = 0; s != NULL && i < 6; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    return M_COUNT;
}

static void copy_env(char *dst, size_t cap, const char *name)
{
    const char *v = getenv(name);
    dst[0] = '\0';
    if (v != NULL && strlen(v) < cap) {
        memcpy(dst, v, strlen(v) + 1);
    }
}

void shim_resolve(void)
{
    NEXT(open_, "open");
    NEXT(open64_, "open64");
    NEXT(openat_, "openat");
    NEXT(openat64_, "openat64");
    NEXT(write_, "write");
    NEXT(pwrite_, "pwrite");
    NEXT(pwrite64_, "pwrite64");
    NEXT(writev_, "writev");
    NEXT(fsync_, "fsync");
    NEXT(fdatasync_, "fdatasync");
    NEXT(close_, "close");
    NEXT(lseek_, "lseek");
    NEXT(link_, "link");
    NEXT(rename_, "rename");
    NEXT(linkat_, "linkat");
    NEXT(renameat_, "renameat");
    NEXT(renameat2_, "renameat2");
    NEXT(posix_fallocate_, "posix_fallocate");
    NEXT(posix_fallocate64_, "posix_fallocate64");
    NEXT(fallocate_, "fallocate");
    NEXT(fallocate64_, "fallocate64");
}

__attribute__((constructor)) static void shim_init(void)
{
    shim_resolve();
    S.out_fd = S.log_fd = -1;
    S.mode = parse_mode(getenv("CRASH_SHIM_MODE"));
    S.kinds = parse_kinds(getenv("CRASH_SHIM_KINDS"));
    const char *n = getenv("CRASH_SHIM_N");
    S.target = n != NULL ? strtol(n, NULL, 10) : 0;
    const char *armed = getenv("CRASH_SHIM_ARMED");
    S.armed = armed != NULL && strcmp(armed, "1") == 0;
    S.fdcheck = getenv("CRASH_SHIM_FDCHECK") != NULL;
    copy_env(S.stop, sizeof(S.stop), "CRASH_SHIM_STOP");
    copy_env(S.dir, sizeof(S.dir), "CRASH_SHIM_DIR");
    S.dir_len = strlen(S.dir);
    copy_env(S.ack, sizeof(S.ack), "CRASH_SHIM_ACK");
    const char *out = getenv("CRASH_SHIM_OUT");
    if (out != NULL) {
        S.out_fd =
            S.open_(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    }
    const char *log = getenv("CRASH_SHIM_LOG");
    if (log != NULL && S.mode == M_LOG) {
        S.log_fd =
            S.open_(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    }
    S.ready = 1;
}

__attribute__((destructor)) static void shim_fini(void)
{
    char line[64];
    if (S.out_fd >= 0 && S.mode == M_COUNT) {
        int len = snprintf(line, sizeof(line), "C %ld\n", S.count);
        (void)!S.write_(S.out_fd, line, (size_t)len);
    }
}

/** Start counting (called by the workload through dlsym). */
void crashshim_arm(void);
void crashshim_arm(void)
{
    S.armed = 1;
}

/** Number of counted calls so far. */
long crashshim_count(void);
long crashshim_count(void)
{
    return S.count;
}

static const char *kind_name(int kind);

/** Whether a fault was injected; its kind ("open", "write", "meta",
 *  "sync") into @p kind. */
int crashshim_fired(char *kind, size_t len);
int crashshim_fired(char *kind, size_t len)
{
    if (S.fired_kind == 0) {
        return 0;
    }
    snprintf(kind, len, "%s", kind_name(S.fired_kind));
    return 1;
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case K_OPEN:
        return "open";
    case K_WRITE:
        return "write";
    case K_META:
        return "meta";
    case K_SYNC:
        return "sync";
    case K_LINK:
        return "link";
    case K_FALLOC:
        return "falloc";
    default:
        return "none";
    }
}

static void event(char tag, int kind)
{
    char line[128];
    if (S.out_fd < 0) {
        return;
    }
    int len = snprintf(line, sizeof(line), "%c %s %ld %s\n", tag,
                       kind_name(kind), S.count, kind_name(S.prev_kind));
    (void)!S.write_(S.out_fd, line, (size_t)len);
}

/* Count one call of @p kind; returns the action for it (M_COUNT: none). */
int shim_tick(int kind)
{
    if (!S.ready || !S.armed || (S.kinds & (unsigned)kind) == 0 ||
        S.mode == M_LOG) {
        return M_COUNT;
    }
    S.count++;
    int act = M_COUNT;
    if (!S.acted && S.target > 0 && S.count == S.target) {
        S.acted = 1;
        act = S.mode;
        if (act != M_KILL && act != M_COUNT) {
            S.fired_kind = kind;
            event('F', kind);
        }
    }
    if (act == M_COUNT || act == M_KILL) {
        S.prev_kind = kind;
    }
    return act;
}

void shim_after(int act, int kind)
{
    if (act == M_KILL) {
        event('K', kind);
        raise(SIGKILL);
    }
}

int shim_fail(int act)
{
    errno = act == M_ENOSPC ? ENOSPC : EIO;
    return -1;
}

int shim_classify(const char *path, int flags)
{
    if (path == NULL) {
        return FD_NONE;
    }
    if (S.ack[0] != '\0' && strcmp(path, S.ack) == 0) {
        return FD_ACK;
    }
    if (S.dir_len == 0 || strncmp(path, S.dir, S.dir_len) != 0 ||
        (path[S.dir_len] != '/' && path[S.dir_len] != '\0')) {
        return FD_NONE;
    }
    if (strspn(path + S.dir_len, "/") == strlen(path + S.dir_len)) {
        return FD_JDIR; /* the journal directory itself */
    }
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    if (strcmp(base, "data.mdb") == 0) {
        return (flags & O_DSYNC) == O_DSYNC ? FD_DSYNC : FD_DATA;
    }
    if (strcmp(base, "lock.mdb") == 0) {
        return FD_LOCK;
    }
    if (strcmp(base, "commit.shm") == 0) {
        /* The shared commit queue holds no durable state, and a handle
         * that cannot open it commits on its own (test_xq.c). */
        return FD_NONE;
    }
    return FD_OTHER;
}

int shim_is_journal(const char *path)
{
    return shim_classify(path, 0) == FD_DATA &&
           strcmp(path + S.dir_len + strspn(path + S.dir_len, "/"),
                  "data.mdb") == 0;
}

unsigned shim_file_no(dev_t dev, ino_t ino)
{
    for (int i = 0; i < S.n_files; i++) {
        if (S.files[i].dev == dev && S.files[i].ino == ino) {
            return (unsigned)i + 1;
        }
    }
    if (S.n_files == MAX_FILES) {
        return 0;
    }
    S.files[S.n_files].dev = dev;
    S.files[S.n_files].ino = ino;
    return (unsigned)++S.n_files;
}

void shim_log_publish(const char *from)
{
    char to[1100];
    struct stat st;
    snprintf(to, sizeof(to), "%s/data.mdb", S.dir);
    if (S.mode != M_LOG || stat(to, &st) != 0) {
        return;
    }
    const char *rel = from;
    if (strncmp(from, S.dir, S.dir_len) == 0 && from[S.dir_len] == '/') {
        rel = from + S.dir_len + strspn(from + S.dir_len, "/");
    }
    shim_log('P', shim_file_no(st.st_dev, st.st_ino), 0, rel, strlen(rel));
}

/* What descriptor @p fd names, into @p buf; 0 or -1. */
static int fd_path(int fd, char *buf, size_t cap)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/thread-self/fd/%d", fd);
    ssize_t n = readlink(link, buf, cap - 1);
    if (n <= 0 || (size_t)n >= cap - 1) {
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

const char *shim_full_path(int dirfd, const char *path, char *buf, size_t cap)
{
    static const char self[] = "/proc/self/fd/";
    static const char thread[] = "/proc/thread-self/fd/";
    if (path == NULL) {
        return NULL;
    }
    size_t skip = strncmp(path, self, sizeof(self) - 1) == 0 ? sizeof(self) - 1
                  : strncmp(path, thread, sizeof(thread) - 1) == 0
                      ? sizeof(thread) - 1
                      : 0;
    if (skip != 0) {
        char *end = NULL;
        long fd = strtol(path + skip, &end, 10);
        size_t used;
        if (end == path + skip || fd < 0 || fd > INT_MAX ||
            fd_path((int)fd, buf, cap) != 0) {
            return path;
        }
        used = strlen(buf);
        snprintf(buf + used, cap - used, "%s", end);
        return buf;
    }
    if (path[0] == '/' || dirfd == AT_FDCWD) {
        return path;
    }
    if (fd_path(dirfd, buf, cap) != 0) {
        return path;
    }
    size_t used = strlen(buf);
    snprintf(buf + used, cap - used, "/%s", path);
    return buf;
}

static void note_fd(int fd, int cls, const char *path)
{
    struct stat st;
    if (fd >= 0 && fd < MAX_FD) {
        S.fds[fd] = (unsigned char)cls;
        S.fid[fd] = 0;
        if (S.mode == M_LOG && (cls == FD_DATA || cls == FD_DSYNC) &&
            fstat(fd, &st) == 0) {
            S.fid[fd] = (unsigned char)shim_file_no(st.st_dev, st.st_ino);
        }
    }
    if (fd >= 0 && S.fdcheck && S.out_fd >= 0 &&
        (cls == FD_DATA || cls == FD_DSYNC || cls == FD_LOCK)) {
        char line[1200];
        int len = snprintf(line, sizeof(line), "L %s %d\n", path, fd);
        if (len > 0 && (size_t)len < sizeof(line)) {
            (void)!S.write_(S.out_fd, line, (size_t)len);
        }
    }
}

static int open_common(open_fn real, openat_fn real_at, int dirfd,
                       const char *given, int flags, mode_t mode)
{
    char full[1200];
    const char *path = shim_full_path(real != NULL ? AT_FDCWD : dirfd, given,
                                      full, sizeof(full));
    int cls = shim_classify(path, flags);
    int act = cls != FD_NONE && cls != FD_ACK ? shim_tick(K_OPEN) : M_COUNT;
    if (act != M_COUNT && act != M_KILL) {
        return shim_fail(act);
    }
    /* An open that creates DIR/data.mdb publishes it (in place). */
    struct stat st;
    int fresh = S.mode == M_LOG && (flags & O_CREAT) != 0 &&
                shim_is_journal(path) && stat(path, &st) != 0;
    int fd = real != NULL ? real(given, flags, mode)
                          : real_at(dirfd, given, flags, mode);
    int saved = errno;
    note_fd(fd, cls, path);
    if (fd >= 0 && fresh) {
        shim_log_publish("");
    }
    if (fd >= 0 && S.stop[0] != '\0' && !S.stopped && cls != FD_NONE) {
        const char *base = strrchr(path, '/');
        if (strcmp(base != NULL ? base + 1 : path, S.stop) == 0) {
            S.stopped = 1;
            raise(SIGSTOP);
        }
    }
    shim_after(act, K_OPEN);
    errno = saved;
    return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
    if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
        return (mode_t)va_arg(ap, int);
    }
    return 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (S.open_ == NULL) {
        shim_resolve();
    }
    return open_common(S.open_, NULL, 0, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (S.open64_ == NULL) {
        shim_resolve();
    }
    return open_common(S.open64_, NULL, 0, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (S.openat_ == NULL) {
        shim_resolve();
    }
    return open_common(NULL, S.openat_, dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (S.openat64_ == NULL) {
        shim_resolve();
    }
    return open_common(NULL, S.openat64_, dirfd, path, flags, mode);
}

int close(int fd)
{
    if (S.close_ == NULL) {
        shim_resolve();
    }
    if (fd >= 0 && fd < MAX_FD) {
        S.fds[fd] = FD_NONE;
        S.fid[fd] = 0;
    }
    return S.close_(fd);
}
