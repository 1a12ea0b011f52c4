/*
 * store_snapshot.c - a consistent private copy of a journal's data.mdb,
 * made without its lock, for auditors who cannot (or must not) lock the
 * journal: `cairn verify --snapshot` and cairn_journal_open_snapshot().
 *
 * LMDB's lock file holds the reader table: a reader that cannot write it
 * cannot register, so nothing stops a writer from reusing the pages it
 * reads.  Instead of reading the live file, the pages of one committed
 * transaction are copied into an unnamed file and opened with MDB_NOLOCK
 * (store_open.c); why the copy is consistent is in store.h.
 *
 * This file reads LMDB's meta pages itself (lmdb.h does not describe
 * them).  The layout is LMDB 0.9's data format version 1 on a 64-bit
 * build, native byte order: a 16-byte page header (u64 page number,
 * u16 pad, u16 flags, u32 bounds), then the meta: u32 magic 0xBEEFC0DE,
 * u32 version 1, address, map size, two 48-byte database records (the
 * first one's u32 pad is the page size), u64 last page, u64 txnid.
 * Meta page 0 is at offset 0, meta page 1 at offset page size.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define META_FLAGS_OFF 10u
#define META_MAGIC_OFF 16u
#define META_VERSION_OFF 20u
#define META_PSIZE_OFF 40u
#define META_LAST_PG_OFF 136u
#define META_TXNID_OFF 144u
#define META_BYTES 152u /* the bytes of a meta page that carry meaning */
#define P_META 0x08u
#define MDB_MAGIC 0xBEEFC0DEu
#define MDB_DATA_VERSION 1u
#define MAX_DATA_BYTES ((uint64_t)1 << 40) /* store.c's largest map */
#define COPY_CHUNK ((size_t)1 << 20)
#define STABLE_READS 20

/* Both meta pages as read at one moment. */
typedef struct metas {
    uint32_t psize;
    uint8_t *pages;   /* 2 * psize bytes */
    unsigned current; /* slot of the newest meta */
    uint64_t txnid;   /* its txnid */
    uint64_t last_pg; /* its last page */
} metas;

static uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static cairn_err read_at(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t r =
            pread(fd, (uint8_t *)buf + *got, n - *got, (off_t)(off + *got));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return CAIRN_EIO;
        }
        if (r == 0) {
            break;
        }
        *got += (size_t)r;
    }
    return CAIRN_OK;
}

/* One meta page: flags, magic, version, page size and page number. */
static int meta_ok(const uint8_t *page, unsigned slot, uint32_t psize)
{
    uint16_t flags;
    memcpy(&flags, page + META_FLAGS_OFF, sizeof(flags));
    return load64(page) == slot && (flags & P_META) != 0 &&
           load32(page + META_MAGIC_OFF) == MDB_MAGIC &&
           load32(page + META_VERSION_OFF) == MDB_DATA_VERSION &&
           load32(page + META_PSIZE_OFF) == psize;
}

uint32_t cairn__store_meta_psize(const uint8_t *head, size_t len)
{
    uint32_t p = len >= META_BYTES ? load32(head + META_PSIZE_OFF) : 0;
    if (p < 512 || p > 65536 || (p & (p - 1)) != 0 || !meta_ok(head, 0, p)) {
        return 0;
    }
    return p;
}

int cairn__store_meta_pick(const uint8_t *pages, size_t len, uint32_t psize,
                           cairn__store_meta *out)
{
    memset(out, 0, sizeof(*out));
    if (psize < 512 || psize > 65536 || (psize & (psize - 1)) != 0 ||
        len < 2 * (size_t)psize) {
        return -1;
    }
    const uint8_t *p0 = pages, *p1 = pages + psize;
    if (!meta_ok(p0, 0, psize) || !meta_ok(p1, 1, psize)) {
        return -1; /* LMDB never rewrites these fields */
    }
    uint64_t t0 = load64(p0 + META_TXNID_OFF);
    uint64_t t1 = load64(p1 + META_TXNID_OFF);
    out->psize = psize;
    out->current = t1 > t0 ? 1 : 0;
    out->txnid = t1 > t0 ? t1 : t0;
    out->last_pg = load64((t1 > t0 ? p1 : p0) + META_LAST_PG_OFF);
    return 0;
}

/* The page size from meta page 0 (a power of two, 512..65536). */
static cairn_err page_size(int fd, uint32_t *psize, char *detail,
                           size_t detail_len)
{
    uint8_t head[META_BYTES];
    size_t got;
    if (read_at(fd, head, sizeof(head), 0, &got) != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "data.mdb: %s", strerror(errno));
        return CAIRN_EIO;
    }
    uint32_t p = cairn__store_meta_psize(head, got);
    if (p == 0) {
        cairn__fmt(detail, detail_len,
                   "data.mdb: not an LMDB data file this build reads "
                   "(format 1, 64-bit)");
        return CAIRN_ECORRUPT;
    }
    *psize = p;
    return CAIRN_OK;
}

/* Read both meta pages until two reads in a row agree (a meta page being
 * written is never taken), and pick the newest.  1: done; 0: never
 * stable; 2: not valid meta pages; -1: read error. */
static int read_metas(int fd, metas *m, uint8_t *scratch)
{
    size_t n = 2 * (size_t)m->psize, got;
    if (read_at(fd, m->pages, n, 0, &got) != CAIRN_OK) {
        return -1;
    }
    if (got != n) {
        return 2; /* shorter than its two meta pages */
    }
    for (int i = 0; i < STABLE_READS; i++) {
        if (read_at(fd, scratch, n, 0, &got) != CAIRN_OK) {
            return -1;
        }
        if (got != n) {
            return 2;
        }
        if (memcmp(scratch, m->pages, n) == 0) {
            cairn__store_meta meta;
            if (cairn__store_meta_pick(m->pages, n, m->psize, &meta) != 0) {
                return 2;
            }
            m->current = meta.current;
            m->txnid = meta.txnid;
            m->last_pg = meta.last_pg;
            return 1;
        }
        memcpy(m->pages, scratch, n);
    }
    return 0;
}

/* Copy bytes [0, len) of @p src to the start of @p dst. */
static cairn_err copy_pages(int src, int dst, uint64_t len, uint8_t *buf,
                            char *detail, size_t detail_len)
{
    uint64_t off = 0;
    while (off < len) {
        size_t want = len - off < COPY_CHUNK ? (size_t)(len - off) : COPY_CHUNK;
        size_t got;
        if (read_at(src, buf, want, off, &got) != CAIRN_OK || got != want) {
            cairn__fmt(detail, detail_len, "data.mdb: %s",
                       got != want ? "shorter than its meta page says"
                                   : strerror(errno));
            return CAIRN_EIO;
        }
        for (size_t w = 0; w < want;) {
            ssize_t r = pwrite(dst, buf + w, want - w, (off_t)(off + w));
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                cairn__fmt(detail, detail_len, "snapshot copy: %s",
                           r < 0 ? strerror(errno) : "short write");
                return CAIRN_EIO;
            }
            w += (size_t)r;
        }
        off += want;
    }
    return CAIRN_OK;
}

/* Both meta pages of the copy become transaction @p m's (each keeps its
 * own page number), so that LMDB opens exactly what was copied. */
static cairn_err pin_meta(int dst, const metas *m, char *detail,
                          size_t detail_len)
{
    uint8_t *page = m->pages + (size_t)m->current * m->psize;
    for (uint64_t slot = 0; slot < 2; slot++) {
        uint8_t hdr[8];
        memcpy(hdr, page, sizeof(hdr));
        memcpy(page, &slot, sizeof(slot));
        ssize_t r = pwrite(dst, page, m->psize, (off_t)(slot * m->psize));
        memcpy(page, hdr, sizeof(hdr));
        if (r != (ssize_t)m->psize) {
            cairn__fmt(detail, detail_len, "snapshot copy: %s",
                       r < 0 ? strerror(errno) : "short write");
            return CAIRN_EIO;
        }
    }
    return CAIRN_OK;
}

static void pause_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One attempt: 1 consistent, 0 try again, or an error. */
static cairn_err copy_once(int src, int dst, metas *m, uint8_t *buf,
                           const cairn__snapshot_opts *opts, int *consistent,
                           char *detail, size_t detail_len)
{
    metas after = *m;
    struct stat st = {0};
    *consistent = 0;
    int rc = read_metas(src, m, buf);
    if (rc == 2) {
        cairn__fmt(detail, detail_len,
                   "data.mdb: its meta pages are not LMDB meta pages");
        return CAIRN_ECORRUPT;
    }
    if (rc <= 0) {
        if (rc < 0) {
            cairn__fmt(detail, detail_len, "data.mdb: %s", strerror(errno));
        }
        return rc < 0 ? CAIRN_EIO : CAIRN_OK;
    }
    uint64_t len = (m->last_pg + 1) * (uint64_t)m->psize;
    if (m->last_pg >= MAX_DATA_BYTES / m->psize || fstat(src, &st) != 0 ||
        (uint64_t)st.st_size < len) {
        cairn__fmt(detail, detail_len,
                   "data.mdb: %llu bytes, its meta page (txn %llu) needs "
                   "%llu",
                   (unsigned long long)st.st_size, (unsigned long long)m->txnid,
                   (unsigned long long)len);
        return CAIRN_ECORRUPT;
    }
    if (ftruncate(dst, 0) != 0) {
        cairn__fmt(detail, detail_len, "snapshot copy: %s", strerror(errno));
        return CAIRN_EIO;
    }
    cairn_err err = copy_pages(src, dst, len, buf, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (opts->hook != NULL) {
        opts->hook(opts->hook_ctx, opts->attempts);
    }
    after.pages = buf; /* the second read goes to the scratch space */
    uint8_t *scratch = buf + 2 * (size_t)m->psize;
    rc = read_metas(src, &after, scratch);
    if (rc < 0) {
        cairn__fmt(detail, detail_len, "data.mdb: %s", strerror(errno));
        return CAIRN_EIO;
    }
    /* T's own meta page untouched, and no commit after T+1. */
    size_t at = (size_t)m->current * m->psize;
    *consistent = rc == 1 && after.txnid <= m->txnid + 1 &&
                  memcmp(after.pages + at, m->pages + at, META_BYTES) == 0;
    return *consistent ? pin_meta(dst, m, detail, detail_len) : CAIRN_OK;
}

/* The file the copy goes to: unnamed (O_TMPFILE) when the file system
 * allows it, else a fresh name in @p tmp_dir returned in @p name (the
 * caller unlinks it as soon as LMDB has opened it). */
static cairn_err temp_file(const char *tmp_dir, int *fd, char **name,
                           char *detail, size_t detail_len)
{
    *name = NULL;
    *fd = open(tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (*fd >= 0) {
        return CAIRN_OK;
    }
    size_t n = strlen(tmp_dir) + sizeof("/cairn-snapshot-XXXXXX");
    *name = malloc(n);
    if (*name == NULL) {
        return CAIRN_ENOMEM;
    }
    cairn__fmt(*name, n, "%s/cairn-snapshot-XXXXXX", tmp_dir);
    *fd = mkostemp(*name, O_CLOEXEC);
    if (*fd < 0) {
        cairn__fmt(detail, detail_len, "snapshot: temporary file in %s: %s",
                   tmp_dir, strerror(errno));
        free(*name);
        *name = NULL;
        return CAIRN_EIO;
    }
    return CAIRN_OK;
}

cairn_err cairn__store_open_data(const char *dir, int *fd, char *detail,
                                 size_t detail_len)
{
    char path[4096];
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        cairn__fmt(detail, detail_len, "journal path too long");
        return CAIRN_EINVAL;
    }
    *fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (*fd < 0) {
        cairn__fmt(detail, detail_len, "%s: %s", path,
                   errno == ENOENT ? "no journal here (no data.mdb)"
                                   : strerror(errno));
        return CAIRN_EIO;
    }
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cairn__fmt(detail, detail_len, "%s: not a regular file", path);
        close(*fd);
        *fd = -1;
        return CAIRN_EIO;
    }
    return CAIRN_OK;
}

/* Copy until a copy is consistent; the attempts count into @p opts. */
static cairn_err copy_consistent(int src, int dst, cairn__snapshot_opts *opts,
                                 char *detail, size_t detail_len)
{
    metas m = {0};
    uint8_t *buf = malloc(COPY_CHUNK);
    cairn_err err = buf == NULL ? CAIRN_ENOMEM
                                : page_size(src, &m.psize, detail, detail_len);
    if (err == CAIRN_OK && (m.pages = malloc(2 * (size_t)m.psize)) == NULL) {
        err = CAIRN_ENOMEM;
    }
    int consistent = 0;
    while (err == CAIRN_OK && !consistent &&
           opts->attempts < CAIRN__SNAPSHOT_ATTEMPTS) {
        if (opts->attempts > 0) {
            pause_ms(opts->attempts * 20u); /* let the writer move on */
        }
        opts->attempts++;
        err =
            copy_once(src, dst, &m, buf, opts, &consistent, detail, detail_len);
    }
    if (err == CAIRN_OK && !consistent) {
        cairn__fmt(detail, detail_len,
                   "data.mdb changed under each of %u copies (a writer "
                   "committed twice or more during each): try again",
                   opts->attempts);
        err = CAIRN_ESTORE;
    }
    opts->txnid = consistent ? m.txnid : 0;
    free(m.pages);
    free(buf);
    return err;
}

cairn_err cairn__store_open_snapshot(const char *dir,
                                     cairn__snapshot_opts *opts,
                                     cairn_store **out, char *detail,
                                     size_t detail_len)
{
    const char *tmp_dir = opts->tmp_dir != NULL ? opts->tmp_dir : "/tmp";
    char *name = NULL, path[64];
    int src = -1, dst = -1;
    *out = NULL;
    opts->attempts = 0;
    opts->txnid = 0;
    if (sizeof(size_t) != 8 || sizeof(void *) != 8) {
        cairn__fmt(detail, detail_len, "snapshot: needs a 64-bit build");
        return CAIRN_EINVAL;
    }
    cairn_err err = cairn__store_open_data(dir, &src, detail, detail_len);
    if (err == CAIRN_OK) {
        err = temp_file(tmp_dir, &dst, &name, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = copy_consistent(src, dst, opts, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        /* LMDB opens by name: the unnamed file through /proc. */
        cairn__fmt(path, sizeof(path), "/proc/self/fd/%d", dst);
        err = cairn__store_open_private(name != NULL ? name : path, out, detail,
                                        detail_len);
    }
    if (name != NULL) {
        (void)unlink(name); /* LMDB keeps its own descriptor and mapping */
        free(name);
    }
    if (dst >= 0) {
        close(dst);
    }
    if (src >= 0) {
        close(src);
    }
    return err;
}

cairn_err cairn__store_file_set_txnid(int fd, uint64_t txnid, char *detail,
                                      size_t detail_len)
{
    metas m = {0};
    cairn_err err = page_size(fd, &m.psize, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    uint8_t *buf = malloc(4 * (size_t)m.psize);
    if (buf == NULL) {
        return CAIRN_ENOMEM;
    }
    m.pages = buf;
    int got = read_metas(fd, &m, buf + 2 * (size_t)m.psize);
    if (got == 1) {
        uint8_t *page = m.pages + (size_t)m.current * m.psize;
        memcpy(page + META_TXNID_OFF, &txnid, sizeof(txnid));
        err = pin_meta(fd, &m, detail, detail_len);
    } else if (got == -1) {
        cairn__fmt(detail, detail_len, "compacted copy: %s", strerror(errno));
        err = CAIRN_EIO;
    } else {
        cairn__fmt(detail, detail_len,
                   "compacted copy: not an LMDB data file this build reads");
        err = CAIRN_ECORRUPT;
    }
    free(buf);
    return err;
}
