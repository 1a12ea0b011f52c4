/*
 * shim_io.c - the shim's write, writev, pwrite and sync wrappers, and the
 * write log of power-loss mode.  See shim.c for what the shim does.
 */
#include "shim.h"

static void log_rec(char type, uint64_t off, const void *buf, size_t len)
{
    unsigned char hdr[16];
    uint32_t n = (uint32_t)len;
    memset(hdr, 0, sizeof(hdr));
    hdr[0] = (unsigned char)type;
    memcpy(hdr + 4, &n, 4);
    memcpy(hdr + 8, &off, 8);
    if (S.log_fd >= 0) {
        (void)!S.write_(S.log_fd, hdr, sizeof(hdr));
        if (len > 0) {
            (void)!S.write_(S.log_fd, buf, len);
        }
    }
}

static void log_iov(char type, uint64_t off, const struct iovec *iov, int cnt,
                    size_t total)
{
    for (int i = 0; i < cnt && total > 0; i++) {
        size_t n = iov[i].iov_len < total ? iov[i].iov_len : total;
        log_rec(type, off, iov[i].iov_base, n);
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
        log_rec(cls == FD_DSYNC ? 'D' : 'W', (uint64_t)off, buf, (size_t)r);
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
        log_rec('A', 0, buf, n);
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
        log_rec(cls == FD_DSYNC ? 'D' : 'W', (uint64_t)off, buf, (size_t)r);
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
        log_iov(cls == FD_DSYNC ? 'D' : 'W', (uint64_t)off, iov, cnt,
                (size_t)r);
    }
    shim_after(act, kind);
    errno = saved;
    return r;
}

static int do_sync(sync_fn real, int fd)
{
    int cls = shim_cls_of(fd);
    int tracked =
        cls == FD_DATA || cls == FD_DSYNC || cls == FD_LOCK || cls == FD_OTHER;
    int act = tracked ? shim_tick(K_SYNC) : M_COUNT;
    if (act != M_COUNT && act != M_KILL) {
        return shim_fail(act);
    }
    int r = real(fd);
    int saved = errno;
    if (r == 0 && S.mode == M_LOG && (cls == FD_DATA || cls == FD_DSYNC)) {
        log_rec('B', 0, NULL, 0);
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
