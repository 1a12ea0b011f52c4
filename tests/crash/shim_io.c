/*
 * shim_io.c - the shim's write, writev, pwrite, sync, link, rename and
 * posix_fallocate wrappers, and the write log of power-loss mode.  See
 * shim.c for what the shim does and the log's format.
 */
#include "shim.h"

void shim_log(char type, unsigned fno, uint64_t off, const void *buf,
              size_t len)
{
    unsigned char hdr[16];
    uint32_t n = (uint32_t)len;
    memset(hdr, 0, sizeof(hdr));
    hdr[0] = (unsigned char)type;
    hdr[1] = (unsigned char)fno;
    memcpy(hdr + 4, &n, 4);
    memcpy(hdr + 8, &off, 8);
    if (S.log_fd >= 0) {
        (void)!S.write_(S.log_fd, hdr, sizeof(hdr));
        if (len > 0) {
            (void)!S.write_(S.log_fd, buf, len);
        }
    }
}

static unsigned fid_of(int fd)
{
    return fd >= 0 && fd < MAX_FD ? S.fid[fd] : 0;
}

static void log_iov(char type, unsigned fno, uint64_t off,
                    const struct iovec *iov, int cnt, size_t total)
{
    for (int i = 0; i < cnt && total > 0; i++) {
        size_t n = iov[i].iov_len < total ? iov[i].iov_len : total;
        shim_log(type, fno, off, iov[i].iov_base, n);
        off += n;
        total -= n;
    }
}

static int write_kind(int cls)
{
    if (cls == FD_DSYNC) {
        return K_META;
    }
    return cls == FD_DATA || cls == FD_LOCK ? K_WRITE : 0;
}

static ssize_t do_pwrite(pwrite_fn real, int fd, const void *buf, size_t n,
                         off_t off)
{
    int cls = shim_cls_of(fd);
    int kind = write_kind(cls);
    int act = kind != 0 ? shim_tick(kind) : M_COUNT;
    if (act == M_EIO || act == M_ENOSPC) {
        return shim_fail(act);
    }
    size_t len = act == M_SHORT ? n / 2 : n;
    ssize_t r = real(fd, buf, len, off);
    int saved = errno;
    if (r > 0 && S.mode == M_LOG && (cls == FD_DATA || cls == FD_DSYNC)) {
        shim_log(cls == FD_DSYNC ? 'D' : 'W', fid_of(fd), (uint64_t)off, buf,
                 (size_t)r);
    }
    shim_after(act, kind);
    errno = saved;
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (S.pwrite_ == NULL) {
        shim_resolve();
    }
    return do_pwrite(S.pwrite_, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    if (S.pwrite64_ == NULL) {
        shim_resolve();
    }
    return do_pwrite(S.pwrite64_, fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (S.write_ == NULL) {
        shim_resolve();
    }
    int cls = shim_cls_of(fd);
    if (cls == FD_ACK && S.mode == M_LOG) {
        shim_log('A', 0, 0, buf, n);
    }
    int kind = write_kind(cls);
    if (kind == 0) {
        return S.write_(fd, buf, n);
    }
    off_t off = S.lseek_(fd, 0, SEEK_CUR);
    int act = shim_tick(kind);
    if (act == M_EIO || act == M_ENOSPC) {
        return shim_fail(act);
    }
    ssize_t r = S.write_(fd, buf, act == M_SHORT ? n / 2 : n);
    int saved = errno;
    if (r > 0 && S.mode == M_LOG && (cls == FD_DATA || cls == FD_DSYNC)) {
        shim_log(cls == FD_DSYNC ? 'D' : 'W', fid_of(fd), (uint64_t)off, buf,
                 (size_t)r);
    }
    shim_after(act, kind);
    errno = saved;
    return r;
}

/* The first @p want bytes of @p iov as a new vector in @p out. */
static int cut_iov(const struct iovec *iov, int cnt, size_t want,
                   struct iovec *out, int cap)
{
    int n = 0;
    for (int i = 0; i < cnt && n < cap && want > 0; i++) {
        out[n] = iov[i];
        if (out[n].iov_len > want) {
            out[n].iov_len = want;
        }
        want -= out[n].iov_len;
        n++;
    }
    return n;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (S.writev_ == NULL) {
        shim_resolve();
    }
    int cls = shim_cls_of(fd);
    int kind = write_kind(cls);
    if (kind == 0) {
        return S.writev_(fd, iov, cnt);
    }
    off_t off = S.lseek_(fd, 0, SEEK_CUR);
    int act = shim_tick(kind);
    if (act == M_EIO || act == M_ENOSPC) {
        return shim_fail(act);
    }
    size_t total = 0;
    for (int i = 0; i < cnt; i++) {
        total += iov[i].iov_len;
    }
    struct iovec part[64];
    ssize_t r;
    if (act == M_SHORT) {
        int n = cut_iov(iov, cnt, total / 2, part, 64);
        r = S.writev_(fd, part, n);
    } else {
        r = S.writev_(fd, iov, cnt);
    }
    int saved = errno;
    if (r > 0 && S.mode == M_LOG && (cls == FD_DATA || cls == FD_DSYNC)) {
        log_iov(cls == FD_DSYNC ? 'D' : 'W', fid_of(fd), (uint64_t)off, iov,
                cnt, (size_t)r);
    }
    shim_after(act, kind);
    errno = saved;
    return r;
}

static int do_sync(sync_fn real, int fd)
{
    int cls = shim_cls_of(fd);
    int tracked = cls == FD_DATA || cls == FD_DSYNC || cls == FD_LOCK ||
                  cls == FD_OTHER || cls == FD_JDIR;
    int act = tracked ? shim_tick(K_SYNC) : M_COUNT;
    if (act != M_COUNT && act != M_KILL) {
        return shim_fail(act);
    }
    int r = real(fd);
    int saved = errno;
    if (r == 0 && S.mode == M_LOG && (cls == FD_DATA || cls == FD_DSYNC)) {
        shim_log('B', fid_of(fd), 0, NULL, 0);
    }
    if (r == 0 && S.mode == M_LOG && cls == FD_JDIR) {
        shim_log('S', 0, 0, NULL, 0);
    }
    shim_after(act, K_SYNC);
    errno = saved;
    return r;
}

int fsync(int fd)
{
    if (S.fsync_ == NULL) {
        shim_resolve();
    }
    return do_sync(S.fsync_, fd);
}

int fdatasync(int fd)
{
    if (S.fdatasync_ == NULL) {
        shim_resolve();
    }
    return do_sync(S.fdatasync_, fd);
}

/* ---- link and rename: publishing DIR/data.mdb ------------------------ */

/* Paths are tracked by the full path they name (shim_full_path). */
static int tracked_path(int dirfd, const char *given)
{
    char full[1200];
    const char *path = shim_full_path(dirfd, given, full, sizeof(full));
    return path != NULL && (path[0] == '/' || dirfd == AT_FDCWD) &&
           shim_classify(path, 0) != FD_NONE &&
           shim_classify(path, 0) != FD_ACK;
}

/* Count a link or rename of @p from to @p to; the action (M_COUNT for
 * none or an untracked call). */
static int link_tick(int fromfd, const char *from, int tofd, const char *to)
{
    if (!tracked_path(fromfd, from) && !tracked_path(tofd, to)) {
        return M_COUNT;
    }
    return shim_tick(K_LINK);
}

/* After a link or rename returned @p r: log the publication, kill. */
static int link_done(int act, int r, int fromfd, int tofd, const char *from,
                     const char *to)
{
    int saved = errno;
    char full_to[1200], full_from[1200];
    to = shim_full_path(tofd, to, full_to, sizeof(full_to));
    from = shim_full_path(fromfd, from, full_from, sizeof(full_from));
    if (r == 0 && to != NULL && (tofd == AT_FDCWD || to[0] == '/') &&
        shim_is_journal(to)) {
        shim_log_publish(from);
    }
    shim_after(act, K_LINK);
    errno = saved;
    return r;
}

int link(const char *from, const char *to)
{
    if (S.link_ == NULL) {
        shim_resolve();
    }
    int act = link_tick(AT_FDCWD, from, AT_FDCWD, to);
    if (act != M_COUNT && act != M_KILL) {
        return shim_fail(act);
    }
    return link_done(act, S.link_(from, to), AT_FDCWD, AT_FDCWD, from, to);
}

int linkat(int fromfd, const char *from, int tofd, const char *to, int flags)
{
    if (S.linkat_ == NULL) {
        shim_resolve();
    }
    int act = link_tick(fromfd, from, tofd, to);
    if (act != M_COUNT && act != M_KILL) {
        return shim_fail(act);
    }
    return link_done(act, S.linkat_(fromfd, from, tofd, to, flags), fromfd,
                     tofd, from,
                     to);
}

int rename(const char *from, const char *to)
{
    if (S.rename_ == NULL) {
        shim_resolve();
    }
    int act = link_tick(AT_FDCWD, from, AT_FDCWD, to);
    if (act != M_COUNT && act != M_KILL) {
        return shim_fail(act);
    }
    return link_done(act, S.rename_(from, to), AT_FDCWD, AT_FDCWD, from,
                     to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    if (S.renameat_ == NULL) {
        shim_resolve();
    }
    int act = link_tick(fromfd, from, tofd, to);
    if (act != M_COUNT && act != M_KILL) {
        return shim_fail(act);
    }
    return link_done(act, S.renameat_(fromfd, from, tofd, to), fromfd, tofd,
                     from, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to,
              unsigned flags)
{
    if (S.renameat2_ == NULL) {
        shim_resolve();
    }
    int act = link_tick(fromfd, from, tofd, to);
    if (act != M_COUNT && act != M_KILL) {
        return shim_fail(act);
    }
    return link_done(act, S.renameat2_(fromfd, from, tofd, to, flags), fromfd,
                     tofd, from, to);
}

/* ---- space reservation ------------------------------------------------ */

static int falloc_act(int fd)
{
    int cls = shim_cls_of(fd);
    return cls == FD_DATA || cls == FD_LOCK ? shim_tick(K_FALLOC) : M_COUNT;
}

static int do_posix_fallocate(falloc_fn real, int fd, off_t off, off_t len)
{
    int act = falloc_act(fd);
    if (act != M_COUNT && act != M_KILL) {
        return act == M_ENOSPC ? ENOSPC : EIO; /* an error number */
    }
    int r = real(fd, off, len);
    shim_after(act, K_FALLOC);
    return r;
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    if (S.posix_fallocate_ == NULL) {
        shim_resolve();
    }
    return do_posix_fallocate(S.posix_fallocate_, fd, off, len);
}

int posix_fallocate64(int fd, off_t off, off_t len)
{
    if (S.posix_fallocate64_ == NULL) {
        shim_resolve();
    }
    return do_posix_fallocate(S.posix_fallocate64_, fd, off, len);
}

static int do_fallocate(fallocate_fn real, int fd, int mode, off_t off,
                        off_t len)
{
    int act = falloc_act(fd);
    if (act != M_COUNT && act != M_KILL) {
        return shim_fail(act);
    }
    int r = real(fd, mode, off, len);
    int saved = errno;
    shim_after(act, K_FALLOC);
    errno = saved;
    return r;
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    if (S.fallocate_ == NULL) {
        shim_resolve();
    }
    return do_fallocate(S.fallocate_, fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
    if (S.fallocate64_ == NULL) {
        shim_resolve();
    }
    return do_fallocate(S.fallocate64_, fd, mode, off, len);
}
