/*
 * store_pages.c - find a damaged page of data.mdb without LMDB:
 * cairn_journal_check_pages().  LMDB trusts its pages (a zeroed leaf
 * page makes mdb_cursor_next() abort the process on an assertion), so
 * `cairn verify` reads the journal in a child and, when the child dies,
 * names the damage with this walk.
 *
 * Like store_snapshot.c this reads LMDB 0.9's data format version 1 on a
 * 64-bit build itself (lmdb.h does not describe it).  A page starts with
 * a 16-byte header: u64 page number, u16 pad, u16 flags (0x01 branch,
 * 0x02 leaf, 0x04 overflow, 0x08 meta, 0x20 leaf2), then u16 lower and
 * u16 upper (branch and leaf pages: the end of the node offsets and the
 * start of the nodes) or u32 page count (the first page of an overflow
 * run).  Node i starts at the u16 offset at 16 + 2i: u16 lo, u16 hi,
 * u16 flags, u16 key size, then the key and the data.  A branch node's
 * child page is lo | hi << 16 | flags << 32; a leaf node's data size is
 * lo | hi << 16, and its flags say the data is a page number of an
 * overflow run (0x01) or a database record (0x02, in the main
 * database).  A database record (48 bytes; also in the meta page at 40
 * for the free pages and at 88 for the main database) has u16 depth at
 * 6 and u64 root page at 40 (all ones: empty).  Every page of every tree
 * is checked once: its number, its type for its depth and the bounds of
 * its nodes.  Free pages are not in any tree and are not checked.
 */
#include "base/jdir.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_HDR 16u
#define P_BRANCH 0x01u
#define P_LEAF 0x02u
#define P_OVERFLOW 0x04u
#define F_BIGDATA 0x01u
#define F_SUBDATA 0x02u
#define DB_RECORD 48u
#define DB_DEPTH_OFF 6u
#define DB_ROOT_OFF 40u
#define META_FREE_DB 40u
#define META_MAIN_DB 88u
#define MAX_DEPTH 32u /* LMDB's cursor stack */
#define NO_PAGE UINT64_MAX

typedef struct walk {
    const uint8_t *mem; /* the file in memory (fuzzing), or NULL: fd */
    size_t mem_len;
    int fd;
    uint32_t psize;
    uint64_t last_pg;
    uint64_t visits;     /* pages read so far */
    uint64_t max_visits; /* pages in the tree at most: the walk is linear */
    /* 2 * MAX_DEPTH + 1 page buffers: one per level of the main (or free
     * pages) tree, one per level of the database tree being walked from
     * a main leaf (from base MAX_DEPTH), and one for overflow pages. */
    uint8_t *pages;
    unsigned base; /* the first buffer of the tree being walked */
    cairn_err err;
    char *detail;
    size_t detail_len;
} walk;

static uint16_t u16_at(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint32_t u32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t u64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static int bad(walk *w, uint64_t pgno, const char *db, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record the first damage found; returns -1. */
static int bad(walk *w, uint64_t pgno, const char *db, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    w->err = CAIRN_ECORRUPT;
    cairn__fmt(w->detail, w->detail_len,
               "data.mdb: page %llu (offset %llu) of database %s: %s",
               (unsigned long long)pgno,
               (unsigned long long)(pgno * (uint64_t)w->psize), db, why);
    return -1;
}

/* Page @p pgno into @p buf (psize bytes).  0, or -1 with w->err set. */
static int read_page(walk *w, uint64_t pgno, uint8_t *buf, const char *db)
{
    if (pgno > w->last_pg) {
        return bad(w, pgno, db, "past the last page (%llu)",
                   (unsigned long long)w->last_pg);
    }
    if (++w->visits > w->max_visits) {
        return bad(w, pgno, db,
                   "more page references than pages (a page referenced "
                   "twice)");
    }
    uint64_t off = pgno * (uint64_t)w->psize;
    if (w->mem != NULL) {
        if (off > w->mem_len || w->mem_len - off < w->psize) {
            return bad(w, pgno, db, "past the end of the file");
        }
        memcpy(buf, w->mem + off, w->psize);
        return 0;
    }
    size_t got = 0;
    while (got < w->psize) {
        ssize_t r = pread(w->fd, buf + got, w->psize - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            w->err = CAIRN_EIO;
            cairn__fmt(w->detail, w->detail_len, "data.mdb: %s",
                       strerror(errno));
            return -1;
        }
        if (r == 0) {
            return bad(w, pgno, db, "past the end of the file");
        }
        got += (size_t)r;
    }
    return 0;
}

/* The first page of an overflow run of @p dsize bytes. */
static int check_overflow(walk *w, uint64_t pgno, uint64_t dsize, uint8_t *buf,
                          const char *db)
{
    if (read_page(w, pgno, buf, db) != 0) {
        return -1;
    }
    uint64_t count = u32_at(buf + 12);
    if (u64_at(buf) != pgno) {
        return bad(w, pgno, db, "its header says page %llu (overwritten?)",
                   (unsigned long long)u64_at(buf));
    }
    if ((u16_at(buf + 10) & P_OVERFLOW) == 0) {
        return bad(w, pgno, db, "flags 0x%x, not an overflow page",
                   u16_at(buf + 10));
    }
    if (count == 0 || count - 1 > w->last_pg - pgno ||
        count * w->psize - PAGE_HDR < dsize) {
        return bad(w, pgno, db, "an overflow run of %llu pages for %llu bytes",
                   (unsigned long long)count, (unsigned long long)dsize);
    }
    return 0;
}

static int walk_tree(walk *w, uint64_t root, unsigned depth, int is_main,
                     const char *db);

/* Leaf node @p node (@p avail bytes to the page end) of database @p db:
 * its overflow run, or in the main database the tree it names. */
static int leaf_node(walk *w, uint64_t pgno, const uint8_t *node, size_t avail,
                     int is_main, const char *db)
{
    uint64_t dsize = (uint64_t)u16_at(node) | (uint64_t)u16_at(node + 2) << 16;
    unsigned flags = u16_at(node + 4);
    size_t ksize = u16_at(node + 6);
    const uint8_t *data = node + 8 + ksize;
    avail -= 8 + ksize;
    if (flags & F_BIGDATA) {
        if (avail < 8) {
            return bad(w, pgno, db, "a node past the page end");
        }
        return check_overflow(w, u64_at(data), dsize,
                              w->pages + (size_t)(2 * MAX_DEPTH) * w->psize,
                              db);
    }
    if (dsize > avail) {
        return bad(w, pgno, db, "a node past the page end");
    }
    if (is_main && (flags & F_SUBDATA)) {
        char name[96];
        if (dsize != DB_RECORD) {
            return bad(w, pgno, db, "a database record of %llu bytes",
                       (unsigned long long)dsize);
        }
        name[0] = '"';
        cairn__escape_text((const char *)node + 8, ksize < 64 ? ksize : 64,
                           name + 1, sizeof(name) - 2);
        size_t n = strlen(name);
        name[n] = '"';
        name[n + 1] = '\0';
        w->base = MAX_DEPTH; /* the main leaf stays in its buffer */
        int rc = walk_tree(w, u64_at(data + DB_ROOT_OFF),
                           u16_at(data + DB_DEPTH_OFF), 0, name);
        w->base = 0;
        return rc;
    }
    return 0;
}

/* The page @p pgno at @p level (1: a leaf) of database @p db and, below
 * it, its children. */
static int walk_page(walk *w, uint64_t pgno, unsigned level, int is_main,
                     const char *db)
{
    uint8_t *page = w->pages + (size_t)(w->base + level - 1) * w->psize;
    if (read_page(w, pgno, page, db) != 0) {
        return -1;
    }
    unsigned flags = u16_at(page + 10), want = level == 1 ? P_LEAF : P_BRANCH;
    unsigned lower = u16_at(page + 12), upper = u16_at(page + 14);
    if (u64_at(page) != pgno) {
        return bad(w, pgno, db,
                   "its header says page %llu, flags 0x%x (zeroed or "
                   "overwritten)",
                   (unsigned long long)u64_at(page), flags);
    }
    if ((flags & (P_BRANCH | P_LEAF | P_OVERFLOW)) != want) {
        return bad(w, pgno, db, "flags 0x%x, expected a %s page", flags,
                   level == 1 ? "leaf" : "branch");
    }
    if (lower < PAGE_HDR || (lower - PAGE_HDR) % 2 != 0 || upper < lower ||
        upper > w->psize) {
        return bad(w, pgno, db, "node bounds %u..%u in a page of %u", lower,
                   upper, w->psize);
    }
    unsigned n = (lower - PAGE_HDR) / 2;
    for (unsigned i = 0; i < n; i++) {
        unsigned off = u16_at(page + PAGE_HDR + 2 * i);
        if (off < upper || off > w->psize - 8 ||
            u16_at(page + off + 6) > w->psize - 8 - off) {
            return bad(w, pgno, db, "node %u at offset %u outside the page", i,
                       off);
        }
        const uint8_t *node = page + off;
        int rc;
        if (level > 1) {
            uint64_t child = (uint64_t)u16_at(node) |
                             (uint64_t)u16_at(node + 2) << 16 |
                             (uint64_t)u16_at(node + 4) << 32;
            rc = walk_page(w, child, level - 1, is_main, db);
        } else {
            rc = leaf_node(w, pgno, node, w->psize - off, is_main, db);
        }
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

static int walk_tree(walk *w, uint64_t root, unsigned depth, int is_main,
                     const char *db)
{
    if (root == NO_PAGE) {
        return 0; /* an empty database */
    }
    if (depth == 0 || depth > MAX_DEPTH) {
        return bad(w, root, db, "a tree of depth %u", depth);
    }
    return walk_page(w, root, depth, is_main, db);
}

/* The meta pages, then both trees they name. */
static cairn_err check_all(walk *w)
{
    uint8_t head[152];
    cairn__store_meta meta;
    size_t n = 0;
    if (w->mem != NULL) {
        n = w->mem_len < sizeof(head) ? w->mem_len : sizeof(head);
        memcpy(head, w->mem, n);
    } else {
        ssize_t r = pread(w->fd, head, sizeof(head), 0);
        n = r > 0 ? (size_t)r : 0;
    }
    w->psize = cairn__store_meta_psize(head, n);
    if (w->psize == 0) {
        cairn__fmt(w->detail, w->detail_len,
                   "data.mdb: meta page 0 is not an LMDB meta page this "
                   "build reads (format 1, 64-bit)");
        return CAIRN_ECORRUPT;
    }
    w->pages = malloc((size_t)(2 * MAX_DEPTH + 1) * w->psize);
    if (w->pages == NULL) {
        return CAIRN_ENOMEM;
    }
    w->last_pg = 1;
    w->max_visits = 2;
    uint8_t *two = w->pages; /* meta pages 0 and 1 */
    if (read_page(w, 0, two, "(meta)") != 0 ||
        read_page(w, 1, two + w->psize, "(meta)") != 0) {
        return w->err;
    }
    if (cairn__store_meta_pick(two, 2 * (size_t)w->psize, w->psize, &meta) !=
        0) {
        cairn__fmt(w->detail, w->detail_len,
                   "data.mdb: its meta pages (0 and 1) are not LMDB meta "
                   "pages");
        return CAIRN_ECORRUPT;
    }
    const uint8_t *cur = two + (size_t)meta.current * w->psize;
    uint64_t free_root = u64_at(cur + META_FREE_DB + DB_ROOT_OFF);
    uint64_t main_root = u64_at(cur + META_MAIN_DB + DB_ROOT_OFF);
    unsigned free_depth = u16_at(cur + META_FREE_DB + DB_DEPTH_OFF);
    unsigned main_depth = u16_at(cur + META_MAIN_DB + DB_DEPTH_OFF);
    /* Every page is in at most one tree, once: the walk reads no more
     * pages than the file has, however the pages point at each other. */
    uint64_t file_pages = w->mem_len / w->psize;
    struct stat st;
    if (w->mem == NULL) {
        file_pages = fstat(w->fd, &st) == 0 && st.st_size > 0
                         ? (uint64_t)st.st_size / w->psize
                         : 0;
    }
    w->last_pg = meta.last_pg;
    w->max_visits = meta.last_pg < file_pages ? meta.last_pg + 1 : file_pages;
    w->visits = 2; /* the meta pages */
    if (walk_tree(w, main_root, main_depth, 1, "(main)") != 0 ||
        walk_tree(w, free_root, free_depth, 0, "(free pages)") != 0) {
        return w->err;
    }
    return CAIRN_OK;
}

cairn_err cairn__store_check_pages_mem(const uint8_t *data, size_t len,
                                       char *detail, size_t detail_len)
{
    walk w;
    memset(&w, 0, sizeof(w));
    w.mem = data != NULL ? data : (const uint8_t *)"";
    w.mem_len = data != NULL ? len : 0;
    w.fd = -1;
    w.detail = detail;
    w.detail_len = detail_len;
    cairn__clear(detail, detail_len);
    cairn_err err = check_all(&w);
    free(w.pages);
    return err;
}

cairn_err cairn_journal_check_pages(const char *dir, char *detail,
                                    size_t detail_len)
{
    walk w;
    cairn__clear(detail, detail_len);
    if (dir == NULL) {
        return CAIRN_EINVAL;
    }
    memset(&w, 0, sizeof(w));
    w.detail = detail;
    w.detail_len = detail_len;
    cairn_err err = cairn__store_open_data(dir, &w.fd, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    err = check_all(&w);
    free(w.pages);
    close(w.fd);
    return err;
}
